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
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

SCHEMAS_DIR = Path(__file__).resolve().parents[1] / "schemas"
SOURCES_DIR = SCHEMAS_DIR / "sources"
VOCABULARIES_DIR = SCHEMAS_DIR / "vocabularies"
#: strftime directives whose values sort like time when written zero-padded, year first.
SORTABLE_DIRECTIVES = ("%Y", "%m", "%d", "%H", "%M", "%S", "%z")


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


class Incremental(Strict):
    """How a run selects the rows created or updated in its interval."""

    column: str
    #: `strftime` format of a text column, or `epoch_seconds` for Unix time integers.
    format: str
    #: the zone the values are written in (epoch seconds are always UTC).
    timezone: str = "Asia/Shanghai"

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


def load_reviewed_yaml(
    path: Path, model: type[M], what: str, error: type[ValueError], name_field: str
) -> M:
    """Parse a reviewed YAML file into `model`; every error names the file and the field, and
    the file's name must be the object's `name` (a contract `courts` lives in `courts.yaml`)."""
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
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
