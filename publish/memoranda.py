"""Joint-punishment memoranda as reviewed files: ``schemas/memoranda/<id>.yaml``.

A memorandum says which list triggers it and under which conditions (``targets``), who is
targeted (the listed subject, and for a listed organisation its legal representative where the
real memorandum says so: ``extend_to``), the measures (each with its clause, text, enforcing
agency, scope and the subject types it binds), how long they last (``duration``) and what lifts
them early (``lifted_by``: removal reasons of the listing). Adding a memorandum is adding a file.

Every file is validated when loaded; an error names the file and the field: an unknown source
list (the lists of the conform mappings, ``schemas/conform/<source>.yaml``:
:data:`publish.listings.LISTS`), a condition on a field the list lacks, a code the field's
vocabulary lacks, a bad duration, a measure without (or with an unknown) enforcing agency
(``schemas/publish/agencies.yaml``), an unknown removal reason. A punishment memorandum
(``kind: punishment``, the default) is also held to the national basic list of measures
(``schemas/law/measures_2024.yaml``, :mod:`publish.measures_list`): each measure maps to an
entry (its ``list_entry``, by default its id) and is not applied beyond the entry's targets (a
subject type, a target list, or ``extend_to: [legal_representative]`` the entry does not allow);
the error names the file, the measure and the reason; it may not target a red list (a list of
``kind: red`` in the conform mappings). Incentive memoranda (``kind: incentive``,
:mod:`publish.incentives`) are not held to the punishment list.

Conditions: ``when`` is a list of alternatives (any one suffices); each alternative maps list
fields to tests that must all hold: ``{in: [codes]}`` for code fields, ``{min: x}`` /
``{max: x}`` for numbers (inclusive), ``{is: true}`` for flags. No ``when``: every listing.

Duration: ``starts`` is the listing's ``effective_from`` (after an objection window: pending
until then) or ``listed_on``; ``ends`` is ``listing`` (the listing's own term; none: open-ended
until removed), or ``term`` (``term: {years: 3}`` or ``{days: 180}`` from the start);
``max_term`` caps a listing's own term.

Example:
    >>> memoranda = load_memoranda()
    >>> sorted(m.id for m in memoranda)[:2]
    ['aviation_ban_2018', 'court_defaulters_2016']
    >>> len(memoranda_by_id()["court_defaulters_2016"].measures) >= 10
    True
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from credlink.etl.contracts import SCHEMAS_DIR, load_reviewed_yaml
from credlink.publish.agencies import AGENCIES_FILE, Agency, enforcing_agencies
from credlink.publish.listings import LISTS, REMOVAL_REASONS
from credlink.publish.measures_list import memorandum_problems

__all__ = [
    "AGENCIES_FILE",
    "MEMORANDA_DIR",
    "Agency",
    "Duration",
    "FieldTest",
    "Measure",
    "Memorandum",
    "MemorandumError",
    "Target",
    "Term",
    "enforcing_agencies",
    "load_memoranda",
    "load_memorandum",
    "memoranda_by_id",
]

MEMORANDA_DIR = SCHEMAS_DIR / "memoranda"

SubjectType = Literal["person", "organisation"]


class MemorandumError(ValueError):
    """A memorandum file is malformed; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Term(_Strict):
    """A length of time: `years` or `days` (exactly one, positive)."""

    years: int | None = Field(default=None, gt=0, le=10)
    days: int | None = Field(default=None, gt=0, le=3660)

    @model_validator(mode="after")
    def _one(self) -> Term:
        if (self.years is None) == (self.days is None):
            raise ValueError("a term is either {years: N} or {days: N}")
        return self

    @property
    def offset(self) -> str:
        """As a Polars offset: ``3y``, ``180d``."""
        return f"{self.years}y" if self.years is not None else f"{self.days}d"

    def describe(self) -> str:
        return f"{self.years} years" if self.years is not None else f"{self.days} days"


class Duration(_Strict):
    """How long the measures last (see the module doc)."""

    starts: Literal["effective_from", "listed_on"] = "effective_from"
    ends: Literal["listing", "term"]
    term: Term | None = None
    max_term: Term | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Duration:
        if self.ends == "term" and self.term is None:
            raise ValueError("ends: term needs a term ({years: N} or {days: N})")
        if self.ends == "listing" and self.term is not None:
            raise ValueError("ends: listing follows the listing's own term; use max_term to cap it")
        return self

    def describe(self) -> str:
        if self.ends == "term" and self.term is not None:
            return f"{self.term.describe()} from {self.starts}"
        cap = f", at most {self.max_term.describe()}" if self.max_term else ""
        return f"the listing's own term from {self.starts} (none: until removed){cap}"


class FieldTest(_Strict):
    """A test of one list field (see the module doc)."""

    in_: tuple[str, ...] | None = Field(default=None, alias="in", min_length=1)
    min: float | None = None
    max: float | None = None
    is_: bool | None = Field(default=None, alias="is")

    @model_validator(mode="after")
    def _one_kind(self) -> FieldTest:
        kinds = [
            k
            for k, v in (
                ("in", self.in_),
                ("number", self.min),
                ("number", self.max),
                ("is", self.is_),
            )
            if v is not None
        ]
        if not kinds:
            raise ValueError("a test needs 'in', 'min', 'max' or 'is'")
        if len(set(kinds)) > 1:
            raise ValueError(f"a test mixes {sorted(set(kinds))}")
        return self

    @property
    def kind(self) -> str:
        return "code" if self.in_ is not None else "flag" if self.is_ is not None else "number"


