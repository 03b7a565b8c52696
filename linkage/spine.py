"""The spines: one row per registry entry, in the columns the linkage models compare.

Linkage ties each agency record to one entry of a reference registry (as the ABS Person
Linkage Spine does for Australian administrative data):

- the **person spine**, from the staged population registry (``population__person``): one
  row per citizen identity number;
- the **organisation spine**, from the staged legal-entity registry
  (``legal_entities__legal_entity``): one row per USCC.

Agency records (:mod:`linkage.records`) come in exactly the same columns
(:data:`PERSON_COLUMNS`, :data:`ORGANISATION_COLUMNS`), so that the two tables of a link can
be handed to Splink side by side. In a spine, ``unique_id`` is the credit code itself and
``source`` / ``table`` / ``record_id`` name the registry row.

Registries are staged like any source: a person updated during the period has several staged
versions. A spine keeps the latest one (:func:`current_rows`).

Example:
    >>> lake = Lake(Path("data/lake"))                                 # doctest: +SKIP
    >>> spine = person_spine(lake.read("staging", "population__person"))  # doctest: +SKIP
    >>> spine.select("unique_id", "name_pinyin", "birth_date").row(0)   # doctest: +SKIP
    ('510822198404014221', 'zhang chunping', datetime.date(1984, 4, 1))
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any, TypeVar

import polars as pl

from credlink.etl.catalog import conform
from credlink.etl.lake import Lake, current_rows

__all__ = [
    "ORGANISATION_COLUMNS",
    "PERSON_COLUMNS",
    "conform",
    "current_rows",
    "derived",
    "organisation_spine",
    "person_spine",
    "read_organisation_spine",
    "read_person_spine",
    "recall",
    "remember",
    "surname_given_pinyin",
]

T = TypeVar("T")
_DERIVED: dict[tuple[int, str], tuple[weakref.ref[pl.DataFrame], Any]] = {}


def derived(frame: pl.DataFrame, name: str, compute: Callable[[], T]) -> T:
    """`compute()`, a value derived from the whole of `frame` (e.g. a spine's namesakes or
    term frequencies), computed once per frame object while it lives: a daily run links
    persons and legal representatives to the same million-entry spine. Frames are not
    changed in place here; a new frame (a new spine) is a new object."""
    _prune()
    key = (id(frame), name)
    hit = _DERIVED.get(key)
    if hit is not None and hit[0]() is frame:
        return hit[1]
    value = compute()
    _DERIVED[key] = (weakref.ref(frame), value)
    return value


def remember(frame: pl.DataFrame, name: str, value: object) -> None:
    """Keep `value` as what is known of `frame` under `name` while the frame lives (where its
    rows are stored, say), for :func:`recall`."""
    _prune()
    key = (id(frame), name)
    _DERIVED[key] = (weakref.ref(frame), value)
    weakref.finalize(frame, _DERIVED.pop, key, None)  # the value goes with the frame


def _prune() -> None:
    """Let go of what is kept for frames that are gone."""
    for key in [k for k, (ref, _) in _DERIVED.items() if ref() is None]:
        del _DERIVED[key]


def recall(frame: pl.DataFrame, name: str) -> Any:
    """What :func:`remember` (or :func:`derived`) keeps of `frame` under `name`, or None."""
    hit = _DERIVED.get((id(frame), name))
    return hit[1] if hit is not None and hit[0]() is frame else None


PERSON_DATASET = "population__person"
ORGANISATION_DATASET = "legal_entities__legal_entity"

#: The columns (and types) of the person spine and of person records.
PERSON_COLUMNS: dict[str, pl.DataType] = {
    "unique_id": pl.String(),  # the citizen ID in the spine, '<source>/<table>/<id>' in records
    "source": pl.String(),
    "table": pl.String(),
    "record_id": pl.String(),
    "id_class": pl.String(),  # etl.standardise.identifiers.PERSON_ID_CLASSES
    "id_norm": pl.String(),  # the identifier as written, normalised
    "citizen_id": pl.String(),  # valid 18-digit number (or a legacy one upgraded)
    "name": pl.String(),  # simplified Han, or upper-case Latin letters
    "name_script": pl.String(),
    "name_pinyin": pl.String(),  # 'zhang wei'; lower-case Latin for non-pinyin names
    "surname_pinyin": pl.String(),  # 'zhang'
    "given_pinyin": pl.String(),  # 'wei'
    "birth_date": pl.Date(),
    "birth_ymd": pl.String(),  # the ID's 8 date digits 'YYYYMMDD' (also when not a real date)
    "birth_year": pl.Int32(),
    "sex": pl.String(),  # 'M' / 'F'
    "id_region": pl.String(),  # the 6-digit address code at the head of the ID
    "household_region": pl.String(),  # where the person is registered (hukou) / sued
    "id_tail": pl.String(),  # last 4 characters of the ID (sequence + check)
}

#: The columns (and types) of the organisation spine and of organisation records.
ORGANISATION_COLUMNS: dict[str, pl.DataType] = {
    "unique_id": pl.String(),  # the USCC in the spine, '<source>/<table>/<id>' in records
    "source": pl.String(),
    "table": pl.String(),
    "record_id": pl.String(),
    "id_class": pl.String(),  # etl.standardise.identifiers.ORGANISATION_ID_CLASSES
    "id_norm": pl.String(),
    "uscc": pl.String(),  # valid USCC
    "org_code": pl.String(),  # 9-character organisation code (GB 11714), no hyphen
    "legacy_registration_no": pl.String(),
    "legacy_tax_no": pl.String(),
    "name": pl.String(),
    "name_core": pl.String(),  # without region, legal form, branch suffix
    "region": pl.String(),  # 6-digit division code of the registering authority
    "entity_type": pl.String(),  # first two USCC characters: 91, 92, 93, 51, 52, 53, 12
    "legal_rep_name": pl.String(),
    "legal_rep_pinyin": pl.String(),
    "legal_rep_id": pl.String(),  # the legal representative's ID as written (normalised)
}


def surname_given_pinyin(name_pinyin: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(surname, given name) of a 'surname given' pinyin string: 'ouyang nana' -> ouyang, nana."""
    parts = name_pinyin.str.split_exact(" ", 1)
    return parts.struct.field("field_0"), parts.struct.field("field_1")


