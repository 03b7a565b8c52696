"""Publication of listings as reviewed data: severity grades, publication periods, credit-repair
eligibility and the public-disclosure table (``schemas/law/publication.yaml``).

Since 国办发〔2025〕22号 and NDRC Order No. 36 (in force 2026-04-01), dishonesty information is
graded minor, general or serious; each grade bounds how long it is published (minor at most
3 months and may go unpublished, general 3 months to 1 year, serious 1 to 3 years), publication
stops by itself at the end, and the grade's minimum is when the subject may apply for repair.
Publication is not restriction: a listing restricts by the memoranda (:mod:`publish.rules`);
it is *shown* on a public credit portal by these rules.

The reviewed file holds the grades' bounds and, per black list of the catalog
(:data:`publish.listings.LISTS`; a red list of trustworthy subjects has none): which grade a
listing gets (ordered rules with ``when`` tests as in the memoranda: the first that holds, else
the default), the period chosen within the grade's bounds (a span, or ``listing``: the
listing's own term clamped to the bounds), whether it may be repaired and why (not: court
defaulters, removed by the enforcing court), what shows the obligations met (removal reasons,
list fields, or none owed), how the list masks a published identifier, and the list's
publication basis. The file is validated when loaded; an error names the file and the field:
an unknown list, field or code, a period outside its grade's bounds, an unknown removal
reason, a red list.

Three pure steps and one reader:

- :func:`with_publication`: each listing frame with :data:`PUBLICATION_COLUMNS`;
- :func:`public_disclosure`: ``publish.public_disclosure`` (:data:`DISCLOSURE_COLUMNS`), what a
  public credit portal shows on the run's day: published listings within their period, not
  removed, not repaired or withdrawn (the case ends of :mod:`publish.cases`);
- :func:`listing_identifiers`: the identifier each listing record was published with, from the
  conformed subject tables.

Example:
    >>> rules = load_publication()
    >>> rules.grades.serious.max.describe(), rules.grades.general.min.describe()
    ('3 years', '3 months')
    >>> rules.lists["court_defaulters"].repair.repairable
    False
    >>> rules.lists["court_defaulters"].masking.person.apply("11010519491231002X")
    '1101051949****002X'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal

import polars as pl
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictInt,
    ValidationError,
    model_validator,
)

from credlink.etl.conform.mappings import LAYER, subjects_dataset
from credlink.etl.contracts import SCHEMAS_DIR, _bools_read_as_numbers, strict_yaml_load
from credlink.etl.lake import Lake, current_rows
from credlink.publish.listings import LISTS, REMOVAL_REASONS
from credlink.publish.memoranda import FieldTest, Target
from credlink.publish.rules import condition
from credlink.settings import ZONE, schema_folders

__all__ = [
    "DISCLOSURE_COLUMNS",
    "DISCLOSURE_ENDS",
    "GRADES",
    "PUBLICATION_COLUMNS",
    "PUBLICATION_FILE",
    "GradeBounds",
    "GradeRule",
    "ListPublication",
    "Mask",
    "Publication",
    "PublicationError",
    "Span",
    "listing_identifiers",
    "load_publication",
    "public_disclosure",
    "with_publication",
]

PUBLICATION_FILE = SCHEMAS_DIR / "law" / "publication.yaml"

Grade = Literal["minor", "general", "serious"]
#: The severity grades, mildest first.
GRADES: tuple[Grade, ...] = ("minor", "general", "serious")

#: The columns :func:`with_publication` adds to a listing frame.
PUBLICATION_COLUMNS: dict[str, pl.DataType] = {
    "severity": pl.String(),  # minor / general / serious
    "published": pl.Boolean(),  # false: a minor listing that goes unpublished
    "publication_from": pl.Date(),  # first day published
    # first day no longer published: the period's end (within the grade's bounds), earlier if
    # the listing was removed; = publication_from when unpublished
    "publication_to": pl.Date(),
    "repair_from": pl.Date(),  # publication_from + the grade's minimum (see repairable)
    "repairable": pl.Boolean(),
    "not_repairable_reason": pl.String(),  # why not (null when repairable)
    "obligations_met": pl.Boolean(),  # as the source shows on the day
}

#: ``publish.public_disclosure``: one row per listing shown on the run's day.
DISCLOSURE_COLUMNS: dict[str, pl.DataType] = {
    "unique_id": pl.String(),
    "list_id": pl.String(),
    "list_title": pl.String(),
    "subject_type": pl.String(),
    "subject_name": pl.String(),  # as listed
    "masked_identifier": pl.String(),  # as listed, in the list's masking habit
    "reference": pl.String(),
    "basis": pl.String(),  # the list's publication basis
    "severity": pl.String(),
    "publication_from": pl.Date(),
    "publication_to": pl.Date(),  # exclusive
}

#: Case ends that take a listing out of disclosure (credit repair, an objection upheld).
DISCLOSURE_ENDS: tuple[str, ...] = ("repaired", "withdrawn")

SubjectType = Literal["person", "organisation"]
When = tuple[dict[str, FieldTest], ...]


class PublicationError(ValueError):
    """The publication file is malformed, or a list has no rules in it; the message names the
    file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Span(_Strict):
    """A period: `years` or `months` (exactly one, not negative)."""

    years: StrictInt | None = Field(default=None, ge=0, le=10)
    months: StrictInt | None = Field(default=None, ge=0, le=120)

    @model_validator(mode="after")
    def _one(self) -> Span:
        if (self.years is None) == (self.months is None):
            raise ValueError("a period is either {years: N} or {months: N}")
        return self

    @property
    def total_months(self) -> int:
        return self.years * 12 if self.years is not None else int(self.months or 0)

    @property
    def offset(self) -> str:
        """As a Polars offset: ``36mo``."""
        return f"{self.total_months}mo"

    def describe(self) -> str:
        n, unit = (self.years, "year") if self.years is not None else (self.months, "month")
        return f"{n} {unit}{'' if n == 1 else 's'}"


