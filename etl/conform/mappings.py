"""Conform mappings: how each agency's staged tables become subject records, listings and
events with business names, as reviewed YAML (``schemas/conform/<source>.yaml``).

One file per agency source says, for each staged table of its contract:

- ``subjects``: the table's rows are subject records (persons, organisations) that linkage
  ties to credit codes. The standardised subject fields of the contract's ``subject``
  (``subject_name``, ``subject_id_*`` ...) are taken as they are; the mapping adds what the
  source says beyond them: ``organisation_id`` (organisations identified by another column
  than the contract's first identifier), ``id_type`` (the document type: a ``passport`` record
  is a foreign national's), ``sex``, ``household_region`` (persons), ``region``
  (organisations, when the identifier gives none), ``case_number`` (records of one case file
  corroborate each other), ``legal_rep_name`` / ``legal_rep_pinyin`` / ``legal_rep_id``, and
  ``parent``: a record of another table of the same source whose subject fields it borrows.
- ``lists``: the table is an agency's list that a memorandum may target (:class:`ListDef`): a
  list name in business terms, its ``kind`` (``black``, the default: a list of dishonest
  subjects that punishment memoranda target; ``red``: a list of trustworthy subjects that only
  incentive memoranda target), how ``reference``, ``listed_on``, ``effective_from``,
  ``ends_on``, ``removed_on`` and ``removal_reason`` come from its columns (a row whose
  ``listed_on`` is null is no listing: a list of some rows of a table), and the list's own
  ``fields`` that memoranda conditions test (``text`` fields only inform, e.g. a decision
  number).
- ``events``: dated facts about a key (a failed inspection of a licence) that a list field may
  look back on (:class:`RecentEvent`).

A value (:class:`Value`) is a staged column's name, or one of ``{column: c}`` (optionally
``vocabulary: v``: its raw values mapped to the codes of ``schemas/vocabularies/v.yaml``),
``{derive: name, column: c}`` (a named derivation of :mod:`etl.conform.derivations`, e.g.
``court_region`` of a case number), ``{value: literal}``, ``{flag: condition}``, ``{cases:
[{when: condition, then: value}, ...], else: value}``; the first four may carry ``when:
condition`` (null unless it holds). A condition (:class:`Condition`) is ``{column: c, is: v}``,
``{column: c, in: [..]}``, ``{column: c, present: true|false}``, ``{all: [..]}``, ``{any:
[..]}`` or ``{not: ..}``; a test of a null value does not hold.

Every file is validated when loaded, against its source contract: an unknown table or column,
derivation or vocabulary, a parent without a one-column primary key, a list or events name used
twice, a field of a kind it cannot have: the error names the file and the field. Nothing in
``linkage/`` or ``publish/`` names a source, a table or an agency's column: they read the
conformed tables (:mod:`etl.conform.apply`) and this catalog of lists (:func:`list_catalog`).

This module imports no data library (the ingest DAG files read the source contracts through
it when they are parsed).

Example:
    >>> sorted(list_catalog())[:5]
    ['court_defaulters', 'flight_ban', 'food_serious_violations', 'major_tax_violators', 'rail_ban']
    >>> list_catalog()["tax_grade_a"].kind
    'red'
    >>> list_catalog()["court_defaulters"].conformed
    'listings__court_defaulters'
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from credlink import settings
from credlink.etl.contracts import (
    VOCABULARIES_DIR,
    ContractError,
    SourceContract,
    Table,
    load_reviewed_yaml,
    source_contracts,
)

__all__ = [
    "CONFORM_DIR",
    "EVENTS_PREFIX",
    "LAYER",
    "LISTINGS_PREFIX",
    "SUBJECTS_PREFIX",
    "Case",
    "Condition",
    "ConformError",
    "ConformMapping",
    "EventsDef",
    "ListDef",
    "ListField",
    "ListKind",
    "OrganisationId",
    "Parent",
    "RecentEvent",
    "SourceList",
    "Subjects",
    "TableConform",
    "Value",
    "all_source_contracts",
    "conform_mappings",
    "events_dataset",
    "list_catalog",
    "listings_dataset",
    "load_conform_mapping",
    "subjects_dataset",
]

#: The lake layer (and the DuckDB schema of the catalog) of the conformed tables.
LAYER = "conformed"
CONFORM_DIR = settings.SCHEMAS_DIR / "conform"
#: Conformed dataset names: ``subjects__<source>__<table>``, ``listings__<list>``,
#: ``events__<events name>``.
SUBJECTS_PREFIX = "subjects__"
LISTINGS_PREFIX = "listings__"
EVENTS_PREFIX = "events__"
#: The named derivations a mapping may use (implemented in :mod:`etl.conform.derivations`).
DERIVATIONS = ("court_region", "licence_region", "local_day")
_NAME = r"^[a-z][a-z0-9_]*$"
#: The columns every listing has (:data:`etl.conform.columns.LISTING_COLUMNS`).
LISTING_BASE = (
    "unique_id", "list_id", "subject_type", "subject_name", "reference", "listed_on",
    "effective_from", "ends_on", "removed_on", "removal_reason",
)  # fmt: skip


def subjects_dataset(source: str, table: str) -> str:
    """``subjects__<source>__<table>``: the subject records of one staged table."""
    return f"{SUBJECTS_PREFIX}{source}__{table}"


def listings_dataset(list_id: str) -> str:
    """``listings__<list>``: every staged version of a list's listings."""
    return f"{LISTINGS_PREFIX}{list_id}"


