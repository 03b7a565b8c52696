"""The linkage engine: link the rows of one table to the entries of another with a Splink model.

Usable without Airflow and on any two tables that carry the columns a model reads:

    >>> result = link(records, spine, "linkage/models/person-20260101-0a1b2c3d.json",
    ...               accept=0.99, review=0.3)                          # doctest: +SKIP
    >>> result.best.select("unique_id", "spine_id", "link_probability", "band").row(0)
    ...                                                                 # doctest: +SKIP
    ('courts/SXBZXR/1', '131103197603120674', 0.99998, 'accept')

**Ids.** Both tables identify their rows by the model's ``unique_id_column_name`` (any
name; ``unique_id`` in the credit-code models), of any scalar type: integers, strings, dates
... (nested and object columns are refused). The same id value may occur in both tables. The
results name the record's id by that column, in the records' type, and the spine entry's
``spine_id``, in the spine's type: with a model whose id column is ``client_no`` (integers),
:attr:`LinkResult.best` has ``client_no`` (Int64), ``spine_id`` (Int64), ``band`` ... When the
two tables type their ids differently, Splink sees them as one type (integers as Int64, else
strings; other mixes are refused) and the results are cast back.

How it works (Splink 5, ``link_only`` between the two tables; on DuckDB in this process, or
on Spark with ``CREDLINK_LINKAGE_BACKEND=spark``: :mod:`linkage.backend`, the same model file
and the same results):

1. The model file is read and every column it uses (comparisons, term-frequency columns,
   blocking rules) is checked against both tables **before any work**
   (:class:`linkage.model.ModelColumnsError` names what is missing), and so is the id
   column of each table (present, no nulls, no duplicates, a usable type:
   :class:`linkage.model.ModelError` names the table and the column).
2. Only those columns go to DuckDB (to Spark: as Parquet, the spine written once per spine
   frame). Term frequencies come from the **spine** (how common a
   name is in the registry), not from the batch of records, so a name's weight does not
   depend on which records happen to arrive together.
3. The prior probability that a record and a random spine entry match is
   ``linkable_share / spine rows`` (see :mod:`linkage.model`): a model trained on one registry
   size stays calibrated on another.
4. Candidate pairs come from the model's blocking rules; their exact counts per rule
   (marginal, i.e. new pairs not already found by an earlier rule) are in
   :attr:`LinkResult.blocking`. When the records are few next to the spine (a daily run),
   the spine entries no rule can pair are left out first (:func:`blocked_entries`): the same
   pairs, without Splink handling the whole registry.
5. Every candidate pair is scored: match probability, match weight and the partial match
   weight of each comparison (``mw_<comparison>``).
6. Per record, the best candidate. Its **link probability** treats the record's candidates as
   mutually exclusive (a record has at most one spine entry): with posterior odds
   ``o_i = 2^(match weight_i)`` for each candidate, ``o_best / (1 + sum o_i)``. It equals
   the match probability when there is one candidate and falls when two look alike, so a
   record between two near-identical entries is not accepted onto either. Bands:
   ``accept`` (link probability >= `accept`), ``review`` (>= `review`), else ``reject``;
   records without any candidate are ``reject`` with a null ``spine_id``.

The pairs are the clusters of this link: each record joins the cluster of the spine entry of
its accepted best candidate.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

import polars as pl
import pyarrow as pa

from credlink.linkage.backend import SparkBackend, open_backend, spark_sql
from credlink.linkage.model import LinkageModel, ModelError, load_model
from credlink.linkage.spine import derived
from credlink.settings import ACCEPT, REVIEW

__all__ = [
    "BANDS",
    "RESULT_COLUMNS",
    "IdColumn",
    "LinkResult",
    "band_of",
    "best_candidates",
    "blocked_entries",
    "link",
    "prepare_tables",
    "prepare_with_ids",
    "tf_table",
]

log = logging.getLogger(__name__)

#: The three bands, strongest first.
BANDS = ("accept", "review", "reject")

Table: TypeAlias = pl.DataFrame | pa.Table

RECORDS = "records"
SPINE = "spine"


@dataclass
class LinkResult:
    """What :func:`link` returns. ``<id>`` is the model's id column (:attr:`id_column`,
    ``unique_id`` in the credit-code models), typed as in the records; ``spine_id`` is
    typed as the spine's id column."""

    #: one row per scored candidate pair: ``<id>`` (record), ``spine_id``,
    #: ``match_probability``, ``match_weight``, ``mw_<comparison>`` for every comparison
    pairs: pl.DataFrame
    #: one row per record: ``<id>``, ``spine_id`` (null without candidates),
    #: ``match_probability``, ``match_weight`` (of the best pair), ``link_probability``,
    #: ``runner_up_weight``, ``candidates``, ``band``
    best: pl.DataFrame
    #: one row per blocking rule: ``rule``, ``pairs`` (new pairs), ``cumulative_pairs``
    blocking: pl.DataFrame
    model_version: str
    #: wall time of each step, seconds
    seconds: dict[str, float] = field(default_factory=dict)
    #: the name of the records' id column in :attr:`pairs` and :attr:`best`
    id_column: str = "unique_id"