def person_spine(staged: pl.DataFrame) -> pl.DataFrame:
    """The person spine from the staged population registry: one row per citizen ID.

    Sex and birth date are the registry's own columns (``sex_code``, ``born_on``), which the
    standardiser has checked against the ID; the ID region is the head of the ID and the
    household region the registry's ``household_region`` (a person may have moved).
    """
    rows = current_rows(staged).filter(pl.col("subject_citizen_id").is_not_null())
    surname, given = surname_given_pinyin(pl.col("subject_name_pinyin"))
    spine = rows.select(
        pl.col("subject_citizen_id").alias("unique_id"),
        pl.col("_source").alias("source"),
        pl.col("_table").alias("table"),
        pl.col("_record_id").alias("record_id"),
        pl.col("subject_id_class").alias("id_class"),
        pl.col("subject_id_norm").alias("id_norm"),
        pl.col("subject_citizen_id").alias("citizen_id"),
        pl.col("subject_name").alias("name"),
        pl.col("subject_name_script").alias("name_script"),
        pl.coalesce("subject_name_pinyin", pl.col("subject_name").str.to_lowercase()).alias(
            "name_pinyin"
        ),
        surname.alias("surname_pinyin"),
        given.alias("given_pinyin"),
        pl.coalesce("born_on", "subject_birth_date").alias("birth_date"),
        pl.coalesce("born_on", "subject_birth_date").dt.strftime("%Y%m%d").alias("birth_ymd"),
        pl.coalesce(pl.col("born_on").dt.year(), "subject_birth_year").alias("birth_year"),
        pl.coalesce("sex_code", "subject_sex").alias("sex"),
        pl.col("subject_region").alias("id_region"),
        pl.coalesce("household_region", "subject_region").alias("household_region"),
        pl.col("subject_id_tail").alias("id_tail"),
    ).unique("unique_id", keep="last", maintain_order=True)
    return conform(spine, PERSON_COLUMNS)


def organisation_spine(staged: pl.DataFrame) -> pl.DataFrame:
    """The organisation spine from the staged legal-entity registry: one row per USCC.

    Deregistered entities stay: older agency records still name them. The organisation code
    is the one embedded in the USCC (positions 9-17); the legacy registration and tax numbers
    are the registry's own columns, for firms registered before the 2015 reform.
    """
    rows = current_rows(staged).filter(pl.col("subject_uscc").is_not_null())
    spine = rows.select(
        pl.col("subject_uscc").alias("unique_id"),
        pl.col("_source").alias("source"),
        pl.col("_table").alias("table"),
        pl.col("_record_id").alias("record_id"),
        pl.col("subject_id_class").alias("id_class"),
        pl.col("subject_id_norm").alias("id_norm"),
        pl.col("subject_uscc").alias("uscc"),
        pl.col("subject_org_code").alias("org_code"),
        pl.col("legacy_registration_no").str.replace_all(r"[\s\-]", ""),
        pl.col("legacy_tax_no").str.replace_all(r"[\s\-]", ""),
        pl.col("subject_name").alias("name"),
        pl.col("subject_name_core").alias("name_core"),
        pl.coalesce("registration_region", "subject_region").alias("region"),
        pl.coalesce("entity_type", "subject_entity_type").alias("entity_type"),
        pl.coalesce("rep_name", "legal_rep_name").alias("legal_rep_name"),
        pl.col("rep_name_pinyin").alias("legal_rep_pinyin"),
        pl.coalesce("rep_id_norm", "legal_rep_id").alias("legal_rep_id"),
    ).unique("unique_id", keep="last", maintain_order=True)
    return conform(spine, ORGANISATION_COLUMNS)


def read_person_spine(lake: Lake) -> pl.DataFrame:
    """:func:`person_spine` of the lake's staged population registry."""
    return person_spine(lake.read("staging", PERSON_DATASET))


def read_organisation_spine(lake: Lake) -> pl.DataFrame:
    """:func:`organisation_spine` of the lake's staged legal-entity registry."""
    return organisation_spine(lake.read("staging", ORGANISATION_DATASET))