def events_dataset(name: str) -> str:
    """``events__<name>``: every staged version of the events of that name."""
    return f"{EVENTS_PREFIX}{name}"


class ConformError(ValueError):
    """A conform mapping is malformed; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


Literal_ = str | int | float | bool | None


class Condition(_Strict):
    """A test of a row (see the module doc); a test of a null value does not hold."""

    column: str | None = None
    is_: str | int | float | bool | None = Field(default=None, alias="is")
    in_: tuple[str, ...] | None = Field(default=None, alias="in", min_length=1)
    present: bool | None = None
    all_: tuple[Condition, ...] | None = Field(default=None, alias="all", min_length=1)
    any_: tuple[Condition, ...] | None = Field(default=None, alias="any", min_length=1)
    not_: Condition | None = Field(default=None, alias="not")

    @model_validator(mode="after")
    def _one_form(self) -> Condition:
        tests = [k for k in ("is_", "in_", "present") if k in self.model_fields_set]
        groups = [k for k in ("all_", "any_", "not_") if getattr(self, k) is not None]
        if self.column is not None:
            if len(tests) != 1 or groups:
                raise ValueError("a column test has exactly one of 'is', 'in', 'present'")
        elif tests or len(groups) != 1:
            raise ValueError("a condition is a column test, or exactly one of all / any / not")
        return self

    def columns(self) -> Iterator[str]:
        """The columns the condition reads."""
        if self.column is not None:
            yield self.column
        for part in (*(self.all_ or ()), *(self.any_ or ()), *([self.not_] if self.not_ else [])):
            yield from part.columns()


def _column_shorthand(value: Any) -> Any:
    return {"column": value} if isinstance(value, str) else value


class Value(_Strict):
    """How a conformed column is made from a staged row (see the module doc)."""

    column: str | None = None
    vocabulary: str | None = None
    derive: str | None = None
    value: Literal_ = None
    flag: Condition | None = None
    cases: tuple[Case, ...] | None = Field(default=None, min_length=1)
    else_: ValueSpec | None = Field(default=None, alias="else")
    when: Condition | None = None

    @model_validator(mode="after")
    def _one_form(self) -> Value:
        forms = [
            name
            for name, present in (
                ("column", self.column is not None),
                ("value", "value" in self.model_fields_set),
                ("flag", self.flag is not None),
                ("cases", self.cases is not None),
            )
            if present
        ]
        if len(forms) != 1:
            raise ValueError(
                "a value is exactly one of a column, {value: ...}, {flag: ...}, {cases: ...}"
                f" (got {forms or 'none'})"
            )
        if (self.vocabulary or self.derive) and self.column is None:
            raise ValueError("vocabulary and derive apply to a column")
        if self.vocabulary and self.derive:
            raise ValueError("a value is mapped by a vocabulary or derived, not both")
        if self.derive is not None and self.derive not in DERIVATIONS:
            raise ValueError(
                f"unknown derivation {self.derive!r} (known: {', '.join(DERIVATIONS)})"
            )
        if (
            self.vocabulary is not None
            and not (VOCABULARIES_DIR / f"{self.vocabulary}.yaml").is_file()
        ):
            raise ValueError(f"unknown vocabulary {self.vocabulary!r}")
        if self.else_ is not None and self.cases is None:
            raise ValueError("'else' belongs to 'cases'")
        if self.when is not None and self.cases is not None:
            raise ValueError("'when' does not apply to 'cases' (give each case its own)")
        return self

    def columns(self) -> Iterator[str]:
        """The staged columns the value reads."""
        if self.column is not None:
            yield self.column
        for cond in (self.flag, self.when):
            if cond is not None:
                yield from cond.columns()
        for case in self.cases or ():
            yield from case.when.columns()
            yield from case.then.columns()
        if self.else_ is not None:
            yield from self.else_.columns()


ValueSpec = Annotated[Value, BeforeValidator(_column_shorthand)]


class Case(_Strict):
    """One branch of ``cases``: `then` where `when` holds (the first that holds wins)."""

    when: Condition
    then: ValueSpec


class OrganisationId(_Strict):
    """Organisations identified by `column` instead of the contract's first identifier column,
    a 15-digit value read as `fifteen_digits`."""

    column: str
    fifteen_digits: Literal["legacy_registration_no", "legacy_tax_no"]


class Parent(_Strict):
    """A record of `table` (same source) whose subject fields a record borrows: the one whose
    primary key (one column) is this record's `key`. ``identifier: always``: the parent's
    identifier replaces the record's own; ``when_unusable``: only when the record's own is
    unusable (no USCC, organisation code or legacy number)."""

    table: str
    key: str
    identifier: Literal["always", "when_unusable"]


class Subjects(_Strict):
    """The subject-record fields a table gives beyond the standardised subject fields."""

    organisation_id: OrganisationId | None = None
    id_type: ValueSpec | None = None
    sex: ValueSpec | None = None
    household_region: ValueSpec | None = None
    region: ValueSpec | None = None
    case_number: ValueSpec | None = None
    legal_rep_name: ValueSpec | None = None
    legal_rep_pinyin: ValueSpec | None = None
    legal_rep_id: ValueSpec | None = None
    parent: Parent | None = None

    def values(self) -> dict[str, Value]:
        """The mapped fields, by conformed column."""
        names = ("id_type", "sex", "household_region", "region", "case_number",
                 "legal_rep_name", "legal_rep_pinyin", "legal_rep_id")  # fmt: skip
        return {n: v for n in names if (v := getattr(self, n)) is not None}


class RecentEvent(_Strict):
    """A flag: an event of `events` with this listing's `key` dated in the `days` days up to
    the listing's ``listed_on`` (that day included), as known on the run's day."""

    events: str = Field(pattern=_NAME)
    key: ValueSpec
    days: int = Field(gt=0, le=3660)


class ListField(_Strict):
    """A field of a list that a memorandum condition may test: ``code`` (``in: [...]`` over
    the codes of the vocabulary `codes`), ``number`` (``min`` / ``max``), ``flag`` (``is``);
    or a ``text`` that no condition tests (it informs: a decision number); made `from` a value,
    or a `recent_event` flag."""

    kind: Literal["code", "number", "flag", "text"]
    description: str
    codes: str | None = None
    from_: ValueSpec | None = Field(default=None, alias="from")
    recent_event: RecentEvent | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ListField:
        if (self.from_ is None) == (self.recent_event is None):
            raise ValueError("a field is made either 'from' a value or as a 'recent_event'")
        if self.recent_event is not None and self.kind != "flag":
            raise ValueError("a recent_event field is a flag")
        if (self.kind == "code") != (self.codes is not None):
            raise ValueError("a code field, and only a code field, names its 'codes' vocabulary")
        if self.codes is not None and not (VOCABULARIES_DIR / f"{self.codes}.yaml").is_file():
            raise ValueError(f"unknown vocabulary {self.codes!r}")
        return self

    @property
    def values(self) -> tuple[str, ...]:
        """The codes a code field takes (empty for the other kinds)."""
        if self.codes is None:
            return ()
        from credlink.etl.standardise.vocabularies import load_vocabulary

        return load_vocabulary(self.codes).codes


#: What a list is: ``black`` (dishonest subjects, for punishment memoranda) or ``red``
#: (trustworthy subjects, for incentive memoranda only).
ListKind = Literal["black", "red"]


class ListDef(_Strict):
    """An agency's list as a memorandum names it, made from one staged table."""

    list: str = Field(pattern=_NAME)
    title: str
    kind: ListKind = "black"
    reference: ValueSpec | None = None
    listed_on: ValueSpec
    effective_from: ValueSpec
    ends_on: ValueSpec | None = None
    removed_on: ValueSpec | None = None
    removal_reason: ValueSpec | None = None
    fields: dict[str, ListField] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _field_names(self) -> ListDef:
        for name in self.fields:
            if name in LISTING_BASE or name.startswith("_"):
                raise ValueError(f"fields.{name}: the name of a listing column or a hidden one")
        return self

    def values(self) -> dict[str, Value | None]:
        """The listing columns, by name (None: null)."""
        return {
            "reference": self.reference,
            "listed_on": self.listed_on,
            "effective_from": self.effective_from,
            "ends_on": self.ends_on,
            "removed_on": self.removed_on,
            "removal_reason": self.removal_reason,
        }


