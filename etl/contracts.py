"""Source contracts: what each agency database and registry holds, as reviewed YAML.

One file per source in `schemas/sources/<source>.yaml` declares its tables, their grain and
primary key, every column with its type and nullability, the incremental column (and how its
values are written) by which a run extracts its interval, and which columns identify a subject
(personal data). The pipeline is driven by these files; a test holds them to the generated
databases.

Example:
    >>> contract = load_source_contract(SOURCES_DIR / "courts.yaml")
    >>> contract.table("SXBZXR").incremental.column
    'XGSJ'
"""

from __future__ import annotations

import re
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
    model_validator,
)

from credlink.settings import SCHEMAS_DIR, TIMEZONE

SOURCES_DIR = SCHEMAS_DIR / "sources"
VOCABULARIES_DIR = SCHEMAS_DIR / "vocabularies"
#: strftime directives whose values sort like time when written zero-padded, year first.
SORTABLE_DIRECTIVES = ("%Y", "%m", "%d", "%H", "%M", "%S", "%z")
#: default longest values of text columns (characters), see `Column.text_limit`.
IDENTIFIER_MAX_LENGTH = 40
NAME_MAX_LENGTH = 200
TEXT_MAX_LENGTH = 4000
#: the most aliases a reviewed YAML file may use, and the most nodes it may expand to once
#: its aliases are followed (an alias bomb is refused while parsing, before it is expanded).
MAX_YAML_ALIASES = 1000
MAX_YAML_NODES = 100_000


class ContractError(ValueError):
    """A contract file is malformed; the message names the file and the field."""


class ColumnType(StrEnum):
    """Storage types as a SQL engine reports them (SQLite affinity names)."""

    TEXT = "text"
    INTEGER = "integer"
    REAL = "real"


