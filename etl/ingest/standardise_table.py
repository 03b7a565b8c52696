"""Standardise one extracted table by its contract: subject fields, declared fields, checks.

The staged table keeps every source column as extracted and adds:

- `subject_type` ('person' / 'organisation'), and from the subject's name and first identifier
  column: `subject_name` (+ `_pinyin`, `_script`, `surname`/`given_name` for persons,
  `_core`, `_is_branch` for organisations) and `subject_id_norm`, `subject_id_class`,
  `subject_citizen_id`, `subject_uscc`, `subject_org_code`, `subject_birth_date`,
  `subject_birth_year`, `subject_sex`, `subject_region`, `subject_id_tail`, `subject_entity_type`;
- one field per column `standardise` directive of the contract (a `person_id` directive with
  field F gives `F_id_norm`, `F_id_class`, `F_citizen_id`, ...; a `person_name` directive gives F
  and `F_pinyin`);
- `_updated_utc`, the incremental column as a UTC timestamp;
- check columns `_ok__<field>`: true unless the raw value is present but did not standardise;
  validation turns them into rules (`parses:<column>`, `in_vocabulary:<column>`).

Example:
    >>> staged = standardise(contract, contract.table("SXBZXR"), extracted)   # doctest: +SKIP
"""

from __future__ import annotations

from typing import Literal

import polars as pl

from credlink.etl.contracts import Column, SourceContract, Table
from credlink.etl.standardise import identifiers, names, values, vocabularies

PERSON = "person"
ORGANISATION = "organisation"

PERSON_NAME_FIELDS = {
    "name": "subject_name",
    "name_pinyin": "subject_name_pinyin",
    "name_script": "subject_name_script",
    "surname": "subject_surname",
    "given_name": "subject_given_name",
}
ORG_NAME_FIELDS = {
    "name": "subject_name",
    "name_core": "subject_name_core",
    "is_branch": "subject_is_branch",
}
PERSON_ID_FIELDS = {
    "id_norm": "subject_id_norm",
    "id_class": "subject_id_class",
    "id_citizen": "subject_citizen_id",
    "id_birth_date": "subject_birth_date",
    "id_birth_year": "subject_birth_year",
    "id_sex": "subject_sex",
    "id_region": "subject_region",
    "id_tail": "subject_id_tail",
}
ORG_ID_FIELDS = {
    "id_norm": "subject_id_norm",
    "id_class": "subject_id_class",
    "id_uscc": "subject_uscc",
    "id_org_code": "subject_org_code",
    "id_region": "subject_region",
    "id_entity_type": "subject_entity_type",
}


def subject_types(table: Table, frame: pl.DataFrame) -> pl.Series:
    """'person' / 'organisation' for every row."""
    sub = table.subject
    if sub.type != "mixed":
        return pl.Series("subject_type", [sub.type] * frame.height, dtype=pl.String)
    assert sub.type_column is not None
    return frame.select(
        pl.when(pl.col(sub.type_column) == sub.person_value)
        .then(pl.lit(PERSON))
        .otherwise(pl.lit(ORGANISATION))
        .alias("subject_type")
    ).to_series()


def _renamed(frame: pl.DataFrame, mapping: dict[str, str]) -> pl.DataFrame:
    return frame.select([pl.col(k).alias(v) for k, v in mapping.items() if k in frame.columns])


def _merge_by_type(
    is_person: pl.Series, person: pl.DataFrame | None, org: pl.DataFrame | None
) -> pl.DataFrame:
    """Per row, the person fields for persons and the organisation fields for the rest."""
    if person is None:
        assert org is not None
        return org
    if org is None:
        return person
    cols = list(dict.fromkeys([*person.columns, *org.columns]))
    out = {}
    for c in cols:
        p = person[c] if c in person.columns else None
        o = org[c] if c in org.columns else None
        if p is not None and o is not None:
            out[c] = pl.select(
                pl.when(is_person).then(p).otherwise(o.cast(p.dtype, strict=False))
            ).to_series()
        elif p is not None:
            out[c] = pl.select(pl.when(is_person).then(p).otherwise(None)).to_series()
        else:
            assert o is not None
            out[c] = pl.select(pl.when(~is_person).then(o).otherwise(None)).to_series()
    return pl.DataFrame(out)


