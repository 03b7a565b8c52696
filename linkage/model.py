"""Linkage models as reviewed JSON files: Splink settings plus a ``credlink`` block.

A model file is a Splink 5 settings dictionary (comparisons, blocking rules, and once trained
the m and u probabilities) with one extra top-level key, ``credlink``, that Splink does not
know and that :func:`load_model` removes before Splink sees the settings:

``subject_type``         what the model links, any label (``person`` and ``organisation``
                         for the credit-code pipeline; ``customer``, ``patient`` ...
                         elsewhere): one or more letters, digits, ``_``, ``.`` or ``-``,
                         starting with a letter or digit (it names the model's files)
``model_version``        null in the untrained settings (``person.json``); in a trained model
                         ``<subject>-<yyyymmdd>-<hash of the parameters>``
``linkable_share``       the share of records that have an entry in the spine; with the
                         spine's size it gives Splink's prior, the probability that two random
                         records match (``linkable_share / spine rows``), so that one model
                         serves registries of any size
``seed``, ``u_max_pairs``, ``em_blocking_rules``, ``m_floor``, ``u_floor``
                         how :mod:`linkage.train` trains it (u by random sampling, m by EM,
                         no m or u below its floor)

Before any work, :meth:`LinkageModel.check_columns` names every column a model uses that a
table lacks (:class:`ModelColumnsError`), with where the model uses it.

**A model file is data, not code.** Splink pastes a model's SQL snippets into the queries it
runs, so :func:`load_model` checks every snippet before anything runs (:class:`UnsafeModelError`
names the file, the comparison or rule and the construct): each is parsed with sqlglot and may
use only columns, literals, comparisons, boolean logic, arithmetic, CASE / CAST and the
functions of :data:`ALLOWED_FUNCTIONS` (string distances and string functions); anything else
(``read_text``, ``read_csv``, ``glob``, ``getenv``, a subquery, a second statement such as
``COPY`` or ``ATTACH``, a parameter) is refused. What Splink then runs is the SQL regenerated
from the checked tree, never the file's text. Names pasted into SQL (output columns, prefixes,
term-frequency columns) must be plain identifiers, numbers must be numbers, unknown keys are
refused, and probabilities are range-checked: 0 < m, u <= 1, and in a trained model the m's and
the u's of each comparison sum to 1.

**The production model is promoted, not the newest file.** ``linkage/models/production.json``
(reviewed and committed, written by :func:`promote`, i.e. ``credlink models promote FILE``)
names per subject type the model file in force and its SHA-256; :func:`current_model_path`
reads it and refuses a file whose hash differs. A file dropped beside it is never used.
Training (:mod:`linkage.train`) writes new versions into the work folder
:func:`work_models_dir` (``<data>/linkage/models``, ignored by git), never into the tracked
``linkage/models/``: a trained model reaches production only by being promoted.

Example:
    >>> model = load_model(Path("linkage/models/person.json"))
    >>> model.meta.subject_type
    'person'
    >>> sorted(model.required_columns())[:3]
    ['birth_year', 'birth_ymd', 'given_pinyin']
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import expressions as exp

__all__ = [
    "ALLOWED_FUNCTIONS",
    "MODELS_DIR",
    "PRODUCTION_FILE",
    "LinkageModel",
    "ModelColumnsError",
    "ModelError",
    "ModelMeta",
    "UnsafeModelError",
    "check_subject_label",
    "current_model_path",
    "file_sha256",
    "load_model",
    "promote",
    "read_production",
    "work_models_dir",
]

#: Where the reviewed settings and the promoted (production) models live, tracked by git.
MODELS_DIR = Path(__file__).resolve().parent / "models"
#: The subject types of the credit-code pipeline (its records, spines and evidence rules).
#: A model may carry any other label (:func:`check_subject_label`).
SUBJECT_TYPES = ("person", "organisation")
_SUBJECT_LABEL = re.compile(r"[^\W_][\w.-]{0,63}")


def check_subject_label(label: object, where: str = "subject type") -> str:
    """`label` if it is a usable subject label (see the module doc), else :class:`ModelError`.

    Example: ``check_subject_label('customer') -> 'customer'``; ``''``, ``'../x'`` or
    ``'a b'`` are refused (the label is part of the model's version and file name).
    """
    if not isinstance(label, str) or not _SUBJECT_LABEL.fullmatch(label):
        raise ModelError(
            f"{where} must be a non-empty label of letters, digits, '_', '.' or '-' "
            f"(at most 64, starting with a letter or digit), got {label!r}"
        )
    return label


def work_models_dir() -> Path:
    """Where training writes new model versions: ``<data>/linkage/models``
    (:func:`credlink.settings.data_dir`, ignored by git). Nothing there is used until
    promoted (:func:`promote`)."""
    from credlink import settings

    return settings.data_dir() / "linkage" / "models"


class ModelError(ValueError):
    """A model file that cannot be used (unreadable, not a credlink model)."""


class ModelColumnsError(ModelError):
    """A model names columns that a table to link does not have."""


class UnsafeModelError(ModelError):
    """A model file with SQL or values outside what a model may contain (see the module doc)."""


@dataclass(frozen=True)
class ModelMeta:
    """The ``credlink`` block of a model file."""

    subject_type: str
    model_version: str | None = None
    description: str = ""
    linkable_share: float = 0.95
    seed: int = 42
    u_max_pairs: float = 1e7
    m_floor: float = 0.001
    u_floor: float = 1e-6
    em_blocking_rules: tuple[str, ...] = ()
    trained: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, raw: dict[str, Any], path: Path) -> ModelMeta:
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(raw) - known
        if unknown:
            raise ModelError(f"{path}: unknown key(s) in 'credlink': {sorted(unknown)}")
        subject = check_subject_label(raw.get("subject_type"), f"{path}: credlink.subject_type")
        version = raw.get("model_version")
        # A trained model is promoted into its subject's slot: a version of another subject
        # (a file relabelled by hand) would put one subject's model in another's place.
        if version is not None and not (
            isinstance(version, str) and version.startswith(f"{subject}-")
        ):
            raise ModelError(
                f"{path}: credlink.model_version {version!r} is not a version of "
                f"credlink.subject_type {subject!r} (trained versions are "
                f"'{subject}-<yyyymmdd>-<hash>')"
            )
        share = float(raw.get("linkable_share", 0.95))
        if not 0 < share <= 1:
            raise ModelError(f"{path}: credlink.linkable_share must be in (0, 1], got {share}")
        return cls(
            **{
                **raw,
                "em_blocking_rules": tuple(raw.get("em_blocking_rules", ())),
                "linkable_share": share,
            }
        )

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "subject_type": self.subject_type,
            "model_version": self.model_version,
            "description": self.description,
            "linkable_share": self.linkable_share,
            "seed": self.seed,
            "u_max_pairs": self.u_max_pairs,
            "m_floor": self.m_floor,
            "u_floor": self.u_floor,
            "em_blocking_rules": list(self.em_blocking_rules),
        }
        if self.trained:
            out["trained"] = self.trained
        return out


@dataclass(frozen=True)
class ColumnUse:
    """One place where a model uses a column (for error messages)."""

    column: str
    where: str


@dataclass(frozen=True)
class LinkageModel:
    """A model file, parsed: Splink settings and credlink metadata."""

    path: Path
    settings: dict[str, Any]
    meta: ModelMeta

    @property
    def version(self) -> str:
        """The model version, or ``'untrained:<file name>'`` for settings never trained."""
        return self.meta.model_version or f"untrained:{self.path.name}"

    @property
    def unique_id_column(self) -> str:
        return str(self.settings.get("unique_id_column_name", "unique_id"))

    @property
    def blocking_rules(self) -> list[str]:
        """The SQL of each prediction blocking rule, in order."""
        return [
            _rule_sql(r) for r in self.settings.get("blocking_rules_to_generate_predictions", [])
        ]

    @property
    def tf_columns(self) -> list[str]:
        """Columns with term-frequency adjustments."""
        cols = []
        for comp in self.settings.get("comparisons", []):
            for level in comp.get("comparison_levels", []):
                col = level.get("tf_adjustment_column")
                if col and col not in cols:
                    cols.append(col)
        return cols

    @property
    def is_trained(self) -> bool:
        """Every non-null level has an m and a u probability."""
        for comp in self.settings.get("comparisons", []):
            for level in comp.get("comparison_levels", []):
                if level.get("is_null_level"):
                    continue
                if level.get("m_probability") is None or level.get("u_probability") is None:
                    return False
        return True

    def column_uses(self) -> list[ColumnUse]:
        """Every column the model reads, with where (comparison level, blocking rule ...)."""
        uses = [ColumnUse(self.unique_id_column, "unique_id_column_name")]
        for col in self.settings.get("additional_columns_to_retain", []):
            uses.append(ColumnUse(col, "additional_columns_to_retain"))
        for comp in self.settings.get("comparisons", []):
            name = comp.get("output_column_name", "?")
            for i, level in enumerate(comp.get("comparison_levels", [])):
                where = f"comparison {name!r} level {i} ({level.get('label_for_charts', '')})"
                sql = level.get("sql_condition", "")
                if sql.strip().upper() != "ELSE":
                    uses += [ColumnUse(c, where) for c in _suffixed_columns(sql)]
                if level.get("tf_adjustment_column"):
                    uses.append(ColumnUse(level["tf_adjustment_column"], where + " tf"))
        rules = [("blocking rule", r) for r in self.blocking_rules]
        rules += [("EM blocking rule", r) for r in self.meta.em_blocking_rules]
        for kind, sql in rules:
            uses += [ColumnUse(c, f"{kind} {sql!r}") for c in _table_columns(sql)]
        return uses

    def required_columns(self) -> list[str]:
        """The distinct columns the model reads, in first-use order."""
        seen: list[str] = []
        for use in self.column_uses():
            if use.column not in seen:
                seen.append(use.column)
        return seen

    def check_columns(self, table_name: str, columns: Iterable[str]) -> None:
        """Raise :class:`ModelColumnsError` if the table lacks a column the model reads.

        Example message: ``model person.json reads columns that table 'records' lacks:
        'household_region' (comparison 'household_region' level 0 (...)); table columns: ...``.
        """
        have = set(columns)
        missing: dict[str, list[str]] = {}
        for use in self.column_uses():
            if use.column not in have:
                missing.setdefault(use.column, []).append(use.where)
        if missing:
            detail = "; ".join(f"{c!r} (used by {', '.join(w[:2])})" for c, w in missing.items())
            raise ModelColumnsError(
                f"model {self.path.name} reads column(s) that table {table_name!r} lacks: "
                f"{detail}. Table columns: {sorted(have)}"
            )

    def splink_settings(self, **overrides: Any) -> dict[str, Any]:
        """A deep copy of the Splink settings, with `overrides` applied."""
        out = copy.deepcopy(self.settings)
        out.update(overrides)
        return out


def _rule_sql(rule: Any) -> str:
    return str(rule["blocking_rule"] if isinstance(rule, dict) else rule)


#: The SQL constructs a model snippet may use (sqlglot node types), besides functions.
ALLOWED_NODES: tuple[type[exp.Expression], ...] = (
    exp.Column, exp.Identifier, exp.Literal, exp.Boolean, exp.Null, exp.Paren,
    exp.And, exp.Or, exp.Not, exp.Xor,
    exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ, exp.NullSafeNEQ,
    exp.Is, exp.In, exp.Between, exp.Like, exp.ILike,
    exp.Add, exp.Sub, exp.Mul, exp.Div, exp.IntDiv, exp.Mod, exp.Neg, exp.DPipe,
    exp.Case, exp.If, exp.Cast, exp.TryCast, exp.DataType,
)  # fmt: skip
#: Functions a model snippet may call: sqlglot's typed nodes, and the names of the others.
ALLOWED_FUNCTION_NODES: tuple[type[exp.Expression], ...] = (
    exp.Coalesce, exp.Nullif, exp.Lower, exp.Upper, exp.Length, exp.Substring, exp.Left,
    exp.Right, exp.Trim, exp.Concat, exp.Levenshtein, exp.JarowinklerSimilarity, exp.Contains,
    exp.StartsWith, exp.Abs, exp.Least, exp.Greatest, exp.Round, exp.Floor, exp.Ceil,
    exp.Year, exp.Month, exp.Day,
)  # fmt: skip
ALLOWED_FUNCTIONS = frozenset(
    {
        "damerau_levenshtein", "levenshtein", "jaro_similarity", "jaro_winkler_similarity",
        "hamming", "jaccard", "strlen", "length", "lower", "upper", "substr", "substring",
        "coalesce", "prefix", "suffix", "starts_with", "ends_with", "contains", "abs",
    }
)  # fmt: skip
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
#: The smallest m or u probability any model may hold (a match weight of about 40 bits).
MIN_PROBABILITY = 1e-12


def _function_name(node: Any) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    if isinstance(node, exp.Func):
        return node.sql_name().lower()
    return type(node).__name__


def checked_sql(sql: Any, where: str, *, qualified: bool = False) -> str:
    """`sql` (one SQL condition of a model) checked against the allow-list and regenerated
    from its parse tree: what Splink runs is what was checked. `qualified`: a blocking rule,
    whose columns are ``l.<col>`` / ``r.<col>``. Raises :class:`UnsafeModelError` (or
    :class:`ModelError` for SQL that does not parse) naming `where` and the construct."""
    if not isinstance(sql, str):
        raise UnsafeModelError(f"{where}: SQL must be a string, got {type(sql).__name__}")
    try:
        trees = [t for t in sqlglot.parse(sql, read="duckdb") if t is not None]
    except sqlglot.errors.SqlglotError as e:
        raise ModelError(f"{where}: cannot parse SQL {sql!r}: {e}") from e
    if len(trees) != 1:
        raise UnsafeModelError(f"{where}: one SQL condition expected, got {len(trees)} statements")
    tree = trees[0]
    for node in tree.walk():
        if isinstance(node, ALLOWED_FUNCTION_NODES):
            continue
        if isinstance(node, exp.Anonymous):
            if _function_name(node) in ALLOWED_FUNCTIONS:
                continue
            raise UnsafeModelError(
                f"{where}: function {_function_name(node)!r} is not allowed in a model "
                f"(allowed: {', '.join(sorted(ALLOWED_FUNCTIONS))})"
            )
        if isinstance(node, exp.Func) and not isinstance(node, ALLOWED_NODES):
            raise UnsafeModelError(
                f"{where}: function {_function_name(node)!r} is not allowed in a model "
                f"(allowed: {', '.join(sorted(ALLOWED_FUNCTIONS))})"
            )
        if not isinstance(node, ALLOWED_NODES):
            text = node.sql(dialect="duckdb")[:60]
            raise UnsafeModelError(
                f"{where}: SQL construct {type(node).__name__} ({text!r}) is not allowed in a "
                "model (no subqueries, tables, statements or parameters)"
            )
        if isinstance(node, exp.In) and node.args.get("query") is not None:
            raise UnsafeModelError(f"{where}: a subquery is not allowed in a model")
        if isinstance(node, exp.Column):
            parts = [node.args.get(k) for k in ("catalog", "db")]
            table = node.table
            if any(parts) or (table and (not qualified or table not in ("l", "r"))):
                raise UnsafeModelError(
                    f"{where}: column {node.sql(dialect='duckdb')!r}: only "
                    + ("l.<column> / r.<column>" if qualified else "<column>_l / <column>_r")
                    + " may be named"
                )
            if not _IDENTIFIER.fullmatch(node.name):
                raise UnsafeModelError(f"{where}: column name {node.name!r} is not an identifier")
    return tree.sql(dialect="duckdb")


def _columns(sql: str) -> list[exp.Column]:
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.ParseError as e:
        raise ModelError(f"cannot parse SQL {sql!r}: {e}") from e
    return list(tree.find_all(exp.Column))


def _suffixed_columns(sql: str) -> list[str]:
    """`name_l` / `name_r` in a comparison level -> `name`."""
    out = []
    for col in _columns(sql):
        name = col.name
        if name.endswith(("_l", "_r")):
            out.append(name[:-2])
        else:
            raise ModelError(f"column {name!r} in comparison SQL {sql!r} lacks an _l/_r suffix")
    return out


def _table_columns(sql: str) -> list[str]:
    """`l.name` / `r.name` in a blocking rule -> `name`."""
    return [col.name for col in _columns(sql) if col.table in ("l", "r")]


# Keys a model file may hold, with their kind: ident (pasted into SQL: a plain identifier),
# number, bool, text (shown only), or a structure checked below.
_TOP_KEYS = {
    "link_type": "text", "probability_two_random_records_match": "number",
    "retain_matching_columns": "bool", "retain_intermediate_calculation_columns": "bool",
    "additional_columns_to_retain": "idents", "sql_dialect": "text", "em_convergence": "number",
    "max_iterations": "number", "match_weight_column_prefix": "ident",
    "term_frequency_adjustment_column_prefix": "ident",
    "comparison_vector_value_column_prefix": "ident", "bayes_factor_column_prefix": "ident",
    "unique_id_column_name": "ident", "source_dataset_column_name": "ident",
    "comparisons": "comparisons", "blocking_rules_to_generate_predictions": "rules",
}  # fmt: skip
_COMPARISON_KEYS = {
    "output_column_name": "ident", "comparison_description": "text",
    "comparison_levels": "levels",
}  # fmt: skip
_LEVEL_KEYS = {
    "sql_condition": "sql", "label_for_charts": "text", "is_null_level": "bool",
    "m_probability": "probability", "u_probability": "probability",
    "fix_m_probability": "bool", "fix_u_probability": "bool", "tf_adjustment_column": "ident",
    "tf_adjustment_weight": "number", "tf_minimum_u_value": "number",
    "disable_tf_exact_match_detection": "bool",
}  # fmt: skip


def _check_value(kind: str, value: Any, where: str) -> None:
    if value is None and kind in ("probability", "text", "ident", "number"):
        return
    ok = {
        "text": isinstance(value, str),
        "bool": isinstance(value, bool),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
        "probability": isinstance(value, int | float) and not isinstance(value, bool),
        "ident": isinstance(value, str) and bool(_IDENTIFIER.fullmatch(value)),
        "idents": isinstance(value, list)
        and all(isinstance(v, str) and _IDENTIFIER.fullmatch(v) for v in value),
    }.get(kind, True)
    if not ok:
        want = {"ident": "a plain identifier", "idents": "a list of plain identifiers"}
        raise UnsafeModelError(f"{where}: {value!r} is not {want.get(kind, 'a ' + kind)}")
    if kind == "number" and not math.isfinite(float(value)):
        raise UnsafeModelError(f"{where}: {value!r} is not a finite number")
    if kind == "probability" and not (
        math.isfinite(float(value)) and MIN_PROBABILITY <= float(value) <= 1
    ):
        raise UnsafeModelError(
            f"{where}: probability {value!r} is outside [{MIN_PROBABILITY:g}, 1] (0 < p <= 1, "
            "and no probability so small that one comparison outweighs all others)"
        )


def _check_keys(raw: dict[str, Any], allowed: dict[str, str], where: str) -> None:
    if not isinstance(raw, dict):
        raise UnsafeModelError(f"{where}: an object expected, got {type(raw).__name__}")
    unknown = sorted(set(raw) - set(allowed))
    if unknown:
        raise UnsafeModelError(f"{where}: unknown key(s) {unknown}")
    for key, kind in allowed.items():
        if key in raw:
            _check_value(kind, raw[key], f"{where} {key}")


#: Tolerance of the sum of a trained comparison's m (or u) probabilities around 1.
SUM_TOLERANCE = 1e-6


def _checked_settings(raw: dict[str, Any], meta: ModelMeta, p: Path) -> dict[str, Any]:
    """The Splink settings of file `p`, checked (see the module doc), with every SQL snippet
    replaced by the SQL regenerated from its checked parse tree."""
    where = f"model file {p}"
    _check_keys(raw, _TOP_KEYS, where)
    if raw.get("sql_dialect", "duckdb") != "duckdb":
        raise UnsafeModelError(f"{where}: sql_dialect must be 'duckdb'")
    prior = raw.get("probability_two_random_records_match")
    if prior is not None:
        _check_value("probability", prior, f"{where} probability_two_random_records_match")
    settings = copy.deepcopy(raw)
    comparisons = settings.get("comparisons", [])
    if not isinstance(comparisons, list):
        raise UnsafeModelError(f"{where}: comparisons must be a list")
    for i, comp in enumerate(comparisons):
        _check_keys(comp, _COMPARISON_KEYS, f"{where} comparison {i}")
        name = comp.get("output_column_name", str(i))
        levels = comp.get("comparison_levels", [])
        if not isinstance(levels, list):
            raise UnsafeModelError(f"{where} comparison {name!r}: comparison_levels must be a list")
        for j, level in enumerate(levels):
            here = f"{where} comparison {name!r} level {j}"
            _check_keys(level, _LEVEL_KEYS, here)
            sql = level.get("sql_condition")
            if not (isinstance(sql, str) and sql.strip().upper() == "ELSE"):
                level["sql_condition"] = checked_sql(sql, here)
        if meta.model_version is not None:  # a trained model: each comparison's m's sum to 1
            real = [lv for lv in levels if not lv.get("is_null_level")]
            for key, floor in (("m_probability", meta.m_floor), ("u_probability", meta.u_floor)):
                total = sum(float(lv.get(key) or 0.0) for lv in real)
                if abs(total - 1.0) > SUM_TOLERANCE:
                    raise UnsafeModelError(
                        f"{where} comparison {name!r}: the {key}s of its levels sum to "
                        f"{total:.6g}, not 1"
                    )
                # training floors every probability (renormalised: a little below the floor)
                low = [lv.get(key) for lv in real if float(lv.get(key) or 0.0) < floor / 2]
                if low:
                    raise UnsafeModelError(
                        f"{where} comparison {name!r}: {key} {low[0]!r} is below half the "
                        f"model's floor {floor:g}"
                    )
    rules = settings.get("blocking_rules_to_generate_predictions", [])
    if not isinstance(rules, list):
        raise UnsafeModelError(f"{where}: blocking_rules_to_generate_predictions must be a list")
    for i, rule in enumerate(rules):
        here = f"{where} blocking rule {i}"
        if isinstance(rule, dict):
            _check_keys(rule, {"blocking_rule": "sql", "sql_dialect": "text"}, here)
            if rule.get("sql_dialect", "duckdb") != "duckdb":
                raise UnsafeModelError(f"{here}: sql_dialect must be 'duckdb'")
            rule["blocking_rule"] = checked_sql(rule.get("blocking_rule"), here, qualified=True)
        else:
            rules[i] = checked_sql(rule, here, qualified=True)
    return settings


def load_model(path: Path | str) -> LinkageModel:
    """Read and check a model file (see the module doc): nothing in it runs before every SQL
    snippet and value has passed the checks."""
    p = Path(path)
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise ModelError(f"model file {p} does not exist") from e
    except json.JSONDecodeError as e:
        raise ModelError(f"model file {p} is not valid JSON: {e}") from e
    if not isinstance(raw, dict) or "credlink" not in raw:
        raise ModelError(f"{p}: not a credlink model (no 'credlink' block)")
    meta_raw = raw.pop("credlink")
    if not isinstance(meta_raw, dict):
        raise ModelError(f"{p}: 'credlink' must be an object")
    meta = ModelMeta.from_dict(meta_raw, p)
    if raw.get("link_type") != "link_only":
        raise ModelError(f"{p}: link_type must be 'link_only', got {raw.get('link_type')!r}")
    settings = _checked_settings(raw, meta, p)
    em_rules = tuple(
        checked_sql(r, f"model file {p} EM blocking rule {i}", qualified=True)
        for i, r in enumerate(meta.em_blocking_rules)
    )
    meta = ModelMeta(**{**meta.__dict__, "em_blocking_rules": em_rules})
    model = LinkageModel(path=p, settings=settings, meta=meta)
    model.required_columns()  # the columns' suffixes and table prefixes
    return model


#: The promotion record: which model file of each subject type is in production.
PRODUCTION_FILE = "production.json"


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, in hex."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_production(models_dir: Path = MODELS_DIR) -> dict[str, Any]:
    """The promotion record of `models_dir` (``production.json``; see :func:`promote`)."""
    path = models_dir / PRODUCTION_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise ModelError(
            f"no promotion record {path}: promote a model with `credlink models promote FILE`"
        ) from e
    except json.JSONDecodeError as e:
        raise ModelError(f"promotion record {path} is not valid JSON: {e}") from e
    if not isinstance(raw, dict) or not isinstance(raw.get("models"), dict):
        raise ModelError(f"promotion record {path} has no 'models' object")
    return raw


def current_model_path(subject_type: str, models_dir: Path = MODELS_DIR) -> Path:
    """The production model of a subject type: the file that ``<models_dir>/production.json``
    names for it, after checking that the file's SHA-256 is the one recorded at promotion.

    Never the newest file by name: a model file copied beside the promoted one is not used
    until someone promotes it (:func:`promote`). Raises :class:`ModelError` without a record,
    for a file missing or changed since its promotion.
    """
    check_subject_label(subject_type)
    record = read_production(models_dir)
    entry = record["models"].get(subject_type)
    where = models_dir / PRODUCTION_FILE
    if not isinstance(entry, dict) or not isinstance(entry.get("file"), str):
        raise ModelError(f"{where} promotes no {subject_type} model")
    name = entry["file"]
    if Path(name).name != name or not name.endswith(".json"):
        raise ModelError(
            f"{where}: {subject_type} file {name!r} must be a file name in {models_dir}"
        )
    path = models_dir / name
    if not path.is_file():
        raise ModelError(f"{where} promotes {name}, which is not in {models_dir}")
    digest = file_sha256(path)
    if digest != entry.get("sha256"):
        raise ModelError(
            f"{path} has SHA-256 {digest}, not the {entry.get('sha256')} recorded when it was "
            f"promoted in {where}: the file changed since its review; promote it again "
            "(`credlink models promote`) once reviewed"
        )
    return path


def promote(
    model_file: Path,
    *,
    promoted_by: str,
    promoted_at: datetime,
    note: str | None = None,
    models_dir: Path = MODELS_DIR,
) -> dict[str, Any]:
    """Make `model_file` the production model of its subject type: check it
    (:func:`load_model`, trained, named by its version), copy it into `models_dir` (a file of
    the same name there must be identical) and record it, its SHA-256, who and when in
    ``production.json``, the previous entry kept in its ``history``. Returns the new entry.

    Example: ``promote(Path("data/linkage/models/person-20261201-7b4d7475.json"),
    promoted_by="li", promoted_at=datetime.now(UTC))``.
    """
    model = load_model(model_file)
    if not model.is_trained or model.meta.model_version is None:
        raise ModelError(f"{model_file}: untrained settings cannot be promoted")
    if model_file.name != f"{model.meta.model_version}.json":
        raise ModelError(
            f"{model_file}: the file name must be its version, {model.meta.model_version}.json"
        )
    if promoted_at.tzinfo is None:
        raise ValueError("promoted_at must be timezone-aware")
    models_dir.mkdir(parents=True, exist_ok=True)
    target = models_dir / model_file.name
    digest = file_sha256(model_file)
    if target.exists() and target.resolve() != model_file.resolve():
        if file_sha256(target) != digest:
            raise ModelError(f"{target} exists with other content: not overwritten")
    elif not target.exists():
        tmp = target.with_name(f".{target.name}.tmp")
        shutil.copyfile(model_file, tmp)
        tmp.replace(target)
    path = models_dir / PRODUCTION_FILE
    record = read_production(models_dir) if path.exists() else {"models": {}, "history": []}
    entry: dict[str, Any] = {
        "file": target.name,
        "sha256": digest,
        "model_version": model.meta.model_version,
        "promoted_by": promoted_by,
        "promoted_at": promoted_at.isoformat(timespec="seconds"),
        "note": note,
    }
    subject = model.meta.subject_type
    record.setdefault("history", [])
    previous = record["models"].get(subject)
    if previous is not None:
        record["history"].append({"subject_type": subject, **previous})
    record["models"][subject] = entry
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    return entry
