"""Agency records to link: one row per source record, in the columns of the spine.

The conformed subject-record tables (``conformed.subjects__<source>__<table>``,
:mod:`etl.conform`) give the rows: persons and organisations apart (:func:`person_records`,
:func:`organisation_records`), in exactly :data:`linkage.spine.PERSON_COLUMNS` /
:data:`linkage.spine.ORGANISATION_COLUMNS`. ``unique_id`` is ``'<source>/<table>/<record
id>'``; each record's latest conformed version is used. What a source says beyond its
standardised subject fields (a court's region from a case number, a licence's region, an
identifier read from another column) is in its conform mapping (``schemas/conform/``); nothing
here names a source or a table.

What every record gets here, whatever its source:

- a record whose document type (``id_type``) is ``passport`` is of class ``passport`` whatever
  its number field holds (empty, or a citizen's number): a foreign national, never linked to a
  citizen;
- a person's 18-character ID whose date digits are no date is ``malformed`` and the
  standardiser takes nothing out of it; a typing error in the date is the likeliest cause, so
  its region, date digits, year and tail still count;
- a record naming a parent record (``parent_id``: an inspection names its licence, a credit
  grade its taxpayer) borrows the parent's subject fields it lacks, and its identifier too
  (``parent_identifier``: ``always``, or ``when_unusable``: only when its own is no USCC,
  organisation code or legacy number). A parent's own borrowing does not chain.

Example:
    >>> persons = read_person_records(Lake(Path("data/lake")))           # doctest: +SKIP
    >>> persons.filter(pl.col("source") == "courts")["household_region"][0]  # doctest: +SKIP
    '370827'
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from credlink.etl.catalog import conform
from credlink.etl.conform.apply import check_conformed
from credlink.etl.conform.mappings import LAYER, SUBJECTS_PREFIX
from credlink.etl.lake import Lake, current_rows
from credlink.linkage.spine import ORGANISATION_COLUMNS, PERSON_COLUMNS, surname_given_pinyin

__all__ = [
    "organisation_records",
    "person_records",
    "read_organisation_records",
    "read_person_records",
    "read_subject_tables",
]

_RIC18_SHAPE = r"^\d{17}[\dX]$"


def _meta() -> list[pl.Expr]:
    return [
        pl.col("unique_id"),
        pl.col("_source").alias("source"),
        pl.col("_table").alias("table"),
        pl.col("_record_id").alias("record_id"),
    ]


def _person_rows(frame: pl.DataFrame) -> pl.DataFrame:
    rows = current_rows(frame).filter(pl.col("subject_type") == "person")
    if rows.is_empty():
        return rows
    name_pinyin = pl.coalesce(pl.col("name_pinyin"), pl.col("name").str.to_lowercase())
    surname, given = surname_given_pinyin(name_pinyin)
    # An 18-character ID whose date digits are no date is 'malformed' and the standardiser
    # takes nothing out of it; a typing error in the date is the likeliest cause, so its
    # other parts are still good evidence.
    norm = pl.col("id_norm")
    shaped = norm.str.contains(_RIC18_SHAPE).fill_null(False)
    year = norm.str.slice(6, 4).cast(pl.Int32, strict=False)
    passport = (pl.col("id_type") == "passport").fill_null(False)
    return rows.select(
        *_meta(),
        # A record typed as a passport (id_type) is a foreign national's, whatever the number
        # field holds: never compared with citizen IDs, never modelled.
        pl.when(passport).then(pl.lit("passport")).otherwise(pl.col("id_class")).alias("id_class"),
        norm.alias("id_norm"),
        pl.when(~passport).then(pl.col("citizen_id")).alias("citizen_id"),
        pl.col("name"),
        pl.col("name_script"),
        name_pinyin.alias("name_pinyin"),
        surname.alias("surname_pinyin"),
        given.alias("given_pinyin"),
        pl.col("birth_date"),
        pl.coalesce(
            pl.col("birth_date").dt.strftime("%Y%m%d"),
            pl.when(shaped).then(norm.str.slice(6, 8)),
        ).alias("birth_ymd"),
        pl.coalesce(
            pl.col("birth_year"),
            pl.when(shaped & year.is_between(1900, 2030)).then(year),
        ).alias("birth_year"),
        # Sex only from a column of the source's own: an ID's sex is the parity of its
        # sequence digits, already compared in the model's id_digits.
        pl.col("sex"),
        pl.coalesce(pl.col("id_region"), pl.when(shaped).then(norm.str.slice(0, 6))).alias(
            "id_region"
        ),
        pl.col("household_region"),
        pl.coalesce(pl.col("id_tail"), pl.when(shaped).then(norm.str.slice(14, 4))).alias(
            "id_tail"
        ),
    )


def _tables(conformed: Mapping[str, pl.DataFrame]) -> list[pl.DataFrame]:
    """The non-empty subject-record tables (``subjects__*``) of `conformed`, by name."""
    return [
        f
        for name, f in sorted(conformed.items())
        if name.startswith(SUBJECTS_PREFIX) and not f.is_empty()
    ]


def person_records(conformed: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    """Person records of the conformed subject-record tables (``subjects__*``) of
    `conformed` (`{dataset: frame}`; other tables are left alone), one row per record; tables
    without person subjects give no rows."""
    parts = [conform(_person_rows(f), PERSON_COLUMNS) for f in _tables(conformed)]
    parts = [p for p in parts if not p.is_empty()]
    if not parts:
        return conform(pl.DataFrame(), PERSON_COLUMNS)
    return pl.concat(parts)


def _organisation_rows(frame: pl.DataFrame) -> pl.DataFrame:
    rows = current_rows(frame).filter(pl.col("subject_type") == "organisation")
    if rows.is_empty():
        return rows
    cls = pl.col("id_class")
    return rows.select(
        *_meta(),
        cls.alias("id_class"),
        pl.col("id_norm"),
        pl.col("uscc"),
        pl.col("org_code"),
        pl.when(cls == "legacy_registration_no").then("id_norm").alias("legacy_registration_no"),
        pl.when(cls == "legacy_tax_no").then("id_norm").alias("legacy_tax_no"),
        pl.col("name"),
        pl.col("name_core"),
        pl.col("region"),
        pl.col("entity_type"),
        pl.col("legal_rep_name"),
        pl.col("legal_rep_pinyin"),
        pl.col("legal_rep_id"),
        # the record whose subject fields it borrows (see the module doc)
        pl.col("parent_id").alias("_parent_id"),
        pl.col("parent_identifier").alias("_parent_identifier"),
    )


_SUBJECT_FIELDS = [
    c for c in ORGANISATION_COLUMNS if c not in ("unique_id", "source", "table", "record_id")
]
_USABLE_IDS = ("uscc", "organisation_code", "legacy_registration_no", "legacy_tax_no")
_ID_FIELDS = (
    "id_class", "id_norm", "uscc", "org_code", "legacy_registration_no", "legacy_tax_no",
    "entity_type",
)  # fmt: skip


def _borrow(child: pl.DataFrame, parents: pl.DataFrame) -> pl.DataFrame:
    """`child` rows with the subject fields of their parent row (``_parent_id`` = its
    ``unique_id``, among `parents`).

    With ``_parent_identifier`` ``always`` the parent's identifier fields replace the child's
    (inspections have none of their own); otherwise only where the child's identifier is not
    usable. The other fields are the child's, else the parent's.
    """
    if child.is_empty() or parents.is_empty() or child["_parent_id"].null_count() == child.height:
        return child
    p = parents.select(
        pl.col("unique_id").alias("_parent_id"),
        *[pl.col(c).alias(f"_p_{c}") for c in _SUBJECT_FIELDS],
    )
    joined = child.join(p, on="_parent_id", how="left", maintain_order="left")
    has_parent = pl.col("_p_id_class").is_not_null()
    own_id_ok = (
        pl.when(pl.col("_parent_identifier") == "always")
        .then(pl.lit(False))
        .otherwise(pl.col("id_class").is_in(_USABLE_IDS))
    )
    exprs = []
    for c in _SUBJECT_FIELDS:
        if c in _ID_FIELDS:
            take = has_parent & ~own_id_ok
            exprs.append(pl.when(take).then(pl.col(f"_p_{c}")).otherwise(pl.col(c)).alias(c))
        else:
            exprs.append(pl.coalesce(pl.col(c), pl.col(f"_p_{c}")).alias(c))
    return joined.with_columns(exprs).drop([f"_p_{c}" for c in _SUBJECT_FIELDS])


def organisation_records(conformed: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    """Organisation records of the conformed subject-record tables (``subjects__*``) of
    `conformed` (`{dataset: frame}`), one row each, with what their parent records lend them."""
    rows = [r for r in (_organisation_rows(f) for f in _tables(conformed)) if not r.is_empty()]
    if not rows:
        return conform(pl.DataFrame(), ORGANISATION_COLUMNS)
    parents = pl.concat(rows)  # as conformed: a parent's own borrowing does not chain
    return pl.concat([conform(_borrow(f, parents), ORGANISATION_COLUMNS) for f in rows])


def read_subject_tables(lake: Lake) -> dict[str, pl.DataFrame]:
    """Every conformed subject-record table of the lake (``conformed.subjects__*``), by name;
    :class:`etl.conform.apply.NotConformedError` when a staged table has none (its records
    would look gone)."""
    check_conformed(lake)
    return {d: lake.read(LAYER, d) for d in lake.datasets(LAYER) if d.startswith(SUBJECTS_PREFIX)}


def read_person_records(lake: Lake) -> pl.DataFrame:
    """:func:`person_records` of every conformed subject-record table of the lake."""
    return person_records(read_subject_tables(lake))


def read_organisation_records(lake: Lake) -> pl.DataFrame:
    """:func:`organisation_records` of every conformed subject-record table of the lake."""
    return organisation_records(read_subject_tables(lake))