class EventsDef(_Strict):
    """Dated facts about a key, from a staged table: every row with its `key` and `date`,
    flagged where `when` holds (no `when`: every row)."""

    name: str = Field(pattern=_NAME)
    key: ValueSpec
    date: ValueSpec
    when: Condition | None = None


Value.model_rebuild()
Condition.model_rebuild()


class TableConform(_Strict):
    """What one staged table gives the conformed layer."""

    subjects: Subjects | None = None
    lists: tuple[ListDef, ...] = ()
    events: tuple[EventsDef, ...] = ()


class ConformMapping(_Strict):
    """The conform mapping of one source (see the module doc)."""

    source: str
    title: str = ""
    tables: dict[str, TableConform] = Field(min_length=1)

    def table(self, name: str) -> TableConform | None:
        return self.tables.get(name)


@dataclass(frozen=True)
class SourceList:
    """A list of the catalog: where it comes from and what a memorandum may test."""

    id: str
    title: str
    source: str
    table: str
    definition: ListDef
    #: the conformed dataset of its listings
    conformed: str
    #: the staged datasets it is made from (its own table, those of the events it looks at)
    datasets: tuple[str, ...]

    @property
    def fields(self) -> Mapping[str, ListField]:
        return self.definition.fields

    @property
    def kind(self) -> ListKind:
        """``black`` or ``red`` (see :class:`ListDef`)."""
        return self.definition.kind