#: The columns :func:`link` returns beside the record's id: a model's id column may not bear
#: one of these names (nor ``mw_<comparison>``).
RESULT_COLUMNS = ("spine_id", "match_probability", "match_weight", "link_probability",
                  "runner_up_weight", "candidates", "band")  # fmt: skip


@dataclass(frozen=True)
class IdColumn:
    """The id column of a link: its name (the model's ``unique_id_column_name``), its type in
    each table as the caller gave it, and the one type both tables go to Splink in."""

    name: str
    records: pl.DataType
    spine: pl.DataType
    internal: pl.DataType

    def restore(self, frame: pl.DataFrame, spine_column: str = "spine_id") -> pl.DataFrame:
        """`frame` (pairs or best candidates) with the record ids (column :attr:`name`) and
        the spine ids (`spine_column`) back in the caller's types."""
        casts = [
            pl.col(col).cast(dtype)
            for col, dtype in ((self.name, self.records), (spine_column, self.spine))
            if frame.schema[col] != dtype
        ]
        return frame.with_columns(casts) if casts else frame


def _id_type_error(name: str, col: str, dtype: pl.DataType) -> ModelError:
    return ModelError(
        f"table {name!r}: id column {col!r} (the model's unique_id_column_name) is of type "
        f"{dtype}, which cannot identify rows: use integers or strings"
    )


def _id_column(model: LinkageModel, recs: pl.DataFrame, spn: pl.DataFrame) -> IdColumn:
    """Check the id column of both tables (the columns are there) and choose its type for
    Splink; raises :class:`~linkage.model.ModelError` naming the table and the column."""
    uid = model.unique_id_column
    comparisons = [c.get("output_column_name") for c in model.settings.get("comparisons", [])]
    if uid in RESULT_COLUMNS or uid in {f"mw_{c}" for c in comparisons} or uid == "_wmax":
        raise ModelError(
            f"model {model.path.name}: id column {uid!r} (unique_id_column_name) has the name "
            f"of a result column ({', '.join(RESULT_COLUMNS)}, mw_<comparison>): rename it"
        )
    if uid == model.settings.get("source_dataset_column_name", "source_dataset"):
        raise ModelError(
            f"model {model.path.name}: id column {uid!r} is Splink's source dataset column"
        )
    for name, frame in ((RECORDS, recs), (SPINE, spn)):
        nulls = frame[uid].null_count()
        if nulls:
            raise ModelError(
                f"table {name!r}: id column {uid!r} (the model's unique_id_column_name) has "
                f"nulls ({nulls} of {frame.height} rows): every row needs an id"
            )
        if frame[uid].n_unique() != frame.height:
            twice = frame[uid].filter(frame[uid].is_duplicated()).unique().sort()
            raise ModelError(
                f"table {name!r}: id column {uid!r} (the model's unique_id_column_name) is not "
                f"unique: {twice.len()} id(s) on more than one row, e.g. {twice.head(3).to_list()}"
            )
    types = {RECORDS: recs.schema[uid], SPINE: spn.schema[uid]}
    # An empty table's column may be typed Null: it takes the other table's type.
    if types[RECORDS] == pl.Null:
        types[RECORDS] = types[SPINE] if types[SPINE] != pl.Null else pl.String()
    if types[SPINE] == pl.Null:
        types[SPINE] = types[RECORDS]
    for name, dtype in types.items():
        if dtype.is_nested() or dtype == pl.Object:
            raise _id_type_error(name, uid, dtype)
    a, b = types[RECORDS], types[SPINE]
    textual = (pl.String, pl.Categorical, pl.Enum)
    internal: pl.DataType
    if a == b and not isinstance(a, textual[1:]):
        internal = a
    elif a.is_integer() and b.is_integer():
        # (no nulls here: a null after the cast is a UInt64 beyond Int64)
        fits = not any(f[uid].cast(pl.Int64, strict=False).null_count() for f in (recs, spn))
        internal = pl.Int64() if fits else pl.String()
    elif all(d.is_integer() or isinstance(d, textual) for d in (a, b)):
        internal = pl.String()
    else:
        raise ModelError(
            f"id column {uid!r} (the model's unique_id_column_name) is of type {a} in table "
            f"{RECORDS!r} and {b} in table {SPINE!r}: give both tables one type (or integers "
            "and strings)"
        )
    return IdColumn(uid, a, b, internal)


