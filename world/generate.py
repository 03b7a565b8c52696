"""Build a whole synthetic world: registries, five agency databases and the ground truth.

Layout written under `out`:

    registries/population.db       table person
    registries/legal_entities.db   legal_entity, legal_representative (the representatives' terms)
    agencies/courts.db             ZXAJ, SXBZXR
    agencies/tax.db                nsrxx, nsxypj, zdsswfaj
    agencies/transport.db          FlightBan, RailBan
    agencies/food.db               licences, inspections, serious_violations
    agencies/tourism.db            UNCIVIL_RECORD
    truth/records.parquet          one row per agency record per role (never read by the pipeline)
    world.json                     the arguments, the noise and event rates, and the counts

The truth's `noise` column lists, comma-separated, the kinds of noise a record received (rates
and eligibility in :class:`world.config.NoiseConfig`):

- typing and habits: name_typo, traditional_name, pinyin_name, id_mistype, id_missing,
  legacy_id, legacy_org_code, org_name_variant, date_format, garbled_value, duplicate;
- identity errors (the record names the wrong subject): other_person_id (another registry
  person's valid citizen ID, full or masked), relative_id (a relative's: same surname and
  county), other_firm_uscc (another registered firm's USCC or legacy code), passport_no_number
  (a foreign passenger's transport record without the passport number);
- subjects that look like someone else: foreign_namesake (a foreigner bearing a citizen's name,
  birth year and sex; true code null), unregistered_lookalike (an unregistered business named
  like a registered firm; true code null), same_name_birthday (the subject has a namesake twin
  with the same birth date in its county).

Records of subjects in no registry (foreigners, unregistered businesses) have a null true code.

Example:
    >>> cfg = WorldConfig(persons=1000, seed=1, start=date(2024, 1, 1), end=date(2024, 12, 31),
    ...                   out=Path("/tmp/w"))
    >>> summary = generate_world(cfg)  # doctest: +SKIP
    >>> summary.tables["courts"]["SXBZXR"]  # doctest: +SKIP
    187
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType

import numpy as np
import polars as pl

from credlink.world import registries
from credlink.world.agencies import courts, food, tax, tourism, transport
from credlink.world.agencies.common import write_sqlite
from credlink.world.config import WorldConfig, WorldConfigError, check_output_folder
from credlink.world.registries import Registries

log = logging.getLogger(__name__)

#: The agencies in the order of their random streams (:func:`_streams`): a new agency goes last,
#: so that the others' streams, hence their tables, stay as they were.
AGENCIES: tuple[ModuleType, ...] = (courts, tax, transport, food, tourism)

POPULATION_DDL = """
CREATE TABLE person (
    citizen_id       TEXT PRIMARY KEY,   -- GB 11643 citizen identity number
    name             TEXT NOT NULL,
    sex              TEXT NOT NULL,      -- M / F
    birth_date       TEXT NOT NULL,      -- ISO date
    household_region TEXT NOT NULL,      -- GB/T 2260 county code of the household registration
    address          TEXT,
    phone            TEXT,
    created_at       TEXT NOT NULL,      -- ISO timestamp, local time
    updated_at       TEXT NOT NULL
);
CREATE INDEX person_updated_at ON person (updated_at);
CREATE INDEX person_name ON person (name);
"""

LEGAL_ENTITY_DDL = """
CREATE TABLE legal_entity (
    uscc                   TEXT PRIMARY KEY,   -- GB 32100 unified social credit code
    name                   TEXT NOT NULL,
    entity_type            TEXT NOT NULL,      -- USCC positions 1-2: 91, 92, 93, 51, 52, 53, 12
    registration_region    TEXT NOT NULL,
    registration_date      TEXT NOT NULL,
    legal_rep_id           TEXT NOT NULL,      -- citizen ID of the legal representative
    legal_rep_name         TEXT NOT NULL,
    legacy_registration_no TEXT,               -- pre-2015 15-digit registration number
    organisation_code      TEXT,               -- pre-2015 organisation code XXXXXXXX-X
    legacy_tax_no          TEXT,               -- pre-2015 tax registration number
    status                 TEXT NOT NULL,      -- 存续 / 注销
    deregistration_date    TEXT,
    address                TEXT,
    created_at             TEXT NOT NULL,
    updated_at             TEXT NOT NULL
);
CREATE INDEX legal_entity_updated_at ON legal_entity (updated_at);
CREATE INDEX legal_entity_organisation_code ON legal_entity (organisation_code);

