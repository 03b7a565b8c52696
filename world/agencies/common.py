"""What the agency modules share: picking subjects, truth rows, duplicates and writing SQLite."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from etl.reference.divisions import PROVINCE_ABBR
from world.noise import NoiseLog
from world.registries import Registries

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
        self.truth.append(
            pl.DataFrame(
                {
                    "source": np.full(n, self.name),
                    "source_table": np.full(n, table),
                    "source_record_id": rows[id_column].cast(pl.String),
                    "subject_type": types,
                    "true_credit_code": pl.Series(true_codes, dtype=pl.String),
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
    registered, household_region, phone, address."""
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
    organisation_code, legacy_registration_no, legacy_tax_no, address, registered."""
    orgs = reg.organisations
    if types is not None:
        orgs = orgs.filter(pl.col("entity_type").is_in(types))
    unreg = rng.random(n) < unregistered_share
    n_un = int(unreg.sum())
    registered = as_subjects(orgs[rng.integers(0, orgs.height, n - n_un)])
    un = reg.unregistered
    persons = reg.persons
    operators = persons[rng.integers(0, persons.height, n_un)]
    unregistered = un[rng.integers(0, un.height, n_un)].select(
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
    )
    out = pl.concat([registered, unregistered])
    return out[rng.permutation(n)]


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
