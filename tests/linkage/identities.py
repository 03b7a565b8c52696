"""Hand-made people, firms and agency records, staged through the real standardisers.

The rows a clerk really writes that our generator may never make: another person's valid ID,
a relative's, another firm's USCC, a passport-typed record without a number, a listing with a
name only. Registries and records go through :func:`etl.standardise.names.person_names`,
:func:`etl.standardise.identifiers.person_ids` (and the organisation ones) exactly as ingestion
stages them, conformed by the agencies' conform mappings (:func:`conformed`), then through
:mod:`linkage.records` and :mod:`linkage.spine`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

import polars as pl

from credlink.etl.conform.apply import conform_frames
from credlink.etl.conform.mappings import (
    LAYER,
    ConformMapping,
    Subjects,
    TableConform,
    conform_mappings,
)
from credlink.etl.identifiers import org_code_check_chars, ric_check_chars, uscc_check_chars
from credlink.etl.lake import Lake
from credlink.etl.standardise.identifiers import organisation_ids, person_ids
from credlink.etl.standardise.names import organisation_names, person_names

INTERVAL = "history_20250701T000000Z"
REGISTRIES = ("population__person", "legal_entities__legal_entity")
UPDATED = datetime(2025, 6, 1, tzinfo=UTC)


def ric(body17: str) -> str:
    """A valid citizen ID from its 17 body digits."""
    return body17 + str(ric_check_chars([body17])[0])


def masked(citizen_id: str) -> str:
    """The court list's masking: birth month and day hidden."""
    return citizen_id[:10] + "****" + citizen_id[14:]


def uscc(prefix: str, region: str, body8: str) -> str:
    code = body8 + str(org_code_check_chars([body8])[0])
    body = prefix + region + code
    return body + str(uscc_check_chars([body])[0])


def _base(source: str, table: str, ids: Sequence[str]) -> dict[str, Any]:
    n = len(ids)
    return {
        "_source": [source] * n,
        "_table": [table] * n,
        "_record_id": list(ids),
        "_updated_utc": [UPDATED] * n,
        "_interval": [INTERVAL] * n,
    }


def _person_subject(names: Sequence[str], numbers: Sequence[str | None]) -> dict[str, Any]:
    std = person_names(pl.Series(list(names), dtype=pl.String))
    ids = person_ids(pl.Series(list(numbers), dtype=pl.String))
    return {
        "subject_type": ["person"] * len(names),
        "subject_name": std["name"],
        "subject_name_pinyin": std["name_pinyin"],
        "subject_name_script": std["name_script"],
        "subject_id_norm": ids["id_norm"],
        "subject_id_class": ids["id_class"],
        "subject_citizen_id": ids["id_citizen"],
        "subject_birth_date": ids["id_birth_date"],
        "subject_birth_year": ids["id_birth_year"],
        "subject_sex": ids["id_sex"],
        "subject_region": ids["id_region"],
        "subject_id_tail": ids["id_tail"],
    }


def population(people: Mapping[str, tuple[str, str, str]]) -> pl.DataFrame:
    """The staged population registry: citizen ID -> (name, sex, household region)."""
    ids = list(people)
    frame = pl.DataFrame(
        {
            **_base("population", "person", [str(i) for i in range(1, len(ids) + 1)]),
            **_person_subject([p[0] for p in people.values()], ids),
            "sex_code": [p[1] for p in people.values()],
            "household_region": [p[2] for p in people.values()],
        }
    )
    return frame.with_columns(pl.col("subject_birth_date").alias("born_on"))


def person_listing(source: str, table: str, rows: Sequence[Mapping[str, Any]]) -> pl.DataFrame:
    """Staged person records: each row ``id``, ``name``, ``number`` (as typed, or None) and
    optionally ``id_type`` ('national_id' / 'passport'), ``case`` (a court case number ``AH``),
    ``sex``."""
    frame = pl.DataFrame(
        {
            **_base(source, table, [str(r["id"]) for r in rows]),
            **_person_subject([r["name"] for r in rows], [r.get("number") for r in rows]),
            "id_type": pl.Series([r.get("id_type") for r in rows], dtype=pl.String),
            "AH": pl.Series([r.get("case") for r in rows], dtype=pl.String),
            "sex": pl.Series([r.get("sex") for r in rows], dtype=pl.String),
        }
    )
    return frame


