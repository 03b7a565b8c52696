"""The national basic list of measures for dishonesty punishment (全国失信惩戒措施基础清单, 2024
edition, NDRC and PBoC) as a reviewed file: ``schemas/law/measures_2024.yaml``.

Public bodies may not apply a measure that is not on the list, widen its targets or exceed its
standard (DOMAIN.md, "Rules since 2020"). Each entry gives the measure (Chinese and English),
its targets (the subject types; the lists whose subjects it may be applied to, or ``any``
serious-dishonesty list; whether it may extend to a listed organisation's legal
representative), its legal basis (a law, an administrative regulation or a central policy
document, with title and article), the implementing agency (a code of
``schemas/publish/agencies.yaml``) and its standard.

Every punishment memorandum is checked against the list when it loads
(:mod:`publish.memoranda`, :func:`memorandum_problems`): each measure maps to an entry (the
measure's ``list_entry``, by default its id) and binds no one beyond the entry's targets.
Incentive memoranda are not checked. :func:`measure_basis` gives each memorandum measure its
entry and legal basis (the warehouse carries it per restriction); :func:`measures_list_table`
is the list itself as the table ``publish.measures_list``.

Example:
    >>> listing = load_measures_list()
    >>> listing.edition, listing.entry("no_civil_service").legal_basis.kind
    ('2024', 'law')
    >>> listing.entry("no_civil_service").targets.allows_list("any_list_at_all")
    True
    >>> listing.entry("no_rail_tickets").targets.allows_list("court_defaulters")
    False
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, model_validator

from credlink.etl.catalog import columns
from credlink.etl.contracts import SCHEMAS_DIR, load_reviewed_yaml
from credlink.publish.agencies import enforcing_agencies

if TYPE_CHECKING:  # memoranda.py imports this module: no import at run time
    from credlink.publish.memoranda import Measure, Memorandum, Target

__all__ = [
    "BASIS_KINDS",
    "MEASURES_LIST_FILE",
    "MEASURE_BASIS_COLUMNS",
    "LegalBasis",
    "ListEntry",
    "ListTargets",
    "MeasureText",
    "MeasuresList",
    "MeasuresListError",
    "load_measures_list",
    "measure_basis",
    "measures_list",
    "measures_list_table",
    "memorandum_problems",
]

MEASURES_LIST_FILE = SCHEMAS_DIR / "law" / "measures_2024.yaml"
#: The kinds of legal basis a measure may rest on (国办发〔2020〕49号).
BASIS_KINDS = ("law", "administrative_regulation", "central_policy")
#: The table the list becomes (its contract: ``schemas/publish/tables/``).
TABLE = "publish.measures_list"
#: The columns of :func:`measure_basis`.
MEASURE_BASIS_COLUMNS: dict[str, pl.DataType] = {
    "memorandum_id": pl.String(),
    "measure_id": pl.String(),
    "list_entry": pl.String(),
    "legal_basis_kind": pl.String(),
    "legal_basis": pl.String(),
    "list_edition": pl.String(),
    "implementing_agency": pl.String(),
}

SubjectType = Literal["person", "organisation"]
_ID = r"^[a-z][a-z0-9_]*$"


class MeasuresListError(ValueError):
    """The list of measures is malformed, or a memorandum measure has no entry in it; the
    message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MeasureText(_Strict):
    """The measure in the list's words and in English."""

    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)


class ListTargets(_Strict):
    """Whom an entry may be applied to."""

    subject_types: tuple[SubjectType, ...] = Field(min_length=1)
    #: the lists whose listed subjects it may be applied to, or ``any`` serious-dishonesty list
    lists: Literal["any"] | tuple[str, ...]
    #: whether it may extend to a listed organisation's legal representative
    legal_representative: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> ListTargets:
        if self.lists != "any":
            if not self.lists:
                raise ValueError("lists: name at least one list, or write 'any'")
            bad = [n for n in self.lists if not _is_id(n)]
            if bad:
                raise ValueError(f"lists: {bad} are not list names")
            if len(set(self.lists)) != len(self.lists):
                raise ValueError("lists: a list is named twice")
        if self.legal_representative and "person" not in self.subject_types:
            raise ValueError(
                "legal_representative: a legal representative is a person, "
                "but the entry binds no person"
            )
        return self

    def allows_list(self, name: str) -> bool:
        """Whether a listing of list `name` may trigger the entry (``any``: every list not
        declared a red list in the catalog)."""
        if self.lists == "any":
            return not _is_red_list(name)
        return name in self.lists

    def describe_lists(self) -> str:
        return "any serious-dishonesty list" if self.lists == "any" else ", ".join(self.lists)


