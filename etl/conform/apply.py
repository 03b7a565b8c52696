"""The conform step: staged agency rows -> conformed subject records, listings and events.

Each staged table with a mapping (:mod:`etl.conform.mappings`) gives its conformed tables
(:mod:`etl.conform.columns`) row by row: one conformed row per staged row, every version kept,
so one staged partition gives exactly one partition of each conformed table, under the same
interval key. The step runs for a table right after it is staged (the ingest DAGs' tasks,
``credlink ingest``): re-running an interval replaces what it wrote, as staging does, and a
failed staging (the quarantine limit) leaves both layers' earlier partitions in force. Anything
that needs several tables or a day (a parent record's fields, an event in the year before a
listing, the versions known on a day) is left to the readers, from the columns given here.

Example:
    >>> written = conform_partition(lake, "courts", "SXBZXR", interval.key)  # doctest: +SKIP
    >>> written                                                              # doctest: +SKIP
    {'subjects__courts__SXBZXR': 1834, 'listings__court_defaulters': 1834}
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import reduce

import polars as pl

from credlink.etl.catalog import conform
from credlink.etl.conform.columns import (
    EVENT_COLUMNS,
    LISTING_COLUMNS,
    META_COLUMNS,
    SUBJECT_COLUMNS,
)
from credlink.etl.conform.derivations import DERIVE
from credlink.etl.conform.mappings import (
    LAYER,
    Condition,
    ConformMapping,
    EventsDef,
    ListDef,
    ListField,
    Subjects,
    TableConform,
    Value,
    conform_mappings,
    events_dataset,
    listings_dataset,
    subjects_dataset,
)
from credlink.etl.lake import Lake
from credlink.etl.standardise.identifiers import organisation_ids
from credlink.etl.standardise.vocabularies import map_values

__all__ = [
    "FIELD_TYPES",
    "NotConformedError",
    "check_conformed",
    "conform_frames",
    "conform_lake",
    "conform_partition",
    "conform_table",
    "listing_columns",
    "outputs",
    "standard_subjects",
]

log = logging.getLogger(__name__)

#: The type of a list field of each kind.
FIELD_TYPES: dict[str, pl.DataType] = {
    "code": pl.String(),
    "number": pl.Float64(),
    "flag": pl.Boolean(),
    "text": pl.String(),
}
#: The standardised subject fields (:mod:`etl.ingest.standardise_table`) -> conformed names.
STANDARD_SUBJECT_FIELDS = {
    "subject_type": "subject_type",
    "subject_name": "name",
    "subject_name_pinyin": "name_pinyin",
    "subject_name_script": "name_script",
    "subject_name_core": "name_core",
    "subject_id_class": "id_class",
    "subject_id_norm": "id_norm",
    "subject_citizen_id": "citizen_id",
    "subject_birth_date": "birth_date",
    "subject_birth_year": "birth_year",
    "subject_region": "id_region",
    "subject_id_tail": "id_tail",
    "subject_uscc": "uscc",
    "subject_org_code": "org_code",
    "subject_entity_type": "entity_type",
}
#: The hidden listing column holding the key a recent-event field looks up.
EVENT_KEY = "_event_key__"


def _col(frame: pl.DataFrame, name: str) -> pl.Expr:
    return pl.col(name) if name in frame.columns else pl.lit(None, dtype=pl.String)


def _cond(frame: pl.DataFrame, c: Condition) -> pl.Expr:
    """`c` as a boolean expression; a test of a null value is false."""
    if c.all_ is not None:
        return reduce(lambda a, b: a & b, [_cond(frame, x) for x in c.all_])
    if c.any_ is not None:
        return reduce(lambda a, b: a | b, [_cond(frame, x) for x in c.any_])
    if c.not_ is not None:
        return ~_cond(frame, c.not_)
    assert c.column is not None
    col = _col(frame, c.column)
    if c.in_ is not None:
        test = col.is_in(list(c.in_))
    elif c.present is not None:
        test = col.is_not_null() if c.present else col.is_null()
    else:
        test = col == pl.lit(c.is_)
    return test.fill_null(False)


def _expr(frame: pl.DataFrame, v: Value | None, dtype: pl.DataType) -> pl.Expr:
    """`v` (see :mod:`etl.conform.mappings`) as an expression of type `dtype` (None: null)."""
    if v is None:
        return pl.lit(None, dtype=dtype)
    if v.cases is not None:
        # the first case that holds wins: built from the last one back
        out = _expr(frame, v.else_, dtype)
        for case in reversed(v.cases):
            out = (
                pl.when(_cond(frame, case.when)).then(_expr(frame, case.then, dtype)).otherwise(out)
            )
        return out
    if v.flag is not None:
        base = _cond(frame, v.flag).cast(dtype)
    elif v.column is None:
        base = pl.lit(v.value).cast(dtype)
    elif v.column not in frame.columns:
        base = pl.lit(None, dtype=dtype)
    elif v.vocabulary is not None:
        base = pl.lit(map_values(frame[v.column], v.vocabulary)).cast(dtype)
    elif v.derive is not None:
        base = DERIVE[v.derive](pl.col(v.column)).cast(dtype)
    else:
        base = pl.col(v.column).cast(dtype)
    return base if v.when is None else pl.when(_cond(frame, v.when)).then(base)


def _meta(frame: pl.DataFrame) -> list[pl.Expr]:
    return [
        (pl.col(c) if c in frame.columns else pl.lit(None)).cast(t).alias(c)
        for c, t in META_COLUMNS.items()
    ]


def _unique_id() -> pl.Expr:
    return pl.concat_str(
        [pl.col("_source"), pl.col("_table"), pl.col("_record_id")], separator="/"
    ).cast(pl.String)


def _empty(columns: Mapping[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame(schema=dict(columns))


def _typed(frame: pl.DataFrame, columns: Mapping[str, pl.DataType]) -> pl.DataFrame:
    return frame.select([pl.col(c).cast(t) for c, t in columns.items()])


def standard_subjects(frame: pl.DataFrame) -> pl.DataFrame:
    """Subject records (:data:`SUBJECT_COLUMNS`) of staged rows from their standardised subject
    fields alone: a table without a mapping of its own (e.g. the registry's legal
    representatives, read in the place of the subject)."""
    return _subjects(frame, "", Subjects())


def _reclassified(frame: pl.DataFrame, column: str, prefer: str) -> pl.DataFrame:
    """`frame` with the organisations' identifier fields recomputed from `column`."""
    ids = organisation_ids(frame[column], prefer=prefer)  # type: ignore[arg-type]
    org = _col(frame, "subject_type") == "organisation"
    return frame.with_columns(
        pl.when(org).then(pl.lit(ids[src])).otherwise(_col(frame, dst)).alias(dst)
        for src, dst in (
            ("id_norm", "subject_id_norm"),
            ("id_class", "subject_id_class"),
            ("id_uscc", "subject_uscc"),
            ("id_org_code", "subject_org_code"),
            ("id_region", "subject_region"),
            ("id_entity_type", "subject_entity_type"),
        )
    )


