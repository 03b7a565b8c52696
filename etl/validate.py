"""Batch validation with Great Expectations: rules in, failing rows and the rules they failed out.

Each staged batch is checked against a list of `Rule`s. Every rule becomes one GX expectation in
an `ExpectationSuite`, run on the batch through a `ValidationDefinition` and a `Checkpoint` of a
fresh ephemeral GX context (in memory: nothing is written to the working directory or the home
folder, and no network is used). The rows each rule rejects come from GX's own results, not
from a second implementation of the checks here:

* the batch is handed to GX as a pandas frame whose index is the row position, named `_row`;
* the result format is COMPLETE with `unexpected_index_column_names=["_row"]` (and
  `exclude_unexpected_values`, so GX returns the positions only), which makes GX list the
  index of every unexpected row (`unexpected_index_list == [{"_row": [3, 17, ...]}]`);
* the positions are mapped back to the input frame, so rows are identified even when the key
  column itself is null or duplicated.

Rule kinds and their GX expectations (nulls, as in GX, are ignored by every kind except
`not_null`: a null passes `unique`, `in_set`, `between` and `match_regex`; pair those with a
`not_null` rule when a value is required):

=============  ==========================================  ===================================
kind           expectation                                 rows rejected
=============  ==========================================  ===================================
not_null       ExpectColumnValuesToNotBeNull               null values
unique         ExpectColumnValuesToBeUnique                every row of a duplicated value
in_set         ExpectColumnValuesToBeInSet                 values not in `value_set`
between        ExpectColumnValuesToBeBetween               outside [min_value, max_value]
match_regex    ExpectColumnValuesToMatchRegex              values where `regex` is not found
=============  ==========================================  ===================================

`match_regex` searches (Python `re.search`) a text column: anchor with `^...$` for a full match.
`between` bounds are inclusive and either may be omitted; numeric columns take numbers, date and
datetime columns take ISO strings ('2024-01-01', '2024-01-01T08:00:00'). GX 1.24 cannot compare a
text column with bounds, so `between` on text (or `match_regex` on non-text) is refused with a
`RuleError`: cast the column in staging first.

Row rules (`scope="row"`) send each failing row to quarantine. Batch rules (`scope="batch"`)
only report: they never produce row failures and do not affect `success`, but they are counted
in `statistics`, their failure is listed in `failed_batch_rules`, and `unexpected_counts` gives
how many rows they flagged. A batch rule may allow a share of bad rows with `mostly`.

Example:
    >>> batch = pl.DataFrame({"SXID": ["a", "b", None], "AJZT": ["1", "9", "1"]})
    >>> result = validate(
    ...     batch,
    ...     [Rule("not_null:SXID", "not_null", "SXID"),
    ...      Rule("in_set:AJZT", "in_set", "AJZT", value_set=("1", "2"))],
    ...     key_column="SXID", suite_name="courts__defaulters", run_name="2025-01-01",
    ... )
    >>> result.failed_rules.to_list()
    [[], ['in_set:AJZT'], ['not_null:SXID']]
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import polars as pl

if TYPE_CHECKING:
    import pandas as pd
    from great_expectations.checkpoint import ValidationAction
    from great_expectations.core import ExpectationSuiteValidationResult
    from great_expectations.data_context import EphemeralDataContext
    from great_expectations.expectations import Expectation

__all__ = ["ROW_COLUMN", "Rule", "RuleError", "ValidationResult", "validate"]

#: Name of the positional row number handed to GX as the index of the batch.
ROW_COLUMN = "_row"
#: Name of the Data Docs site written when `docs_dir` is given.
DOCS_SITE = "run_site"

RuleKind = Literal["not_null", "unique", "in_set", "between", "match_regex"]
RuleScope = Literal["row", "batch"]

# Rows are identified by position; GX must list every unexpected row, not a sample. With the
# values excluded the "partial" index list would repeat the full one, and GX serialises the
# result into its (in-memory) results store: a partial count of 0 skips that copy (-30% on
# 200k rows with many failures).
_RESULT_FORMAT: dict[str, Any] = {
    "result_format": "COMPLETE",
    "unexpected_index_column_names": [ROW_COLUMN],
    "exclude_unexpected_values": True,
    "return_unexpected_index_query": False,
    "partial_unexpected_count": 0,
}


class RuleError(ValueError):
    """A rule is malformed, does not fit the frame, or GX could not evaluate it."""


@dataclass(frozen=True)
class Rule:
    """One expectation on one column. `name` is what quarantine records show, e.g. 'not_null:SXID'.

    Example: `Rule("between:AGE", "between", "AGE", min_value=0, max_value=130)`.
    """

    name: str
    kind: RuleKind
    column: str
    value_set: tuple[str | int | float, ...] | None = None
    min_value: float | int | str | None = None
    max_value: float | int | str | None = None
    regex: str | None = None
    #: 'row' rules send failing rows to quarantine; 'batch' rules only report (e.g. a share).
    scope: RuleScope = "row"
    #: Batch rules only: the share of non-null rows that must pass (GX `mostly`), e.g. 0.95.
    mostly: float | None = None

    def __post_init__(self) -> None:
        problem = self._problem()
        if problem:
            raise RuleError(f"rule {self.name!r}: {problem}")

    def _problem(self) -> str | None:
        if not self.name:
            return "name is empty"
        if self.kind == "in_set" and not self.value_set:
            return "in_set needs a non-empty value_set"
        if self.kind == "between" and self.min_value is None and self.max_value is None:
            return "between needs min_value, max_value or both"
        if self.kind == "match_regex":
            if not self.regex:
                return "match_regex needs a regex"
            try:
                re.compile(self.regex)
            except re.error as exc:
                return f"regex {self.regex!r} does not compile: {exc}"
        if self.mostly is not None:
            if self.scope != "batch":
                return "mostly is for batch rules (a row rule rejects every failing row)"
            if not 0.0 < self.mostly <= 1.0:
                return f"mostly must be in (0, 1], got {self.mostly}"
        return None


@dataclass(frozen=True)
class ValidationResult:
    """What one validation run found. `row_failures` and `failed_rules` cover row rules only."""

    #: Every row rule passed for every row (batch rules do not count).
    success: bool
    #: Columns <key_column>, rule (str): one row per failing row per row rule, in row order,
    #: then rule order. The key is null where the row's key is null.
    row_failures: pl.DataFrame
    #: Aligned with the input frame: list[str] of row-rule names per row (empty list = clean).
    failed_rules: pl.Series
    #: GX's evaluated_expectations, successful_expectations, unsuccessful_expectations (all rules).
    statistics: dict[str, int]
    #: Data Docs index.html of this validation run, when docs_dir was given.
    docs_index: Path | None
    #: Batch rules that GX judged failed (they do not affect `success`).
    failed_batch_rules: tuple[str, ...] = ()
    #: Rows each rule flagged, by rule name (row and batch rules; nulls are not counted).
    unexpected_counts: dict[str, int] = field(default_factory=dict)


def validate(
    frame: pl.DataFrame,
    rules: Sequence[Rule],
    *,
    key_column: str,
    suite_name: str,
    run_name: str,
    docs_dir: Path | None = None,
    run_time: datetime | None = None,
) -> ValidationResult:
    """Validate `frame` against `rules` with Great Expectations; the frame is not modified.

    Takes the batch, its rules, the column that identifies a row in quarantine records, the
    suite name (e.g. the staged table, 'courts__defaulters') and the run name (e.g. the run's
    logical date). With `docs_dir`, Data Docs for this run are written there as static HTML and
    `docs_index` is their index.html; pass a folder per run. `run_time` (default: now) is the
    run time GX records and shows in the docs; pass the logical date for reproducible paths.

    Returns a `ValidationResult`: `row_failures` has one row per (failing row, row rule) with
    the row's `key_column` value, in row order then rule order; `failed_rules` is aligned with
    `frame` (an empty list for a clean row). Raises `RuleError` for duplicate rule names, a
    column not in the frame or of a type its rule cannot take, or a rule GX failed to evaluate.

    Example:
        >>> validate(pl.DataFrame({"ID": ["a", "a"]}), [Rule("unique:ID", "unique", "ID")],
        ...          key_column="ID", suite_name="t", run_name="r").row_failures.rows()
        [('a', 'unique:ID'), ('a', 'unique:ID')]
    """
    _check_inputs(frame, rules, key_column)
    batch = _to_pandas(frame, rules)
    with _quiet_gx():
        suite_result = _run_checkpoint(batch, rules, suite_name, run_name, docs_dir, run_time)

    by_name = {rule.name: rule for rule in rules}
    row_positions: dict[str, list[int]] = {}
    unexpected_counts: dict[str, int] = {}
    failed_batch_rules: list[str] = []
    for result in suite_result.results:
        config = result.expectation_config
        if config is None:  # pragma: no cover - GX always echoes the configuration
            raise RuleError("GX returned a result without its expectation")
        rule = by_name[config.meta["rule"]]
        failure = _gx_exception(result.exception_info)
        if failure is not None or "unexpected_count" not in result.result:
            raise RuleError(f"rule {rule.name!r}: GX could not evaluate it: {failure}")
        unexpected_counts[rule.name] = int(result.result.get("unexpected_count") or 0)
        if rule.scope == "batch":
            if not result.success:
                failed_batch_rules.append(rule.name)
        else:
            row_positions[rule.name] = _unexpected_positions(rule, result.result)

    row_failures, failed_rules = _collect_failures(frame, rules, key_column, row_positions)
    stats = suite_result.statistics
    batch_order = [rule.name for rule in rules if rule.name in failed_batch_rules]
    return ValidationResult(
        success=row_failures.height == 0,
        row_failures=row_failures,
        failed_rules=failed_rules,
        statistics={
            key: int(stats[key])
            for key in (
                "evaluated_expectations",
                "successful_expectations",
                "unsuccessful_expectations",
            )
        },
        docs_index=_docs_index(docs_dir),
        failed_batch_rules=tuple(batch_order),
        unexpected_counts={rule.name: unexpected_counts[rule.name] for rule in rules},
    )


def _check_inputs(frame: pl.DataFrame, rules: Sequence[Rule], key_column: str) -> None:
    names = [rule.name for rule in rules]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise RuleError(f"rule names must be unique; repeated: {duplicated}")
    if key_column not in frame.columns:
        raise RuleError(f"key column {key_column!r} is not in the frame")
    if ROW_COLUMN in frame.columns:
        raise RuleError(f"the frame may not have a column named {ROW_COLUMN!r} (reserved)")
    if key_column == "rule":
        raise RuleError("the key column may not be named 'rule' (a column of row_failures)")
    for rule in rules:
        if rule.column not in frame.columns:
            raise RuleError(f"rule {rule.name!r}: column {rule.column!r} is not in the frame")
        problem = _type_problem(rule, frame.schema[rule.column])
        if problem:
            raise RuleError(f"rule {rule.name!r}: {problem}")


def _is_date_or_datetime(dtype: pl.DataType) -> bool:
    return dtype == pl.Date or isinstance(dtype, pl.Datetime)


def _type_problem(rule: Rule, dtype: pl.DataType) -> str | None:
    """Type mismatches GX would either reject mid-run or compare wrongly (see module doc)."""
    if rule.kind == "match_regex" and dtype != pl.String:
        return f"match_regex needs a text column; {rule.column!r} is {dtype}"
    if rule.kind != "between":
        return None
    bounds = [b for b in (rule.min_value, rule.max_value) if b is not None]
    if dtype.is_numeric():
        if any(isinstance(b, str) for b in bounds):
            return f"{rule.column!r} is {dtype}: between needs numeric bounds"
        return None
    if _is_date_or_datetime(dtype):
        if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
            return f"{rule.column!r} is {dtype}: between needs naive datetimes"
        for bound in bounds:
            if not isinstance(bound, str):
                return f"{rule.column!r} is {dtype}: between needs ISO date strings"
            try:
                datetime.fromisoformat(bound)
            except ValueError:
                return f"bound {bound!r} is not an ISO date or datetime"
        return None
    return f"between needs a numeric, date or datetime column; {rule.column!r} is {dtype}"


def _to_pandas(frame: pl.DataFrame, rules: Sequence[Rule]) -> pd.DataFrame:
    """The rule columns as pandas (GX has no Polars support), indexed by row position.

    Columns under `between` are widened so GX takes its vectorised comparisons: 64-bit numbers,
    and dates as nanosecond datetimes (compared with the bounds as datetimes, see `_bound`).
    """
    columns = list(dict.fromkeys(rule.column for rule in rules))
    between = {rule.column for rule in rules if rule.kind == "between"}
    casts: list[pl.Expr] = []
    for name in between:
        dtype = frame.schema[name]
        if dtype.is_integer():
            casts.append(pl.col(name).cast(pl.Int64))
        elif dtype.is_float():
            casts.append(pl.col(name).cast(pl.Float64))
        elif _is_date_or_datetime(dtype):
            casts.append(pl.col(name).cast(pl.Datetime("ns")))
    batch = frame.select(columns).with_columns(casts).to_pandas()
    batch.index.name = ROW_COLUMN  # a RangeIndex: row position
    return batch


def _expectation(rule: Rule) -> Expectation:
    import great_expectations.expectations as gxe

    # `meta` maps results back to rules; `notes` shows the rule's name in Data Docs.
    common: dict[str, Any] = {
        "column": rule.column,
        "meta": {"rule": rule.name},
        "notes": f"{rule.scope} rule {rule.name}",
    }
    if rule.mostly is not None:
        common["mostly"] = rule.mostly
    match rule.kind:
        case "not_null":
            return gxe.ExpectColumnValuesToNotBeNull(**common)
        case "unique":
            return gxe.ExpectColumnValuesToBeUnique(**common)
        case "in_set":
            return gxe.ExpectColumnValuesToBeInSet(value_set=list(rule.value_set or ()), **common)
        case "between":
            return gxe.ExpectColumnValuesToBeBetween(
                min_value=_bound(rule.min_value), max_value=_bound(rule.max_value), **common
            )
        case "match_regex":
            return gxe.ExpectColumnValuesToMatchRegex(regex=rule.regex or "", **common)
    raise RuleError(f"rule {rule.name!r}: unknown kind {rule.kind!r}")  # pragma: no cover


def _bound(value: float | str | None) -> float | datetime | None:
    # GX would parse '2024-01-01' to a `date`, which pandas refuses to compare with datetimes.
    return datetime.fromisoformat(value) if isinstance(value, str) else value


class _TemplateBytecode:
    """Compiled Data Docs templates, shared by every page rendered in this process.

    GX builds a new Jinja environment for each page it renders and so compiles its templates
    again for each: about three quarters of a small table's validation time, and most of a
    daily run's ingest (see docs/benchmarks.md). A Jinja bytecode cache (the mechanism Jinja
    provides for this) on each of those environments compiles each template once per process;
    the pages are the same.
    """

    _cache: Any = None

    @classmethod
    def install(cls) -> None:
        if cls._cache is not None:
            return
        import jinja2
        from great_expectations.render.view.view import DefaultJinjaView

        class MemoryCache(jinja2.BytecodeCache):
            def __init__(self) -> None:
                self.codes: dict[str, bytes] = {}

            def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
                code = self.codes.get(bucket.key)
                if code is not None:
                    bucket.bytecode_from_string(code)  # ignored if the source changed

            def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
                self.codes[bucket.key] = bucket.bytecode_to_string()

        cls._cache = cache = MemoryCache()
        init = DefaultJinjaView.__init__

        def shared_init(self: DefaultJinjaView, *args: Any, **kwargs: Any) -> None:
            init(self, *args, **kwargs)
            self.env.bytecode_cache = cache

        DefaultJinjaView.__init__ = shared_init  # type: ignore[method-assign]


def _context(docs_dir: Path | None) -> EphemeralDataContext:
    """An in-memory GX context: in-memory stores, analytics and progress bars off, and at most
    one docs site, in `docs_dir` (the default ephemeral context would add a temporary one)."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    sites: dict[str, Any] = {}
    if docs_dir is not None:
        _TemplateBytecode.install()
        sites[DOCS_SITE] = {
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(docs_dir.resolve()),
            },
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        }
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        data_docs_sites=sites,
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def _run_checkpoint(
    batch: pd.DataFrame,
    rules: Sequence[Rule],
    suite_name: str,
    run_name: str,
    docs_dir: Path | None,
    run_time: datetime | None,
) -> ExpectationSuiteValidationResult:
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction
    from great_expectations.core.run_identifier import RunIdentifier

    context = _context(docs_dir)
    batch_definition = (
        context.data_sources.add_pandas("credlink")
        .add_dataframe_asset(suite_name)
        .add_batch_definition_whole_dataframe("whole_batch")
    )
    suite = context.suites.add(
        gx.ExpectationSuite(name=suite_name, expectations=[_expectation(rule) for rule in rules])
    )
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=suite_name, data=batch_definition, suite=suite)
    )
    actions: list[ValidationAction] = []
    if docs_dir is not None:
        docs_dir.mkdir(parents=True, exist_ok=True)
        actions.append(UpdateDataDocsAction(name="data_docs", site_names=[DOCS_SITE]))
    checkpoint = context.checkpoints.add(
        gx.Checkpoint(
            name=suite_name,
            validation_definitions=[definition],
            actions=actions,
            result_format=_RESULT_FORMAT,
        )
    )
    run_id = RunIdentifier(run_name=run_name, run_time=run_time or datetime.now(UTC))
    checkpoint_result = checkpoint.run(batch_parameters={"dataframe": batch}, run_id=run_id)
    (suite_result,) = checkpoint_result.run_results.values()
    return suite_result