class LegalBasis(_Strict):
    """What an entry rests on: `kind` (law / administrative_regulation / central_policy), the
    text's title, its document number (a policy document's, e.g. ``国发〔2016〕33号``) and the
    article (empty: the text as a whole)."""

    kind: Literal["law", "administrative_regulation", "central_policy"]
    title: str = Field(min_length=1)
    document: str = ""
    article: str = ""

    def describe(self) -> str:
        """Title, document number and article, e.g. ``《中华人民共和国公务员法》第二十六条``,
        ``《…指导意见》（国发〔2016〕33号）``."""
        number = f"（{self.document}）" if self.document else ""
        return f"《{self.title}》{number}{self.article}"


class ListEntry(_Strict):
    """One entry of the list (see the module doc); `unconfirmed` says which of its facts are
    not confirmed in the list's text (empty: none flagged)."""

    id: str = Field(pattern=_ID)
    measure: MeasureText
    targets: ListTargets
    legal_basis: LegalBasis
    implementing_agency: str
    standard: str = Field(min_length=1)
    unconfirmed: str = ""

    @model_validator(mode="after")
    def _agency(self) -> ListEntry:

        agencies = enforcing_agencies()
        if self.implementing_agency not in agencies:
            raise ValueError(
                f"unknown implementing_agency {self.implementing_agency!r} "
                f"(known: {', '.join(sorted(agencies))})"
            )
        return self

    def problems(self, target: Target, measure: Measure) -> list[str]:
        """How `measure`, triggered by `target`, goes beyond the entry (empty: it does not).

        A measure binds the listed subjects of the target's subject types that it applies to,
        and (``extend_to: [legal_representative]``, a listed organisation, a measure that
        applies to persons) the organisation's legal representative; one that binds nobody
        through the target is not applied through it.
        """
        listed = [s for s in target.subject_types if s in measure.applies_to]
        representative = (
            "legal_representative" in target.extend_to
            and "organisation" in target.subject_types
            and "person" in measure.applies_to
        )
        if not listed and not representative:
            return []
        out = []
        if not self.targets.allows_list(target.list):
            out.append(
                f"target list {target.list!r} is not among the entry's lists "
                f"({self.targets.describe_lists()})"
            )
        beyond = [s for s in listed if s not in self.targets.subject_types]
        if beyond:
            out.append(
                f"applied to listed {'/'.join(beyond)} subjects of {target.list}, but the entry "
                f"allows only {'/'.join(self.targets.subject_types)}"
            )
        if representative and not self.targets.legal_representative:
            out.append(
                f"extends to the legal_representative of a listed organisation of {target.list}, "
                "which the entry does not allow"
            )
        return out