def _subjects(frame: pl.DataFrame, source: str, s: Subjects) -> pl.DataFrame:
    if frame.height == 0:
        return _empty(SUBJECT_COLUMNS)
    if s.organisation_id is not None and s.organisation_id.column in frame.columns:
        frame = _reclassified(frame, s.organisation_id.column, s.organisation_id.fifteen_digits)
    person = _col(frame, "subject_type") == "person"
    org = _col(frame, "subject_type") == "organisation"
    text = pl.String()
    exprs = {dst: _col(frame, src) for src, dst in STANDARD_SUBJECT_FIELDS.items()}
    mapped = s.values()
    exprs.update(
        {
            "id_type": _expr(frame, mapped.get("id_type"), text),
            "sex": _expr(frame, mapped.get("sex"), text),
            "case_number": _expr(frame, mapped.get("case_number"), text),
            "legal_rep_name": _expr(frame, mapped.get("legal_rep_name"), text),
            "legal_rep_pinyin": _expr(frame, mapped.get("legal_rep_pinyin"), text),
            "legal_rep_id": _expr(frame, mapped.get("legal_rep_id"), text),
            # an organisation is registered where its identifier says, else where the source's
            # own fields say (a court's region, a licence's); a person where the source says
            "region": pl.when(org).then(
                pl.coalesce(_col(frame, "subject_region"), _expr(frame, mapped.get("region"), text))
            ),
            "household_region": pl.when(person).then(
                _expr(frame, mapped.get("household_region"), text)
            ),
        }
    )
    if s.parent is not None:
        key = _col(frame, s.parent.key).cast(pl.String)
        exprs["parent_id"] = pl.concat_str([pl.lit(f"{source}/{s.parent.table}/"), key])
        exprs["parent_identifier"] = pl.when(key.is_not_null()).then(pl.lit(s.parent.identifier))
    out = frame.select(
        *_meta(frame),
        _unique_id().alias("unique_id"),
        *[e.alias(c) for c, e in exprs.items()],
    )
    return conform(out, SUBJECT_COLUMNS)