class GradeBounds(_Strict):
    """A grade's publication bounds: at least `min`, at most `max`."""

    description: str
    min: Span
    max: Span
    may_go_unpublished: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> GradeBounds:
        if self.max.total_months == 0:
            raise ValueError("max: a grade is published for some time at most")
        if self.min.total_months > self.max.total_months:
            raise ValueError(f"min ({self.min.describe()}) exceeds max ({self.max.describe()})")
        return self

    def describe(self) -> str:
        return f"{self.min.describe()} to {self.max.describe()}"


class Grades(_Strict):
    minor: GradeBounds
    general: GradeBounds
    serious: GradeBounds

    def __getitem__(self, grade: str) -> GradeBounds:
        bounds: GradeBounds = getattr(self, grade)
        return bounds


class GradeRule(_Strict):
    """A listing's grade and publication period; a rule applies when its `when` holds (any
    alternative; all tests of one, as in a memorandum's target)."""

    grade: Grade
    period: Span | Literal["listing"]
    published: bool = True
    when: When = ()


class Severity(_Strict):
    """Ordered `rules` (the first that holds) and the `default` (no `when`)."""

    rules: tuple[GradeRule, ...] = ()
    default: GradeRule

    @model_validator(mode="after")
    def _default(self) -> Severity:
        if self.default.when:
            raise ValueError("default: the default grade takes no 'when'")
        for i, rule in enumerate(self.rules):
            if not rule.when:
                raise ValueError(f"rules.{i}: a rule needs a 'when' (else it is the default)")
        return self

    @property
    def all(self) -> tuple[GradeRule, ...]:
        return (*self.rules, self.default)


class Repair(_Strict):
    """Whether the list's listings may be repaired (credit repair), and why (not)."""

    repairable: bool
    reason: str = Field(min_length=1)


class ObligationsMet(_Strict):
    """What shows the obligations met: removal reasons, list-field tests (any), or none owed.
    Neither: the source never shows it (the application's evidence must)."""

    removal_reasons: tuple[str, ...] = ()
    when: When = ()
    none_owed: bool = False
    note: str = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> ObligationsMet:
        if self.none_owed and (self.removal_reasons or self.when):
            raise ValueError("none_owed: nothing else shows obligations met when none is owed")
        unknown = sorted(set(self.removal_reasons) - set(REMOVAL_REASONS))
        if unknown:
            raise ValueError(
                f"removal_reasons: unknown removal reasons {unknown} "
                f"(known: {', '.join(REMOVAL_REASONS)})"
            )
        return self