class MeasuresList(_Strict):
    """The list: its edition, who issued it, and the entries."""

    id: str = Field(pattern=_ID)
    title: str
    edition: str = Field(pattern=r"^\d{4}$")
    issued_by: tuple[str, ...] = Field(min_length=1)
    earlier_editions: tuple[str, ...] = ()
    rules: str = ""
    measures: tuple[ListEntry, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> MeasuresList:
        seen: set[str] = set()
        for i, e in enumerate(self.measures):
            if e.id in seen:
                raise ValueError(f"measures.{i}: entry id {e.id!r} used twice")
            seen.add(e.id)
        return self

    @property
    def by_id(self) -> dict[str, ListEntry]:
        return {e.id: e for e in self.measures}

    def entry(self, entry_id: str) -> ListEntry | None:
        """The entry `entry_id`, or None."""
        return self.by_id.get(entry_id)


def _is_id(name: str) -> bool:
    return re.fullmatch(_ID, name) is not None


def _is_red_list(name: str) -> bool:
    """Whether the catalog declares list `name` a red list (``kind: red``): not a
    serious-dishonesty list. A list the catalog lacks is not refused here (the memorandum's
    own target check names unknown lists)."""
    from credlink.publish.listings import LISTS

    spec = LISTS.get(name)
    return spec is not None and getattr(spec, "kind", None) == "red"


def load_measures_list(path: Path = MEASURES_LIST_FILE) -> MeasuresList:
    """Parse and validate the list file; errors name the file and the field (the file's name
    is the list's ``id``)."""
    return load_reviewed_yaml(path, MeasuresList, "list of measures", MeasuresListError, "id")


@cache
def measures_list(path: Path = MEASURES_LIST_FILE) -> MeasuresList:
    """:func:`load_measures_list`, loaded once per path (the memoranda's check uses it)."""
    return load_measures_list(path)


def memorandum_problems(memorandum: Memorandum, listing: MeasuresList | None = None) -> list[str]:
    """Why the punishment `memorandum` breaks the list (empty: it keeps to it), one line per
    measure and reason, naming the measure: a measure with no entry, a target list the entry
    does not allow, a subject type it does not allow, a legal representative it does not
    allow. Incentive memoranda are not checked (empty)."""
    if memorandum.kind != "punishment":
        return []
    listing = listing or measures_list()
    out = []
    for i, m in enumerate(memorandum.measures):
        entry_id = m.list_entry or m.id
        where = f"measure {m.id!r} (measures.{i})"
        entry = listing.entry(entry_id)
        if entry is None:
            named = "it" if entry_id == m.id else f"its list_entry {entry_id!r}"
            out.append(
                f"{where}: {named} is not in the national basic list of measures "
                f"({listing.edition} edition, schemas/law/{listing.id}.yaml); a measure not on "
                "the list may not be applied"
            )
            continue
        for j, t in enumerate(memorandum.targets):
            out += [f"{where}, targets.{j}: {p} (entry {entry.id})" for p in entry.problems(t, m)]
    return out


def measure_basis(
    memoranda: Iterable[Memorandum], listing: MeasuresList | None = None
) -> pl.DataFrame:
    """One row per measure of each punishment memorandum: its list entry, the entry's legal
    basis (kind and text), the list's edition and the implementing agency
    (:data:`MEASURE_BASIS_COLUMNS`). Incentive memoranda have no rows. A measure without an
    entry (a memorandum not loaded through :mod:`publish.memoranda`) raises
    :class:`MeasuresListError`.

    Example:
        >>> from credlink.publish.memoranda import load_memoranda
        >>> basis = measure_basis(load_memoranda())
        >>> row = basis.filter(pl.col("measure_id") == "exit_restriction").row(0, named=True)
        >>> row["legal_basis_kind"], row["legal_basis"], row["implementing_agency"]
        ('law', '《中华人民共和国税收征收管理法》第四十四条', 'immigration')
    """
    listing = listing or measures_list()
    rows = []
    for memo in memoranda:
        if memo.kind != "punishment":
            continue
        for m in memo.measures:
            entry_id = m.list_entry or m.id
            entry = listing.entry(entry_id)
            if entry is None:
                raise MeasuresListError(
                    f"memorandum {memo.id}: measure {m.id!r}: list entry {entry_id!r} is not in "
                    f"the national basic list of measures ({listing.edition} edition)"
                )
            rows.append(
                (
                    memo.id,
                    m.id,
                    entry.id,
                    entry.legal_basis.kind,
                    entry.legal_basis.describe(),
                    listing.edition,
                    entry.implementing_agency,
                )
            )
    return pl.DataFrame(rows, schema=MEASURE_BASIS_COLUMNS, orient="row")


def measures_list_table(listing: MeasuresList | None = None) -> pl.DataFrame:
    """The list as the table ``publish.measures_list``: one row per entry, in the columns of
    its contract (``schemas/publish/tables/publish.measures_list.yaml``).

    Example:
        >>> table = measures_list_table()
        >>> table.filter(pl.col("list_entry") == "no_outbound_tours")["target_lists"].to_list()
        [['uncivilised_tourists']]
    """

    listing = listing or measures_list()
    agencies = enforcing_agencies()
    schema = columns(TABLE)
    records = [
        {
            "list_edition": listing.edition,
            "list_entry": e.id,
            "measure_zh": e.measure.zh,
            "measure_en": e.measure.en,
            "subject_types": list(e.targets.subject_types),
            "any_list": e.targets.lists == "any",
            "target_lists": [] if e.targets.lists == "any" else list(e.targets.lists),
            "legal_representative": e.targets.legal_representative,
            "legal_basis_kind": e.legal_basis.kind,
            "legal_basis": e.legal_basis.describe(),
            "legal_basis_title": e.legal_basis.title,
            "legal_basis_document": e.legal_basis.document or None,
            "legal_basis_article": e.legal_basis.article,
            "implementing_agency": e.implementing_agency,
            "agency_name": agencies[e.implementing_agency].name,
            "standard": e.standard.strip(),
            "unconfirmed": e.unconfirmed or None,
        }
        for e in listing.measures
    ]
    return pl.DataFrame(records, schema=schema)