def _gx_exception(info: dict[str, Any]) -> str | None:
    """The message of an exception GX caught while evaluating an expectation, if any.

    GX reports a failed metric not in the flat form (`{"raised_exception": ...}`) but keyed by
    metric (`{"MetricConfigurationID(...)": {"raised_exception": True, ...}}`); such a result
    has an empty `result` and would otherwise read as "no unexpected rows".
    """
    entries = [info] if "raised_exception" in info else list(info.values())
    for entry in entries:
        if isinstance(entry, dict) and entry.get("raised_exception"):
            return str(entry.get("exception_message"))
    return None


def _unexpected_positions(rule: Rule, result: dict[str, Any]) -> list[int]:
    """Row positions GX reported for one rule; checked against GX's own count so a truncated
    list can never pass silently."""
    count = int(result.get("unexpected_count") or 0)
    positions: list[int] = []
    for entry in result.get("unexpected_index_list") or []:
        positions.extend(entry[ROW_COLUMN])
    if len(positions) != count:
        raise RuleError(
            f"rule {rule.name!r}: GX counted {count} unexpected rows but listed {len(positions)}"
        )
    return positions


def _collect_failures(
    frame: pl.DataFrame,
    rules: Sequence[Rule],
    key_column: str,
    row_positions: dict[str, list[int]],
) -> tuple[pl.DataFrame, pl.Series]:
    order = {rule.name: index for index, rule in enumerate(rules)}
    pairs = pl.DataFrame(
        {
            ROW_COLUMN: [p for positions in row_positions.values() for p in positions],
            "rule": [name for name, positions in row_positions.items() for _ in positions],
        },
        schema={ROW_COLUMN: pl.Int64, "rule": pl.String},
    )
    pairs = (
        pairs.with_columns(pl.col("rule").replace_strict(order, return_dtype=pl.Int64).alias("o"))
        .sort(ROW_COLUMN, "o")
        .drop("o")
    )
    keys = frame.get_column(key_column).gather(pairs.get_column(ROW_COLUMN))
    row_failures = pl.DataFrame([keys, pairs.get_column("rule")])

    per_row = pairs.group_by(ROW_COLUMN).agg(pl.col("rule").alias("failed_rules"))
    failed_rules = (
        pl.DataFrame({ROW_COLUMN: pl.int_range(frame.height, eager=True, dtype=pl.Int64)})
        .join(per_row, on=ROW_COLUMN, how="left", maintain_order="left")
        .get_column("failed_rules")
        .fill_null(pl.lit([], dtype=pl.List(pl.String)))
    )
    return row_failures, failed_rules


def _docs_index(docs_dir: Path | None) -> Path | None:
    if docs_dir is None:
        return None
    index = docs_dir.resolve() / "index.html"
    if not index.is_file():
        raise RuntimeError(f"GX did not write the Data Docs index {index}")
    return index


@contextmanager
def _quiet_gx() -> Iterator[None]:
    """GX logs at INFO about in-memory stores and docs; keep a task log to warnings unless the
    caller configured the `great_expectations` logger itself."""
    gx_logger = logging.getLogger("great_expectations")
    if gx_logger.level != logging.NOTSET:
        yield
        return
    gx_logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        gx_logger.setLevel(logging.NOTSET)