def subject_fields(table: Table, frame: pl.DataFrame, types: pl.Series) -> pl.DataFrame:
    """Standardised name and identifier of each row's subject."""
    is_person = types == PERSON
    subject_kinds = (
        {table.subject.type} if table.subject.type != "mixed" else {PERSON, ORGANISATION}
    )
    parts = []
    if table.subject.name_column:
        raw = frame[table.subject.name_column]
        parts.append(
            _merge_by_type(
                is_person,
                _renamed(names.person_names(raw), PERSON_NAME_FIELDS)
                if PERSON in subject_kinds
                else None,
                _renamed(names.organisation_names(raw), ORG_NAME_FIELDS)
                if ORGANISATION in subject_kinds
                else None,
            )
        )
    if table.subject.id_columns:
        id_column = table.column(table.subject.id_columns[0])
        raw = frame[id_column.name]
        # A 15-digit value may read as a registration or a tax number: the contract says which
        # the column holds.
        kinds = {k.value for k in id_column.identifier}
        prefer: Literal["legacy_tax_no", "legacy_registration_no"] = (
            "legacy_registration_no"
            if "legacy_registration_no" in kinds and "legacy_tax_no" not in kinds
            else "legacy_tax_no"
        )
        parts.append(
            _merge_by_type(
                is_person,
                _renamed(identifiers.person_ids(raw), PERSON_ID_FIELDS)
                if PERSON in subject_kinds
                else None,
                _renamed(identifiers.organisation_ids(raw, prefer=prefer), ORG_ID_FIELDS)
                if ORGANISATION in subject_kinds
                else None,
            )
        )
    return pl.concat(parts, how="horizontal") if parts else pl.DataFrame()


def _ok(raw: pl.Series, std: pl.Series, field: str) -> pl.Series:
    return (raw.is_null() | std.is_not_null()).alias(f"_ok__{field}")


def column_fields(table: Table, column: Column, raw: pl.Series) -> list[pl.Series]:
    """The standardised field(s) of one column with a directive, and its check column."""
    std = column.standardise
    assert std is not None
    f = std.field
    text = raw.cast(pl.String)
    if std.kind == "date":
        s = values.dates(raw, std.formats).alias(f)
        return [s, _ok(text.str.strip_chars().replace("", None), s, f)]
    if std.kind == "timestamp":
        inc = table.incremental
        s = values.timestamps(raw, inc.format, inc.timezone).alias(f)
        return [s, _ok(raw, s, f)]
    if std.kind == "amount":
        s = values.amounts(raw).alias(f)
        return [s, _ok(raw, s, f)]
    if std.kind == "vocabulary":
        assert std.vocabulary is not None
        s = vocabularies.map_values(raw, std.vocabulary).alias(f)
        return [s, _ok(text.str.strip_chars().replace("", None), s, f)]
    if std.kind == "text":
        return [values.text(raw).alias(f)]
    if std.kind == "person_name":
        parts = names.person_names(raw)
        return [parts["name"].alias(f), parts["name_pinyin"].alias(f"{f}_pinyin")]
    if std.kind == "organisation_name":
        parts = names.organisation_names(raw)
        return [parts["name"].alias(f), parts["name_core"].alias(f"{f}_core")]
    if std.kind == "person_id":
        parts = identifiers.person_ids(raw)
        return [
            parts[c].alias(f"{f}_{v.removeprefix('subject_')}") for c, v in PERSON_ID_FIELDS.items()
        ]
    if std.kind == "organisation_id":
        parts = identifiers.organisation_ids(raw)
        return [
            parts[c].alias(f"{f}_{v.removeprefix('subject_')}") for c, v in ORG_ID_FIELDS.items()
        ]
    raise ValueError(f"unknown standardisation {std.kind}")


def standardise(contract: SourceContract, table: Table, frame: pl.DataFrame) -> pl.DataFrame:
    """The staged form of `frame` (rows of `table` as extracted): source columns kept, fields
    added, in the order: metadata, source columns, subject fields, declared fields, checks."""
    types = subject_types(table, frame)
    inc = table.incremental
    updated = values.timestamps(frame[inc.column], inc.format, inc.timezone).alias("_updated_utc")
    key = pl.concat_str([pl.col(c).cast(pl.String) for c in table.primary_key], separator="|")
    declared: list[pl.Series] = []
    for column in table.columns:
        if column.standardise is not None:
            declared += column_fields(table, column, frame[column.name])
    fields = pl.DataFrame([s for s in declared if not s.name.startswith("_ok__")])
    checks = pl.DataFrame(
        [s for s in declared if s.name.startswith("_ok__")]
        + [_ok(frame[inc.column], updated, "_updated_utc")]
    )
    out = pl.concat(
        [
            frame.select(
                pl.lit(contract.source).alias("_source"),
                pl.lit(table.name).alias("_table"),
                key.alias("_record_id"),
            ).with_columns(updated),
            frame,
            pl.DataFrame([types]),
            subject_fields(table, frame, types),
            fields,
            checks,
        ],
        how="horizontal",
    )
    return out
