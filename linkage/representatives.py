"""Each organisation's legal representatives, term by term, linked to the population registry.

The legal-entity registry names every organisation's legal representative (法定代表人) by
name and citizen identity number, and keeps each representative's term of office (table
``legal_representative``: from the day they took office to the day the next one did). The
joint-punishment memoranda extend some measures from a listed organisation to its legal
representative, the one in office on the listing day, so each representative must be a linked
person, with the same care as any agency record: each term gives one **person record**
(:func:`representative_records`, the ``rep_*`` fields the ingest standardised in the place of
the ``subject_*`` ones), linked by the linkage stage (:mod:`linkage.stage`) through the
deterministic pass and the person model, in full or incrementally, reviewer decisions applied.

``linkage.legal_representatives`` (:data:`LEGAL_REPRESENTATIVES_COLUMNS`) has one row per
organisation and representative term: the organisation's credit code and name, the term
(``in_office_from``; ``in_office_to`` exclusive, null while in office) and the representative's
link (``credit_code`` is the representative's citizen ID in the accept band only, as in
``linkage.record_links``). A term's ``unique_id`` is
``'legal_entities/legal_representative/<USCC>|<term start>'``.

An organisation of the registry with no term staged (a lake staged before the registry kept
terms, or whose terms are not staged yet) keeps the representative its own registry row
names, with an unknown term (both bounds null), as before: ``unique_id``
``'legal_entities/legal_entity.legal_rep/<registry record id>'``.

Example:
    >>> reps = representative_records(lake.read("staging", ORGANISATION_DATASET),
    ...                               lake.read("staging", TERMS_DATASET))          # doctest: +SKIP
    >>> reps.select("unique_id", "name", "citizen_id").row(0)                    # doctest: +SKIP
    ('legal_entities/legal_representative/91110105600037344X|2019-03-04', '李雅红',
     '131023195702102480')
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
    "TERMS_DATASET",
    "representative_records",
    "representative_rows",
    "with_organisations",
]

#: The kind of record in ``linkage.runs``.
REPRESENTATIVE_KIND = "legal_representative"
#: The staged terms of office (the registry's ``legal_representative`` table).
TERMS_DATASET = "legal_entities__legal_representative"
#: The table suffix of the record ids of representatives read from an organisation's row.
_TABLE_SUFFIX = ".legal_rep"
_META = ("_source", "_table", "_record_id", "_updated_utc", "_interval")
_TERM = {"in_office_from": pl.Date(), "in_office_to": pl.Date()}

#: ``linkage.legal_representatives``: one row per organisation and representative term.
LEGAL_REPRESENTATIVES_COLUMNS = columns("linkage.legal_representatives")


def _current(staged: pl.DataFrame | None) -> pl.DataFrame:
    if staged is None or staged.is_empty() or "rep_name" not in staged.columns:
        return pl.DataFrame()
    return current_rows(staged).filter(
        pl.col("subject_uscc").is_not_null() & pl.col("rep_name").is_not_null()
    )


def _rows(frame: pl.DataFrame, table_suffix: str = "") -> pl.DataFrame:
    return frame.select(
        *[
            (pl.col(c) + table_suffix).alias(c) if c == "_table" else pl.col(c)
            for c in _META
            if c in frame.columns
        ],
        "subject_uscc",
        *[c for c in frame.columns if c.startswith("rep_")],
        *[
            pl.col(c).cast(t) if c in frame.columns else pl.lit(None, t).alias(c)
            for c, t in _TERM.items()
        ],
    )


def representative_rows(registry: pl.DataFrame, terms: pl.DataFrame | None = None) -> pl.DataFrame:
    """The staged rows that give one representative each: the current version of every term
    of `terms` (the staged ``legal_representative`` table), and for each current organisation
    of `registry` (the staged ``legal_entity`` table) with no term there, its own row (term
    bounds null). Columns: the bookkeeping ones, ``subject_uscc``, the ``rep_*`` fields,
    ``in_office_from``, ``in_office_to``; the organisation rows' ``_table`` is
    ``legal_entity.legal_rep``."""
    orgs, spans = _current(registry), _current(terms)
    parts = []
    if not spans.is_empty():
        parts.append(_rows(spans))
        if not orgs.is_empty():
            orgs = orgs.join(spans.select("subject_uscc").unique(), on="subject_uscc", how="anti")
    if not orgs.is_empty():
        parts.append(_rows(orgs, _TABLE_SUFFIX))
    if not parts:
        return pl.DataFrame()
    return pl.concat(parts, how="diagonal_relaxed")


def representative_records(
    registry: pl.DataFrame, terms: pl.DataFrame | None = None
) -> pl.DataFrame:
    """One person record (:data:`linkage.spine.PERSON_COLUMNS`) per representative term (and
    per organisation of the registry without terms, :func:`representative_rows`): the
    ``rep_*`` fields as the subject's."""
    rows = representative_rows(registry, terms)
    if rows.is_empty():
        return conform(pl.DataFrame(), PERSON_COLUMNS)
    reps = rows.select(
        *[c for c in _META if c in rows.columns],
        pl.lit("person").alias("subject_type"),
        *[
            pl.col(c).alias(c.replace("rep_", "subject_", 1))
            for c in rows.columns
            if c.startswith("rep_")
        ],
    )
    # the registry has no conform mapping: its rep_* fields are standardised subject fields
    return person_records({"subjects__legal_representatives": standard_subjects(reps)})


def with_organisations(
    links: pl.DataFrame, registry: pl.DataFrame, terms: pl.DataFrame | None = None
) -> pl.DataFrame:
    """`links` of representative records with their organisation's code and name, the
    representative's name as registered and the term (``in_office_from``, ``in_office_to``)."""
    added = {
        "organisation_code": pl.String(),
        "organisation_name": pl.String(),
        "representative_name": pl.String(),
        **_TERM,
    }
    rows = representative_rows(registry, terms)
    if rows.is_empty() or links.is_empty():
        return links.head(0).with_columns(pl.lit(None, t).alias(c) for c, t in added.items())
    orgs = _current(registry)
    names = (
        orgs.select("subject_uscc", pl.col("subject_name").alias("organisation_name")).unique(
            "subject_uscc", keep="last", maintain_order=True
        )
        if not orgs.is_empty() and "subject_name" in orgs.columns
        else pl.DataFrame(schema={"subject_uscc": pl.String(), "organisation_name": pl.String()})
    )
    info = rows.join(names, on="subject_uscc", how="left").select(
        pl.concat_str(["_source", "_table", "_record_id"], separator="/").alias("unique_id"),
        pl.col("subject_uscc").alias("organisation_code"),
        "organisation_name",
        pl.col("rep_name").alias("representative_name"),
        *_TERM,
    )
    return links.join(info, on="unique_id", how="left")
