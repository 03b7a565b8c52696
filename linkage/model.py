"""Linkage models as reviewed JSON files: Splink settings plus a ``credlink`` block.

A model file is a Splink 5 settings dictionary (comparisons, blocking rules, and once trained
the m and u probabilities) with one extra top-level key, ``credlink``, that Splink does not
know and that :func:`load_model` removes before Splink sees the settings:

``subject_type``         'person' or 'organisation'
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

Example:
    >>> model = load_model(Path("linkage/models/person.json"))
    >>> model.meta.subject_type
    'person'
    >>> sorted(model.required_columns())[:3]
    ['birth_year', 'birth_ymd', 'given_pinyin']
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import expressions as exp

__all__ = [
    "MODELS_DIR",
    "LinkageModel",
    "ModelColumnsError",
    "ModelError",
    "ModelMeta",
    "current_model_path",
    "load_model",
]

#: Where the reviewed settings and trained models live.
MODELS_DIR = Path(__file__).resolve().parent / "models"
SUBJECT_TYPES = ("person", "organisation")


class ModelError(ValueError):
    """A model file that cannot be used (unreadable, not a credlink model)."""


class ModelColumnsError(ModelError):
    """A model names columns that a table to link does not have."""


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
        if raw.get("subject_type") not in SUBJECT_TYPES:
            raise ModelError(
                f"{path}: credlink.subject_type must be one of {SUBJECT_TYPES}, "
                f"got {raw.get('subject_type')!r}"
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


def load_model(path: Path | str) -> LinkageModel:
    """Read and check a model file (see the module doc)."""
    p = Path(path)
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise ModelError(f"model file {p} does not exist") from e
    except json.JSONDecodeError as e:
        raise ModelError(f"model file {p} is not valid JSON: {e}") from e
    if not isinstance(raw, dict) or "credlink" not in raw:
        raise ModelError(f"{p}: not a credlink model (no 'credlink' block)")
    meta = ModelMeta.from_dict(raw.pop("credlink"), p)
    if raw.get("link_type") != "link_only":
        raise ModelError(f"{p}: link_type must be 'link_only', got {raw.get('link_type')!r}")
    model = LinkageModel(path=p, settings=raw, meta=meta)
    model.required_columns()  # parses every SQL snippet: a typo fails here, not mid-run
    return model


def current_model_path(subject_type: str, models_dir: Path = MODELS_DIR) -> Path:
    """The newest trained model of a subject type: the last ``<subject>-<yyyymmdd>-<hash>.json``
    by name (the date sorts first), else the untrained settings ``<subject>.json``."""
    if subject_type not in SUBJECT_TYPES:
        raise ModelError(f"subject type must be one of {SUBJECT_TYPES}, got {subject_type!r}")
    trained = sorted(models_dir.glob(f"{subject_type}-*.json"))
    return trained[-1] if trained else models_dir / f"{subject_type}.json"