def _staged_columns(table: Table) -> set[str]:
    """Every column of the staged form of `table` (see :mod:`etl.ingest.standardise_table`)."""
    from credlink.etl.ingest import standardise_table as st

    out = {c.name for c in table.columns}
    out |= {"_source", "_table", "_record_id", "_updated_utc", "_interval", "subject_type"}
    for fields in (
        st.PERSON_NAME_FIELDS,
        st.ORG_NAME_FIELDS,
        st.PERSON_ID_FIELDS,
        st.ORG_ID_FIELDS,
    ):
        out |= set(fields.values())
    for c in table.columns:
        std = c.standardise
        if std is None:
            continue
        f = std.field
        if std.kind == "person_name":
            out |= {f, f"{f}_pinyin"}
        elif std.kind == "organisation_name":
            out |= {f, f"{f}_core"}
        elif std.kind in ("person_id", "organisation_id"):
            ids = st.PERSON_ID_FIELDS if std.kind == "person_id" else st.ORG_ID_FIELDS
            out |= {f"{f}_{v.removeprefix('subject_')}" for v in ids.values()}
        else:
            out.add(f)
    return out


def _check(mapping: ConformMapping, contract: SourceContract) -> list[str]:
    """What in `mapping` its source contract contradicts (empty: nothing)."""
    problems = []
    tables = {t.name: t for t in contract.tables}
    for name, conf in mapping.tables.items():
        table = tables.get(name)
        where = f"tables.{name}"
        if table is None:
            problems.append(f"{where}: source {contract.source} has no table {name!r}")
            continue
        known = _staged_columns(table)
        used: list[tuple[str, str]] = []
        if conf.subjects is not None:
            s = conf.subjects
            used += [(f"subjects.{k}", c) for k, v in s.values().items() for c in v.columns()]
            if s.organisation_id is not None:
                used.append(("subjects.organisation_id", s.organisation_id.column))
            if s.parent is not None:
                used.append(("subjects.parent.key", s.parent.key))
                parent = tables.get(s.parent.table)
                if parent is None:
                    problems.append(f"{where}.subjects.parent: no table {s.parent.table!r}")
                elif len(parent.primary_key) != 1:
                    problems.append(
                        f"{where}.subjects.parent: table {parent.name} has no one-column "
                        f"primary key ({list(parent.primary_key)})"
                    )
                elif (p := mapping.tables.get(parent.name)) is None or p.subjects is None:
                    problems.append(
                        f"{where}.subjects.parent: table {parent.name} gives no subject records"
                    )
        for i, lst in enumerate(conf.lists):
            for k, v in lst.values().items():
                used += [(f"lists.{i}.{k}", c) for c in (v.columns() if v else ())]
            for fname, fld in lst.fields.items():
                spec = fld.from_ or (fld.recent_event.key if fld.recent_event else None)
                used += [(f"lists.{i}.fields.{fname}", c) for c in (spec.columns() if spec else ())]
        for i, ev in enumerate(conf.events):
            used += [(f"events.{i}.key", c) for c in ev.key.columns()]
            used += [(f"events.{i}.date", c) for c in ev.date.columns()]
            used += [(f"events.{i}.when", c) for c in (ev.when.columns() if ev.when else ())]
        problems += [
            f"{where}.{at}: table {name} has no column {c!r} (staged columns: source "
            "columns, subject and standardised fields)"
            for at, c in used
            if c not in known
        ]
    return problems


