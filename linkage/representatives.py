"""Each organisation's legal representative, linked to the population registry.

The legal-entity registry names every organisation's legal representative (法定代表人) by
name and citizen identity number. The joint-punishment memoranda extend some measures from a
listed organisation to its legal representative, so the representative must be a linked
person, with the same care as any agency record: each registry row gives one **person record**
(:func:`representative_records`, the ``rep_*`` fields the ingest standardised in the place of
the ``subject_*`` ones), linked by the linkage stage (:mod:`linkage.stage`) through the
deterministic pass and the person model, in full or incrementally, reviewer decisions applied.

``linkage.legal_representatives`` (:data:`LEGAL_REPRESENTATIVES_COLUMNS`) has one row per
current organisation of the registry: its credit code and name, and the representative's link
(``credit_code`` is the representative's citizen ID in the accept band only, as in
``linkage.record_links``). Its ``unique_id`` is
``'legal_entities/legal_entity.legal_rep/<registry record id>'``.

Example:
    >>> reps = representative_records(lake.read("staging", ORGANISATION_DATASET))  # doctest: +SKIP
    >>> reps.select("unique_id", "name", "citizen_id").row(0)                    # doctest: +SKIP
    ('legal_entities/legal_entity.legal_rep/1', '李雅红', '131023195702102480')
"""

from __future__ import annotations

import polars as pl

from credlink.etl.catalog import columns, conform
from credlink.etl.conform.apply import standard_subjects
from credlink.etl.lake import current_rows
from credlink.linkage.records import person_records
from credlink.linkage.spine import PERSON_COLUMNS

__all__ = [
    "LEGAL_REPRESENTATIVES_COLUMNS",
    "REPRESENTATIVE_KIND",
    "representative_records",
    "with_organisations",
]

#: The kind of record in ``linkage.runs`` and the table suffix of the record ids.
REPRESENTATIVE_KIND = "legal_representative"
_TABLE_SUFFIX = ".legal_rep"

#: ``linkage.legal_representatives``: one row per organisation of the registry.
LEGAL_REPRESENTATIVES_COLUMNS = columns("linkage.legal_representatives")


def _registry_rows(registry: pl.DataFrame) -> pl.DataFrame:
    if registry.is_empty() or "rep_name" not in registry.columns:
        return pl.DataFrame()
    return current_rows(registry).filter(
        pl.col("subject_uscc").is_not_null() & pl.col("rep_name").is_not_null()
    )


def representative_records(registry: pl.DataFrame) -> pl.DataFrame:
    """One person record (:data:`linkage.spine.PERSON_COLUMNS`) per current registry
    organisation with a legal representative: the ``rep_*`` fields as the subject's."""
    rows = _registry_rows(registry)
    if rows.is_empty():
        return conform(pl.DataFrame(), PERSON_COLUMNS)
    reps = rows.select(
        "_source",
        (pl.col("_table") + _TABLE_SUFFIX).alias("_table"),
        "_record_id",
        *[c for c in ("_updated_utc", "_interval") if c in rows.columns],
        pl.lit("person").alias("subject_type"),
        *[
            pl.col(c).alias(c.replace("rep_", "subject_", 1))
            for c in rows.columns
            if c.startswith("rep_")
        ],
    )
    # the registry has no conform mapping: its rep_* fields are standardised subject fields
    return person_records({"subjects__legal_representatives": standard_subjects(reps)})


def with_organisations(links: pl.DataFrame, registry: pl.DataFrame) -> pl.DataFrame:
    """`links` of representative records with their organisation's code and name and the
    representative's name as registered."""
    rows = _registry_rows(registry)
    if rows.is_empty() or links.is_empty():
        return links.head(0).with_columns(
            pl.lit(None, pl.String).alias(c)
            for c in ("organisation_code", "organisation_name", "representative_name")
        )
    orgs = rows.select(
        pl.col("_record_id").alias("record_id"),
        pl.col("subject_uscc").alias("organisation_code"),
        pl.col("subject_name").alias("organisation_name"),
        pl.col("rep_name").alias("representative_name"),
    )
    return links.join(orgs, on="record_id", how="left")
