"""Controlled vocabularies: the coded values of agency records mapped to stable codes.

Each vocabulary is a reviewed YAML file, ``schemas/vocabularies/<name>.yaml``, that says what it
codes, which source columns use it (``source.table.column``), and lists its entries: a stable
``code`` (what staging tables store and validation accepts), a ``label``, every ``raw`` value
the sources write for it, and optional ``attributes`` (e.g. ``fixed_term_years`` of a court
listing circumstance). A file is validated when loaded: raw values and codes must be unique,
and an error names the file and the entry.

Raw values are compared after :func:`etl.standardise.values.text` (NFKC and trimming), so
full-width or padded input maps like the clean value; a value that is in no entry maps to null,
for the validation stage to report.

Example:
    >>> map_values(pl.Series(["男", "F", "?"]), "sex").to_list()
    ['M', 'F', None]
    >>> load_vocabulary("defaulter_circumstance").attribute("fixed_term_years")["obstructs"]
    2
"""

from __future__ import annotations

import unicodedata
from functools import cache
from pathlib import Path

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, model_validator

from credlink.etl.contracts import SCHEMAS_DIR, load_reviewed_yaml
from credlink.etl.standardise.values import text

__all__ = [
    "VOCABULARIES_DIR",
    "Vocabulary",
    "VocabularyEntry",
    "VocabularyError",
    "load_vocabulary",
    "map_values",
    "vocabulary_names",
]

VOCABULARIES_DIR = SCHEMAS_DIR / "vocabularies"

#: An attribute value: a number, a text, a flag, or null (not applicable).
AttributeValue = int | float | str | bool | None


class VocabularyError(ValueError):
    """A vocabulary file is missing or malformed; the message names the file and the entry."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VocabularyEntry(_Strict):
    """One code of a vocabulary and the raw values that mean it."""

    code: str = Field(pattern=r"^[A-Za-z0-9_]+$")
    label: str
    raw: tuple[str, ...] = Field(min_length=1)
    description: str = ""
    attributes: dict[str, AttributeValue] = Field(default_factory=dict)


class Vocabulary(_Strict):
    """A controlled vocabulary (see the module doc for the file layout)."""

    vocabulary: str
    title: str
    description: str = ""
    #: the source columns coded with this vocabulary, as ``source.table.column``.
    columns: tuple[str, ...] = ()
    entries: tuple[VocabularyEntry, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Vocabulary:
        codes: dict[str, int] = {}
        raws: dict[str, str] = {}
        for i, entry in enumerate(self.entries):
            if entry.code in codes:
                raise ValueError(
                    f"entries.{i} (code {entry.code!r}): code already used by entries."
                    f"{codes[entry.code]}"
                )
            codes[entry.code] = i
            for raw in entry.raw:
                key = _clean(raw)
                if key in raws:
                    raise ValueError(
                        f"entries.{i} (code {entry.code!r}): raw value {raw!r} already maps to "
                        f"{raws[key]!r}"
                    )
                raws[key] = entry.code
        for column in self.columns:
            if column.count(".") != 2:
                raise ValueError(f"columns: {column!r} is not 'source.table.column'")
        return self

    @property
    def codes(self) -> tuple[str, ...]:
        """The accepted codes, in file order (for validation of standardised columns).

        Example: ``load_vocabulary("sex").codes -> ('M', 'F')``.
        """
        return tuple(e.code for e in self.entries)

    @property
    def mapping(self) -> dict[str, str]:
        """Raw value (cleaned like the input of :func:`map_values`) -> code."""
        return {_clean(raw): e.code for e in self.entries for raw in e.raw}

    @property
    def labels(self) -> dict[str, str]:
        """Code -> label."""
        return {e.code: e.label for e in self.entries}

    def attribute(self, name: str) -> dict[str, AttributeValue]:
        """Code -> value of attribute `name` (None where an entry does not set it).

        Example: ``load_vocabulary("rail_behaviour").attribute("ban_days")["fare_dodging"]``
        is None (banned until the fare is paid).
        """
        return {e.code: e.attributes.get(name) for e in self.entries}


def _clean(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip()


def _load(path: Path) -> Vocabulary:
    return load_reviewed_yaml(path, Vocabulary, "vocabulary", VocabularyError, "vocabulary")


@cache
def load_vocabulary(name: str, directory: Path = VOCABULARIES_DIR) -> Vocabulary:
    """Load and validate ``<directory>/<name>.yaml``; errors name the file and the entry.

    Example: ``load_vocabulary("tax_grade").codes -> ('A', 'B', 'M', 'C', 'D')``.
    """
    path = directory / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(vocabulary_names(directory)) or "none"
        raise VocabularyError(f"{path}: no vocabulary {name!r} (known: {known})")
    return _load(path)


def vocabulary_names(directory: Path = VOCABULARIES_DIR) -> tuple[str, ...]:
    """The names of the vocabularies in `directory`, sorted.

    Example: ``"sex" in vocabulary_names() -> True``.
    """
    return tuple(sorted(p.stem for p in directory.glob("*.yaml")))


def map_values(s: pl.Series, vocabulary: str) -> pl.Series:
    """The code of each raw value in `vocabulary`; null for null and unknown values.

    Input is cleaned with :func:`etl.standardise.values.text` first (NFKC, trimmed), so
    ``'是 '`` and ``'是'`` both map.

    Example: ``map_values(pl.Series(["执行中", "执行完毕", "?"]), "court_case_status")
    -> ['in_progress', 'completed', None]``.
    """
    mapping = load_vocabulary(vocabulary).mapping
    return text(s).replace_strict(mapping, default=None, return_dtype=pl.String).alias(s.name)