class Target(_Strict):
    """Which listings of which list trigger the memorandum, and who besides the subject."""

    list: str
    subject_types: tuple[SubjectType, ...] = ("person", "organisation")
    when: tuple[dict[str, FieldTest], ...] = ()
    extend_to: tuple[Literal["legal_representative"], ...] = ()
    #: this target's own duration rule, instead of the memorandum's
    duration: Duration | None = None

    @model_validator(mode="after")
    def _known(self) -> Target:
        spec = LISTS.get(self.list)
        if spec is None:
            raise ValueError(
                f"unknown source list {self.list!r} (known: {', '.join(sorted(LISTS))})"
            )
        for i, alternative in enumerate(self.when):
            for name, test in alternative.items():
                where = f"when.{i}.{name}"
                fld = spec.fields.get(name)
                if fld is None:
                    known = ", ".join(sorted(spec.fields))
                    raise ValueError(f"{where}: list {self.list} has no field {name!r} ({known})")
                if test.kind != fld.kind:
                    raise ValueError(f"{where}: a {fld.kind} field cannot take a {test.kind} test")
                unknown = sorted(set(test.in_ or ()) - set(fld.values))
                if unknown:
                    raise ValueError(
                        f"{where}: unknown codes {unknown} (known: {', '.join(fld.values)})"
                    )
        if self.extend_to and "organisation" not in self.subject_types:
            raise ValueError("extend_to applies to listed organisations, but none is targeted")
        return self


class Measure(_Strict):
    """One measure: what is restricted, by whom, for which subject types; `list_entry` is its
    entry in the national basic list of measures (default: the measure's id)."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    list_entry: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]*$")
    clause: str
    text: str
    enforcing_agency: str
    category: str
    scope: str = ""
    applies_to: tuple[SubjectType, ...] = ("person", "organisation")

    @model_validator(mode="before")
    @classmethod
    def _entry_defaults_to_id(cls, data: object) -> object:
        if isinstance(data, dict) and data.get("list_entry") is None and "id" in data:
            return {**data, "list_entry": data["id"]}
        return data

    @model_validator(mode="after")
    def _agency(self) -> Measure:
        agencies = enforcing_agencies()
        if self.enforcing_agency not in agencies:
            raise ValueError(
                f"unknown enforcing_agency {self.enforcing_agency!r} "
                f"(known: {', '.join(sorted(agencies))})"
            )
        return self


class Memorandum(_Strict):
    """A joint-punishment memorandum (see the module doc)."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    #: punishment (held to the national basic list of measures) or incentive (a red list's)
    kind: Literal["punishment", "incentive"] = "punishment"
    title: str
    document_number: str
    issued_on: date
    in_force_from: date | None = None
    signatories: tuple[str, ...] = Field(min_length=1)
    signatory_count: int | None = Field(default=None, gt=0)
    basis: str
    notes: str = ""
    targets: tuple[Target, ...] = Field(min_length=1)
    measures: tuple[Measure, ...] = Field(min_length=1)
    duration: Duration
    lifted_by: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _unique_and_known(self) -> Memorandum:
        seen: set[str] = set()
        for i, m in enumerate(self.measures):
            if m.id in seen:
                raise ValueError(f"measures.{i}: measure id {m.id!r} used twice")
            seen.add(m.id)
        unknown = sorted(set(self.lifted_by) - set(REMOVAL_REASONS))
        if unknown:
            raise ValueError(
                f"lifted_by: unknown removal reasons {unknown} "
                f"(known: {', '.join(REMOVAL_REASONS)})"
            )
        return self

    @model_validator(mode="after")
    def _in_the_measures_list(self) -> Memorandum:
        if self.kind == "punishment":
            for i, t in enumerate(self.targets):
                if getattr(LISTS.get(t.list), "kind", None) == "red":
                    raise ValueError(
                        f"targets.{i}: {t.list!r} is a red list; a punishment memorandum "
                        "targets lists of dishonest subjects (incentives: kind: incentive)"
                    )
        problems = memorandum_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self


def load_memorandum(path: Path) -> Memorandum:
    """Parse and validate one memorandum file; errors name the file and the field.

    Example: ``load_memorandum(MEMORANDA_DIR / "rail_ban_2018.yaml").duration.term.days``
    is 180.
    """
    return load_reviewed_yaml(path, Memorandum, "memorandum", MemorandumError, "id")


def load_memoranda(directory: Path = MEMORANDA_DIR) -> list[Memorandum]:
    """Every memorandum in `directory` (``*.yaml``), sorted by id."""
    return sorted((load_memorandum(p) for p in directory.glob("*.yaml")), key=lambda m: m.id)


def memoranda_by_id(directory: Path = MEMORANDA_DIR) -> dict[str, Memorandum]:
    """:func:`load_memoranda` by id."""
    return {m.id: m for m in load_memoranda(directory)}