def load_conform_mapping(path: Path, contract: SourceContract) -> ConformMapping:
    """Parse and validate one mapping file against its source's contract; errors name the file
    and the field.

    Example: ``load_conform_mapping(CONFORM_DIR / "courts.yaml", contract).tables["SXBZXR"]``.
    """
    mapping = load_reviewed_yaml(path, ConformMapping, "conform mapping", ConformError, "source")
    problems = _check(mapping, contract)
    if problems:
        raise ConformError("\n".join([f"{path}: invalid conform mapping", *problems]))
    return mapping


def _folders(folders: tuple[Path, ...] | None) -> tuple[Path, ...]:
    return settings.schema_folders() if folders is None else folders


def all_source_contracts(folders: tuple[Path, ...] | None = None) -> dict[str, SourceContract]:
    """Every source contract of the shipped ``schemas/sources/`` and of the overlay folders
    (:func:`credlink.settings.schema_folders`), by source name, sorted.

    Example: ``sorted(all_source_contracts())[:2] -> ['courts', 'food']``.
    """
    return dict(_all_contracts(_folders(folders)))


@cache
def _all_contracts(folders: tuple[Path, ...]) -> tuple[tuple[str, SourceContract], ...]:
    found: dict[str, SourceContract] = {}
    where: dict[str, Path] = {}
    for folder in folders:
        for source, contract in source_contracts(folder / "sources").items():
            if source in found:
                raise ContractError(
                    f"{folder / 'sources' / (source + '.yaml')}: source {source!r} is already "
                    f"defined in {where[source]}"
                )
            found[source], where[source] = contract, folder / "sources"
    return tuple(sorted(found.items()))