class Mask(_Strict):
    """A published identifier's masking habit: keep the first `keep_first` and the last
    `keep_last` characters, each other one shown as ``*`` (the length kept); or `keep_all`.
    An identifier too short to mask anything between them is masked whole."""

    keep_first: StrictInt = Field(default=0, ge=0, le=30)
    keep_last: StrictInt = Field(default=0, ge=0, le=30)
    keep_all: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> Mask:
        if self.keep_all and (self.keep_first or self.keep_last):
            raise ValueError("keep_all: no keep_first or keep_last with it")
        return self

    def apply(self, text: str | None) -> str | None:
        """The masked identifier. Example: first 4 and last 4 of ``'360426199101010071'`` ->
        ``'3604**********0071'``."""
        if text is None or self.keep_all:
            return text
        n, first, last = len(text), self.keep_first, self.keep_last
        if n <= first + last:
            return "*" * n
        return text[:first] + "*" * (n - first - last) + (text[n - last :] if last else "")

    def expr(self, col: pl.Expr) -> pl.Expr:
        """:meth:`apply` as a Polars expression over a text column."""
        if self.keep_all:
            return col
        first, last = self.keep_first, self.keep_last
        n = col.str.len_chars()
        stars = col.str.replace_all(r"(?s).", "*")
        middle = col.str.slice(first, n - first - last).str.replace_all(r"(?s).", "*")
        parts = [col.str.head(first), middle]
        if last:
            parts.append(col.str.tail(last))
        return pl.when(n > first + last).then(pl.concat_str(parts)).otherwise(stars)


class Masking(_Strict):
    """The masking habit per subject type."""

    person: Mask
    organisation: Mask


class ListPublication(_Strict):
    """One list's publication rules (see the module doc)."""

    basis: str = Field(min_length=1)
    starts: Literal["listed_on", "effective_from"] = "listed_on"
    severity: Severity
    repair: Repair
    obligations_met: ObligationsMet
    masking: Masking


class Document(_Strict):
    number: str
    title: str
    issued: str | None = None
    in_force_from: date | None = None


class Publication(_Strict):
    """The publication file (see the module doc)."""

    title: str
    documents: tuple[Document, ...] = ()
    grades: Grades
    lists: dict[str, ListPublication]
    _path: Path | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _known(self) -> Publication:
        problems: list[str] = []
        for list_id, spec in self.lists.items():
            where = f"lists.{list_id}"
            if list_id not in LISTS:
                problems.append(
                    f"{where}: unknown list {list_id!r} (known: {', '.join(sorted(LISTS))})"
                )
                continue
            if LISTS[list_id].kind == "red":
                problems.append(
                    f"{where}: {list_id} is a red list (trustworthy subjects): it is no "
                    "dishonesty information and has no publication rules"
                )
                continue
            for i, rule in enumerate(spec.severity.all):
                at = (
                    f"{where}.severity.rules.{i}"
                    if i < len(spec.severity.rules)
                    else f"{where}.severity.default"
                )
                problems += _when_problems(list_id, rule.when, at)
                bounds = self.grades[rule.grade]
                if isinstance(rule.period, Span):
                    months = rule.period.total_months
                    if not bounds.min.total_months <= months <= bounds.max.total_months:
                        problems.append(
                            f"{at}.period: {rule.period.describe()} is outside the "
                            f"{rule.grade} grade's bounds ({bounds.describe()})"
                        )
                if not rule.published and not bounds.may_go_unpublished:
                    problems.append(
                        f"{at}.published: a {rule.grade} listing is always published "
                        "(only a grade with may_go_unpublished may go unpublished)"
                    )
            problems += _when_problems(
                list_id, spec.obligations_met.when, f"{where}.obligations_met"
            )
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @property
    def path(self) -> Path | str:
        """The file the rules were loaded from (``<rules>`` when made in code)."""
        return self._path or "<rules>"

    def for_list(self, list_id: str) -> ListPublication:
        """The list's rules; :class:`PublicationError` naming the file when it has none."""
        spec = self.lists.get(list_id)
        if spec is None:
            raise PublicationError(
                f"{self.path}: lists: no publication rules for list {list_id!r} "
                f"(a list of the catalog needs its grade, period, repair and masking here)"
            )
        return spec


def _when_problems(list_id: str, when: When, where: str) -> list[str]:
    """The problems of `when` tests on `list_id`'s fields (as a memorandum target checks)."""
    if not when:
        return []
    try:
        Target(list=list_id, when=when)
    except ValidationError as exc:
        return [f"{where}.{str(err['msg']).removeprefix('Value error, ')}" for err in exc.errors()]
    return []