def listing_columns(lst: ListDef) -> dict[str, pl.DataType]:
    """The columns of ``conformed.listings__<list>``: bookkeeping, the listing, the list's
    fields, and the hidden keys of its recent-event fields."""
    fields = {name: FIELD_TYPES[f.kind] for name, f in lst.fields.items()}
    hidden = {f"{EVENT_KEY}{n}": pl.String() for n, f in lst.fields.items() if f.recent_event}
    return {**META_COLUMNS, **LISTING_COLUMNS, **fields, **hidden}


def _field(frame: pl.DataFrame, f: ListField) -> pl.Expr:
    if f.recent_event is not None:  # computed by the reader, on the run's day
        return pl.lit(None, dtype=pl.Boolean())
    return _expr(frame, f.from_, FIELD_TYPES[f.kind])


def _listings(frame: pl.DataFrame, lst: ListDef) -> pl.DataFrame:
    columns = listing_columns(lst)
    if frame.height == 0:
        return _empty(columns)
    base = {c: _expr(frame, v, LISTING_COLUMNS[c]) for c, v in lst.values().items()}
    out = frame.select(
        *_meta(frame),
        _unique_id().alias("unique_id"),
        pl.lit(lst.list).alias("list_id"),
        _col(frame, "subject_type").alias("subject_type"),
        _col(frame, "subject_name").alias("subject_name"),
        *[e.alias(c) for c, e in base.items()],
        *[_field(frame, f).alias(n) for n, f in lst.fields.items()],
        *[
            _expr(frame, f.recent_event.key, pl.String()).alias(f"{EVENT_KEY}{n}")
            for n, f in lst.fields.items()
            if f.recent_event is not None
        ],
    )
    return _typed(out, columns)


def _events(frame: pl.DataFrame, ev: EventsDef) -> pl.DataFrame:
    columns = {**META_COLUMNS, **EVENT_COLUMNS}
    if frame.height == 0:
        return _empty(columns)
    out = frame.select(
        *_meta(frame),
        _unique_id().alias("unique_id"),
        _expr(frame, ev.key, pl.String()).alias("key"),
        _expr(frame, ev.date, pl.Date()).alias("date"),
        (pl.lit(True) if ev.when is None else _cond(frame, ev.when)).alias("is_event"),
    )
    return _typed(out, columns)


def outputs(source: str, table: str, conf: TableConform) -> list[str]:
    """The conformed datasets one staged table gives."""
    out = [subjects_dataset(source, table)] if conf.subjects is not None else []
    out += [listings_dataset(x.list) for x in conf.lists]
    return out + [events_dataset(e.name) for e in conf.events]


def conform_table(
    frame: pl.DataFrame, source: str, table: str, conf: TableConform
) -> dict[str, pl.DataFrame]:
    """The conformed tables of one staged table's rows (`frame`, any number of versions), by
    conformed dataset name (:func:`outputs`); columns the frame lacks give nulls."""
    out: dict[str, pl.DataFrame] = {}
    if conf.subjects is not None:
        out[subjects_dataset(source, table)] = _subjects(frame, source, conf.subjects)
    for lst in conf.lists:
        out[listings_dataset(lst.list)] = _listings(frame, lst)
    for ev in conf.events:
        out[events_dataset(ev.name)] = _events(frame, ev)
    return out


