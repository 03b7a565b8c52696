"""Settings of a synthetic world: its size, period, seed, event rates and noise rates.

Every rate is documented where it is declared and can be changed from Python (and the main ones
from `credlink world`). The rates are simulation choices, scaled up from real-world prevalence so
that a small world still has enough listings to exercise the pipeline; DOMAIN.md gives the real
magnitudes.

Besides the dirt of careless typing (typos, mistyped or missing identifiers, legacy codes), the
noise includes **identity errors** (:data:`IDENTITY_ERRORS`): records that name the wrong subject
(another person's or a relative's valid citizen ID, another firm's valid USCC), and subjects that
look like someone else (foreign namesakes of citizens, unregistered look-alikes of registered
firms, namesake twins with the same birthday in one county, foreign passengers without a passport
number). Their defaults are modest, as in life; `NoiseConfig.with_identity_errors(scale)` (or
`credlink world --identity-errors X`) raises them all at once for testing the linkage against
them.

Example:
    >>> cfg = WorldConfig(persons=1000, seed=7, start=date(2024, 1, 1), end=date(2024, 12, 31),
    ...                   out=Path("/tmp/w"))
    >>> cfg.organisations
    100
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
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
    #: rail and tourist behaviour codes). The pipeline must quarantine exactly these rows.
    garbled_value: float = 0.002
    #: records whose subject is in no registry: foreign passport holders (persons), unregistered
    #: businesses (organisations).
    unregistered_subject: float = 0.02

    # Identity errors: a record that points at the wrong subject, or a subject that looks like
    # another. Drawn from random streams of their own (:func:`world.noise.stream`), so that
    # setting them leaves every other draw of the world unchanged. Raise them all at once with
    # :meth:`with_identity_errors` (or `credlink world --identity-errors X`).

    #: a person record carries another registry person's valid citizen ID (a random adult of
    #: the population registry) in place of its subject's; the court list then shows that
    #: person's masked ID. Eligible: records of registered persons that would otherwise carry
    #: the subject's intact citizen ID (full or masked: no legacy_id, id_mistype, id_missing).
    #: The true credit code stays the subject's.
    other_person_id: float = 0.003
    #: a person record carries a relative's valid citizen ID: another registry person with the
    #: same surname and the same household or ID county (6-digit code). Eligible: as
    #: other_person_id (and not other_person_id), among records whose subject has such a relative
    #: in the registry; a record drawn whose subject has none is left alone (and not marked).
    relative_id: float = 0.002
    #: an organisation record carries another registered firm's valid USCC, or, where the
    #: record identifies the firm by a pre-2015 code (organisation code, tax or registration
    #: number), that firm's code of the same form. Eligible: records of registered organisations
    #: carrying the subject's intact identifier (no id_mistype, id_missing). The true credit code
    #: stays the subject's. Records copying another record's identifier (grades copy the tax
    #: register's number, food violations the licence's) carry the error and its mark along.
    other_firm_uscc: float = 0.003
    #: share of the foreign passport holders with a Chinese name (overseas Chinese) who bear a
    #: registry citizen's exact name, birth year and sex (the citizen an adult): every record of
    #: such a foreigner is marked. True credit code: none (foreigners are in no registry). In life
    #: a common name and a birth year are shared by thousands of citizens; a small world has too
    #: few for chance to make such namesakes, hence a rate of its own.
    foreign_namesake: float = 0.05
    #: a transport record of a foreign passenger (IdType PP) whose passport number was not
    #: entered (IdNumber empty). Eligible: transport records of foreign passengers. True credit
    #: code: none.
    passport_no_number: float = 0.005
    #: share of the unregistered businesses named like a registered firm (enterprise or
    #: individual business) but for the region prefix (北京华兴科技有限公司 -> 上海华兴科技有限公司,
    #: the business's own prefecture) or one character of the trade name (same region); every
    #: record of such a business is marked. They carry no identifier of the firm, and their operator
    #: (the legal representative a source records) is not the firm's. True credit code: none.
    unregistered_lookalike: float = 0.05
    #: share of the registry persons made a namesake twin of another person of the same ID
    #: county: same name, sex and birth date, so their citizen IDs differ only in the sequence
    #: and check digits. Eligible: persons born before 1990 (adults in any world, so that no
    #: age-based choice of the generator changes) with another such person in their county.
    #: Every agency record whose subject has such a twin is marked.
    same_name_birthday: float = 0.003

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not 0.0 <= value <= 1.0:
                raise WorldConfigError(f"noise rate {name}={value} must be between 0 and 1")

    @classmethod
    def with_identity_errors(cls, scale: float, **rates: float) -> NoiseConfig:
        """The default rates (or `rates` where given), every identity-error rate
        (:data:`IDENTITY_ERRORS`) multiplied by `scale` and capped at 1; 0 turns them off.

        >>> NoiseConfig.with_identity_errors(10).other_person_id
        0.03
        >>> NoiseConfig.with_identity_errors(0, name_typo=0.1).name_typo
        0.1
        """
        if not scale >= 0:
            raise WorldConfigError(f"identity-error scale {scale} must be at least 0")
        base = cls(**rates)
        scaled = {k: min(1.0, round(getattr(base, k) * scale, 12)) for k in IDENTITY_ERRORS}
        return replace(base, **scaled)


#: The identity-error kinds of :class:`NoiseConfig` (noise kinds of the same names in the truth).
IDENTITY_ERRORS: tuple[str, ...] = (
    "other_person_id",
    "relative_id",
    "other_firm_uscc",
    "foreign_namesake",
    "passport_no_number",
    "unregistered_lookalike",
    "same_name_birthday",
)


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
    #: share of the major tax violators who paid in full that later obtain credit repair from
    #: the tax bureau.
    tax_repair: float = 0.25
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
    #: records of tourists' seriously uncivilised behaviour per person per year (real records
    #: are far rarer: scaled up like the other lists).
    uncivilised_tourists: float = 0.002
    #: share of the recorded tourists who are foreign visitors identified by a passport (in no
    #: registry); the rest are citizens of the population registry.
    tourism_foreigners: float = 0.05
    #: share of the tourism records withdrawn after an objection upheld (within about 4 months).
    tourism_withdrawn: float = 0.03
    #: share of the records of 2 years or more whose term is shortened (by 1 or 2 years, to at
    #: least 1) after the tourist repaired the harm, 3 to 11 months after the record was made.
    tourism_shortened: float = 0.08


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