def load_publication(path: Path = PUBLICATION_FILE) -> Publication:
    """Parse and validate the publication file; every error names the file and the field.

    Example: ``load_publication().lists["flight_ban"].severity.default.grade`` -> 'serious'.
    """
    try:
        raw: Any = strict_yaml_load(path.read_text(encoding="utf-8"), path)
    except (OSError, yaml.YAMLError) as exc:
        raise PublicationError(f"{path}: cannot read publication rules: {exc}") from exc
    if not isinstance(raw, dict):
        raise PublicationError(f"{path}: publication rules are a mapping, got {type(raw).__name__}")
    if path == PUBLICATION_FILE:
        raw = _with_overlays(raw, path)
    try:
        pub = Publication.model_validate(raw)
    except ValidationError as exc:
        lines = [f"{path}: invalid publication rules"]
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"])
            msg = str(err["msg"]).removeprefix("Value error, ")
            if where:
                lines.append(f"  {where}: {msg}")
            else:  # the whole-file checks name their fields themselves
                lines += [f"  {m}" for m in msg.splitlines()]
        raise PublicationError("\n".join(lines)) from exc
    coerced = _bools_read_as_numbers(Publication, raw)
    if coerced:
        lines = [f"{path}: invalid publication rules"]
        lines += [f"  {where}: a number is expected, got the boolean {v}" for where, v in coerced]
        raise PublicationError("\n".join(lines))
    pub._path = path
    return pub


def _with_overlays(raw: dict[str, Any], path: Path) -> dict[str, Any]:
    """`raw` (the shipped file) with the lists of each overlay folder's
    ``law/publication.yaml`` (:func:`credlink.settings.schema_folders`: a new agency's list
    brings its publication rules beside its contract and mapping; only ``lists:``, the grades
    stay the shipped file's). A list given twice is an error naming both files."""
    lists = dict(raw.get("lists") or {})
    origin = dict.fromkeys(lists, path)
    for folder in schema_folders()[1:]:
        extra = folder / "law" / "publication.yaml"
        if not extra.is_file():
            continue
        try:
            more: Any = strict_yaml_load(extra.read_text(encoding="utf-8"), extra)
        except (OSError, yaml.YAMLError) as exc:
            raise PublicationError(f"{extra}: cannot read publication rules: {exc}") from exc
        if not isinstance(more, dict) or set(more) - {"lists"}:
            raise PublicationError(
                f"{extra}: an overlay's publication rules hold only 'lists:' (the grades are "
                f"those of {path})"
            )
        for list_id, spec in (more.get("lists") or {}).items():
            if list_id in lists:
                raise PublicationError(
                    f"{extra}: lists.{list_id}: the list's rules are given in {origin[list_id]}"
                )
            lists[list_id] = spec
            origin[list_id] = extra
    return {**raw, "lists": lists}


def _period_end(rule: GradeRule, bounds: GradeBounds, start: pl.Expr) -> pl.Expr:
    """The last day + 1 of the rule's period from `start` (before any removal)."""
    if isinstance(rule.period, Span):
        return start.dt.offset_by(rule.period.offset)
    lo, hi = start.dt.offset_by(bounds.min.offset), start.dt.offset_by(bounds.max.offset)
    own = pl.col("ends_on")
    return pl.when(own.is_null() | (own > hi)).then(hi).when(own < lo).then(lo).otherwise(own)


def _first(tests: Sequence[pl.Expr], values: Sequence[pl.Expr], default: pl.Expr) -> pl.Expr:
    """The value of the first test that holds, else `default`."""
    out = default
    for test, value in reversed(list(zip(tests, values, strict=True))):
        out = pl.when(test).then(value).otherwise(out)
    return out


def _chosen(values: Sequence[pl.Expr]) -> pl.Expr:
    """The value of the chosen rule (column ``_rule``, its index; the last is the default)."""
    tests = [pl.col("_rule") == i for i in range(len(values) - 1)]
    return _first(tests, values[:-1], values[-1])


