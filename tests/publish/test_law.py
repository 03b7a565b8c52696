"""The law since 2020 through a whole publishing run (:func:`publish.stage.publish_tables`), on
hand-made listings and over consecutive runs: credit repair lifting everything a listing caused
("one repaired, all repaired") and the history and as-of queries across it, the refusals,
objections (open, rejected, upheld; a listing or a link), a change of legal representative,
publication bounds and masking in ``publish.public_disclosure``, joint incentives withheld from
a blacklisted taxpayer, and the contracts of every table such a run writes.

The cases are filed in a lake of the test's own (:func:`publish.cases.file_repair`,
:func:`~publish.cases.file_objection`, :func:`~publish.cases.decide_objection`) and read back
for each run (:func:`~publish.cases.read_cases`), as :func:`publish.stage.run_publish` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
from handmade import (
    LEGAL_REPS,
    ORG,
    PERSON,
    PERSON_2,
    REGISTRY,
    REP,
    court,
    link,
    links,
    listings,
    staged,
    tax_case,
    tax_grade,
)

from credlink.etl.lake import Lake
from credlink.publish.cases import (
    Filing,
    FilingFacts,
    decide_objection,
    file_objection,
    file_repair,
    read_cases,
)
from credlink.publish.contracts import check_warehouse, warehouse_contract
from credlink.publish.history import HISTORY_COLUMNS, in_force_on
from credlink.publish.incentives import INCENTIVE_HISTORY_COLUMNS, load_incentives
from credlink.publish.memoranda import Memorandum
from credlink.publish.publication import with_publication
from credlink.publish.stage import Published, publish_tables
from credlink.publish.warehouse import build_warehouse

ORG_2 = "91310000MA1FL8KQ3N"
REP_2 = "110101198502020028"
TAX = "tax/zdsswfaj/1"
TAX_MEMO = "major_tax_violators_2014"
TRANSPORT_MEMO = "cross_list_transport_2018"
REGISTRY_ALL = pl.concat(
    [
        REGISTRY,
        pl.DataFrame(
            {
                "credit_code": [ORG_2, REP_2],
                "subject_type": ["organisation", "person"],
                "name": ["上海某某有限公司", "赵敏"],
                "region": ["310000", "110101"],
            }
        ),
    ]
)
#: The columns of :func:`publish.stage.legal_representatives`.
REP_SCHEMA: dict[str, pl.DataType] = {
    "credit_code": pl.String(),
    "legal_rep_code": pl.String(),
    "rep_link_method": pl.String(),
    "rep_link_probability": pl.Float64(),
    "rep_name_agreement": pl.String(),
    "rep_evidence": pl.List(pl.String()),
    "in_office_from": pl.Date(),
    "in_office_to": pl.Date(),
}


def _at(day: date) -> datetime:
    """Noon in China on `day`, in UTC: when a filing of that day is recorded."""
    return datetime(day.year, day.month, day.day, 4, tzinfo=UTC)


def unpaid(rid: int = 1, **fields: Any) -> dict[str, Any]:
    """ORG's major tax violation (:func:`handmade.tax_case`: published 2024-03-01, serious, 3
    years, repairable from 2025-03-01) as entered on its publication day, nothing paid."""
    return tax_case(rid, **{"updated": _at(fields.get("published_on", date(2024, 3, 1))), **fields})


def paid(rid: int = 1, on: date = date(2024, 9, 1), **fields: Any) -> list[dict[str, Any]]:
    """Both versions of the staged violation: entered unpaid on its publication day, then
    updated the day tax, late fees and fines were paid in full (`on`; the source shows it from
    that day) and still published: the obligations are met from `on`."""
    return [unpaid(rid, **fields), tax_case(rid, **{**fields, "paid_on": on, "updated": _at(on)})]


def flight(rid: int, **fields: Any) -> dict[str, Any]:
    """A staged flight ban of PERSON_2: published 2024-03-05, in force 2024-03-14 for a year."""
    return {
        "id": rid,
        "subject_type": "person",
        "subject_name": "李娜",
        "FlightNumber": "CA1234",
        "behaviour": "smoking_on_board",
        "published_on": date(2024, 3, 5),
        "effective_from": date(2024, 3, 14),
        "expires_on": date(2025, 3, 14),
        "status": "active",
        **fields,
    }


def food(rid: int, **fields: Any) -> dict[str, Any]:
    """A staged serious food-safety violation of ORG decided 2024-06-01 (a fine of 10,000 yuan:
    the general grade, published for one year)."""
    return {
        "id": rid,
        "subject_type": "organisation",
        "subject_name": "北京某某有限公司",
        "decision_no": f"京市监罚〔2024〕{rid}号",
        "licence_no": "JY11101050000011",
        "violation_type": "expired_food",
        "revoked": "no",
        "fine_amount_yuan": 10_000.0,
        "decided_date": date(2024, 6, 1),
        **fields,
    }


def terms(*rows: tuple[str, str, date | None, date | None]) -> pl.DataFrame:
    """Legal representatives with their terms (organisation, representative, from, to
    exclusive), each linked by a full citizen ID, as :func:`publish.stage.legal_representatives`
    gives them."""
    return pl.DataFrame(
        [
            {
                "credit_code": org,
                "legal_rep_code": rep,
                "rep_link_method": "deterministic",
                "rep_link_probability": 1.0,
                "rep_name_agreement": "exact",
                "rep_evidence": ["citizen_id"],
                "in_office_from": start,
                "in_office_to": end,
            }
            for org, rep, start, end in rows
        ],
        schema=REP_SCHEMA,
    )


@dataclass
class Runs:
    """Consecutive publishing runs on hand-made staged tables: each run reads the cases filed
    in `lake` and the history, runs and incentive history the run before left."""

    lake: Lake
    memoranda: list[Memorandum]
    tables: dict[str, pl.DataFrame]
    record_links: pl.DataFrame
    legal_reps: pl.DataFrame = field(default_factory=lambda: LEGAL_REPS)
    incentives: bool = False
    last: Published | None = None

    def run(self, day: date, run_id: str | None = None) -> Published:
        n = 1 if self.last is None else self.last.runs.height + 1
        history = pl.DataFrame(schema=HISTORY_COLUMNS) if self.last is None else self.last.history
        rewards = None if self.last is None else self.last.incentive_history
        self.last = publish_tables(
            listings(self.tables, day),
            self.record_links,
            self.memoranda,
            legal_reps=self.legal_reps,
            registry=REGISTRY_ALL,
            history=history,
            run_id=run_id or f"r{n}",
            as_of=day,
            runs=None if self.last is None else self.last.runs,
            cases=read_cases(self.lake),
            identifiers=self.record_links.select(
                "unique_id", pl.col("candidate_code").alias("identifier")
            ),
            incentives=load_incentives() if self.incentives else (),
            incentive_history=rewards
            if rewards is not None
            else pl.DataFrame(schema=INCENTIVE_HISTORY_COLUMNS),
        )
        return self.last

    def facts(self, uid: str, on: date) -> FilingFacts:
        """What the platform knows of the listing on the filing day (recorded with the filing,
        as ``credlink repair apply`` records the lake's): its link now, its obligations then."""
        link = self.record_links.filter(pl.col("unique_id") == uid)
        band = str(link["band"][0]) if link.height else "none"
        code = link["credit_code"][0] if link.height and band == "accept" else None
        met = None
        for frame in with_publication(listings(self.tables, on), on).values():
            rows = frame.filter(pl.col("unique_id") == uid)
            if rows.height:
                met = bool(rows["obligations_met"][0])
        return FilingFacts(linked_code=code, link_band=band, obligations_met=met)

    def repair(
        self, code: str, uid: str, on: date, *, commitment: bool = True, former_rep: bool = False
    ) -> Filing:
        return file_repair(
            self.lake,
            code,
            uid,
            "tax, late fees and fines paid; receipt attached",
            commitment=commitment,
            on=on,
            representative_change=former_rep,
            recorded_at=_at(on),
            facts=self.facts(uid, on),
        )

    def object(self, code: str, uid: str, on: date, *, link: bool = False) -> Filing:
        return file_objection(
            self.lake, code, uid, "not ours", link=link, on=on, recorded_at=_at(on),
            facts=self.facts(uid, on),
        )  # fmt: skip

    def decide(self, objection: Filing, outcome: str, on: date) -> Filing:
        reason = f"{outcome} on review"
        return decide_objection(
            self.lake, objection.case_id, outcome, reason, on=on, recorded_at=_at(on)
        )


def _runs(
    tmp_path: Path,
    memoranda: list[Memorandum],
    tables: Mapping[str, pl.DataFrame],
    record_links: pl.DataFrame,
    **kw: Any,
) -> Runs:
    return Runs(Lake(tmp_path / "lake"), memoranda, dict(tables), record_links, **kw)


def _tax_runs(
    tmp_path: Path, memoranda: list[Memorandum], rows: list[dict[str, Any]] | None = None
) -> Runs:
    """Runs on ORG's major tax violations `rows` (default: one, paid 2024-09-01), linked to ORG."""
    rows = rows if rows is not None else paid()
    tables = {"tax__zdsswfaj": staged("tax", "zdsswfaj", rows)}
    lk = links(*(link(f"tax/zdsswfaj/{i}", ORG) for i in sorted({r["id"] for r in rows})))
    return _runs(tmp_path, memoranda, tables, lk)


def restrictions(run: Published) -> pl.DataFrame:
    return run.tables["publish.restrictions"]


def made(run: Published) -> pl.DataFrame:
    """The history rows the last run made."""
    last = run.runs.sort("seq")["run_id"][-1]
    return run.history.filter(pl.col("run_id") == last)


def outcome(run: Published, uid: str) -> str:
    rows = run.tables["publish.listings"].filter(pl.col("unique_id") == uid)
    assert rows.height == 1, rows
    return str(rows["outcome"][0])


def enforced(run: Published) -> set[str]:
    """Every code in any enforcement list of the run."""
    return {c for n, t in run.tables.items() if n.startswith("enforce.") for c in t["credit_code"]}


def _state(run: Published) -> list[tuple[Any, ...]]:
    return restrictions(run).select("restriction_id", "status", "valid_from", "valid_to").rows()


#: What ORG's major tax violation restricts: ORG itself and its legal representative REP, in the
#: tax memorandum and (REP alone) in the 2018 cross-list transport one.
TAX_RESTRICTIONS = {
    f"{TAX_MEMO}:{m}:{ORG}"
    for m in ("tax_credit_grade_d", "strict_invoice_control", "no_government_procurement",
              "restricted_credit", "customs_scrutiny", "no_honours")
} | {
    f"{TAX_MEMO}:{m}:{REP}"
    for m in ("exit_restriction", "no_government_procurement", "restricted_credit",
              "no_senior_management", "no_honours")
} | {f"{TRANSPORT_MEMO}:no_flights:{REP}", f"{TRANSPORT_MEMO}:no_high_class_rail:{REP}"}  # fmt: skip


# --- 1. credit repair: one repaired, all repaired -------------------------------------------------


def test_an_accepted_repair_lifts_everything_the_listing_caused_in_the_same_run(
    tmp_path: Path, memoranda: list[Memorandum]
) -> None:
    runs = _tax_runs(tmp_path, memoranda)
    before = runs.run(date(2025, 1, 1))
    assert set(restrictions(before)["restriction_id"]) == TAX_RESTRICTIONS
    assert set(restrictions(before)["status"]) == {"active"}
    assert {ORG, REP} <= enforced(before)
    assert before.tables["publish.public_disclosure"]["unique_id"].to_list() == [TAX]
    assert outcome(before, TAX) == "restricting"

    filing = runs.repair(ORG, TAX, date(2025, 3, 10))
    after = runs.run(date(2025, 3, 10))
    # every restriction the listing caused, in both memoranda, the representative's too
    assert restrictions(after).is_empty()
    assert enforced(after) == set()
    rows = made(after)
    assert set(rows["restriction_id"]) == TAX_RESTRICTIONS
    assert set(rows["change"]) == {"repaired"}
    assert set(rows["case_id"]) == {filing.case_id}
    assert set(rows["status"]) == {"ended"} and set(rows["valid_to"]) == {date(2025, 3, 10)}
    repairs = after.tables["publish.repairs"].filter(pl.col("case_id") == filing.case_id)
    assert repairs.select("outcome", "effective_from", "applicant_code", "unique_id").rows() == [
        ("accepted", date(2025, 3, 10), ORG, TAX)
    ]
    assert after.tables["publish.public_disclosure"].is_empty()
    assert outcome(after, TAX) == "repaired"

    # as of a day before the repair the history still shows them, from its day on not
    assert set(in_force_on(after.history, date(2025, 3, 9))["restriction_id"]) == TAX_RESTRICTIONS
    assert in_force_on(after.history, date(2025, 3, 10)).is_empty()
    assert in_force_on(after.history, date(2025, 6, 1)).is_empty()
    # the next run changes nothing: a repaired listing stays repaired
    later = runs.run(date(2025, 6, 1))
    assert restrictions(later).is_empty() and made(later).is_empty()


@pytest.mark.parametrize("by", ["application", "listing_agency"])
def test_a_repair_lifts_in_a_memorandum_whose_lifted_by_omits_repaired(
    tmp_path: Path, memoranda: list[Memorandum], by: str
) -> None:
    """Filed with the platform, or reported by the tax bureau itself (withdrawn as 信用修复 with
    its decision number: "whoever lists, repairs"), a repair lifts everything the listing caused
    whatever a memorandum's lifted_by says."""
    strict = [
        m.model_copy(update={"lifted_by": ("term_expired",)})
        if m.id in (TAX_MEMO, TRANSPORT_MEMO)
        else m
        for m in memoranda
    ]
    runs = _tax_runs(tmp_path, strict)
    assert set(restrictions(runs.run(date(2025, 1, 1)))["restriction_id"]) == TAX_RESTRICTIONS
    if by == "application":
        case_id = runs.repair(ORG, TAX, date(2025, 3, 10)).case_id
    else:
        repaired = tax_case(1, paid_on=date(2024, 9, 1), removed_on=date(2025, 3, 10),
                            ycyy="信用修复", xyxfwh="京税修复〔2025〕8号",
                            updated=_at(date(2025, 3, 10)))  # fmt: skip
        runs.tables["tax__zdsswfaj"] = staged("tax", "zdsswfaj", [*paid(), repaired])
        case_id = "major_tax_violators:京税稽罚〔2024〕1号"
    after = runs.run(date(2025, 3, 10))
    assert restrictions(after).is_empty()
    assert set(made(after)["restriction_id"]) == TAX_RESTRICTIONS
    assert set(made(after)["change"]) == {"repaired"}
    assert set(made(after)["case_id"]) == {case_id}
    assert set(made(after)["valid_to"]) == {date(2025, 3, 10)}
    (repair,) = after.tables["publish.repairs"].rows(named=True)
    assert (repair["case_id"], repair["outcome"], repair["effective_from"]) == (
        case_id, "accepted", date(2025, 3, 10),
    )  # fmt: skip
    assert repair["origin"] == ("filed" if by == "application" else "source")
    assert outcome(after, TAX) == "repaired"
    assert after.tables["publish.public_disclosure"].is_empty()


# --- 2. refused repairs lift nothing ------------------------------------------------------------


@pytest.mark.parametrize(
    ("rows", "applicant", "filed_on", "commitment", "says"),
    [
        pytest.param(
            paid(), ORG, date(2025, 2, 28), True,
            ["the minimum publication period runs until 2025-03-01"], id="before-minimum-period",
        ),
        pytest.param(
            [unpaid()], ORG, date(2025, 3, 10), True,
            ["the obligations are not met as the source shows"], id="obligations-unmet",
        ),
        pytest.param(
            paid(), ORG, date(2025, 3, 10), False,
            ["no credit commitment was filed"], id="no-commitment",
        ),
        pytest.param(
            paid(), PERSON_2, date(2025, 3, 10), True,
            [f"{PERSON_2} is not the subject of listing {TAX}"], id="not-the-linked-subject",
        ),
        pytest.param(
            [unpaid()], ORG, date(2025, 2, 1), False,
            ["the minimum publication period runs until 2025-03-01",
             "the obligations are not met", "no credit commitment"], id="every-reason",
        ),
    ],
)  # fmt: skip
def test_a_refused_repair_lifts_nothing_and_says_why(
    tmp_path: Path,
    memoranda: list[Memorandum],
    rows: list[dict[str, Any]],
    applicant: str,
    filed_on: date,
    commitment: bool,
    says: list[str],
) -> None:
    runs = _tax_runs(tmp_path, memoranda, rows)
    before = runs.run(date(2025, 1, 1))
    filing = runs.repair(applicant, TAX, filed_on, commitment=commitment)
    after = runs.run(date(2025, 3, 10))
    assert _state(after) == _state(before)
    assert set(restrictions(after)["restriction_id"]) == TAX_RESTRICTIONS
    assert made(after).is_empty()
    assert enforced(after) == enforced(before)
    assert after.tables["publish.public_disclosure"]["unique_id"].to_list() == [TAX]
    assert outcome(after, TAX) == "restricting"
    (repair,) = (
        after.tables["publish.repairs"].filter(pl.col("case_id") == filing.case_id).rows(named=True)
    )
    assert repair["outcome"] == "refused" and repair["effective_from"] is None
    for part in says:
        assert part in repair["refusal_reason"]
    if "minimum" in says[0]:
        assert repair["may_apply_from"] == date(2025, 3, 1)


def test_a_court_defaulter_is_not_repairable_and_the_reason_says_so(
    tmp_path: Path, memoranda: list[Memorandum]
) -> None:
    listed_2023 = court(1, published_on=date(2023, 1, 10))  # past its minimum period
    tables = {"courts__SXBZXR": staged("courts", "SXBZXR", [listed_2023])}
    runs = _runs(tmp_path, memoranda, tables, links(link("courts/SXBZXR/1", PERSON)))
    before = runs.run(date(2025, 1, 1))
    assert not restrictions(before).is_empty()
    listed = before.tables["publish.listings"].row(0, named=True)
    assert listed["repairable"] is False and "court" in listed["not_repairable_reason"]
    filing = runs.repair(PERSON, "courts/SXBZXR/1", date(2025, 3, 10))
    after = runs.run(date(2025, 3, 10))
    assert _state(after) == _state(before) and made(after).is_empty()
    (repair,) = after.tables["publish.repairs"].rows(named=True)
    assert (repair["case_id"], repair["outcome"]) == (filing.case_id, "refused")
    assert repair["refusal_reason"].startswith("not repairable: ")
    assert listed["not_repairable_reason"] in repair["refusal_reason"]
    assert outcome(after, "courts/SXBZXR/1") == "restricting"


def test_a_repair_refused_for_unmet_obligations_stays_refused_when_paid_later(
    tmp_path: Path, memoranda: list[Memorandum]
) -> None:
    runs = _tax_runs(tmp_path, memoranda, [unpaid()])
    runs.run(date(2025, 1, 1))
    filing = runs.repair(ORG, TAX, date(2025, 3, 10))
    refused = runs.run(date(2025, 3, 10))
    (row,) = refused.tables["publish.repairs"].rows(named=True)
    assert row["outcome"] == "refused"
    # paid a month after the application; the source shows it from that day
    runs.tables["tax__zdsswfaj"] = staged("tax", "zdsswfaj", paid(on=date(2025, 4, 10)))
    later = runs.run(date(2025, 4, 15))
    (row,) = (
        later.tables["publish.repairs"].filter(pl.col("case_id") == filing.case_id).rows(named=True)
    )
    # a refusal stands (the subject files anew); nothing is lifted from before the payment
    assert row["outcome"] == "refused"
    assert set(restrictions(later)["restriction_id"]) == TAX_RESTRICTIONS


# --- 3. objections ------------------------------------------------------------------------------


def test_an_open_objection_suspends_then_a_rejection_restores(
    tmp_path: Path, memoranda: list[Memorandum]
) -> None:
    runs = _tax_runs(tmp_path, memoranda)
    before = runs.run(date(2025, 1, 1))
    objection = runs.object(ORG, TAX, date(2025, 1, 10))
    open_ = runs.run(date(2025, 1, 10))
    r = restrictions(open_)
    assert set(r["restriction_id"]) == TAX_RESTRICTIONS
    assert set(r["status"]) == {"under_objection"}
    assert set(r["objection_ids"].explode()) == {objection.case_id}
    assert enforced(open_) == set()  # suspended: in no enforcement list
    rows = made(open_)
    assert set(rows["restriction_id"]) == TAX_RESTRICTIONS
    assert set(rows["change"]) == {"objected"} and set(rows["case_id"]) == {objection.case_id}
    assert outcome(open_, TAX) == "under_objection"
    (o,) = open_.tables["publish.objections"].rows(named=True)
    assert (o["objection_id"], o["status"], o["scope"]) == (objection.case_id, "open", "listing")
    # not in force while it is open, as the history says
    assert in_force_on(open_.history, date(2025, 1, 10)).is_empty()
    assert set(in_force_on(open_.history, date(2025, 1, 9))["restriction_id"]) == TAX_RESTRICTIONS

    decision = runs.decide(objection, "rejected", date(2025, 2, 1))
    restored = runs.run(date(2025, 2, 1))
    assert _state(restored) == _state(before)
    assert set(restrictions(restored)["status"]) == {"active"}
    rows = made(restored)
    assert set(rows["restriction_id"]) == TAX_RESTRICTIONS
    assert set(rows["change"]) == {"restored"} and set(rows["case_id"]) == {objection.case_id}
    assert enforced(restored) == enforced(before) and {ORG, REP} <= enforced(restored)
    (o,) = restored.tables["publish.objections"].rows(named=True)
    assert (o["status"], o["decision_id"], o["decided_on"]) == (
        "rejected", decision.case_id, date(2025, 2, 1),
    )  # fmt: skip
    assert outcome(restored, TAX) == "restricting"
    assert set(in_force_on(restored.history, date(2025, 2, 1))["restriction_id"]) == (
        TAX_RESTRICTIONS
    )


def test_an_upheld_objection_withdraws_the_listing_for_good(
    tmp_path: Path, memoranda: list[Memorandum]
) -> None:
    runs = _tax_runs(tmp_path, memoranda)
    runs.run(date(2025, 1, 1))
    objection = runs.object(ORG, TAX, date(2025, 1, 10))
    runs.run(date(2025, 1, 10))
    runs.decide(objection, "upheld", date(2025, 2, 1))
    upheld = runs.run(date(2025, 2, 1))
    assert restrictions(upheld).is_empty() and enforced(upheld) == set()
    rows = made(upheld)
    assert set(rows["restriction_id"]) == TAX_RESTRICTIONS
    assert set(rows["change"]) == {"withdrawn"} and set(rows["case_id"]) == {objection.case_id}
    assert set(rows["valid_to"]) == {date(2025, 2, 1)} and set(rows["status"]) == {"ended"}
    assert outcome(upheld, TAX) == "withdrawn"
    assert upheld.tables["publish.public_disclosure"].is_empty()
    (o,) = upheld.tables["publish.objections"].rows(named=True)
    assert o["status"] == "upheld"

    # a later run changes nothing
    later = runs.run(date(2025, 6, 1))
    assert restrictions(later).is_empty() and made(later).is_empty()
    # nor does a later objection, nor a repair
    again = runs.object(ORG, TAX, date(2025, 6, 2))
    repair = runs.repair(ORG, TAX, date(2025, 6, 2))
    last = runs.run(date(2025, 6, 2))
    assert restrictions(last).is_empty() and made(last).is_empty()
    assert enforced(last) == set()
    (o,) = (
        last.tables["publish.objections"]
        .filter(pl.col("objection_id") == again.case_id)
        .rows(named=True)
    )
    assert o["status"] == "refused" and "withdrawn" in o["refusal_reason"]
    (r,) = (
        last.tables["publish.repairs"].filter(pl.col("case_id") == repair.case_id).rows(named=True)
    )
    assert r["outcome"] == "refused" and "withdrawn" in r["refusal_reason"]


def test_a_withdrawn_listing_never_restricts_again_even_linked_anew(
    tmp_path: Path, memoranda: list[Memorandum]
) -> None:
    runs = _tax_runs(tmp_path, memoranda)
    runs.run(date(2025, 1, 1))
    objection = runs.object(ORG, TAX, date(2025, 1, 10))
    runs.decide(objection, "upheld", date(2025, 2, 1))
    assert restrictions(runs.run(date(2025, 2, 1))).is_empty()
    runs.record_links = links(link(TAX, ORG_2))  # a later linkage run links it elsewhere
    relinked = runs.run(date(2025, 6, 2))
    (o,) = relinked.tables["publish.objections"].rows(named=True)
    assert o["status"] == "upheld"  # a decided objection stays decided
    assert restrictions(relinked).is_empty()
    assert outcome(relinked, TAX) == "withdrawn"


def test_a_repaired_listing_stays_repaired_when_linked_anew(
    tmp_path: Path, memoranda: list[Memorandum]
) -> None:
    runs = _tax_runs(tmp_path, memoranda)
    runs.run(date(2025, 1, 1))
    filing = runs.repair(ORG, TAX, date(2025, 3, 10))
    assert restrictions(runs.run(date(2025, 3, 10))).is_empty()
    runs.record_links = links(link(TAX, ORG_2))
    relinked = runs.run(date(2025, 6, 1))
    (r,) = (
        relinked.tables["publish.repairs"]
        .filter(pl.col("case_id") == filing.case_id)
        .rows(named=True)
    )
    assert r["outcome"] == "accepted"
    assert relinked.tables["publish.public_disclosure"].is_empty()
    assert restrictions(relinked).is_empty()


def test_an_upheld_link_objection_ends_only_the_objectors_restrictions(
    tmp_path: Path, memoranda: list[Memorandum]
) -> None:
    """PERSON is linked to two defaulter listings and objects to the link of one: upheld, that
    listing stops binding PERSON (the other still does), but it is not withdrawn: linked anew to
    the right person, it restricts them."""
    tables = {"courts__SXBZXR": staged("courts", "SXBZXR", [court(1), court(2)])}
    one, two = "courts/SXBZXR/1", "courts/SXBZXR/2"
    runs = _runs(tmp_path, memoranda, tables, links(link(one, PERSON), link(two, PERSON)))
    before = runs.run(date(2024, 6, 1))
    ids = set(restrictions(before)["restriction_id"])
    assert ids and set(restrictions(before)["credit_code"]) == {PERSON}
    assert {tuple(x) for x in restrictions(before)["listing_records"]} == {(one, two)}

    objection = runs.object(PERSON, one, date(2024, 7, 1), link=True)
    open_ = runs.run(date(2024, 7, 1))
    # the other listing keeps them in force, and alone stands behind them while it is open
    assert set(restrictions(open_)["status"]) == {"active"}
    assert {tuple(x) for x in restrictions(open_)["listing_records"]} == {(two,)}
    assert set(made(open_)["change"]) == {"amended"}
    assert outcome(open_, one) == "under_objection" and outcome(open_, two) == "restricting"
    (o,) = open_.tables["publish.objections"].rows(named=True)
    assert (o["scope"], o["status"]) == ("link", "open")

    runs.decide(objection, "upheld", date(2024, 8, 1))
    upheld = runs.run(date(2024, 8, 1))
    r = restrictions(upheld)
    assert set(r["restriction_id"]) == ids and set(r["status"]) == {"active"}
    assert {tuple(x) for x in r["listing_records"]} == {(two,)}
    assert made(upheld).is_empty()

    # linkage corrects the link: the listing restricts the right person, never PERSON again
    runs.record_links = links(link(one, PERSON_2), link(two, PERSON))
    relinked = runs.run(date(2024, 9, 1))
    r = restrictions(relinked)
    assert set(r["credit_code"]) == {PERSON, PERSON_2}
    assert {tuple(x) for x in r.filter(pl.col("credit_code") == PERSON_2)["listing_records"]} == {
        (one,)
    }
    assert {tuple(x) for x in r.filter(pl.col("credit_code") == PERSON)["listing_records"]} == {
        (two,)
    }


def test_an_open_link_objection_of_a_sole_listing_suspends_it(
    tmp_path: Path, memoranda: list[Memorandum]
) -> None:
    tables = {"courts__SXBZXR": staged("courts", "SXBZXR", [court(1)])}
    runs = _runs(tmp_path, memoranda, tables, links(link("courts/SXBZXR/1", PERSON)))
    runs.run(date(2024, 6, 1))
    objection = runs.object(PERSON, "courts/SXBZXR/1", date(2024, 7, 1), link=True)
    open_ = runs.run(date(2024, 7, 1))
    assert set(restrictions(open_)["status"]) == {"under_objection"}
    assert enforced(open_) == set()
    assert set(made(open_)["change"]) == {"objected"}
    runs.decide(objection, "upheld", date(2024, 8, 1))
    upheld = runs.run(date(2024, 8, 1))
    assert restrictions(upheld).is_empty()
    assert set(made(upheld)["change"]) == {"withdrawn"}
    assert set(made(upheld)["case_id"]) == {objection.case_id}


# --- 4. a change of legal representative --------------------------------------------------------

#: REP was ORG's legal representative until 2024-06-01, REP_2 from then on.
CHANGED = terms(
    (ORG, REP, date(2019, 1, 1), date(2024, 6, 1)), (ORG, REP_2, date(2024, 6, 1), None)
)


def test_the_representative_in_office_on_the_listing_day_is_bound(
    tmp_path: Path, memoranda: list[Memorandum]
) -> None:
    early = unpaid(1)  # listed 2024-03-01: REP in office
    late = unpaid(2, published_on=date(2024, 9, 1))  # listed after the change
    runs = _runs(
        tmp_path,
        memoranda,
        {"tax__zdsswfaj": staged("tax", "zdsswfaj", [early, late])},
        links(link("tax/zdsswfaj/1", ORG), link("tax/zdsswfaj/2", ORG)),
        legal_reps=CHANGED,
    )
    run = runs.run(date(2024, 10, 1))
    r = restrictions(run)
    exit_ban = r.filter(pl.col("measure_id") == "exit_restriction").sort("credit_code")
    assert exit_ban.select("credit_code", "listing_records").rows() == [
        (REP, ["tax/zdsswfaj/1"]),
        (REP_2, ["tax/zdsswfaj/2"]),
    ]
    assert set(exit_ban["roles"].explode()) == {"legal_representative"}
    assert set(exit_ban["via_codes"].explode()) == {ORG}


def test_a_former_representative_has_their_restriction_lifted_after_leaving_office(
    tmp_path: Path, memoranda: list[Memorandum]
) -> None:
    runs = _runs(
        tmp_path,
        memoranda,
        {"tax__zdsswfaj": staged("tax", "zdsswfaj", paid())},
        links(link(TAX, ORG)),
        legal_reps=CHANGED,
    )
    first = runs.run(date(2024, 4, 1))
    mine = {i for i in TAX_RESTRICTIONS if i.endswith(REP)}
    theirs = TAX_RESTRICTIONS - mine
    assert set(restrictions(first)["restriction_id"]) == TAX_RESTRICTIONS
    assert REP_2 not in set(restrictions(first)["credit_code"])

    # still in office: refused, with the day they may apply
    early = runs.repair(REP, TAX, date(2024, 5, 1), former_rep=True)
    refused = runs.run(date(2024, 5, 1))
    assert _state(refused) == _state(first) and made(refused).is_empty()
    (row,) = refused.tables["publish.repairs"].rows(named=True)
    assert (row["case_id"], row["kind"], row["outcome"]) == (
        early.case_id, "representative_change", "refused",
    )  # fmt: skip
    assert "in office on 2024-05-01" in row["refusal_reason"]
    assert row["may_apply_from"] == date(2024, 6, 1)

    # out of office: their restrictions are lifted, the organisation's stay, nobody else is bound
    filing = runs.repair(REP, TAX, date(2024, 7, 1), former_rep=True)
    lifted = runs.run(date(2024, 7, 1))
    r = restrictions(lifted)
    assert set(r["restriction_id"]) == theirs and set(r["credit_code"]) == {ORG}
    rows = made(lifted)
    assert set(rows["restriction_id"]) == mine
    assert set(rows["change"]) == {"lifted"}
    assert set(rows["reason"]) == {"representative_changed"}
    assert set(rows["case_id"]) == {filing.case_id}
    assert set(rows["valid_to"]) == {date(2024, 7, 1)}
    assert REP not in enforced(lifted) and ORG in enforced(lifted)
    assert set(restrictions(lifted).filter(pl.col("credit_code") == ORG)["status"]) == {"active"}
    accepted = lifted.tables["publish.repairs"].filter(pl.col("case_id") == filing.case_id)
    assert accepted["outcome"].to_list() == ["accepted"]
    # the listing is still disclosed and still restricting (the organisation)
    assert outcome(lifted, TAX) == "restricting"
    assert lifted.tables["publish.public_disclosure"]["unique_id"].to_list() == [TAX]
    assert set(in_force_on(lifted.history, date(2024, 6, 30))["restriction_id"]) == (
        TAX_RESTRICTIONS
    )
    assert set(in_force_on(lifted.history, date(2024, 7, 1))["restriction_id"]) == theirs


# --- 5. severity and publication ----------------------------------------------------------------


def test_publication_stops_by_itself_at_the_grades_upper_bound(
    tmp_path: Path, memoranda: list[Memorandum]
) -> None:
    """A defaulter without a term of their own (able but refuses) is serious: published for at
    most 3 years, though the restriction lasts until removed; a general food violation is
    published for a year, a minor one not at all."""
    tables = {
        "courts__SXBZXR": staged("courts", "SXBZXR", [court(1)]),
        "food__serious_violations": staged(
            "food",
            "serious_violations",
            [food(1), food(2, fine_amount_yuan=2_000.0), food(3, revoked="yes")],
        ),
        "food__inspections": staged("food", "inspections", []),
    }
    lk = links(
        link("courts/SXBZXR/1", PERSON),
        *(link(f"food/serious_violations/{i}", ORG) for i in (1, 2, 3)),
    )
    runs = _runs(tmp_path, memoranda, tables, lk)

    def shown(run: Published) -> dict[str, tuple[Any, ...]]:
        d = run.tables["publish.public_disclosure"]
        return {u: (s, t) for u, s, t in d.select("unique_id", "severity", "publication_to").rows()}

    first = runs.run(date(2024, 6, 1))
    assert shown(first) == {
        "courts/SXBZXR/1": ("serious", date(2027, 1, 10)),
        "food/serious_violations/1": ("general", date(2025, 6, 1)),
        "food/serious_violations/3": ("serious", date(2027, 6, 1)),
    }  # the minor one (a 2,000 yuan fine) is never published
    assert set(shown(runs.run(date(2025, 5, 31)))) == {
        "courts/SXBZXR/1", "food/serious_violations/1", "food/serious_violations/3",
    }  # fmt: skip
    assert set(shown(runs.run(date(2025, 6, 1)))) == {
        "courts/SXBZXR/1", "food/serious_violations/3",
    }  # fmt: skip
    last_day = runs.run(date(2027, 1, 9))
    assert "courts/SXBZXR/1" in shown(last_day)
    court_rows = restrictions(last_day).filter(pl.col("memorandum_id") == "court_defaulters_2016")
    after = runs.run(date(2027, 1, 10))
    assert "courts/SXBZXR/1" not in shown(after)
    # publication is not restriction: the defaulter is still restricted, nothing changed
    still = restrictions(after).filter(pl.col("memorandum_id") == "court_defaulters_2016")
    assert not still.is_empty() and set(still["status"]) == {"active"}
    assert (
        still.select("restriction_id", "valid_to").rows()
        == court_rows.select("restriction_id", "valid_to").rows()
    )
    assert made(after).filter(pl.col("credit_code") == PERSON).is_empty()
    listed = after.tables["publish.listings"].filter(pl.col("unique_id") == "courts/SXBZXR/1")
    assert listed.select("severity", "publication_from", "publication_to").rows() == [
        ("serious", date(2024, 1, 10), date(2027, 1, 10))
    ]
    assert set(shown(runs.run(date(2027, 6, 1)))) == set()


def test_the_disclosure_masks_identifiers_in_each_lists_habit(
    tmp_path: Path, memoranda: list[Memorandum]
) -> None:
    tables = {
        "courts__SXBZXR": staged("courts", "SXBZXR", [court(1)]),
        "transport__FlightBan": staged("transport", "FlightBan", [flight(1)]),
        "tax__zdsswfaj": staged("tax", "zdsswfaj", paid()),
    }
    lk = links(
        link("courts/SXBZXR/1", PERSON), link("transport/FlightBan/1", PERSON_2), link(TAX, ORG)
    )
    run = _runs(tmp_path, memoranda, tables, lk).run(date(2024, 6, 1))
    d = run.tables["publish.public_disclosure"]
    masked = dict(d.select("unique_id", "masked_identifier").iter_rows())
    assert masked == {
        "courts/SXBZXR/1": "1101051949****002X",  # the courts hide the birth month and day
        "transport/FlightBan/1": "3604**********0071",  # first and last four
        TAX: ORG,  # an organisation's code in full
    }
    for uid, ident in (("courts/SXBZXR/1", PERSON), ("transport/FlightBan/1", PERSON_2)):
        row = d.filter(pl.col("unique_id") == uid).row(0, named=True)
        assert len(row["masked_identifier"]) == len(ident)
        assert ident not in {str(v) for v in row.values()}  # nowhere in full
    assert d.columns == [
        "unique_id", "list_id", "list_title", "subject_type", "subject_name",
        "masked_identifier", "reference", "basis", "severity", "publication_from",
        "publication_to",
    ]  # fmt: skip


# --- 6. joint incentives ------------------------------------------------------------------------


def test_a_grade_a_taxpayer_receives_incentives_unless_blacklisted(
    tmp_path: Path, memoranda: list[Memorandum]
) -> None:
    (memo,) = load_incentives()
    grades = staged("tax", "nsxypj", [tax_grade(1, 2023), tax_grade(2, 2023, nsrid=2)])
    lk = links(link("tax/nsxypj/1", ORG), link("tax/nsxypj/2", ORG_2))
    runs = _runs(tmp_path, memoranda, {"tax__nsxypj": grades}, lk, incentives=True)
    run = runs.run(date(2024, 6, 30))
    got = run.tables["publish.incentives"]
    assert set(got["credit_code"]) == {ORG, ORG_2}
    assert got.filter(pl.col("credit_code") == ORG).height == len(memo.measures)
    agencies = {x.enforcing_agency for x in memo.measures}
    per_agency = {n.removeprefix("incentive."): t for n, t in run.tables.items()
                  if n.startswith("incentive.")}  # fmt: skip
    assert set(per_agency) == agencies
    assert all(set(t["credit_code"]) == {ORG, ORG_2} for t in per_agency.values())
    assert restrictions(run).is_empty()  # a red list restricts no one

    # ORG also becomes a major tax violator: it receives none, ORG_2 keeps them
    runs.tables["tax__zdsswfaj"] = staged(
        "tax", "zdsswfaj", [unpaid(7, published_on=date(2024, 7, 1))]
    )
    runs.record_links = pl.concat([lk, links(link("tax/zdsswfaj/7", ORG))])
    listed = runs.run(date(2024, 7, 1))
    got = listed.tables["publish.incentives"]
    assert set(got["credit_code"]) == {ORG_2}
    assert all(
        set(t["credit_code"]) == {ORG_2}
        for n, t in listed.tables.items()
        if n.startswith("incentive.")
    )
    revoked = listed.incentive_history
    assert revoked is not None
    mine = revoked.filter((pl.col("run_id") == "r2") & (pl.col("credit_code") == ORG))
    assert mine.height == len(memo.measures)
    assert set(mine["change"]) == {"revoked"} and set(mine["reason"]) == {"blacklisted"}
    assert ORG in set(restrictions(listed)["credit_code"])


def test_a_blacklisted_taxpayer_graded_a_is_never_granted(
    tmp_path: Path, memoranda: list[Memorandum]
) -> None:
    tables = {
        "tax__nsxypj": staged("tax", "nsxypj", [tax_grade(1, 2023)]),
        "tax__zdsswfaj": staged("tax", "zdsswfaj", [unpaid(7)]),
    }
    lk = links(link("tax/nsxypj/1", ORG), link("tax/zdsswfaj/7", ORG))
    run = _runs(tmp_path, memoranda, tables, lk, incentives=True).run(date(2024, 6, 30))
    assert run.tables["publish.incentives"].is_empty()
    assert all(t.is_empty() for n, t in run.tables.items() if n.startswith("incentive."))
    assert run.incentive_history is not None
    assert set(run.incentive_history["change"]) == {"withheld"}
    assert ORG in set(restrictions(run)["credit_code"])


# --- 7. contracts -------------------------------------------------------------------------------

#: The tables issue 15 adds to the warehouse.
NEW_TABLES = (
    "publish.public_disclosure",
    "publish.repairs",
    "publish.objections",
    "publish.incentives",
    "publish.incentive_history",
    "publish.measures_list",
)


def test_every_table_of_a_run_under_the_law_holds_to_its_contract(
    tmp_path: Path, memoranda: list[Memorandum]
) -> None:
    """A run with a repair accepted and one refused, an objection open and one upheld, a
    former representative's restriction lifted, grade A incentives and a disclosure: built as
    the warehouse and checked against every contract."""
    tables = {
        "tax__zdsswfaj": staged("tax", "zdsswfaj", paid()),
        "tax__nsxypj": staged("tax", "nsxypj", [tax_grade(1, 2023, nsrid=2)]),
        "courts__SXBZXR": staged("courts", "SXBZXR", [court(1), court(2, subject_type="organisation")]),
        "transport__FlightBan": staged("transport", "FlightBan", [flight(1)]),
    }  # fmt: skip
    lk = links(
        link(TAX, ORG),
        link("tax/nsxypj/1", ORG_2),
        link("courts/SXBZXR/1", PERSON),
        link("courts/SXBZXR/2", ORG, method="probabilistic", probability=0.995),
        link("transport/FlightBan/1", PERSON_2),
    )
    runs = _runs(tmp_path, memoranda, tables, lk, legal_reps=CHANGED, incentives=True)
    runs.run(date(2024, 6, 1))
    runs.repair(ORG, TAX, date(2025, 3, 10))
    runs.repair(PERSON_2, TAX, date(2025, 3, 9))  # not the listing's subject: refused
    runs.repair(REP, "courts/SXBZXR/2", date(2025, 3, 10), former_rep=True)
    runs.object(PERSON, "courts/SXBZXR/1", date(2025, 3, 1))
    upheld = runs.object(PERSON_2, "transport/FlightBan/1", date(2024, 7, 1))
    runs.decide(upheld, "upheld", date(2024, 8, 1))
    run = runs.run(date(2025, 3, 10))

    r = restrictions(run)
    assert {"active", "under_objection"} <= set(r["status"])
    assert {"repaired", "withdrawn", "objected", "lifted"} <= set(run.history["change"])
    assert set(run.tables["publish.repairs"]["outcome"]) == {"accepted", "refused"}
    assert set(run.tables["publish.objections"]["status"]) == {"open", "upheld"}
    for name in NEW_TABLES:
        assert not run.tables[name].is_empty(), name
    assert any(n.startswith("incentive.") and not t.is_empty() for n, t in run.tables.items())

    path = tmp_path / "credlink.duckdb"
    build_warehouse(path, run.tables)  # raises on a breach
    con = duckdb.connect(str(path), read_only=True)
    try:
        assert check_warehouse(con) == []
        names = {
            f"{s}.{t}"
            for s, t in con.execute(
                "SELECT schema_name, table_name FROM duckdb_tables()"
            ).fetchall()
        }
        counts = {n: con.execute(f"SELECT count(*) FROM {n}").fetchone() for n in NEW_TABLES}
        basis = con.execute(
            "SELECT count(*) FROM publish.restrictions WHERE legal_basis IS NULL"
        ).fetchone()
    finally:
        con.close()
    assert names == set(run.tables)
    assert all(warehouse_contract(n) is not None for n in names)
    assert counts == {n: (run.tables[n].height,) for n in NEW_TABLES}
    assert basis == (0,)  # every restriction carries its legal basis
