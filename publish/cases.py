"""Credit repair and objections as recorded cases: the filings, and what they do on a day.

**The store.** Every filing is a record in the lake, in the layer ``cases``, one Parquet file
per filing (``cases/filings/interval=<case id>/data.parquet``: :data:`FILING_COLUMNS`),
written atomically (a temporary file renamed into place) under a lock that hands out the ids.
Nothing is ever replaced or deleted: a decision on an objection is one more record. The kinds:

- ``repair`` (``R-<day>-<n>``): a subject (or an operator on its behalf) applies for credit
  repair of one listing, with its evidence (the conduct is corrected, the obligations met) and
  whether it filed a public credit commitment (NDRC Order No. 36, in force 2026-04-01);
- ``representative_change`` (``R-<day>-<n>``): a former legal representative of a listed
  organisation applies to have the restriction they bear through it lifted (as the courts
  allow after a change of representative);
- ``objection`` (``O-<day>-<n>``): a subject objects to a listing (it should not be listed) or
  to a link (the listing is not theirs: ``scope`` ``link``);
- ``decision`` (``D-<day>-<n>``): an objection upheld or rejected, with the reason.

``<day>`` is the filing day (``YYYYMMDD``), ``<n>`` its number on that day. Functions:
:func:`file_repair`, :func:`file_objection`, :func:`decide_objection`, :func:`read_cases`.

**What they do** (:func:`case_effects`, pure): on a run's day ``as_of`` only the filings of
that day or before count (a backfill sees the cases as they were). A repair application is
assessed as of its filing day, on the listings and links it is given (the run's):

- refused when the listing is unknown (or not yet listed on the filing day), when the applicant
  is not the credit code of its accepted link (a link in review binds no one, and repairs
  nothing), when it was repaired or withdrawn before, when the rules declare it not repairable
  (``repairable``, ``not_repairable_reason`` of :func:`publish.publication.with_publication`),
  before the minimum publication period has passed (``repair_from``), when the obligations are
  not met as the source shows (``obligations_met``), or without a credit commitment;
- else accepted from its filing day: an :data:`ENDS_COLUMNS` row with no credit code (every
  restriction the listing caused ends that day, in every memorandum: "one repaired, all
  repaired"), ``end_reason`` ``repaired`` and the case id.

A representative change is accepted when the applicant was a legal representative of the
listing's organisation (``legal_reps``: ``credit_code`` the organisation, ``legal_rep_code``,
``in_office_from``, ``in_office_to`` exclusive; without terms everyone is taken to be in office)
and is not in office on the filing day: an ends row for the applicant alone, ``role``
``legal_representative``, ``end_reason`` ``representative_changed``.

An objection is open from its filing until its decision (an :data:`OPEN_OBJECTION_COLUMNS`
row: the restrictions it concerns show ``under_objection``); upheld, it ends them on the
decision day (``withdrawn``: a listing objection for every subject, and a withdrawn listing never
restricts again; a link objection for the objector alone, whose link stops binding); rejected,
nothing ends (the restrictions are restored). An objection is refused (no effect) when the
objector is not the listing's linked subject, when the listing was withdrawn before, or when the
same objector's objection on the listing is open or was decided already.

What the listing agency reports itself counts the same way: a listing removed as ``repaired``
is a repair decided by the agency ("whoever lists, repairs"), one removed as ``withdrawn`` (the
transport objection window) an objection it upheld; both appear in ``publish.repairs`` and
``publish.objections`` with ``origin`` ``source``, the case id made of the list and the
listing's reference (``<list>:<reference>``), and give the same ends rows (the same end as the
listing's own removal).

Days are ``pl.Date``; an end is the first day no longer in force.

Example:
    >>> lake = Lake(Path("data/lake"))                                    # doctest: +SKIP
    >>> filing = file_repair(lake, "11010519491231002X", "courts/SXBZXR/7",
    ...                      "judgment performed, receipt 2026-03-02", commitment=True,
    ...                      on=date(2026, 4, 2))                          # doctest: +SKIP
    >>> filing.case_id                                                    # doctest: +SKIP
    'R-20260402-1'
    >>> effects = case_effects(listings, links, legal_reps, read_cases(lake),
    ...                        as_of=date(2026, 4, 2))                     # doctest: +SKIP
    >>> effects.repair("R-20260402-1")["outcome"]                          # doctest: +SKIP
    'accepted'
    >>> effects.ends                                                      # doctest: +SKIP
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Literal

import polars as pl

from credlink.settings import ZONE

if TYPE_CHECKING:
    from credlink.etl.lake import Lake

__all__ = [
    "CASES_LAYER",
    "ENDS_COLUMNS",
    "FILINGS_DATASET",
    "FILING_COLUMNS",
    "OBJECTION_COLUMNS",
    "OPEN_OBJECTION_COLUMNS",
    "PUBLICATION_COLUMNS",
    "REPAIR_COLUMNS",
    "CaseEffects",
    "CaseError",
    "Cases",
    "Filing",
    "FilingFacts",
    "case_effects",
    "decide_objection",
    "file_objection",
    "file_repair",
    "filing_facts",
    "read_cases",
]

#: The lake layer and dataset of the case store.
CASES_LAYER = "cases"
FILINGS_DATASET = "filings"

Kind = Literal["repair", "representative_change", "objection", "decision"]
KINDS: tuple[str, ...] = ("repair", "representative_change", "objection", "decision")
#: The id prefix of each kind.
PREFIX: dict[str, str] = {
    "repair": "R",
    "representative_change": "R",
    "objection": "O",
    "decision": "D",
}
OUTCOMES: tuple[str, ...] = ("upheld", "rejected")
SCOPES: tuple[str, ...] = ("listing", "link")
#: The longest evidence, reason or note text a filing keeps.
MAX_TEXT = 4000

#: One filing of the store.
FILING_COLUMNS: dict[str, pl.DataType] = {
    "case_id": pl.String(),  # R-/O-/D-<YYYYMMDD>-<n>
    "kind": pl.String(),  # repair / representative_change / objection / decision
    "filed_on": pl.Date(),  # the filing day (a decision: the decision day)
    "applicant_code": pl.String(),  # the applicant or objector (null for a decision)
    "unique_id": pl.String(),  # the listing record (a decision: its objection's)
    "scope": pl.String(),  # objection: listing / link
    "text": pl.String(),  # the evidence (repair), the reason (objection, decision)
    "commitment": pl.Boolean(),  # repair: a credit commitment was filed
    "objection_id": pl.String(),  # decision: the objection decided
    "outcome": pl.String(),  # decision: upheld / rejected
    "recorded_at": pl.Datetime("us", "UTC"),  # when the record was written
    "recorded_by": pl.String(),  # who wrote it (an operator's login), if known
    # the facts on the filing day, as the platform knew them when recording it (null: not
    # recorded; the run's facts are used): the listing's accepted link and its band, and
    # whether the source showed the obligations met. A case is judged on these, so a later
    # relink or a later payment does not change what was decided.
    "linked_code": pl.String(),
    "link_band": pl.String(),
    "obligations_met": pl.Boolean(),
}

#: The listing columns the repair assessment reads (publish.publication.with_publication).
PUBLICATION_COLUMNS: dict[str, pl.DataType] = {
    "severity": pl.String(),
    "repair_from": pl.Date(),
    "repairable": pl.Boolean(),
    "not_repairable_reason": pl.String(),
    "obligations_met": pl.Boolean(),
}

#: What cases end: a listing's restrictions from a day (credit_code null: every subject; role
#: null: any role).
ENDS_COLUMNS: dict[str, pl.DataType] = {
    "unique_id": pl.String(),
    "credit_code": pl.String(),
    "role": pl.String(),
    "end": pl.Date(),
    "end_reason": pl.String(),  # repaired / withdrawn / representative_changed
    "case_id": pl.String(),
}

#: Objections open on the day (credit_code null: the whole listing; else the objector's link).
OPEN_OBJECTION_COLUMNS: dict[str, pl.DataType] = {
    "unique_id": pl.String(),
    "credit_code": pl.String(),
    "objection_id": pl.String(),
    "filed_on": pl.Date(),
}

#: ``publish.repairs`` (schemas/publish/tables/publish.repairs.yaml).
REPAIR_COLUMNS: dict[str, pl.DataType] = {
    "case_id": pl.String(),
    "kind": pl.String(),
    "origin": pl.String(),  # filed / source
    "unique_id": pl.String(),
    "list_id": pl.String(),
    "reference": pl.String(),
    "applicant_code": pl.String(),
    "filed_on": pl.Date(),
    "evidence": pl.String(),
    "commitment": pl.Boolean(),
    "severity": pl.String(),
    "repair_from": pl.Date(),
    "outcome": pl.String(),  # accepted / refused
    "refusal_reason": pl.String(),
    "may_apply_from": pl.Date(),
    "effective_from": pl.Date(),
    "recorded_at": pl.Datetime("us", "UTC"),
}

#: ``publish.objections`` (schemas/publish/tables/publish.objections.yaml).
OBJECTION_COLUMNS: dict[str, pl.DataType] = {
    "objection_id": pl.String(),
    "scope": pl.String(),  # listing / link
    "origin": pl.String(),  # filed / source
    "unique_id": pl.String(),
    "list_id": pl.String(),
    "reference": pl.String(),
    "objector_code": pl.String(),
    "filed_on": pl.Date(),
    "reason": pl.String(),
    "status": pl.String(),  # open / upheld / rejected / refused
    "refusal_reason": pl.String(),
    "decision_id": pl.String(),
    "decided_on": pl.Date(),
    "decision_reason": pl.String(),
    "recorded_at": pl.Datetime("us", "UTC"),
}


class CaseError(ValueError):
    """A filing the store refuses (nothing is recorded), or inputs a case cannot be assessed on."""


@dataclass(frozen=True)
class Filing:
    """One record of the store (:data:`FILING_COLUMNS`)."""

    case_id: str
    kind: str
    filed_on: date
    unique_id: str
    text: str
    applicant_code: str | None = None
    scope: str | None = None
    commitment: bool | None = None
    objection_id: str | None = None
    outcome: str | None = None
    recorded_at: datetime | None = None
    recorded_by: str | None = None
    linked_code: str | None = None
    link_band: str | None = None
    obligations_met: bool | None = None

    def frame(self) -> pl.DataFrame:
        """The filing as a one-row frame of :data:`FILING_COLUMNS`."""
        row = asdict(self)
        return pl.DataFrame([{c: row[c] for c in FILING_COLUMNS}], schema=FILING_COLUMNS)


@dataclass(frozen=True)
class Cases:
    """Every filing of the store (:data:`FILING_COLUMNS`), oldest first."""

    filings: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=FILING_COLUMNS))

    @classmethod
    def of(cls, filings: Iterable[Filing] | pl.DataFrame) -> Cases:
        """Cases from filings (or a frame of them): what tests build by hand."""
        if isinstance(filings, pl.DataFrame):
            frame = filings
        else:
            frames = [f.frame() for f in filings]
            frame = pl.concat(frames) if frames else pl.DataFrame(schema=FILING_COLUMNS)
        frame = frame.select(
            [
                (pl.col(c) if c in frame.columns else pl.lit(None)).cast(t).alias(c)
                for c, t in FILING_COLUMNS.items()
            ]
        )
        return cls(_in_order(frame))

    def find(self, case_id: str) -> dict[str, Any] | None:
        """The filing `case_id` as a dict, or None."""
        rows = self.filings.filter(pl.col("case_id") == case_id)
        return rows.row(0, named=True) if rows.height else None

    def kind(self, *kinds: str) -> pl.DataFrame:
        """The filings of these kinds."""
        return self.filings.filter(pl.col("kind").is_in(list(kinds)))


def _in_order(frame: pl.DataFrame) -> pl.DataFrame:
    """Filings in the order they were filed: by day, then as recorded, then by number."""
    number = pl.col("case_id").str.extract(r"-(\d+)$").cast(pl.Int64)
    return (
        frame.with_columns(number.alias("_n"))
        .sort("filed_on", "recorded_at", "_n", "case_id", nulls_last=True)
        .drop("_n")
    )


# --- the store ---------------------------------------------------------------------------------


def read_cases(lake: Lake) -> Cases:
    """Every filing recorded in `lake` (none: empty)."""
    frame = lake.read(CASES_LAYER, FILINGS_DATASET)
    if frame.is_empty():
        return Cases()
    if "interval" in frame.columns:  # the partition folder, when a reader adds it
        frame = frame.drop("interval")
    return Cases.of(frame)


def _moment(recorded_at: datetime | None) -> datetime:
    """When a filing is recorded, in UTC (default: now)."""
    if recorded_at is None:
        return datetime.now(UTC)
    if recorded_at.tzinfo is None:
        raise CaseError(f"recorded_at {recorded_at!r}: need a timezone-aware datetime")
    return recorded_at.astimezone(UTC)


def _today(moment: datetime) -> date:
    return moment.astimezone(ZONE).date()


#: A credit code's shape: 18 characters, a citizen identity number or a USCC (the CLI checks
#: the exact alphabets first, publish.explain.check_code_shape).
_CODE = re.compile(r"[0-9A-Z]{18}")


def _code(value: str, what: str) -> str:
    code = value.strip().upper()
    if not _CODE.fullmatch(code):
        shown = value[:24].encode("unicode_escape").decode("ascii")
        raise CaseError(f"{what} {shown!r} is not a credit code (18 digits and capitals)")
    return code


def _text(value: str, what: str) -> str:
    text = value.strip()
    if not text:
        raise CaseError(f"{what} is empty: say what the filing rests on")
    if len(text) > MAX_TEXT:
        raise CaseError(f"{what} has {len(text):,} characters; at most {MAX_TEXT:,}")
    return text


def _listing_id(value: str) -> str:
    uid = value.strip()
    if not uid or any(ord(c) < 32 for c in uid):
        raise CaseError(f"listing {value!r}: give the listing's unique_id, e.g. courts/SXBZXR/7")
    return uid


def _day(on: date | None, recorded_at: datetime, what: str) -> date:
    today = _today(recorded_at)
    day = on or today
    if day > today:
        raise CaseError(f"{what} dated {day}, after today ({today}): a filing is not dated ahead")
    return day


@dataclass(frozen=True)
class FilingFacts:
    """What the platform knows of a listing on a filing's day (recorded with the filing): its
    accepted link (``linked_code``, None when not accepted), the link's band (``none``: no
    link; None: no linkage run yet, the run's links decide) and whether the source shows the
    obligations met (None: unknown listing, the run's facts decide)."""

    linked_code: str | None = None
    link_band: str | None = None
    obligations_met: bool | None = None


def filing_facts(lake: Lake, unique_id: str, day: date) -> FilingFacts:
    """The facts of listing `unique_id` on `day` in `lake`: the last linkage run's link, and
    the obligations as the listings known on `day` show them (with their publication rules)."""
    from credlink.etl.catalog import read_table
    from credlink.etl.conform.apply import NotConformedError
    from credlink.publish.listings import read_listings
    from credlink.publish.publication import with_publication

    links = read_table(lake, "linkage.record_links")
    link = _accepted(links).get(unique_id, (None, "none")) if links.height else None
    met: bool | None = None
    try:
        listings = with_publication(read_listings(lake, day), day)
    except NotConformedError:
        listings = {}
    for frame in listings.values():
        if "obligations_met" not in frame.columns:
            continue
        rows = frame.filter(pl.col("unique_id") == unique_id)
        if rows.height:
            met = bool(rows["obligations_met"][0])
            break
    if link is None:
        return FilingFacts(obligations_met=met)
    return FilingFacts(linked_code=link[0], link_band=link[1], obligations_met=met)


def _next_id(cases: Cases, prefix: str, day: date) -> str:
    stem = f"{prefix}-{day:%Y%m%d}-"
    used = [
        int(m.group(1))
        for cid in cases.filings["case_id"].to_list()
        if (m := re.fullmatch(re.escape(stem) + r"(\d+)", cid or ""))
    ]
    return f"{stem}{max(used, default=0) + 1}"


def _record(
    lake: Lake,
    kind: str,
    day: date,
    make: Callable[[str], Filing],
    check: Callable[[Cases], None] | None = None,
) -> Filing:
    """Under the store's lock: `check` the cases recorded so far, give the filing its id
    (`make(case_id)`) and write its file (never over another)."""
    base = lake.location / CASES_LAYER / FILINGS_DATASET
    with lake.lock(base / ".filing.lock", f"filing a {kind} case"):
        cases = read_cases(lake)
        if check is not None:
            check(cases)
        case_id = _next_id(cases, PREFIX[kind], day)
        filing = make(case_id)
        if lake.partition_location(CASES_LAYER, FILINGS_DATASET, case_id).exists():
            raise CaseError(f"{case_id} is recorded already; nothing is replaced")
        lake.write(CASES_LAYER, FILINGS_DATASET, case_id, filing.frame())
    return filing


def file_repair(
    lake: Lake,
    code: str,
    unique_id: str,
    evidence: str,
    *,
    commitment: bool,
    on: date | None = None,
    representative_change: bool = False,
    recorded_at: datetime | None = None,
    recorded_by: str | None = None,
    facts: FilingFacts | None = None,
) -> Filing:
    """Record an application by `code` for the repair of listing `unique_id` (or, with
    `representative_change`, by a former legal representative for the restriction they bear
    through the listed organisation to be lifted), filed on `on` (default: today in China), with
    its `evidence` and whether a credit `commitment` was filed. Returns the recorded filing
    (``R-<day>-<n>``); whether it is eligible is :func:`case_effects`' to say.

    :class:`CaseError` (nothing recorded) for a code that is not a credit code, an empty
    evidence text or a day after today. The listing's `facts` on the filing day (default:
    :func:`filing_facts` of the lake) are recorded with it: the case is judged on them.
    """
    moment = _moment(recorded_at)
    kind = "representative_change" if representative_change else "repair"
    applicant = _code(code, "applicant")
    uid = _listing_id(unique_id)
    text = _text(evidence, "the evidence")
    day = _day(on, moment, "an application")
    known = facts if facts is not None else filing_facts(lake, uid, day)
    return _record(
        lake,
        kind,
        day,
        lambda case_id: Filing(
            case_id=case_id,
            kind=kind,
            filed_on=day,
            unique_id=uid,
            text=text,
            applicant_code=applicant,
            commitment=bool(commitment),
            recorded_at=moment,
            recorded_by=recorded_by,
            linked_code=known.linked_code,
            link_band=known.link_band,
            obligations_met=known.obligations_met,
        ),
    )


def file_objection(
    lake: Lake,
    code: str,
    unique_id: str,
    reason: str,
    *,
    link: bool = False,
    on: date | None = None,
    recorded_at: datetime | None = None,
    recorded_by: str | None = None,
    facts: FilingFacts | None = None,
) -> Filing:
    """Record an objection by `code` to listing `unique_id` (or, with `link`, to the listing's
    link to `code`: the listing is not theirs), filed on `on` (default: today in China), with its
    `reason`. Returns the recorded filing (``O-<day>-<n>``); whether it is open or refused is
    :func:`case_effects`' to say. The listing's `facts` on the filing day (default:
    :func:`filing_facts` of the lake) are recorded with it: who may object is judged on them.
    """
    moment = _moment(recorded_at)
    objector = _code(code, "objector")
    uid = _listing_id(unique_id)
    text = _text(reason, "the reason")
    day = _day(on, moment, "an objection")
    known = facts if facts is not None else filing_facts(lake, uid, day)
    return _record(
        lake,
        "objection",
        day,
        lambda case_id: Filing(
            case_id=case_id,
            kind="objection",
            filed_on=day,
            unique_id=uid,
            text=text,
            applicant_code=objector,
            scope="link" if link else "listing",
            recorded_at=moment,
            recorded_by=recorded_by,
            linked_code=known.linked_code,
            link_band=known.link_band,
        ),
    )


def decide_objection(
    lake: Lake,
    objection_id: str,
    outcome: str,
    reason: str,
    *,
    on: date | None = None,
    recorded_at: datetime | None = None,
    recorded_by: str | None = None,
) -> Filing:
    """Record the decision on objection `objection_id`: `outcome` ``upheld`` or ``rejected``,
    with its `reason`, on `on` (default: today in China). Returns the recorded decision
    (``D-<day>-<n>``).

    :class:`CaseError` (nothing recorded) for an unknown objection, one decided already (one
    decision per objection: a decided case is not heard again), or a day before its filing.
    """
    moment = _moment(recorded_at)
    if outcome not in OUTCOMES:
        raise CaseError(f"outcome {outcome!r}: say upheld or rejected")
    wanted = objection_id.strip()
    text = _text(reason, "the reason")
    day = _day(on, moment, "a decision")
    found: dict[str, Any] = {}

    def check(cases: Cases) -> None:
        objection = cases.find(wanted)
        if objection is None or objection["kind"] != "objection":
            known = cases.kind("objection")["case_id"].to_list()
            raise CaseError(
                f"no objection {wanted!r} is recorded (objections: {known[-5:] or 'none'})"
            )
        earlier = cases.kind("decision").filter(pl.col("objection_id") == wanted)
        if earlier.height:
            d = earlier.row(0, named=True)
            raise CaseError(
                f"objection {wanted} was decided already: {d['outcome']} on {d['filed_on']} "
                f"({d['case_id']}); a decided case is not heard again"
            )
        if day < objection["filed_on"]:
            raise CaseError(
                f"objection {wanted} was filed on {objection['filed_on']}: it cannot be decided "
                f"on {day}, before"
            )
        found.update(objection)

    return _record(
        lake,
        "decision",
        day,
        lambda case_id: Filing(
            case_id=case_id,
            kind="decision",
            filed_on=day,
            unique_id=found["unique_id"],
            text=text,
            objection_id=wanted,
            outcome=outcome,
            recorded_at=moment,
            recorded_by=recorded_by,
        ),
        check,
    )


# --- what the cases do on a day -----------------------------------------------------------------


@dataclass(frozen=True)
class CaseEffects:
    """What the cases do on a run's day (:func:`case_effects`)."""

    #: :data:`ENDS_COLUMNS`: restrictions the cases end, from which day
    ends: pl.DataFrame
    #: :data:`OPEN_OBJECTION_COLUMNS`: objections open on the day
    open_objections: pl.DataFrame
    #: ``publish.repairs`` rows (:data:`REPAIR_COLUMNS`)
    repairs: pl.DataFrame
    #: ``publish.objections`` rows (:data:`OBJECTION_COLUMNS`)
    objections: pl.DataFrame

    def repair(self, case_id: str) -> dict[str, Any] | None:
        """The assessment of application `case_id` (a ``publish.repairs`` row), or None."""
        rows = self.repairs.filter(pl.col("case_id") == case_id)
        return rows.row(0, named=True) if rows.height else None

    def objection(self, objection_id: str) -> dict[str, Any] | None:
        """Objection `objection_id`'s state (a ``publish.objections`` row), or None."""
        rows = self.objections.filter(pl.col("objection_id") == objection_id)
        return rows.row(0, named=True) if rows.height else None


_FACTS: dict[str, pl.DataType] = {
    "unique_id": pl.String(),
    "list_id": pl.String(),
    "subject_type": pl.String(),
    "reference": pl.String(),
    "listed_on": pl.Date(),
    "removed_on": pl.Date(),
    "removal_reason": pl.String(),
    **PUBLICATION_COLUMNS,
}


def _facts(listings: Mapping[str, pl.DataFrame]) -> tuple[pl.DataFrame, list[str]]:
    """The listings' columns the cases read, in one frame; and the lists lacking the
    publication columns."""
    frames, lacking = [], []
    for list_id, frame in listings.items():
        if frame.is_empty():
            continue
        if any(c not in frame.columns for c in PUBLICATION_COLUMNS):
            lacking.append(list_id)
        frames.append(
            frame.select(
                [
                    (pl.col(c) if c in frame.columns else pl.lit(None)).cast(t).alias(c)
                    for c, t in _FACTS.items()
                ]
            )
        )
    every = pl.concat(frames) if frames else pl.DataFrame(schema=_FACTS)
    return every.unique("unique_id", keep="first", maintain_order=True), lacking


def _accepted(links: pl.DataFrame) -> dict[str, tuple[str | None, str]]:
    """unique_id -> (the accepted link's credit code or None, the band)."""
    if links.is_empty():
        return {}
    band = pl.col("band") if "band" in links.columns else pl.col("link_band")
    rows = links.select(
        pl.col("unique_id").cast(pl.String),
        pl.when(band == "accept").then(pl.col("credit_code")).cast(pl.String).alias("code"),
        band.cast(pl.String).fill_null("none").alias("band"),
    ).unique("unique_id", keep="last")
    return {uid: (code, b) for uid, code, b in rows.iter_rows()}


def _terms(
    legal_reps: pl.DataFrame,
) -> dict[tuple[str, str], list[tuple[date | None, date | None]]]:
    """(organisation, representative) -> their terms (from, to exclusive; None: unknown start /
    in office). Without term columns every representative is in office."""
    if legal_reps.is_empty():
        return {}
    cols = [
        pl.col("credit_code").cast(pl.String),
        pl.col("legal_rep_code").cast(pl.String),
        *[
            (pl.col(c) if c in legal_reps.columns else pl.lit(None)).cast(pl.Date).alias(c)
            for c in ("in_office_from", "in_office_to")
        ],
    ]
    out: dict[tuple[str, str], list[tuple[date | None, date | None]]] = {}
    for org, rep, start, end in (
        legal_reps.select(cols).drop_nulls(["credit_code", "legal_rep_code"]).iter_rows()
    ):
        out.setdefault((org, rep), []).append((start, end))
    return out


def _source_case_id(list_id: str | None, reference: str | None, uid: str) -> str:
    return f"{list_id}:{reference or uid}"


@dataclass
class _Book:
    """What the cases decided so far, in filing order."""

    ends: list[dict[str, Any]] = field(default_factory=list)
    repairs: list[dict[str, Any]] = field(default_factory=list)
    objections: list[dict[str, Any]] = field(default_factory=list)
    opened: list[dict[str, Any]] = field(default_factory=list)
    #: unique_id -> [(day, case id)] the listing was withdrawn (a listing objection upheld)
    withdrawn: dict[str, list[tuple[date, str]]] = field(default_factory=dict)
    #: unique_id -> [(day, case id)] the listing was repaired
    repaired: dict[str, list[tuple[date, str]]] = field(default_factory=dict)
    #: (unique_id, code) -> [(day, case id)] a former representative's restriction was lifted
    lifted: dict[tuple[str, str], list[tuple[date, str]]] = field(default_factory=dict)
    #: (unique_id, objector) -> [(filed, decided or None, objection id, outcome)]
    heard: dict[tuple[str, str], list[tuple[date, date | None, str, str | None]]] = field(
        default_factory=dict
    )


def _first_by(marks: list[tuple[date, str]], day: date) -> tuple[date, str] | None:
    done = sorted(m for m in marks if m[0] <= day)
    return done[0] if done else None


def _known_on(fact: dict[str, Any] | None, uid: str, day: date) -> str | None:
    """Why the listing cannot be the subject of a case filed on `day` (None: it can)."""
    if fact is None:
        return f"unknown listing {uid}"
    if fact["listed_on"] is not None and fact["listed_on"] > day:
        return f"listing {uid} was not listed yet on {day} (listed on {fact['listed_on']})"
    return None


def _not_theirs(code: str, uid: str, link: tuple[str | None, str] | None) -> str | None:
    """Why `code` is not the subject bound by listing `uid` (None: it is)."""
    if link is None or link[1] == "none":
        return f"listing {uid} has no link to a credit code: it binds no one"
    linked, band = link
    if linked is None:
        return f"the link of listing {uid} is not accepted (band {band}): it binds no one"
    if linked != code:
        return f"{code} is not the subject of listing {uid} (its accepted link is to another code)"
    return None


def _withdrawn_before(book: _Book, fact: dict[str, Any], uid: str, day: date) -> str | None:
    """Why listing `uid` no longer restricts on `day` because it was withdrawn (None: it was
    not): by the listing agency, or by an upheld objection to the listing."""
    removed = fact["removed_on"]
    if fact["removal_reason"] == "withdrawn" and removed is not None and removed <= day:
        return (
            f"listing {uid} was withdrawn on {fact['removed_on']} by the listing agency: "
            "a withdrawn listing never restricts again"
        )
    withdrawn = _first_by(book.withdrawn.get(uid, []), day)
    if withdrawn is not None:
        return (
            f"listing {uid} was withdrawn on {withdrawn[0]} ({withdrawn[1]}): a withdrawn "
            "listing never restricts again"
        )
    return None


def _ended_before(book: _Book, fact: dict[str, Any], uid: str, day: date) -> str | None:
    """Why nothing of listing `uid` is left to lift on `day` (None: something is): it was
    withdrawn or repaired before."""
    withdrawn = _withdrawn_before(book, fact, uid, day)
    if withdrawn is not None:
        return withdrawn
    removed = fact["removed_on"]
    if fact["removal_reason"] == "repaired" and removed is not None and removed <= day:
        return f"listing {uid} was repaired on {fact['removed_on']} by the listing agency"
    repaired = _first_by(book.repaired.get(uid, []), day)
    if repaired is not None:
        return f"listing {uid} was repaired already, from {repaired[0]} ({repaired[1]})"
    return None


def _repair_row(filing: dict[str, Any], fact: dict[str, Any] | None) -> dict[str, Any]:
    fact = fact or {}
    return {
        "case_id": filing["case_id"],
        "kind": filing["kind"],
        "origin": "filed",
        "unique_id": filing["unique_id"],
        "list_id": fact.get("list_id"),
        "reference": fact.get("reference"),
        "applicant_code": filing["applicant_code"],
        "filed_on": filing["filed_on"],
        "evidence": filing["text"],
        "commitment": filing["commitment"],
        "severity": fact.get("severity"),
        "repair_from": fact.get("repair_from"),
        "outcome": "refused",
        "refusal_reason": None,
        "may_apply_from": None,
        "effective_from": None,
        "recorded_at": filing["recorded_at"],
    }


def _assess_repair(
    book: _Book,
    filing: dict[str, Any],
    fact: dict[str, Any] | None,
    link: tuple[str | None, str] | None,
    lacking: list[str],
) -> None:
    uid, code, day = filing["unique_id"], filing["applicant_code"], filing["filed_on"]
    row = _repair_row(filing, fact)
    reasons: list[str] = []
    blocked = _known_on(fact, uid, day) or _not_theirs(code, uid, link)
    if blocked is None and fact is not None:
        blocked = _ended_before(book, fact, uid, day)
    if blocked is not None:
        reasons.append(blocked)
    else:
        assert fact is not None
        if fact["list_id"] in lacking:
            raise CaseError(
                f"list {fact['list_id']}: the listings lack the publication columns "
                f"{sorted(PUBLICATION_COLUMNS)} (publish.publication.with_publication) that a "
                "repair is assessed on"
            )
        if not fact["repairable"]:
            why = fact["not_repairable_reason"] or "the rules declare it not repairable"
            reasons.append(f"not repairable: {why}")
        else:
            start = fact["repair_from"]
            if start is not None and day < start:
                reasons.append(f"the minimum publication period runs until {start}")
            if not fact["obligations_met"]:
                reasons.append("the obligations are not met as the source shows")
            if not filing["commitment"]:
                reasons.append("no credit commitment was filed")
            row["may_apply_from"] = start if reasons else None
    if reasons:
        row["refusal_reason"] = "; ".join(reasons)
    else:
        row["outcome"] = "accepted"
        row["effective_from"] = day
        book.repaired.setdefault(uid, []).append((day, filing["case_id"]))
        book.ends.append(
            {"unique_id": uid, "credit_code": None, "role": None, "end": day,
             "end_reason": "repaired", "case_id": filing["case_id"]}
        )  # fmt: skip
    book.repairs.append(row)


def _assess_representative(
    book: _Book,
    filing: dict[str, Any],
    fact: dict[str, Any] | None,
    link: tuple[str | None, str] | None,
    terms: dict[tuple[str, str], list[tuple[date | None, date | None]]],
) -> None:
    uid, code, day = filing["unique_id"], filing["applicant_code"], filing["filed_on"]
    row = _repair_row(filing, fact)
    org = link[0] if link is not None else None
    reason = _known_on(fact, uid, day)
    if reason is None and fact is not None and fact["subject_type"] != "organisation":
        reason = f"listing {uid} is not an organisation's: it binds no legal representative"
    if reason is None and org is None:
        reason = _not_theirs("", uid, link)  # no link, or not accepted: it binds no one
    if reason is None and fact is not None:
        reason = _ended_before(book, fact, uid, day)
    mine = terms.get((org or "", code), [])
    if reason is None and not mine:
        reason = f"{code} was never the legal representative of {org} as the registry shows"
    if reason is None:
        current = [
            (start, end)
            for start, end in mine
            if (start is None or start <= day) and (end is None or day < end)
        ]
        if current:
            ends = [end for _start, end in current]
            if all(end is not None for end in ends):
                row["may_apply_from"] = max(e for e in ends if e is not None)
                reason = f"{code} is the legal representative of {org} in office on {day}"
            else:
                reason = (
                    f"{code} is the legal representative of {org} in office on {day} (the "
                    "registry gives no end of the term)"
                )
    if reason is None:
        lifted = _first_by(book.lifted.get((uid, code), []), day)
        if lifted is not None:
            reason = f"lifted already for {code}, from {lifted[0]} ({lifted[1]})"
    if reason is not None:
        row["refusal_reason"] = reason
    else:
        row["outcome"] = "accepted"
        row["effective_from"] = day
        book.lifted.setdefault((uid, code), []).append((day, filing["case_id"]))
        book.ends.append(
            {"unique_id": uid, "credit_code": code, "role": "legal_representative", "end": day,
             "end_reason": "representative_changed", "case_id": filing["case_id"]}
        )  # fmt: skip
    book.repairs.append(row)


def _assess_objection(
    book: _Book,
    filing: dict[str, Any],
    decision: dict[str, Any] | None,
    fact: dict[str, Any] | None,
    link: tuple[str | None, str] | None,
) -> None:
    uid, code, day = filing["unique_id"], filing["applicant_code"], filing["filed_on"]
    oid = filing["case_id"]
    fact_ = fact or {}
    row: dict[str, Any] = {
        "objection_id": oid,
        "scope": filing["scope"],
        "origin": "filed",
        "unique_id": uid,
        "list_id": fact_.get("list_id"),
        "reference": fact_.get("reference"),
        "objector_code": code,
        "filed_on": day,
        "reason": filing["text"],
        "status": "refused",
        "refusal_reason": None,
        "decision_id": None,
        "decided_on": None,
        "decision_reason": None,
        "recorded_at": filing["recorded_at"],
    }
    reason = _known_on(fact, uid, day) or _not_theirs(code, uid, link)
    if reason is None and fact is not None:
        reason = _withdrawn_before(book, fact, uid, day)
    if reason is None:
        for filed, decided, other, outcome in book.heard.get((uid, code), []):
            if decided is not None and decided <= day:
                reason = (
                    f"objection {other} of {code} to listing {uid} was decided on {decided} "
                    f"({outcome}): a decided case is not heard again"
                )
                break
            if filed <= day:
                reason = f"objection {other} of {code} to listing {uid} is open already"
                break
    if reason is not None:
        row["refusal_reason"] = reason
        book.objections.append(row)
        return
    scope_code = code if filing["scope"] == "link" else None
    if decision is None:
        row["status"] = "open"
        book.opened.append(
            {"unique_id": uid, "credit_code": scope_code, "objection_id": oid, "filed_on": day}
        )
        book.heard.setdefault((uid, code), []).append((day, None, oid, None))
    else:
        decided = decision["filed_on"]
        row.update(
            status=decision["outcome"],
            decision_id=decision["case_id"],
            decided_on=decided,
            decision_reason=decision["text"],
        )
        book.heard.setdefault((uid, code), []).append((day, decided, oid, decision["outcome"]))
        if decision["outcome"] == "upheld":
            book.ends.append(
                {"unique_id": uid, "credit_code": scope_code, "role": None, "end": decided,
                 "end_reason": "withdrawn", "case_id": oid}
            )  # fmt: skip
            if scope_code is None:
                book.withdrawn.setdefault(uid, []).append((decided, oid))
    book.objections.append(row)


def _source_cases(
    facts: pl.DataFrame, links: dict[str, tuple[str | None, str]], as_of: date
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """The repairs and upheld objections the listing agencies report (removals ``repaired`` /
    ``withdrawn`` known on `as_of`): publish.repairs rows, publish.objections rows, ends rows."""
    reported = facts.filter(
        pl.col("removal_reason").is_in(["repaired", "withdrawn"])
        & pl.col("removed_on").is_not_null()
        & (pl.col("removed_on") <= as_of)
    )
    repairs, objections, ends = [], [], []
    for fact in reported.iter_rows(named=True):
        uid, day = fact["unique_id"], fact["removed_on"]
        code = links.get(uid, (None, "none"))[0]
        case_id = _source_case_id(fact["list_id"], fact["reference"], uid)
        reason = fact["removal_reason"]
        ends.append({"unique_id": uid, "credit_code": None, "role": None, "end": day,
                     "end_reason": reason, "case_id": case_id})  # fmt: skip
        if reason == "repaired":
            repairs.append(
                {"case_id": case_id, "kind": "repair", "origin": "source", "unique_id": uid,
                 "list_id": fact["list_id"], "reference": fact["reference"],
                 "applicant_code": code, "filed_on": None, "evidence": None, "commitment": None,
                 "severity": fact["severity"], "repair_from": fact["repair_from"],
                 "outcome": "accepted", "refusal_reason": None, "may_apply_from": None,
                 "effective_from": day, "recorded_at": None}
            )  # fmt: skip
        else:
            objections.append(
                {"objection_id": case_id, "scope": "listing", "origin": "source",
                 "unique_id": uid, "list_id": fact["list_id"], "reference": fact["reference"],
                 "objector_code": code, "filed_on": None, "reason": None, "status": "upheld",
                 "refusal_reason": None, "decision_id": None, "decided_on": day,
                 "decision_reason": "withdrawn by the listing agency in its objection window",
                 "recorded_at": None}
            )  # fmt: skip
    return repairs, objections, ends


def _frame(rows: list[dict[str, Any]], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=schema) if rows else pl.DataFrame(schema=schema)


def case_effects(
    listings: Mapping[str, pl.DataFrame],
    links: pl.DataFrame,
    legal_reps: pl.DataFrame,
    cases: Cases,
    as_of: date,
) -> CaseEffects:
    """What the cases filed on or before `as_of` do on that day (see the module doc); pure.

    `listings`: list id -> listing frame with the publication columns
    (:func:`publish.publication.with_publication`; a list without them raises
    :class:`CaseError` only when a repair of one of its listings is assessed); `links`:
    ``linkage.record_links`` (``unique_id``, ``credit_code``, ``band``); `legal_reps`:
    ``credit_code`` (the organisation), ``legal_rep_code``, and where known ``in_office_from``,
    ``in_office_to``; `cases`: :func:`read_cases`.
    """
    facts, lacking = _facts(listings)
    accepted = _accepted(links)
    terms = _terms(legal_reps)
    filings = cases.filings.filter(pl.col("filed_on") <= as_of)
    decisions: dict[str, dict[str, Any]] = {}
    for d in filings.filter(pl.col("kind") == "decision").iter_rows(named=True):
        decisions.setdefault(d["objection_id"], d)
    wanted = filings.filter(pl.col("kind") != "decision")["unique_id"].unique().to_list()
    by_uid = {
        r["unique_id"]: r
        for r in facts.filter(pl.col("unique_id").is_in(wanted)).iter_rows(named=True)
    }
    book = _Book()

    def link_of(f: dict[str, Any]) -> tuple[str | None, str] | None:
        """The link the filing recorded on its day, else the run's."""
        if f.get("link_band") is not None:
            return (f["linked_code"], f["link_band"])
        return accepted.get(f["unique_id"])

    def fact_of(f: dict[str, Any]) -> dict[str, Any] | None:
        """The listing's facts, with the obligations the filing recorded on its day."""
        fact = by_uid.get(f["unique_id"])
        if fact is not None and f.get("obligations_met") is not None:
            fact = {**fact, "obligations_met": f["obligations_met"]}
        return fact

    # objections first: a repair may find its listing withdrawn, never the other way round
    for f in filings.filter(pl.col("kind") == "objection").iter_rows(named=True):
        _assess_objection(book, f, decisions.get(f["case_id"]), fact_of(f), link_of(f))
    for f in filings.filter(pl.col("kind").is_in(["repair", "representative_change"])).iter_rows(
        named=True
    ):
        if f["kind"] == "repair":
            _assess_repair(book, f, fact_of(f), link_of(f), lacking)
        else:
            _assess_representative(book, f, fact_of(f), link_of(f), terms)
    src_repairs, src_objections, src_ends = _source_cases(facts, accepted, as_of)
    repairs = _frame(book.repairs + src_repairs, REPAIR_COLUMNS)
    objections = _frame(book.objections + src_objections, OBJECTION_COLUMNS)
    ends = _frame(book.ends + src_ends, ENDS_COLUMNS)
    return CaseEffects(
        ends=ends.sort("unique_id", "end", "case_id", nulls_last=True),
        open_objections=_frame(book.opened, OPEN_OBJECTION_COLUMNS).sort(
            "unique_id", "objection_id"
        ),
        repairs=repairs.sort("case_id", "unique_id"),
        objections=objections.sort("objection_id", "unique_id"),
    )