def _with_publication(
    frame: pl.DataFrame, list_id: str, rules: Publication, as_of: date
) -> pl.DataFrame:
    spec = rules.for_list(list_id)
    every = spec.severity.all
    bounds = [rules.grades[r.grade] for r in every]
    index = _first(
        [condition(Target(list=list_id, when=r.when)) for r in spec.severity.rules],
        [pl.lit(i) for i in range(len(spec.severity.rules))],
        pl.lit(len(spec.severity.rules)),
    )
    start = pl.col(spec.starts)
    # a removal known on the day
    removed = pl.when(pl.col("removed_on") <= as_of).then(pl.col("removed_on"))
    end = pl.col("_end")
    to = pl.when(removed.is_not_null() & (removed < end)).then(removed).otherwise(end)
    to = pl.when(pl.col("published")).then(pl.max_horizontal(start, to)).otherwise(start)
    obligations = spec.obligations_met
    met = pl.lit(obligations.none_owed)
    if obligations.removal_reasons:
        reasons = pl.col("removal_reason").is_in(list(obligations.removal_reasons))
        met = met | (removed.is_not_null() & reasons).fill_null(False)
    if obligations.when:
        met = met | condition(Target(list=list_id, when=obligations.when))
    repair = spec.repair
    reason = None if repair.repairable else " ".join(repair.reason.split())
    periods = [_period_end(r, b, start) for r, b in zip(every, bounds, strict=True)]
    return (
        frame.with_columns(index.alias("_rule"))
        .with_columns(
            _chosen([pl.lit(r.grade) for r in every]).alias("severity"),
            _chosen([pl.lit(r.published) for r in every]).alias("published"),
            start.alias("publication_from"),
            _chosen(periods).alias("_end"),
            _chosen([start.dt.offset_by(b.min.offset) for b in bounds]).alias("repair_from"),
            pl.lit(repair.repairable).alias("repairable"),
            pl.lit(reason, pl.String).alias("not_repairable_reason"),
            met.alias("obligations_met"),
        )
        .with_columns(to.alias("publication_to"))
    )


#: A red list's listings: not published as dishonesty information, nothing to repair.
_RED: dict[str, pl.Expr] = {
    "severity": pl.lit(None, pl.String),
    "published": pl.lit(False),
    "publication_from": pl.lit(None, pl.Date),
    "publication_to": pl.lit(None, pl.Date),
    "repair_from": pl.lit(None, pl.Date),
    "repairable": pl.lit(False),
    "not_repairable_reason": pl.lit("a red list: no dishonesty information to repair"),
    "obligations_met": pl.lit(None, pl.Boolean),
}


def with_publication(
    listings: Mapping[str, pl.DataFrame], as_of: date, rules: Publication | None = None
) -> dict[str, pl.DataFrame]:
    """Each list's listings (:func:`publish.listings.build_listings`) with
    :data:`PUBLICATION_COLUMNS` by the list's rules (default: the reviewed file). Only what is
    known on `as_of` counts: a removal dated after it neither ends publication nor shows the
    obligations met. A red list's listings (``kind: red``) are not dishonesty information: not
    published, no grade, dates null, not repairable. :class:`PublicationError` for a black
    list the file has no rules for.

    Example: a court defaulter listed 2024-01-10 without a term of its own -> serious,
    published 2024-01-10 to 2027-01-10, ``repair_from`` 2025-01-10, not repairable.
    """
    rules = rules or load_publication()
    out: dict[str, pl.DataFrame] = {}
    for list_id, frame in listings.items():
        spec = LISTS.get(list_id)
        if spec is not None and spec.kind == "red":
            added = frame.with_columns(**_RED)
        else:
            added = _with_publication(frame, list_id, rules, as_of)
        out[list_id] = added.select(
            *[c for c in frame.columns if c not in PUBLICATION_COLUMNS],
            *[pl.col(c).cast(t) for c, t in PUBLICATION_COLUMNS.items()],
        )
    return out


def _frames(listings: Mapping[str, pl.DataFrame] | pl.DataFrame) -> list[pl.DataFrame]:
    if isinstance(listings, pl.DataFrame):
        return [g for _key, g in listings.group_by("list_id", maintain_order=True)]
    return [f for f in listings.values() if not f.is_empty()]