def _to_polars(table: Table, name: str) -> pl.DataFrame:
    if isinstance(table, pl.DataFrame):
        return table
    if isinstance(table, pa.Table):
        out = pl.from_arrow(table)
        assert isinstance(out, pl.DataFrame)
        return out
    raise TypeError(f"{name}: expected a Polars DataFrame or an Arrow Table, got {type(table)}")


def band_of(probability: pl.Expr, accept: float, review: float) -> pl.Expr:
    """'accept' / 'review' / 'reject' by thresholds; null probability -> 'reject'."""
    return (
        pl.when(probability >= accept)
        .then(pl.lit("accept"))
        .when(probability >= review)
        .then(pl.lit("review"))
        .otherwise(pl.lit("reject"))
    )


def best_candidates(
    pairs: pl.DataFrame,
    record_ids: pl.Series,
    *,
    accept: float,
    review: float,
    id_column: str = "unique_id",
) -> pl.DataFrame:
    """The best candidate of each record in `record_ids`, its link probability and band.

    `pairs` has `id_column` (the record), ``spine_id``, ``match_probability``,
    ``match_weight``; `record_ids` are cast to the type of `id_column` in `pairs`. See the
    module doc (step 6). Example: one record with candidates of weight 20 and 19 gets
    link probability 2^20 / (1 + 2^20 + 2^19) = 0.667: 'review', not 'accept'.
    """
    uid = id_column
    # Odds relative to the best candidate keep 2^w finite for any weight.
    ranked = pairs.with_columns(pl.col("match_weight").max().over(uid).alias("_wmax"))
    per_record = (
        ranked.sort([uid, "match_weight", "spine_id"], descending=[False, True, False])
        .group_by(uid, maintain_order=True)
        .agg(
            pl.col("spine_id").first(),
            pl.col("match_probability").first(),
            pl.col("match_weight").first(),
            pl.col("match_weight").get(1, null_on_oob=True).alias("runner_up_weight"),
            pl.len().alias("candidates"),
            # o_best / (1 + sum o_i) with o_i = 2^w_i, scaled by 2^-w_max
            (
                1.0
                / (
                    (2.0 ** (-pl.col("_wmax").first()))
                    + (2.0 ** (pl.col("match_weight") - pl.col("_wmax"))).sum()
                )
            ).alias("link_probability"),
        )
    )
    ids = record_ids.cast(pairs.schema[uid]).unique(maintain_order=True)
    everyone = pl.DataFrame({uid: ids})
    return everyone.join(per_record, on=uid, how="left", maintain_order="left").with_columns(
        pl.col("candidates").fill_null(0).cast(pl.UInt32),
        band_of(pl.col("link_probability"), accept, review).alias("band"),
    )