class IdentifierKind(StrEnum):
    """What an identifier column may hold. A column can hold several kinds (a taxpayer number
    is a USCC or a legacy tax number); standardisation classifies each value."""

    CITIZEN_ID = "citizen_id"  # GB 11643, 18 characters (or the legacy 15 digits)
    MASKED_CITIZEN_ID = "masked_citizen_id"  # birth month and day masked: 3423011964****3224
    PASSPORT = "passport"
    USCC = "uscc"  # GB 32100 unified social credit code
    ORGANISATION_CODE = "organisation_code"  # GB 11714 XXXXXXXX-X
    LEGACY_REGISTRATION_NO = "legacy_registration_no"  # 15-digit business registration number
    LEGACY_TAX_NO = "legacy_tax_no"  # region code + organisation code
    FOOD_LICENCE = "food_licence"  # JY + 14 digits


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Standardise(Strict):
    """How a column is standardised into a field of the staged table.

    `as` is one of: date (tried in `formats` order), timestamp (in the table's incremental
    format), amount, vocabulary (mapped to the codes of `schemas/vocabularies/<vocabulary>.yaml`),
    person_name, organisation_name, person_id, organisation_id, text.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    kind: Literal[
        "date", "timestamp", "amount", "vocabulary", "person_name", "organisation_name",
        "person_id", "organisation_id", "text",
    ] = Field(alias="as")  # fmt: skip
    field: str
    formats: tuple[str, ...] = ()
    vocabulary: str | None = None

    @model_validator(mode="after")
    def _complete(self) -> Standardise:
        if self.kind == "date" and not self.formats:
            raise ValueError(f"field {self.field}: a date needs its formats")
        if self.kind == "vocabulary":
            if not self.vocabulary:
                raise ValueError(f"field {self.field}: a vocabulary field names its vocabulary")
            if not (VOCABULARIES_DIR / f"{self.vocabulary}.yaml").is_file():
                raise ValueError(
                    f"field {self.field}: unknown vocabulary {self.vocabulary!r} "
                    f"(no {VOCABULARIES_DIR / (self.vocabulary + '.yaml')})"
                )
        return self


class Column(Strict):
    """One column of a source table."""

    name: str
    type: ColumnType
    nullable: bool = True
    description: str = ""
    #: kinds of identifier the column holds; a non-empty list marks it as personal data.
    identifier: tuple[IdentifierKind, ...] = ()
    #: other personal data (names, phone numbers, addresses) kept apart from content.
    pii: bool = False
    #: the standardised field made from this column, if any.
    standardise: Standardise | None = None
    #: the longest text value accepted (characters); longer values quarantine the row
    #: (`too_long:<column>`) before any standardisation. Default by kind, see `text_limit`.
    max_length: StrictInt | None = Field(default=None, gt=0)

    @property
    def text_limit(self) -> int:
        """The longest value accepted: `max_length`, else 40 for identifiers, 200 for names
        and other personal data, 4000 for free text."""
        if self.max_length is not None:
            return self.max_length
        if self.identifier:
            return IDENTIFIER_MAX_LENGTH
        if self.pii:
            return NAME_MAX_LENGTH
        return TEXT_MAX_LENGTH


class Incremental(Strict):
    """How a run selects the rows created or updated in its interval."""

    column: str
    #: `strftime` format of a text column, or `epoch_seconds` for Unix time integers.
    format: str
    #: the zone the values are written in (epoch seconds are always UTC).
    timezone: str = TIMEZONE

    @model_validator(mode="after")
    def _sortable(self) -> Incremental:
        # Runs compare bounds with the column in SQL, so its text must sort like time.
        if self.format == "epoch_seconds":
            return self
        directives = re.findall(r"%.", self.format)
        if not self.format.startswith("%Y") or any(
            d not in SORTABLE_DIRECTIVES for d in directives
        ):
            raise ValueError(
                f"incremental format {self.format!r} does not sort like time "
                f"(start with %Y and use only {', '.join(SORTABLE_DIRECTIVES)})"
            )
        return self


class Subject(Strict):
    """Whose record a row is: a fixed type, or a column that says."""

    type: Literal["person", "organisation", "mixed"]
    #: for `mixed`: the column telling the type, and its value for persons.
    type_column: str | None = None
    person_value: str | None = None
    #: columns that identify and name the subject.
    id_columns: tuple[str, ...] = ()
    name_column: str | None = None


class Table(Strict):
    """One table of a source."""

    name: str
    title: str = ""
    grain: str
    primary_key: tuple[str, ...]
    incremental: Incremental
    subject: Subject
    columns: tuple[Column, ...]

    @model_validator(mode="after")
    def _columns_exist(self) -> Table:
        names = {c.name for c in self.columns}
        if len(names) != len(self.columns):
            raise ValueError(f"table {self.name}: a column is declared twice")
        wanted = [("primary_key", c) for c in self.primary_key]
        wanted.append(("incremental.column", self.incremental.column))
        wanted += [("subject.id_columns", c) for c in self.subject.id_columns]
        if self.subject.type_column:
            wanted.append(("subject.type_column", self.subject.type_column))
        if self.subject.name_column:
            wanted.append(("subject.name_column", self.subject.name_column))
        missing = [f"{where} {c!r}" for where, c in wanted if c not in names]
        if missing:
            raise ValueError(f"table {self.name}: {', '.join(missing)} not declared as columns")
        fields = [c.standardise.field for c in self.columns if c.standardise]
        if len(set(fields)) != len(fields):
            raise ValueError(f"table {self.name}: a standardised field is declared twice")
        clash = sorted(set(fields) & names)
        if clash:
            raise ValueError(f"table {self.name}: standardised fields {clash} clash with columns")
        if missing:
            raise ValueError(f"table {self.name}: {missing} named but not declared as columns")
        if self.subject.type == "mixed" and not (
            self.subject.type_column and self.subject.person_value
        ):
            raise ValueError(
                f"table {self.name}: a mixed subject needs type_column and person_value"
            )
        return self

    def column(self, name: str) -> Column:
        """The column called `name`."""
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"table {self.name} has no column {name}")


class SourceContract(Strict):
    """The contract of one source database."""

    source: str
    title: str
    kind: Literal["agency", "registry"]
    #: Airflow connection id: `AIRFLOW_CONN_<ID>` in the environment overrides the default.
    connection_id: str
    #: the SQLite file of the generated world, relative to the world folder.
    default_database: str
    conventions: str = ""
    tables: tuple[Table, ...]

    def table(self, name: str) -> Table:
        """The table called `name`."""
        for t in self.tables:
            if t.name == name:
                return t
        raise KeyError(f"source {self.source} has no table {name}")


M = TypeVar("M", bound=BaseModel)


class StrictYamlError(yaml.YAMLError):
    """A reviewed YAML file uses a construct refused here (a key twice, too many aliases)."""


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing duplicate keys and bounding the aliases a file uses."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.aliases_seen = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self.aliases_seen += 1
            if self.aliases_seen > MAX_YAML_ALIASES:
                mark = self.peek_event().start_mark
                raise StrictYamlError(
                    f"more than {MAX_YAML_ALIASES} aliases (line {mark.line + 1}): "
                    "alias expansion is bounded in reviewed files"
                )
        return super().compose_node(parent, index)

    def compose_document(self) -> Any:
        node = super().compose_document()
        size = _expanded_size(node, {})
        if size > MAX_YAML_NODES:
            raise StrictYamlError(
                f"the document expands to {size:,} nodes through its aliases, more than "
                f"{MAX_YAML_NODES:,}: alias expansion is bounded in reviewed files"
            )
        return node

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                first = seen.setdefault(key, line)
            except TypeError:  # an unhashable key: PyYAML reports it below
                continue
            if first != line:
                raise StrictYamlError(
                    f"duplicate key {key!r} on line {line} (first on line {first})"
                )
        return super().construct_mapping(node, deep=deep)


def _expanded_size(node: Any, memo: dict[int, int]) -> int:
    """Nodes of the document once every alias is expanded (shared nodes counted each time),
    computed over the node graph without expanding it."""
    known = memo.get(id(node))
    if known is not None:
        return known
    memo[id(node)] = 1  # a recursive alias counts once (PyYAML refuses to construct it)
    if isinstance(node, yaml.MappingNode):
        size = 1 + sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
    elif isinstance(node, yaml.SequenceNode):
        size = 1 + sum(_expanded_size(v, memo) for v in node.value)
    else:
        size = 1
    memo[id(node)] = min(size, MAX_YAML_NODES + 1)
    return memo[id(node)]


def strict_yaml_load(text: str, path: Path | str = "<text>") -> Any:
    """Parse reviewed YAML strictly: the safe loader, and a key written twice in one mapping
    or more than `MAX_YAML_ALIASES` aliases is an error naming `path` and
    the line, and so is a document whose aliases expand to more than `MAX_YAML_NODES` nodes.
    Raises `StrictYamlError` (a `yaml.YAMLError`) or `yaml.YAMLError`.

    Example:
        >>> strict_yaml_load("a: 1\nb: 2\n")
        {'a': 1, 'b': 2}
    """
    loader = _StrictLoader(text)
    try:
        return loader.get_single_data()
    except StrictYamlError as exc:
        raise StrictYamlError(f"{path}: {exc}") from None
    finally:
        loader.dispose()


def _bools_read_as_numbers(model: type[BaseModel], raw: Any) -> list[tuple[str, bool]]:
    """Where `raw` gives a boolean (YAML `true`, `yes`, `on`) to a field that wants a number:
    pydantic's lax mode would read `years: true` as 1. Found by validating again in strict
    JSON mode (which refuses exactly such coercions) and keeping only those errors."""
    import json

    try:
        text = json.dumps(raw, default=str)
    except (TypeError, ValueError):  # pragma: no cover - YAML keys that JSON cannot hold
        return []
    try:
        model.model_validate_json(text, strict=True)
    except ValidationError as exc:
        return [
            (".".join(str(p) for p in err["loc"]) or "(file)", err["input"])
            for err in exc.errors()
            if isinstance(err.get("input"), bool)
            and err["type"] in ("int_type", "float_type", "int_from_float", "decimal_type")
        ]
    return []


def load_reviewed_yaml(
    path: Path, model: type[M], what: str, error: type[ValueError], name_field: str
) -> M:
    """Parse a reviewed YAML file into `model`; every error names the file and the field, and
    the file's name must be the object's `name` (a contract `courts` lives in `courts.yaml`)."""
    try:
        raw: Any = strict_yaml_load(path.read_text(encoding="utf-8"), path)
    except (OSError, yaml.YAMLError) as exc:
        raise error(f"{path}: cannot read {what}: {exc}") from exc
    if not isinstance(raw, dict):
        raise error(f"{path}: a {what} is a mapping, got {type(raw).__name__}")
    try:
        obj = model.model_validate(raw)
    except ValidationError as exc:
        lines = [f"{path}: invalid {what}"]
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "(file)"
            lines.append(f"  {where}: {err['msg']}")
        raise error("\n".join(lines)) from exc
    coerced = _bools_read_as_numbers(model, raw)
    if coerced:
        lines = [f"{path}: invalid {what}"]
        lines += [f"  {where}: a number is expected, got the boolean {v}" for where, v in coerced]
        raise error("\n".join(lines))
    name = getattr(obj, name_field)
    if name != path.stem:
        raise error(f"{path}: {name_field} is {name!r}, expected the file name {path.stem!r}")
    return obj


def load_source_contract(path: Path) -> SourceContract:
    """Parse and validate one contract file; errors name the file and the field."""
    return load_reviewed_yaml(path, SourceContract, "contract", ContractError, "source")


@cache
def source_contracts(directory: Path = SOURCES_DIR) -> dict[str, SourceContract]:
    """Every source contract in `directory`, by source name."""
    return {p.stem: load_source_contract(p) for p in sorted(directory.glob("*.yaml"))}
