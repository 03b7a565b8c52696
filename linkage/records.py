"""Agency records to link: one row per source record, in the columns of the spine.

Every staged agency table with subject fields (``subject_type``, ``subject_name``,
``subject_id_class`` ...) gives rows; persons and organisations apart
(:func:`person_records`, :func:`organisation_records`), in exactly
:data:`linkage.spine.PERSON_COLUMNS` / :data:`linkage.spine.ORGANISATION_COLUMNS`.
``unique_id`` is ``'<source>/<table>/<record id>'``; each record's latest staged version is used.

What each agency adds beyond the standardised subject fields:

- **every source**: a record whose standardised ``id_type`` is ``passport`` (the transport
  agency's ``IdType = PP``) is of class ``passport`` whatever its number field holds (empty, or
  a citizen's number): a foreign national, never linked to a citizen.
- **courts**: a case number ``(2024)鲁0827执24号`` names the court by province abbreviation and
  the last 4 digits of its county division code, and a person or firm is sued where it is
  registered: ``household_region`` (persons) and, when the identifier gives none, ``region``
  (organisations) come from it (``370827``). ``sex`` is the defaulter list's own column only:
  the sex an ID number gives is part of its digits, which the model compares once.
- **tax**: the legal representative's name and ID number. Credit grades (``nsxypj``) carry
  only the taxpayer number and the taxpayer's internal id ``nsrid``: they borrow the name,
  legal representative and (when their own is unusable) identifier of the taxpayer record
  ``nsrxx`` with the same ``nsrid``.
- **food**: a licence number ``JY`` + business type + 6-digit division code + ... gives
  ``region``. Licences and violations are classified by their ``credit_code`` column (USCC or
  old 15-digit registration number; :data:`ID_COLUMN`), not by the licence number that the
  licences' ingest contract lists first. Inspections carry only the licence number: they
  borrow every subject field of that licence; a violation without a usable identifier
  borrows its licence's (:data:`PARENTS`).

Example:
    >>> persons = read_person_records(Lake(Path("data/lake")))           # doctest: +SKIP
    >>> persons.filter(pl.col("source") == "courts")["household_region"][0]  # doctest: +SKIP
    '370827'
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from credlink.etl.lake import Lake
from credlink.etl.reference.divisions import PROVINCE_ABBR
from credlink.etl.standardise.identifiers import organisation_ids
from credlink.linkage.spine import (
    ORGANISATION_COLUMNS,
    ORGANISATION_DATASET,
    PERSON_COLUMNS,
    PERSON_DATASET,
    conform,
    current_rows,
    surname_given_pinyin,
)

__all__ = [
    "ID_COLUMN",
    "PARENTS",
    "court_region",
    "licence_region",
    "organisation_records",
    "person_records",
    "read_organisation_records",
    "read_person_records",
    "read_staged",
]

REGISTRIES = (PERSON_DATASET, ORGANISATION_DATASET)

_ABBR_TO_PROVINCE = {abbr: code for code, abbr in PROVINCE_ABBR.items()}
# '(2024)鲁0827执24号': year, province abbreviation, county code digits 3-6, case type.
_CASE_NUMBER = r"^[(（]\d{4}[)）](\p{Han})(\d{4})"
_LICENCE = r"^JY\d(\d{6})\d{7}$"
_RIC18_SHAPE = r"^\d{17}[\dX]$"


def _unique_id() -> pl.Expr:
    return pl.concat_str(
        [pl.col("_source"), pl.col("_table"), pl.col("_record_id")], separator="/"
    ).alias("unique_id")


def court_region(case_number: pl.Expr) -> pl.Expr:
    """The court's 6-digit county division code from a case number, or null.

    Example: ``(2024)鲁0827执24号`` -> ``'370827'``.
    """
    parts = case_number.str.extract_groups(_CASE_NUMBER)
    province = parts.struct.field("1").replace_strict(
        _ABBR_TO_PROVINCE, default=None, return_dtype=pl.String
    )
    return province + parts.struct.field("2")


def licence_region(licence_no: pl.Expr) -> pl.Expr:
    """The 6-digit division code inside a food licence number, or null.

    Example: ``JY13601024968274`` -> ``'360102'``.
    """
    return licence_no.str.extract(_LICENCE, 1)


def _col(frame: pl.DataFrame, name: str) -> pl.Expr:
    return pl.col(name) if name in frame.columns else pl.lit(None, dtype=pl.String)


def _person_rows(frame: pl.DataFrame) -> pl.DataFrame:
    rows = current_rows(frame).filter(pl.col("subject_type") == "person")
    if rows.is_empty():
        return rows
    name_pinyin = pl.coalesce(
        _col(rows, "subject_name_pinyin"), _col(rows, "subject_name").str.to_lowercase()
    )
    surname, given = surname_given_pinyin(name_pinyin)
    # An 18-character ID whose date digits are no date is 'malformed' and the standardiser
    # takes nothing out of it; a typing error in the date is the likeliest cause, so its
    # other parts are still good evidence (see _RIC18_PARTS).
    norm = _col(rows, "subject_id_norm")
    shaped = norm.str.contains(_RIC18_SHAPE).fill_null(False)
    year = norm.str.slice(6, 4).cast(pl.Int32, strict=False)
    passport = (_col(rows, "id_type") == "passport").fill_null(False)
    return rows.select(
        _unique_id(),
        pl.col("_source").alias("source"),
        pl.col("_table").alias("table"),
        pl.col("_record_id").alias("record_id"),
        # A record typed as a passport (id_type) is a foreign national's, whatever the number
        # field holds: never compared with citizen IDs, never modelled.
        pl.when(passport)
        .then(pl.lit("passport"))
        .otherwise(_col(rows, "subject_id_class"))
        .alias("id_class"),
        norm.alias("id_norm"),
        pl.when(~passport).then(_col(rows, "subject_citizen_id")).alias("citizen_id"),
        _col(rows, "subject_name").alias("name"),
        _col(rows, "subject_name_script").alias("name_script"),
        name_pinyin.alias("name_pinyin"),
        surname.alias("surname_pinyin"),
        given.alias("given_pinyin"),
        _col(rows, "subject_birth_date").alias("birth_date"),
        pl.coalesce(
            _col(rows, "subject_birth_date").dt.strftime("%Y%m%d"),
            pl.when(shaped).then(norm.str.slice(6, 8)),
        ).alias("birth_ymd"),
        pl.coalesce(
            _col(rows, "subject_birth_year"),
            pl.when(shaped & year.is_between(1900, 2030)).then(year),
        ).alias("birth_year"),
        # Sex only from a column of its own (the court list's XB): an ID's sex is the parity
        # of its sequence digits, already compared in the model's id_digits.
        _col(rows, "sex").alias("sex"),
        pl.coalesce(_col(rows, "subject_region"), pl.when(shaped).then(norm.str.slice(0, 6))).alias(
            "id_region"
        ),
        court_region(_col(rows, "AH")).alias("household_region"),
        pl.coalesce(
            _col(rows, "subject_id_tail"), pl.when(shaped).then(norm.str.slice(14, 4))
        ).alias("id_tail"),
    )


def person_records(staged: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    """Person records of the staged agency tables (`{dataset: frame}`), one row per record.

    The registries are skipped; tables without person subjects give no rows.
    """
    parts = [
        conform(_person_rows(f), PERSON_COLUMNS)
        for name, f in sorted(staged.items())
        if name not in REGISTRIES and "subject_type" in f.columns and not f.is_empty()
    ]
    if not parts:
        return conform(pl.DataFrame(), PERSON_COLUMNS)
    return pl.concat(parts)


def _reclassified(rows: pl.DataFrame, column: str) -> pl.DataFrame:
    """`rows` with the subject identifier fields recomputed from `column` (15 digits read as a
    registration number: the food agency writes no tax numbers)."""
    ids = organisation_ids(rows[column], prefer="legacy_registration_no")
    return rows.with_columns(
        ids["id_norm"].alias("subject_id_norm"),
        ids["id_class"].alias("subject_id_class"),
        ids["id_uscc"].alias("subject_uscc"),
        ids["id_org_code"].alias("subject_org_code"),
        ids["id_region"].alias("subject_region"),
        ids["id_entity_type"].alias("subject_entity_type"),
    )


#: Tables whose subject identifier is read from another column than the contract's first one
#: (the food agency's licence number is no credit code), with 15 digits read as a registration
#: number.
ID_COLUMN = {"food__licences": "credit_code", "food__serious_violations": "credit_code"}

#: Tables whose rows point to a parent record of the same agency, whose subject fields they
#: borrow: (child, parent, join key, whether the parent's identifier always replaces the
#: child's, else only when the child's own identifier is unusable).
PARENTS: tuple[tuple[str, str, str, bool], ...] = (
    ("food__inspections", "food__licences", "_licence_no", True),
    ("food__serious_violations", "food__licences", "_licence_no", False),
    ("tax__nsxypj", "tax__nsrxx", "_nsrid", False),
)


def _organisation_rows(dataset: str, frame: pl.DataFrame) -> pl.DataFrame:
    rows = current_rows(frame).filter(pl.col("subject_type") == "organisation")
    if rows.is_empty():
        return rows
    if dataset in ID_COLUMN and ID_COLUMN[dataset] in rows.columns:
        rows = _reclassified(rows, ID_COLUMN[dataset])
    cls = pl.col("subject_id_class")
    return rows.select(
        _unique_id(),
        pl.col("_source").alias("source"),
        pl.col("_table").alias("table"),
        pl.col("_record_id").alias("record_id"),
        cls.alias("id_class"),
        _col(rows, "subject_id_norm").alias("id_norm"),
        _col(rows, "subject_uscc").alias("uscc"),
        _col(rows, "subject_org_code").alias("org_code"),
        pl.when(cls == "legacy_registration_no")
        .then("subject_id_norm")
        .alias("legacy_registration_no"),
        pl.when(cls == "legacy_tax_no").then("subject_id_norm").alias("legacy_tax_no"),
        _col(rows, "subject_name").alias("name"),
        _col(rows, "subject_name_core").alias("name_core"),
        pl.coalesce(
            _col(rows, "subject_region"),
            court_region(_col(rows, "AH")),
            licence_region(_col(rows, "licence_no")),
        ).alias("region"),
        _col(rows, "subject_entity_type").alias("entity_type"),
        _col(rows, "legal_rep_name").alias("legal_rep_name"),
        _col(rows, "legal_rep_name_pinyin").alias("legal_rep_pinyin"),
        _col(rows, "legal_rep_id_norm").alias("legal_rep_id"),
        # join keys to a parent record of the same source (see the module doc)
        _col(rows, "licence_no").alias("_licence_no"),
        (pl.col("nsrid").cast(pl.String) if "nsrid" in rows.columns else pl.lit(None))
        .cast(pl.String)
        .alias("_nsrid"),
    )


_SUBJECT_FIELDS = [
    c for c in ORGANISATION_COLUMNS if c not in ("unique_id", "source", "table", "record_id")
]
_USABLE_IDS = ("uscc", "organisation_code", "legacy_registration_no", "legacy_tax_no")


def _borrow(child: pl.DataFrame, parent: pl.DataFrame, key: str, ids_too: bool) -> pl.DataFrame:
    """`child` rows with the subject fields of the `parent` row with the same `key`.

    With `ids_too` the parent's identifier fields replace the child's always (inspections have
    none of their own); otherwise only where the child's identifier is not usable.
    """
    if child.is_empty() or parent.is_empty():
        return child
    p = (
        parent.filter(pl.col(key).is_not_null())
        .unique(key, keep="last")
        .select(key, *[pl.col(c).alias(f"_p_{c}") for c in _SUBJECT_FIELDS])
    )
    joined = child.join(p, on=key, how="left", maintain_order="left")
    has_parent = pl.col("_p_id_class").is_not_null()
    own_id_ok = pl.lit(False) if ids_too else pl.col("id_class").is_in(_USABLE_IDS)
    id_fields = (
        "id_class", "id_norm", "uscc", "org_code", "legacy_registration_no", "legacy_tax_no",
        "entity_type",
    )  # fmt: skip
    exprs = []
    for c in _SUBJECT_FIELDS:
        if c in id_fields:
            take = has_parent & ~own_id_ok
            exprs.append(pl.when(take).then(pl.col(f"_p_{c}")).otherwise(pl.col(c)).alias(c))
        else:
            exprs.append(pl.coalesce(pl.col(c), pl.col(f"_p_{c}")).alias(c))
    return joined.with_columns(exprs).drop([f"_p_{c}" for c in _SUBJECT_FIELDS])


def organisation_records(staged: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    """Organisation records of the staged agency tables (`{dataset: frame}`), one row each."""
    rows = {
        name: _organisation_rows(name, f)
        for name, f in sorted(staged.items())
        if name not in REGISTRIES and "subject_type" in f.columns and not f.is_empty()
    }
    rows = {k: v for k, v in rows.items() if not v.is_empty()}
    parents = dict(rows)  # as staged: a parent's own borrowing does not chain
    for child, parent, key, ids_too in PARENTS:
        if child in rows and parent in parents:
            rows[child] = _borrow(rows[child], parents[parent], key, ids_too=ids_too)
    if not rows:
        return conform(pl.DataFrame(), ORGANISATION_COLUMNS)
    return pl.concat([conform(f, ORGANISATION_COLUMNS) for f in rows.values()])


def read_staged(lake: Lake) -> dict[str, pl.DataFrame]:
    """Every staged agency dataset of the lake (registries excluded), by name."""
    return {d: lake.read("staging", d) for d in lake.datasets("staging") if d not in REGISTRIES}


def read_person_records(lake: Lake) -> pl.DataFrame:
    """:func:`person_records` of every staged agency table of the lake."""
    return person_records(read_staged(lake))


def read_organisation_records(lake: Lake) -> pl.DataFrame:
    """:func:`organisation_records` of every staged agency table of the lake."""
    return organisation_records(read_staged(lake))