def tf_table(spine: pl.DataFrame, column: str) -> pa.Table:
    """Term frequencies of `column` in the spine: ``column``, ``tf_<column>``."""
    values = spine.select(column).drop_nulls()
    total = max(values.height, 1)
    return (
        values.group_by(column)
        .len()
        .select(column, (pl.col("len") / total).alias(f"tf_{column}"))
        .to_arrow()
    )


def _tf(base: pl.DataFrame, spn: pl.DataFrame, column: str, shape: str) -> pa.Table:
    """:func:`tf_table` of the prepared spine `spn`, once per spine `base` and `shape`."""
    return derived(base, f"tf:{column}:{shape}", lambda: tf_table(spn, column))


def prepare_tables(
    records: Table, spine: Table, model: LinkageModel
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Both tables as Polars, checked against the model and cut to the columns it reads
    (same types on both sides, the id column in :attr:`IdColumn.internal`); raises
    :class:`~linkage.model.ModelColumnsError` or :class:`~linkage.model.ModelError` first."""
    recs, spn, _ = prepare_with_ids(records, spine, model)
    return recs, spn


def prepare_with_ids(
    records: Table, spine: Table, model: LinkageModel
) -> tuple[pl.DataFrame, pl.DataFrame, IdColumn]:
    """:func:`prepare_tables`, and the id column (its types as given, for the results)."""
    recs, spn = _to_polars(records, RECORDS), _to_polars(spine, SPINE)
    model.check_columns(RECORDS, recs.columns)
    model.check_columns(SPINE, spn.columns)
    cols = model.required_columns()
    recs, spn = recs.select(cols), spn.select(cols)
    ids = _id_column(model, recs, spn)
    # The same type on both sides (a column all null in one table would be typed Null).
    schema = {c: spn.schema[c] if spn.schema[c] != pl.Null else recs.schema[c] for c in cols}
    schema[ids.name] = ids.internal
    return recs.cast(schema), spn.cast(schema), ids  # type: ignore[arg-type]


#: Pre-block (:func:`blocked_entries`) when the spine has this many times more rows than the
#: records: Splink then works on the few entries that can pair, not the whole registry.
PRE_BLOCK_RATIO = 20


def _conjuncts(rule: str) -> set[frozenset[str]] | None:
    """The equalities of a blocking rule ``A = B AND C = D`` as sets of sides, or None when
    it is not such a conjunction."""
    out = set()
    for part in re.split(r"\s+AND\s+", rule.strip(), flags=re.IGNORECASE):
        sides = part.split("=")
        if len(sides) != 2 or any(c in part for c in "<>!"):
            return None
        out.add(frozenset(" ".join(x.split()) for x in sides))
    return out


def _symmetric(rule: str) -> bool:
    """Whether swapping the records' and the spine's sides (``l.`` and ``r.``) leaves the
    blocking rule as it is (``l.x = r.x AND SUBSTRING(l.y, 1, 2) = SUBSTRING(r.y, 1, 2)``)."""
    swapped = re.sub(r"\b([lr])\.", lambda m: "r." if m.group(1) == "l" else "l.", rule)
    mine = _conjuncts(rule)
    return mine is not None and mine == _conjuncts(swapped)


def blocked_entries(
    records: pl.DataFrame,
    spine: pl.DataFrame,
    rules: list[str],
    spine_arrow: pa.Table | None = None,
    *,
    id_column: str = "unique_id",
) -> pl.DataFrame:
    """The spine entries that at least one blocking rule pairs with some record, in either
    orientation (``l`` the records and ``r`` the spine, or the other way round).

    Splink's blocking on these entries gives exactly the pairs it gives on the whole spine
    (every entry of a pair is among them), at the cost of one hash join per rule and
    orientation instead of Splink's concatenation of the whole spine. `spine_arrow` is the
    spine as Arrow when the caller has it already; `id_column` identifies the spine's rows.
    """
    import duckdb

    uid = '"' + id_column.replace('"', '""') + '"'

    con = duckdb.connect()
    try:
        con.execute("SET autoinstall_known_extensions = false")
        con.register("credlink_records", records.to_arrow())
        con.register("credlink_spine", spine.to_arrow() if spine_arrow is None else spine_arrow)
        # A semi join per rule and orientation; a symmetric rule (``l.x = r.x``) pairs the
        # same entries in both orientations, so one will do.
        union = " UNION ".join(
            f"SELECT r.{uid} FROM credlink_spine AS r SEMI JOIN credlink_records AS l "
            f"ON ({rule})"
            + (
                ""
                if _symmetric(rule)
                else f" UNION SELECT l.{uid} FROM credlink_spine AS l SEMI JOIN "
                f"credlink_records AS r ON ({rule})"
            )
            for rule in rules
        )
        ids = pl.from_arrow(con.sql(union).to_arrow_table())
    finally:
        con.close()
    assert isinstance(ids, pl.DataFrame)
    return spine.join(ids, on=id_column, how="semi", maintain_order="left")


def _blocking_from_keys(match_keys: pl.Series, rules: list[str]) -> pl.DataFrame:
    """The blocking counts (:attr:`LinkResult.blocking`) from the scored pairs' match keys
    (the index of the first rule that found the pair): the pairs of each rule, new ones only."""
    keys = match_keys.cast(pl.Int64).rename("key")
    found = dict(keys.value_counts(name="n").iter_rows())
    pairs = [int(found.get(i, 0)) for i in range(len(rules))]
    frame = pl.DataFrame(
        {"rule": rules, "pairs": pairs}, schema={"rule": pl.String, "pairs": pl.Int64}
    )
    return frame.with_columns(pl.col("pairs").cum_sum().alias("cumulative_pairs"))


def _spark_blocked_entries(
    db: SparkBackend, records: pl.DataFrame, spine: Any, rules: list[str], uid: str
) -> Any:
    """:func:`blocked_entries` on Spark: the entries of `spine` (a Spark frame) that some
    blocking rule pairs with some record, by the same semi joins (the rules in Spark SQL)."""
    records_view = db.view(db.read(records, "pre-block-records"), "records")
    spine_view = db.view(spine, "spine")
    col = "`" + uid.replace("`", "``") + "`"
    parts = []
    for rule in rules:
        on = spark_sql(rule)
        for this, other in (("r", "l"), ("l", "r")):
            parts.append(f"SELECT {this}.{col} FROM {spine_view} AS {this} LEFT SEMI JOIN "
                         f"{records_view} AS {other} ON ({on})")  # fmt: skip
            if _symmetric(rule):
                break
    ids = db.spark.sql(" UNION ".join(parts))
    return spine.join(ids, on=uid, how="left_semi")


def _empty_pairs(comparisons: list[str], ids: IdColumn) -> pl.DataFrame:
    schema: dict[str, Any] = {
        ids.name: ids.internal,
        "spine_id": ids.internal,
        "match_probability": pl.Float64,
        "match_weight": pl.Float64,
    }
    schema.update({f"mw_{c}": pl.Float64 for c in comparisons})
    return pl.DataFrame(schema=schema)


def link(
    records: Table,
    spine: Table,
    model: Path | str | LinkageModel,
    *,
    accept: float = ACCEPT,
    review: float = REVIEW,
    pair_threshold: float | None = None,
    count_blocking_pairs: bool = True,
) -> LinkResult:
    """Link each row of `records` to at most one entry of `spine` with a trained model.

    Args:
        records: the rows to link (Polars DataFrame or Arrow Table), one per record.
        spine: the entries to link to, in the same columns (at least those the model reads);
            the model's ``unique_id_column_name`` (``unique_id`` in the credit-code models;
            any name, of any scalar type, see the module doc) identifies rows of both.
        model: a trained model file (or a loaded :class:`~linkage.model.LinkageModel`).
        accept: link probability from which the best candidate is accepted.
        review: link probability from which it goes to review (below: rejected). The
            default 0.3 sends a record that agrees on a rare full name and nothing else
            (a rail ban with no ID number: link probability about 0.48) to a person rather
            than rejecting it outright.
        pair_threshold: keep only pairs of at least this match probability in
            :attr:`LinkResult.pairs` (None: every scored pair). Best candidates are chosen
            from the kept pairs.
        count_blocking_pairs: count the pairs of each blocking rule exactly (one more
            blocking pass; cheap next to scoring on DuckDB; on Spark, without a
            `pair_threshold`, counted from the scored pairs instead).

    Returns:
        :class:`LinkResult`: scored pairs, the best candidate and band of every record, the
        blocking counts, the model version and timings; the record's id in the model's id
        column (the records' type), the entry's in ``spine_id`` (the spine's type).

    Raises:
        linkage.model.ModelColumnsError: a table lacks a column the model reads, the id
            column included (raised before any linkage work).
        linkage.model.ModelError: an unreadable or untrained model, or an id column with
            nulls, duplicates or an unusable type (raised before any linkage work).
    """
    from splink import Linker

    if not 0 <= review <= accept <= 1:
        raise ValueError(f"need 0 <= review <= accept <= 1, got review={review}, accept={accept}")
    t0 = time.perf_counter()
    m = model if isinstance(model, LinkageModel) else load_model(model)
    recs, spn, ids = prepare_with_ids(records, spine, m)
    uid = ids.name
    if not m.is_trained:
        raise ModelError(
            f"model {m.path.name} has untrained levels (no m or u probability): train it "
            "with `python -m linkage.train` and link with the trained file"
        )
    comparisons = [c["output_column_name"] for c in m.settings["comparisons"]]
    seconds: dict[str, float] = {"prepare": time.perf_counter() - t0}

    if recs.is_empty() or spn.is_empty():
        pairs = _empty_pairs(comparisons, ids)
        best = best_candidates(pairs, recs[uid], accept=accept, review=review, id_column=uid)
        blocking = pl.DataFrame(
            {"rule": m.blocking_rules, "pairs": [0] * len(m.blocking_rules)}
        ).with_columns(pl.col("pairs").cum_sum().alias("cumulative_pairs"))
        return LinkResult(ids.restore(pairs), ids.restore(best), blocking, m.version, seconds, uid)

    t = time.perf_counter()
    # The prior and the term frequencies are the whole spine's; Splink sees only the entries
    # some blocking rule pairs with a record when the records are few (a daily run).
    prior = min(m.meta.linkable_share / spn.height, 0.5)
    # Derived from the whole spine once per spine (persons and legal representatives share
    # the person spine in a run): the prepared spine is a function of the spine and its
    # schema here.
    base = spine if isinstance(spine, pl.DataFrame) else spn
    shape = str(list(spn.schema.items()))
    tf_tables = {col: _tf(base, spn, col, shape) for col in m.tf_columns}
    pre_block = spn.height > PRE_BLOCK_RATIO * recs.height
    with open_backend() as db:
        if isinstance(db, SparkBackend):
            # Spark reads the spine's Parquet (written once per spine); Spark's own semi
            # joins pre-block it (lazily: the work happens when Splink first reads it).
            entries = db.read_spine(spn, base, shape)
            if pre_block:
                entries = _spark_blocked_entries(db, recs, entries, m.blocking_rules, uid)
                seconds["pre_block"] = time.perf_counter() - t
                t = time.perf_counter()
            sdf_records = db.register(recs, RECORDS)
            sdf_spine = db.register(entries, SPINE)
        else:
            candidates = spn
            if pre_block:
                arrow = derived(base, f"arrow:{shape}", spn.to_arrow)
                candidates = blocked_entries(recs, spn, m.blocking_rules, arrow, id_column=uid)
                seconds["pre_block"] = time.perf_counter() - t
                t = time.perf_counter()
            sdf_records = db.register(recs, RECORDS)
            sdf_spine = db.register(candidates, SPINE)
        settings = db.settings(
            m.splink_settings(
                probability_two_random_records_match=prior,
                retain_intermediate_calculation_columns=True,  # the mw_<comparison> columns
            )
        )
        linker = Linker([sdf_records, sdf_spine], settings, log_level=logging.WARNING)
        for col, table in tf_tables.items():
            tf = db.register_lookup(table, f"credlink_tf_{col}")
            linker.table_management.register_term_frequency_lookup(tf, col)
        seconds["register"] = time.perf_counter() - t

        blocking = pl.DataFrame()
        # On Spark a second blocking pass costs as much as the first: the pairs of each rule
        # are counted from the scored pairs instead (each carries the first rule that found
        # it, Splink's match_key), the same numbers when no pair is left out by a threshold.
        keys_count = isinstance(db, SparkBackend) and count_blocking_pairs
        keys_count = keys_count and pair_threshold is None
        if count_blocking_pairs and not keys_count:
            t = time.perf_counter()
            counts = linker.blocking_analysis.count_comparisons_from_blocking_rules(
                record_sample_proportion=1.0
            )
            blocking = pl.DataFrame(
                {
                    "rule": [c["blocking_rule"] for c in counts],
                    "pairs": [int(c["marginal_comparison_count"]) for c in counts],
                    "cumulative_pairs": [int(c["cumulative_comparison_count"]) for c in counts],
                }
            )
            if isinstance(db, SparkBackend):
                # Splink names the rules in the backend's SQL: the model's (DuckDB) SQL here.
                blocking = blocking.with_columns(
                    pl.Series("rule", m.blocking_rules[: blocking.height], pl.String)
                )
            seconds["blocking_counts"] = time.perf_counter() - t

        t = time.perf_counter()
        predictions = linker.inference.predict(
            threshold_match_probability=pair_threshold, warning_mode="never"
        )
        # Only the columns used below leave DuckDB (or Spark): with every intermediate column
        # (gammas, Bayes factors, term frequencies, both records' fields) the pairs of a
        # 1M-person world took several GiB more in Arrow and Polars (docs/benchmarks.md).
        # Splink names its columns after the model's settings (the id column, the source
        # dataset column, the match weight prefix).
        sds = str(m.settings.get("source_dataset_column_name", "source_dataset"))
        mw = str(m.settings.get("match_weight_column_prefix", "mw_"))
        used = [f"{sds}_l", f"{uid}_l", f"{uid}_r", "match_probability",
                "match_weight", *[f"{mw}{c}" for c in comparisons]]  # fmt: skip
        raw = db.fetch(predictions, [*used, "match_key"] if keys_count else used)
        predictions.drop_table_from_database_and_remove_from_cache()
        seconds["predict"] = time.perf_counter() - t
        if keys_count:
            t = time.perf_counter()
            blocking = _blocking_from_keys(raw["match_key"], m.blocking_rules)
            raw = raw.drop("match_key")
            seconds["blocking_counts"] = time.perf_counter() - t

    left_is_records = pl.col(f"{sds}_l") == RECORDS
    pairs = raw.select(
        pl.when(left_is_records).then(f"{uid}_l").otherwise(f"{uid}_r").alias(uid),
        pl.when(left_is_records).then(f"{uid}_r").otherwise(f"{uid}_l").alias("spine_id"),
        "match_probability",
        "match_weight",
        *[pl.col(f"{mw}{c}").alias(f"mw_{c}") for c in comparisons],
    ).sort(uid, "match_weight", descending=[False, True])
    if pairs.is_empty():
        pairs = _empty_pairs(comparisons, ids)
    best = best_candidates(pairs, recs[uid], accept=accept, review=review, id_column=uid)
    pairs, best = ids.restore(pairs), ids.restore(best)
    seconds["total"] = time.perf_counter() - t0
    log.info(
        "linked %d records to a spine of %d with %s: %d pairs; bands %s (%.1f s)",
        recs.height, spn.height, m.version, pairs.height,
        dict(best.group_by("band").len().iter_rows()), seconds["total"],
    )  # fmt: skip
    return LinkResult(pairs, best, blocking, m.version, seconds, uid)