def public_disclosure(
    listings_with_publication: Mapping[str, pl.DataFrame] | pl.DataFrame,
    identifiers: pl.DataFrame,
    ends: pl.DataFrame | None,
    as_of: date,
    rules: Publication | None = None,
) -> pl.DataFrame:
    """``publish.public_disclosure`` on `as_of` (:data:`DISCLOSURE_COLUMNS`), sorted by list,
    publication start and record: what a public credit portal shows of each listing that is
    published, within its publication period (``publication_from <= as_of <
    publication_to``), not removed on the day, and not ended by a case: `ends` (the case ends
    of :func:`publish.cases.case_effects`: ``unique_id``, ``credit_code``, ``role``, ``end``,
    ``end_reason``, ``case_id``) with an end reason of :data:`DISCLOSURE_ENDS` on or before
    `as_of` takes the listing out (an end for a legal representative only does not).

    `listings_with_publication` is :func:`with_publication`'s output (or those frames in one);
    `identifiers` is :func:`listing_identifiers` (a record without one shows none); the name
    is as listed, the identifier masked by the list's habit of the subject's type, with the
    list's basis and title.
    """
    rules = rules or load_publication()
    gone = pl.DataFrame(schema={"unique_id": pl.String})
    if ends is not None and not ends.is_empty():
        role = pl.col("role") if "role" in ends.columns else pl.lit(None, pl.String)
        gone = ends.filter(
            pl.col("end_reason").is_in(list(DISCLOSURE_ENDS))
            & (pl.col("end") <= as_of)
            & (role.is_null() | (role != "legal_representative"))
        ).select(pl.col("unique_id").cast(pl.String))
    ids = identifiers.select(
        pl.col("unique_id").cast(pl.String), pl.col("identifier").cast(pl.String)
    ).unique("unique_id", keep="last")
    parts = []
    for frame in _frames(listings_with_publication):
        list_id = str(frame["list_id"][0])
        shown = frame.filter(
            pl.col("published").fill_null(False)
            & (pl.col("publication_from") <= as_of)
            & (pl.col("publication_to") > as_of)
            & (pl.col("removed_on").is_null() | (pl.col("removed_on") > as_of))
        ).join(gone, on="unique_id", how="anti")
        if shown.is_empty():  # a red list's listings are never published
            continue
        spec = rules.for_list(list_id)
        ident = pl.col("identifier")
        masked = (
            pl.when(pl.col("subject_type") == "person")
            .then(spec.masking.person.expr(ident))
            .otherwise(spec.masking.organisation.expr(ident))
        )
        parts.append(
            shown.join(ids, on="unique_id", how="left", maintain_order="left").select(
                "unique_id",
                "list_id",
                pl.lit(LISTS[list_id].title).alias("list_title"),
                "subject_type",
                "subject_name",
                masked.alias("masked_identifier"),
                "reference",
                pl.lit(" ".join(spec.basis.split())).alias("basis"),
                "severity",
                "publication_from",
                "publication_to",
            )
        )
    if not parts:
        return pl.DataFrame(schema=DISCLOSURE_COLUMNS)
    out = pl.concat([p.select([pl.col(c).cast(t) for c, t in DISCLOSURE_COLUMNS.items()])
                     for p in parts])  # fmt: skip
    return out.sort("list_id", "publication_from", "unique_id")


def listing_identifiers(lake: Lake, as_of: date | None = None) -> pl.DataFrame:
    """``unique_id``, ``identifier``: the identifier (``id_norm``, as written, normalised) each
    listing record of the catalog's lists was published with, from the conformed subject
    tables ``conformed.subjects__<source>__<table>`` of the lists' tables: the latest version
    of each record (known at the end of `as_of`, China time, when given).
    """
    schema = {"unique_id": pl.String(), "identifier": pl.String()}
    datasets = sorted({subjects_dataset(s.source, s.table) for s in LISTS.values()})
    cols = ["_record_id", "_updated_utc", "_interval", "unique_id", "id_norm"]
    parts = []
    for dataset in datasets:
        frame = lake.read(LAYER, dataset, columns=cols)
        if frame.is_empty():
            continue
        if as_of is not None and "_updated_utc" in frame.columns:
            cut = datetime.combine(as_of + timedelta(days=1), time(), ZONE).astimezone(UTC)
            frame = frame.filter(pl.col("_updated_utc").is_null() | (pl.col("_updated_utc") < cut))
        frame = current_rows(frame)
        parts.append(
            frame.select(
                pl.col("unique_id").cast(pl.String),
                (pl.col("id_norm") if "id_norm" in frame.columns else pl.lit(None))
                .cast(pl.String)
                .alias("identifier"),
            )
        )
    if not parts:
        return pl.DataFrame(schema=schema)
    return pl.concat(parts).unique("unique_id", keep="last", maintain_order=True)
