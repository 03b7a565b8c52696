"""What the agency modules share: picking subjects, truth rows, duplicates, identity errors and
writing SQLite.

Identity errors (:data:`world.config.IDENTITY_ERRORS`) are drawn after a table's other noise,
from a random stream of the table's own (:func:`world.noise.stream`), among the records whose
identifier is still intact: :func:`person_id_errors` (`other_person_id`, `relative_id`),
:func:`firm_id_errors` (`other_firm_uscc`); :func:`mark_subjects` marks the records of subjects
that look like someone else (`foreign_namesake`, `same_name_birthday`,
`unregistered_lookalike`).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from credlink.etl.reference.divisions import PROVINCE_ABBR
from credlink.world import noise, registries
from credlink.world.config import WorldConfig
from credlink.world.noise import BoolArray, NoiseLog, StrArray
from credlink.world.registries import Registries

PERSON = "person"
ORGANISATION = "organisation"


def province_abbr(region_codes: pl.Expr | pl.Series) -> pl.Expr:
    """The province abbreviation of a 6-digit division code column."""
    expr = pl.lit(region_codes) if isinstance(region_codes, pl.Series) else region_codes
    return expr.str.slice(0, 2).replace_strict(PROVINCE_ABBR, default="京")


@dataclass
class AgencyTables:
    """One agency database: its DDL, its tables (columns exactly as in the DDL) and truth."""

    name: str
    ddl: str
    tables: dict[str, pl.DataFrame] = field(default_factory=dict)
    truth: list[pl.DataFrame] = field(default_factory=list)

    def add(
        self,
        table: str,
        rows: pl.DataFrame,
        id_column: str,
        subject_type: npt.NDArray[Any] | str,
        true_codes: npt.NDArray[Any] | list[str | None],
        log: NoiseLog,
    ) -> None:
        """Add a table and the truth of each of its rows."""
        self.tables[table] = rows
        n = rows.height
        types = np.full(n, subject_type) if isinstance(subject_type, str) else subject_type
        # As a list: polars cannot read a numpy object array that starts with None as text.
        codes = true_codes.tolist() if isinstance(true_codes, np.ndarray) else true_codes
        self.truth.append(
            pl.DataFrame(
                {
                    "source": np.full(n, self.name),
                    "source_table": np.full(n, table),
                    "source_record_id": rows[id_column].cast(pl.String),
                    "subject_type": types,
                    "true_credit_code": pl.Series(codes, dtype=pl.String),
                    "noise": log.to_series(),
                    "role": np.full(n, "subject"),
                }
            )
        )

    def add_with_duplicates(
        self,
        rng: np.random.Generator,
        table: str,
        rows: pl.DataFrame,
        id_column: str,
        rate: float,
        log: NoiseLog,
        subject_type: npt.NDArray[Any] | str,
        true_codes: npt.NDArray[Any],
    ) -> None:
        """Add a table of events, a `rate` share of them entered twice (:func:`with_duplicates`)."""
        types = (
            np.full(rows.height, subject_type) if isinstance(subject_type, str) else subject_type
        )
        rows, log, (types, true_codes) = with_duplicates(
            rng, rows, id_column, rate, log, types, true_codes
        )
        self.add(table, rows, id_column, types, true_codes, log)

    def truth_frame(self) -> pl.DataFrame:
        """All truth rows of this agency."""
        return pl.concat(self.truth)


def sample_persons(
    rng: np.random.Generator, reg: Registries, n: int, foreign_share: float, min_birth_gap: int = 18
) -> pl.DataFrame:
    """`n` person subjects of events: adults of the population registry, and a `foreign_share`
    of foreign passport holders (in no registry). Columns: credit_code (None for foreigners),
    name, sex, birth_date, id_region, id_number, id_type ('ID'/'PASSPORT'), nationality,
    registered, household_region, phone, address, twin (a citizen with a namesake twin),
    namesake (a foreigner bearing a citizen's name)."""
    persons = reg.persons
    adults = persons.filter(
        pl.col("birth_date") <= pl.col("birth_date").max() - pl.duration(days=min_birth_gap * 365)
    )
    foreign = rng.random(n) < foreign_share
    n_for = int(foreign.sum())
    citizens = adults[rng.integers(0, adults.height, n - n_for)].select(
        pl.col("citizen_id").alias("credit_code"),
        "name",
        "sex",
        "birth_date",
        pl.col("citizen_id").str.slice(0, 6).alias("id_region"),
        pl.col("citizen_id").alias("id_number"),
        pl.lit("ID").alias("id_type"),
        pl.lit("CHN").alias("nationality"),
        pl.lit(True).alias("registered"),
        "household_region",
        "phone",
        "address",
        pl.col("_twin").alias("twin"),
        pl.lit(False).alias("namesake"),
    )
    fr = reg.foreigners
    foreigners = fr[rng.integers(0, fr.height, n_for)].select(
        pl.lit(None, dtype=pl.String).alias("credit_code"),
        "name",
        "sex",
        "birth_date",
        pl.lit(None, dtype=pl.String).alias("id_region"),
        pl.col("passport_no").alias("id_number"),
        pl.lit("PASSPORT").alias("id_type"),
        "nationality",
        pl.lit(False).alias("registered"),
        pl.lit(None, dtype=pl.String).alias("household_region"),
        pl.lit(None, dtype=pl.String).alias("phone"),
        pl.lit(None, dtype=pl.String).alias("address"),
        pl.lit(False).alias("twin"),
        pl.col("_namesake_of").is_not_null().alias("namesake"),
    )
    out = pl.concat([citizens, foreigners])
    return out[rng.permutation(n)]


def as_subjects(orgs: pl.DataFrame) -> pl.DataFrame:
    """Registry organisations in the subject columns the agency modules use."""
    return orgs.select(
        pl.col("uscc").alias("credit_code"),
        "name",
        "entity_type",
        pl.col("registration_region").alias("region"),
        "legal_rep_id",
        "legal_rep_name",
        pl.col("_pre_reform").alias("pre_reform"),
        "organisation_code",
        "legacy_registration_no",
        "legacy_tax_no",
        "address",
        pl.lit(True).alias("registered"),
        pl.lit(False).alias("lookalike"),
    )


def sample_organisations(
    rng: np.random.Generator,
    reg: Registries,
    n: int,
    unregistered_share: float,
    types: tuple[str, ...] | None = None,
) -> pl.DataFrame:
    """`n` organisation subjects: registered organisations (optionally of some entity `types`)
    and an `unregistered_share` of unregistered businesses. Columns: credit_code (None when
    unregistered), name, entity_type, region, legal_rep_id, legal_rep_name, pre_reform,
    organisation_code, legacy_registration_no, legacy_tax_no, address, registered, lookalike
    (an unregistered business named like a registered firm). The operator of an unregistered
    business (its legal_rep_*) is a random registry person, never one bearing the name of the
    legal representative of the firm it is named like."""
    orgs = reg.organisations
    if types is not None:
        orgs = orgs.filter(pl.col("entity_type").is_in(types))
    unreg = rng.random(n) < unregistered_share
    n_un = int(unreg.sum())
    registered = as_subjects(orgs[rng.integers(0, orgs.height, n - n_un)])
    un = reg.unregistered
    persons = reg.persons
    operator_rows = rng.integers(0, persons.height, n_un)
    businesses = un[rng.integers(0, un.height, n_un)]
    operators = persons[_not_named(persons, operator_rows, businesses["_lookalike_rep"])]
    unregistered = businesses.select(
        pl.lit(None, dtype=pl.String).alias("credit_code"),
        "name",
        pl.lit("92").alias("entity_type"),
        "region",
        pl.Series("legal_rep_id", operators["citizen_id"]),
        pl.Series("legal_rep_name", operators["name"]),
        pl.lit(False).alias("pre_reform"),
        pl.lit(None, dtype=pl.String).alias("organisation_code"),
        pl.lit(None, dtype=pl.String).alias("legacy_registration_no"),
        pl.lit(None, dtype=pl.String).alias("legacy_tax_no"),
        "address",
        pl.lit(False).alias("registered"),
        pl.col("_lookalike_of").is_not_null().alias("lookalike"),
    )
    out = pl.concat([registered, unregistered])
    return out[rng.permutation(n)]


def _not_named(
    persons: pl.DataFrame, rows: npt.NDArray[np.int64], avoid: pl.Series
) -> npt.NDArray[np.int64]:
    """`rows` of `persons`, each moved on to the next person while its name is the one to
    `avoid` (null: nothing to avoid). Deterministic: no random draw."""
    rows = rows.copy()
    names = persons["name"]
    for _ in range(persons.height):
        clash = (names.gather(rows) == avoid).fill_null(False).to_numpy()
        if not clash.any():
            break
        rows[clash] = (rows[clash] + 1) % persons.height
    return rows


def person_id_errors(
    cfg: WorldConfig,
    reg: Registries,
    table: str,
    ids: StrArray,
    subjects: StrArray,
    log: NoiseLog,
    eligible: BoolArray,
) -> StrArray:
    """Identity errors of person records (full 18-character citizen IDs `ids` of the true
    `subjects`), drawn from the stream of `table` among the `eligible` records: `other_person_id`
    (a random adult of the registry other than the subject), then among the rest `relative_id`
    (:func:`world.registries.relatives`; a record whose subject has no relative is left alone).
    Marks them in `log` and returns the IDs the records carry."""
    nz = cfg.noise
    rng = noise.stream(cfg.seed, table)
    n = len(ids)
    out = ids.astype("<U18")
    other = noise.draw(rng, n, nz.other_person_id, eligible)
    if other.any():
        adults = reg.persons["citizen_id"].to_numpy()[registries.adult_rows(reg.persons)]
        out[other] = noise.other_values(rng, adults.astype(str), subjects[other].astype(str))
        log.mark("other_person_id", other)
    relative = noise.draw(rng, n, nz.relative_id, eligible & ~other)
    if relative.any():
        found = registries.relatives(rng, reg.persons, subjects[relative].astype(str))
        rows = np.flatnonzero(relative)[found != ""]
        out[rows] = found[found != ""]
        hit = np.zeros(n, dtype=bool)
        hit[rows] = True
        log.mark("relative_id", hit)
    return out


def firm_id_errors(
    cfg: WorldConfig,
    reg: Registries,
    table: str,
    ids: StrArray,
    log: NoiseLog,
    *,
    eligible: BoolArray,
    legacy: BoolArray,
    legacy_form: str,
) -> StrArray:
    """`other_firm_uscc` in organisation records carrying the intact identifier `ids` of their
    subject (`eligible`), drawn from the stream of `table`: another registry firm's USCC, or
    where the record carries a pre-2015 code (`legacy`, of the registry column `legacy_form`)
    another firm's code of that form. Marks them in `log` and returns the identifiers."""
    rng = noise.stream(cfg.seed, table)
    out = ids.astype("<U18")
    hit = noise.draw(rng, len(ids), cfg.noise.other_firm_uscc, eligible)
    orgs = reg.organisations
    for rows, pool in (
        (hit & ~legacy, orgs["uscc"]),
        (hit & legacy, orgs[legacy_form].drop_nulls()),
    ):
        if rows.any() and pool.len() >= 2:
            out[rows] = noise.other_values(rng, pool.to_numpy().astype(str), out[rows])
            log.mark("other_firm_uscc", rows)
    return out


def mark_subjects(subjects: pl.DataFrame, log: NoiseLog) -> None:
    """Mark the records of subjects that look like someone else, by the subject columns of
    :func:`sample_persons` (twin, namesake) or :func:`sample_organisations` (lookalike)."""
    for column, kind in (
        ("twin", "same_name_birthday"),
        ("namesake", "foreign_namesake"),
        ("lookalike", "unregistered_lookalike"),
    ):
        if column in subjects.columns and subjects[column].any():
            log.mark(kind, subjects[column].to_numpy())


def with_duplicates(
    rng: np.random.Generator,
    rows: pl.DataFrame,
    id_column: str,
    rate: float,
    log: NoiseLog,
    *extra: npt.NDArray[np.generic],
) -> tuple[pl.DataFrame, NoiseLog, list[npt.NDArray[np.generic]]]:
    """Append a `rate` share of rows again under new record ids (the same event entered twice),
    marking the copies 'duplicate'. `extra` arrays aligned with rows are extended alike."""
    idx = np.flatnonzero(rng.random(rows.height) < rate)
    if len(idx) == 0:
        return rows, log, list(extra)
    next_id = int(rows[id_column].max()) + 1  # type: ignore[arg-type]
    copies = rows[idx].with_columns(
        pl.Series(id_column, np.arange(next_id, next_id + len(idx)), dtype=rows[id_column].dtype)
    )
    dup_log = log.take(idx.astype(np.int64))
    dup_log.mark("duplicate", np.ones(len(idx), dtype=bool))
    merged = NoiseLog(rows.height + len(idx))
    for kind in set(log.kinds) | set(dup_log.kinds):
        a = log.kinds.get(kind, np.zeros(rows.height, dtype=bool))
        b = dup_log.kinds.get(kind, np.zeros(len(idx), dtype=bool))
        merged.mark(kind, np.concatenate([a, b]))
    return (
        pl.concat([rows, copies]),
        merged,
        [np.concatenate([e, e[idx]]) for e in extra],
    )


def write_sqlite(path: Path, ddl: str, tables: dict[str, pl.DataFrame]) -> None:
    """Create the database at `path` from `ddl` and insert every table, in one transaction."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.unlink(missing_ok=True)
    con = sqlite3.connect(tmp)
    try:
        con.executescript(ddl)
        with con:
            for name, frame in tables.items():
                cols = ", ".join(f'"{c}"' for c in frame.columns)
                marks = ", ".join("?" for _ in frame.columns)
                con.executemany(
                    f'INSERT INTO "{name}" ({cols}) VALUES ({marks})', frame.iter_rows()
                )
    finally:
        con.close()
    tmp.replace(path)