CREATE TABLE legal_representative (
    uscc           TEXT NOT NULL,      -- the organisation (legal_entity.uscc)
    legal_rep_id   TEXT NOT NULL,      -- citizen ID of the legal representative of this term
    legal_rep_name TEXT NOT NULL,
    term_from      TEXT NOT NULL,      -- ISO date the representative took office
    term_to        TEXT,               -- ISO date the next took office (exclusive); null: in office
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,      -- moves when the term ends
    PRIMARY KEY (uscc, term_from)
);
CREATE INDEX legal_representative_updated_at ON legal_representative (updated_at);
CREATE INDEX legal_representative_legal_rep_id ON legal_representative (legal_rep_id);
"""


@dataclass
class WorldSummary:
    """What was written: row counts per database and table, and the truth."""

    out: Path
    tables: dict[str, dict[str, int]] = field(default_factory=dict)
    truth_rows: int = 0
    unregistered_records: int = 0


def _iso(frame: pl.DataFrame) -> pl.DataFrame:
    """Dates and timestamps as ISO strings, the registries' habit."""
    return frame.with_columns(
        pl.col(pl.Date).dt.strftime("%Y-%m-%d"),
        pl.col(pl.Datetime).dt.strftime("%Y-%m-%d %H:%M:%S"),
    )


def _streams(cfg: WorldConfig) -> list[np.random.SeedSequence]:
    """One independent stream per part (the registries, then each agency), so adding rows to
    one part leaves the others unchanged."""
    return np.random.SeedSequence(cfg.seed).spawn(1 + len(AGENCIES))


def world_registries(cfg: WorldConfig) -> Registries:
    """The registries (and the subjects in none) of the world `cfg` describes, in memory, as
    :func:`generate_world` builds them (with their helper columns, e.g. for tests)."""
    return registries.build_registries(np.random.default_rng(_streams(cfg)[0]), cfg)


def generate_world(cfg: WorldConfig, progress: Callable[[str], None] | None = None) -> WorldSummary:
    """Generate the world described by `cfg` into `cfg.out` (replacing a previous world there).

    Deterministic: the same config gives byte-identical table contents.
    """
    check_output_folder(cfg.out)
    step = progress or (lambda msg: log.info("%s", msg))
    out = cfg.out
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WorldConfigError(f"--out {out}: cannot create the folder: {exc.strerror}") from exc
    for sub in ("registries", "agencies", "truth"):
        shutil.rmtree(out / sub, ignore_errors=True)
    seeds = _streams(cfg)
    summary = WorldSummary(out=out)

    step(f"registries: {cfg.persons:,} persons, {cfg.organisations:,} organisations")
    reg = world_registries(cfg)
    people = _iso(registries.persons_table(reg))
    orgs = _iso(registries.organisations_table(reg))
    terms = _iso(registries.representatives_table(reg))
    write_sqlite(out / "registries" / "population.db", POPULATION_DDL, {"person": people})
    write_sqlite(
        out / "registries" / "legal_entities.db",
        LEGAL_ENTITY_DDL,
        {"legal_entity": orgs, "legal_representative": terms},
    )
    summary.tables["population"] = {"person": people.height}
    summary.tables["legal_entities"] = {
        "legal_entity": orgs.height,
        "legal_representative": terms.height,
    }

    truths = []
    for agency, seed in zip(AGENCIES, seeds[1:], strict=True):
        name = agency.__name__.rsplit(".", 1)[-1]
        step(f"agency {name}")
        built = agency.generate(np.random.default_rng(seed), cfg, reg)
        write_sqlite(out / "agencies" / f"{built.name}.db", built.ddl, built.tables)
        summary.tables[built.name] = {t: f.height for t, f in built.tables.items()}
        truths.append(built.truth_frame())

    step("truth")
    truth = pl.concat(truths)
    (out / "truth").mkdir(exist_ok=True)
    truth.write_parquet(out / "truth" / "records.parquet")
    summary.truth_rows = truth.height
    summary.unregistered_records = truth.filter(
        (pl.col("role") == "subject") & pl.col("true_credit_code").is_null()
    ).height
    (out / "world.json").write_text(
        json.dumps(
            {
                "persons": cfg.persons,
                "organisations": cfg.organisations,
                "seed": cfg.seed,
                "start": cfg.start.isoformat(),
                "end": cfg.end.isoformat(),
                "noise": asdict(cfg.noise),
                "rates": asdict(cfg.rates),
                "tables": summary.tables,
            },
            indent=2,
            ensure_ascii=False,
        )
    )
    return summary