def conform_mappings(folders: tuple[Path, ...] | None = None) -> dict[str, ConformMapping]:
    """Every conform mapping (``conform/<source>.yaml`` of the shipped and overlay folders),
    validated against its source contract, by source; list and events names are unique.

    Example: ``conform_mappings()["food"].tables["inspections"].subjects.parent.table ->
    'licences'``.
    """
    return dict(_all_mappings(_folders(folders)))


@cache
def _all_mappings(folders: tuple[Path, ...]) -> tuple[tuple[str, ConformMapping], ...]:
    contracts = dict(_all_contracts(folders))
    found: dict[str, ConformMapping] = {}
    lists: dict[str, Path] = {}
    events: dict[str, Path] = {}
    for folder in folders:
        for path in sorted((folder / "conform").glob("*.yaml")):
            contract = contracts.get(path.stem)
            if contract is None:
                raise ConformError(f"{path}: no source contract {path.stem!r}")
            if path.stem in found:
                raise ConformError(f"{path}: source {path.stem!r} is mapped twice")
            mapping = load_conform_mapping(path, contract)
            for conf in mapping.tables.values():
                for name, seen in [*((x.list, lists) for x in conf.lists),
                                   *((e.name, events) for e in conf.events)]:  # fmt: skip
                    if name in seen:
                        raise ConformError(f"{path}: {name!r} is already defined in {seen[name]}")
                    seen[name] = path
            found[path.stem] = mapping
    for source, mapping in found.items():
        for name, conf in mapping.tables.items():
            for lst in conf.lists:
                for fname, fld in lst.fields.items():
                    if fld.recent_event and fld.recent_event.events not in events:
                        raise ConformError(
                            f"conform mapping {source}: tables.{name}.lists {lst.list} field "
                            f"{fname}: no events {fld.recent_event.events!r}"
                        )
    return tuple(sorted(found.items()))


def list_catalog(folders: tuple[Path, ...] | None = None) -> dict[str, SourceList]:
    """Every list a memorandum can target, by list name (the conformed list catalog).

    Example: ``list_catalog()["flight_ban"].fields["behaviour"].kind -> 'code'``.
    """
    mappings = conform_mappings(folders)
    events = {
        e.name: f"{source}__{table}"
        for source, m in mappings.items()
        for table, conf in m.tables.items()
        for e in conf.events
    }
    out = {}
    for source, m in mappings.items():
        for table, conf in m.tables.items():
            for lst in conf.lists:
                looks = [f.recent_event.events for f in lst.fields.values() if f.recent_event]
                staged = tuple(dict.fromkeys([f"{source}__{table}", *(events[e] for e in looks)]))
                out[lst.list] = SourceList(
                    id=lst.list,
                    title=lst.title,
                    source=source,
                    table=table,
                    definition=lst,
                    conformed=listings_dataset(lst.list),
                    datasets=staged,
                )
    return dict(sorted(out.items()))