def _split(dataset: str) -> tuple[str, str]:
    source, sep, table = dataset.partition("__")
    if not sep:
        raise ValueError(f"{dataset!r} is no staged dataset name '<source>__<table>'")
    return source, table


def conform_frames(
    staged: Mapping[str, pl.DataFrame], mappings: Mapping[str, ConformMapping] | None = None
) -> dict[str, pl.DataFrame]:
    """The conformed tables of staged tables given by dataset name (``'<source>__<table>'``),
    by conformed dataset name; tables without a mapping (the registries) give none.

    Example: ``conform_frames({"courts__SXBZXR": staged})`` ->
    ``{'subjects__courts__SXBZXR': ..., 'listings__court_defaulters': ...}``.
    """
    maps = conform_mappings() if mappings is None else mappings
    out: dict[str, pl.DataFrame] = {}
    for dataset, frame in staged.items():
        source, table = _split(dataset)
        conf = maps[source].table(table) if source in maps else None
        if conf is not None:
            out.update(conform_table(frame, source, table, conf))
    return out


def conform_partition(
    lake: Lake,
    source: str,
    table: str,
    interval_key: str,
    mappings: Mapping[str, ConformMapping] | None = None,
) -> dict[str, int]:
    """Conform one staged partition of the lake into the conformed layer, under the same
    interval key (each output replaced atomically); returns rows per conformed dataset (none:
    the table has no mapping). A missing staged partition conforms to empty partitions."""
    maps = conform_mappings() if mappings is None else mappings
    conf = maps[source].table(table) if source in maps else None
    if conf is None:
        return {}
    frame = lake.read_partition("staging", f"{source}__{table}", interval_key)
    written = {}
    for dataset, out in conform_table(
        frame if frame is not None else pl.DataFrame(), source, table, conf
    ).items():
        lake.write(LAYER, dataset, interval_key, out)
        written[dataset] = out.height
    log.info("%s__%s %s: conformed %s", source, table, interval_key, written)
    return written


class NotConformedError(RuntimeError):
    """A staged table of a mapped source has no conformed tables: its records would look gone
    to linkage and publishing."""


def check_conformed(lake: Lake, mappings: Mapping[str, ConformMapping] | None = None) -> None:
    """Raise :class:`NotConformedError` when a staged table with a mapping has a conformed
    table missing altogether (a lake staged before the conformed layer existed, or by code
    that skipped the conform step): readers would take its records for removed ones.
    :func:`conform_lake` makes them. A partition staged a moment before it is conformed (an
    ingest task between its two writes) is no error: readers see the table as it was."""
    maps = conform_mappings() if mappings is None else mappings
    missing = []
    for source, mapping in sorted(maps.items()):
        for table, conf in mapping.tables.items():
            if not lake.has_data("staging", f"{source}__{table}"):
                continue
            missing += [d for d in outputs(source, table, conf) if not lake.has_data(LAYER, d)]
    if missing:
        raise NotConformedError(
            f"{lake.url}: staged tables without their conformed tables {missing}; conform the "
            "lake first (credlink.etl.conform.apply.conform_lake)"
        )


def conform_lake(lake: Lake, mappings: Mapping[str, ConformMapping] | None = None) -> int:
    """Conform every staged partition of every mapped table again (after a mapping changed, or
    for a lake staged before the conformed layer); conformed datasets no mapping gives any
    more are removed. Returns the partitions conformed."""
    from credlink.etl.storage import remove_folder

    maps = conform_mappings() if mappings is None else mappings
    wanted: set[str] = set()
    done = 0
    for source, mapping in sorted(maps.items()):
        for table, conf in mapping.tables.items():
            wanted |= set(outputs(source, table, conf))
            for key, _, _ in lake.partition_stamps("staging", f"{source}__{table}"):
                conform_partition(lake, source, table, key, maps)
                done += 1
    for stale in sorted(set(lake.datasets(LAYER)) - wanted):
        remove_folder(lake.location / LAYER / stale)
    return done