def _org_subject(names: Sequence[str], numbers: Sequence[str | None]) -> dict[str, Any]:
    std = organisation_names(pl.Series(list(names), dtype=pl.String))
    ids = organisation_ids(pl.Series(list(numbers), dtype=pl.String))
    return {
        "subject_type": ["organisation"] * len(names),
        "subject_name": std["name"],
        "subject_name_core": std["name_core"],
        "subject_id_norm": ids["id_norm"],
        "subject_id_class": ids["id_class"],
        "subject_uscc": ids["id_uscc"],
        "subject_org_code": ids["id_org_code"],
        "subject_region": ids["id_region"],
        "subject_entity_type": ids["id_entity_type"],
    }


def legal_entities(firms: Mapping[str, tuple[str, str, str]]) -> pl.DataFrame:
    """The staged legal-entity registry: USCC -> (name, representative's name, their ID)."""
    codes = list(firms)
    rep = _person_subject([f[1] for f in firms.values()], [f[2] for f in firms.values()])
    return pl.DataFrame(
        {
            **_base("legal_entities", "legal_entity", [str(i) for i in range(1, len(codes) + 1)]),
            **_org_subject([f[0] for f in firms.values()], codes),
            "legacy_registration_no": pl.Series([None] * len(codes), dtype=pl.String),
            "legacy_tax_no": pl.Series([None] * len(codes), dtype=pl.String),
            # the registry's representative fields, standardised as ingestion does (rep_*)
            **{
                k.replace("subject_", "rep_", 1): v
                for k, v in rep.items()
                if k not in ("subject_type", "subject_name_script")
            },
            "legal_rep_name": rep["subject_name"],
            "legal_rep_id": rep["subject_id_norm"],
        }
    ).with_columns(
        pl.col("subject_region").alias("registration_region"),
        pl.col("subject_entity_type").alias("entity_type"),
    )


def org_listing(source: str, table: str, rows: Sequence[Mapping[str, Any]]) -> pl.DataFrame:
    """Staged organisation records: each row ``id``, ``name``, ``number`` and optionally
    ``rep`` (the legal representative's name as the source writes it)."""
    reps = person_names(pl.Series([r.get("rep") for r in rows], dtype=pl.String))
    return pl.DataFrame(
        {
            **_base(source, table, [str(r["id"]) for r in rows]),
            **_org_subject([r["name"] for r in rows], [r.get("number") for r in rows]),
            "legal_rep_name": reps["name"],
            "legal_rep_name_pinyin": reps["name_pinyin"],
        }
    )


def conformed(tables: Mapping[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """The conformed tables of staged tables (``{'<source>__<table>': frame}``), as the conform
    step makes them (:func:`etl.conform.apply.conform_frames`); a made-up source (``t__x``) is
    conformed from its standardised subject fields alone. The registries give none."""
    mappings = dict(conform_mappings())
    for dataset in tables:
        source, _, table = dataset.partition("__")
        if source not in mappings and dataset not in REGISTRIES:
            subjects = TableConform(subjects=Subjects())
            mappings[source] = ConformMapping(source=source, tables={table: subjects})
    return conform_frames(tables, mappings)


def stage(lake: Lake, tables: Mapping[str, pl.DataFrame]) -> None:
    """Write staged tables (``{'<source>__<table>': frame}``) into the lake's staging layer,
    and their conformed tables into the conformed layer (as the ingest does)."""
    for dataset, frame in tables.items():
        lake.write("staging", dataset, INTERVAL, frame)
    for dataset, frame in conformed(tables).items():
        lake.write(LAYER, dataset, INTERVAL, frame)


DAY = date(2025, 7, 1)
