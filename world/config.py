"""Settings of a synthetic world: its size, period, seed, event rates and noise rates.

Every rate is documented where it is declared and can be changed from Python (and the main ones
from `credlink world`). The rates are simulation choices, scaled up from real-world prevalence so
that a small world still has enough listings to exercise the pipeline; DOMAIN.md gives the real
magnitudes.

Example:
    >>> cfg = WorldConfig(persons=1000, seed=7, start=date(2024, 1, 1), end=date(2024, 12, 31),
    ...                   out=Path("/tmp/w"))
    >>> cfg.organisations
    100
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

MIN_PERSONS = 100
MAX_PERSONS = 10_000_000


class WorldConfigError(ValueError):
    """A world cannot be generated with these arguments; the message says which and why."""


@dataclass(frozen=True)
class NoiseConfig:
    """How often each kind of dirt appears in agency records (share of eligible records).

    Eligibility is stated per rate; the generator records in the truth table which noise each
    record received, so that tests can check the realised rates.
    """

    #: one character of the subject's name replaced by a homophone or a look-alike (all records).
    name_typo: float = 0.03
    #: the name written in traditional characters (records with a Chinese name).
    traditional_name: float = 0.02
    #: passenger names written in airline pinyin ('ZHANG/WEI') on flight-ban records.
    pinyin_name: float = 0.35
    #: identifier with one mistyped digit or two transposed (records carrying a full identifier).
    id_mistype: float = 0.02
    #: identifier left empty (records that normally carry one).
    id_missing: float = 0.03
    #: the legacy 15-digit citizen ID instead of the 18-digit one (persons born before 2000).
    legacy_id: float = 0.01
    #: an organisation identified by a pre-2015 code (organisation code, old registration or tax
    #: number) instead of its USCC (organisations registered before the 2015 reform).
    legacy_org_code: float = 0.25
    #: organisation name variant (有限公司/有限责任公司, brackets, region prefix, branch suffix).
    org_name_variant: float = 0.15
    #: a date written in another format than the agency's habit (manual entry).
    date_format: float = 0.02
    #: the same event entered twice under a new record id (within one source table; event
    #: tables and the tax register, not grades, inspections or licences).
    duplicate: float = 0.01
    #: a value the agency's own system garbled beyond reading: an impossible month in a date or
    #: a code outside the agency's list (court list publication dates, food inspection dates,
    #: rail behaviour codes). The pipeline must quarantine exactly these rows.
    garbled_value: float = 0.002
    #: records whose subject is in no registry: foreign passport holders (persons), unregistered
    #: businesses (organisations).
    unregistered_subject: float = 0.02

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not 0.0 <= value <= 1.0:
                raise WorldConfigError(f"noise rate {name}={value} must be between 0 and 1")


@dataclass(frozen=True)
class EventRates:
    """Yearly rates of agency events, as shares of the registry population.

    Real prevalence is lower (about 0.6% of Chinese adults were on the court defaulter list at
    its peak); these are scaled so that a 10,000-person demo world has a few hundred listings.
    """

    #: new enforcement cases against a person / an organisation, per year.
    court_cases_person: float = 0.015
    court_cases_org: float = 0.04
    #: share of enforcement cases whose respondent is put on the defaulter list.
    defaulter_listing: float = 0.4
    #: share of organisations registered with the tax bureau (all but some social bodies).
    tax_registered: float = 0.95
    #: major tax-violation cases per taxpayer per year.
    tax_violations: float = 0.004
    #: flight-ban and rail-ban incidents per person per year.
    flight_bans: float = 0.0008
    rail_bans: float = 0.0015
    #: share of individual businesses (92) and enterprises (91) holding a food licence.
    food_licensed_92: float = 0.35
    food_licensed_91: float = 0.06
    #: routine inspections per licence per year.
    inspections: float = 2.0
    #: serious food-safety violations per licence per year.
    food_violations: float = 0.01


@dataclass(frozen=True)
class WorldConfig:
    """What `credlink world` was asked to build."""

    persons: int
    seed: int
    start: date
    end: date
    out: Path
    noise: NoiseConfig = field(default_factory=NoiseConfig)
    rates: EventRates = field(default_factory=EventRates)

    def __post_init__(self) -> None:
        if not MIN_PERSONS <= self.persons <= MAX_PERSONS:
            raise WorldConfigError(
                f"--persons must be between {MIN_PERSONS:,} and {MAX_PERSONS:,}, got {self.persons}"
            )
        if self.end < self.start:
            raise WorldConfigError(
                f"--end {self.end.isoformat()} is before --start {self.start.isoformat()}"
            )
        if self.start.year < 2016:
            raise WorldConfigError(
                f"--start {self.start.isoformat()} is before 2016: the world models the USCC era"
            )

    @property
    def organisations(self) -> int:
        """About one organisation per ten persons."""
        return max(10, self.persons // 10)

    @property
    def years(self) -> float:
        """Length of the period in years (events are drawn at yearly rates)."""
        return ((self.end - self.start).days + 1) / 365.25


def check_output_folder(out: Path) -> None:
    """Fail early and clearly when `out` cannot be written."""
    probe = out
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise WorldConfigError(f"--out {out}: {probe} exists and is not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise WorldConfigError(f"--out {out}: folder {probe} is not writable")
