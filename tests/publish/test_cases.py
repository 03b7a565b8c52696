"""Credit repair and objections as recorded cases (publish.cases): the append-only store in the
lake, and what the cases do on a day, on hand-made listings with the publication columns
spelled out (severity, publication bounds, repair_from, repairability, obligations met)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from credlink.etl.catalog import check_frame, table_contracts
from credlink.etl.conform.columns import LISTING_COLUMNS
from credlink.etl.lake import Lake
from credlink.publish.cases import (
    CASES_LAYER,
    ENDS_COLUMNS,
    FILINGS_DATASET,
    OBJECTION_COLUMNS,
    OPEN_OBJECTION_COLUMNS,
    REPAIR_COLUMNS,
    CaseError,
    Cases,
    Filing,
    case_effects,
    decide_objection,
    file_objection,
    file_repair,
    read_cases,
)

PERSON = "11010519491231002X"
PERSON_2 = "360426199101010071"
ORG = "91110000600037341L"
REP = "110101198001010013"
REP_2 = "110101198502020028"
TAX = "tax/zdsswfaj/1"  # ORG's major tax violation: serious, repairable from 2025-03-01
FLIGHT = "transport/FlightBan/1"  # PERSON's flight ban
COURT = "courts/SXBZXR/1"  # PERSON's defaulter listing: not repairable
NOW = datetime(2026, 6, 1, 4, tzinfo=UTC)


def listing(uid: str, list_id: str, subject_type: str, **fields: Any) -> dict[str, Any]:
    """One listing row: LISTING_COLUMNS and the publication columns (publish.publication)."""
    row: dict[str, Any] = {
        "unique_id": uid,
        "list_id": list_id,
        "subject_type": subject_type,
        "subject_name": "某某",
        "reference": f"ref-{uid.rsplit('/', 1)[-1]}",
        "listed_on": date(2024, 3, 1),
        "effective_from": date(2024, 3, 1),
        "ends_on": None,
        "removed_on": None,
        "removal_reason": None,
        "severity": "serious",
        "published": True,
        "publication_from": date(2024, 3, 1),
        "publication_to": date(2027, 3, 1),
        "repair_from": date(2025, 3, 1),
        "repairable": True,
        "not_repairable_reason": None,
        "obligations_met": True,
    }
    row.update(fields)
    return row


SCHEMA: dict[str, pl.DataType] = {
    **LISTING_COLUMNS,
    "severity": pl.String(),
    "published": pl.Boolean(),
    "publication_from": pl.Date(),
    "publication_to": pl.Date(),
    "repair_from": pl.Date(),
    "repairable": pl.Boolean(),
    "not_repairable_reason": pl.String(),
    "obligations_met": pl.Boolean(),
}


def listings(*rows: dict[str, Any]) -> dict[str, pl.DataFrame]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(r["list_id"], []).append(r)
    return {k: pl.DataFrame(v, schema=SCHEMA) for k, v in out.items()}


def tax(**fields: Any) -> dict[str, Any]:
    return listing(TAX, "major_tax_violators", "organisation", **fields)


def flight(**fields: Any) -> dict[str, Any]:
    fields = {"listed_on": date(2026, 3, 5), "effective_from": date(2026, 3, 14),
              "ends_on": date(2027, 3, 14), "publication_from": date(2026, 3, 5),
              "publication_to": date(2027, 3, 14), "repair_from": date(2027, 3, 5), **fields}  # fmt: skip
    return listing(FLIGHT, "flight_ban", "person", **fields)


def court(**fields: Any) -> dict[str, Any]:
    fields = {"repairable": False,
              "not_repairable_reason": "the enforcing court removes a defaulter", **fields}  # fmt: skip
    return listing(COURT, "court_defaulters", "person", **fields)


LISTINGS = listings(tax(), flight(), court())


def links(*pairs: tuple[str, str | None, str]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"unique_id": u, "credit_code": c, "band": b} for u, c, b in pairs],
        schema={"unique_id": pl.String, "credit_code": pl.String, "band": pl.String},
    )


LINKS = links((TAX, ORG, "accept"), (FLIGHT, PERSON, "accept"), (COURT, PERSON, "accept"))
NO_REPS = pl.DataFrame(schema={"credit_code": pl.String, "legal_rep_code": pl.String})


def reps(*terms: tuple[str, date | None, date | None]) -> pl.DataFrame:
    """ORG's representatives with their terms (from, to exclusive)."""
    return pl.DataFrame(
        [{"credit_code": ORG, "legal_rep_code": r, "in_office_from": a, "in_office_to": b}
         for r, a, b in terms],
        schema={"credit_code": pl.String, "legal_rep_code": pl.String,
                "in_office_from": pl.Date, "in_office_to": pl.Date},
    )  # fmt: skip


_numbers: dict[str, int] = {}


def filing(kind: str, on: date, uid: str, code: str | None = None, **fields: Any) -> Filing:
    """A hand-made filing with the next id of its kind and day."""
    prefix = {"objection": "O", "decision": "D"}.get(kind, "R")
    key = f"{prefix}-{on:%Y%m%d}"
    _numbers[key] = _numbers.get(key, 0) + 1
    text = fields.pop("text", "evidence / reason")
    return Filing(case_id=f"{key}-{_numbers[key]}", kind=kind, filed_on=on, unique_id=uid,
                  text=text, applicant_code=code, recorded_at=NOW, **fields)  # fmt: skip


def repair(on: date, uid: str = TAX, code: str = ORG, commitment: bool = True) -> Filing:
    return filing("repair", on, uid, code, commitment=commitment)


def objection(on: date, uid: str = FLIGHT, code: str = PERSON, scope: str = "listing") -> Filing:
    return filing("objection", on, uid, code, scope=scope)


def decision(on: date, of: Filing, outcome: str) -> Filing:
    return filing("decision", on, of.unique_id, objection_id=of.case_id, outcome=outcome)


def effects(*filings: Filing, as_of: date, lst: Any = None, lk: Any = None, rp: Any = None) -> Any:
    return case_effects(
        LISTINGS if lst is None else lst,
        LINKS if lk is None else lk,
        NO_REPS if rp is None else rp,
        Cases.of(filings),
        as_of,
    )


# --- the store ----------------------------------------------------------------------------------


def test_filings_are_recorded_one_file_each_and_never_replaced(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    first = file_repair(lake, ORG, TAX, "tax and fines paid", commitment=True,
                        on=date(2026, 4, 2), recorded_at=NOW, recorded_by="li")  # fmt: skip
    second = file_repair(lake, ORG.lower(), f" {TAX} ", "again", commitment=False,
                         on=date(2026, 4, 2), recorded_at=NOW)  # fmt: skip
    other_day = file_objection(lake, PERSON, FLIGHT, "not me", link=True, on=date(2026, 4, 3),
                               recorded_at=NOW)  # fmt: skip
    assert (first.case_id, second.case_id, other_day.case_id) == (
        "R-20260402-1",
        "R-20260402-2",
        "O-20260403-1",
    )
    files = sorted((tmp_path / "lake" / CASES_LAYER / FILINGS_DATASET).glob("*/data.parquet"))
    assert [f.parent.name for f in files] == [
        "interval=O-20260403-1",
        "interval=R-20260402-1",
        "interval=R-20260402-2",
    ]
    before = [f.stat().st_mtime_ns for f in files]
    decide_objection(lake, "O-20260403-1", "rejected", "the link holds", on=date(2026, 4, 9),
                     recorded_at=NOW)  # fmt: skip
    assert [f.stat().st_mtime_ns for f in files] == before  # a decision is one more record
    cases = read_cases(lake)
    assert cases.filings["case_id"].to_list() == [
        "R-20260402-1",
        "R-20260402-2",
        "O-20260403-1",
        "D-20260409-1",
    ]
    row = cases.find("R-20260402-2")
    assert row is not None
    assert (row["applicant_code"], row["unique_id"], row["commitment"]) == (ORG, TAX, False)
    assert cases.find("R-20260402-1")["recorded_by"] == "li"  # type: ignore[index]
    decided = cases.find("D-20260409-1")
    assert decided is not None
    assert (decided["objection_id"], decided["outcome"], decided["unique_id"]) == (
        "O-20260403-1",
        "rejected",
        FLIGHT,
    )
    assert cases.find("O-20260403-1")["scope"] == "link"  # type: ignore[index]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"code": "1234"}, "not a credit code"),
        ({"evidence": "   "}, "the evidence is empty"),
        ({"on": date(2026, 6, 2)}, "after today"),
        ({"unique_id": ""}, "give the listing's unique_id"),
    ],
)
def test_a_filing_the_store_refuses_records_nothing(
    tmp_path: Path, kwargs: dict[str, Any], message: str
) -> None:
    lake = Lake(tmp_path / "lake")
    args: dict[str, Any] = {"code": ORG, "unique_id": TAX, "evidence": "paid",
                            "on": date(2026, 4, 2)}  # fmt: skip
    args.update(kwargs)
    with pytest.raises(CaseError, match=message):
        file_repair(lake, args.pop("code"), args.pop("unique_id"), args.pop("evidence"),
                    commitment=True, recorded_at=NOW, **args)  # fmt: skip
    assert read_cases(lake).filings.is_empty()


def test_a_decision_needs_an_open_recorded_objection_and_comes_once(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    with pytest.raises(CaseError, match="no objection 'O-20260402-1' is recorded"):
        decide_objection(lake, "O-20260402-1", "upheld", "x", on=date(2026, 4, 2),
                         recorded_at=NOW)  # fmt: skip
    filed = file_objection(lake, PERSON, FLIGHT, "wrong", on=date(2026, 4, 2), recorded_at=NOW)
    with pytest.raises(CaseError, match="before"):
        decide_objection(lake, filed.case_id, "upheld", "x", on=date(2026, 4, 1),
                         recorded_at=NOW)  # fmt: skip
    with pytest.raises(CaseError, match="say upheld or rejected"):
        decide_objection(lake, filed.case_id, "granted", "x", on=date(2026, 4, 3),
                         recorded_at=NOW)  # fmt: skip
    decide_objection(lake, filed.case_id, "upheld", "the ban was entered in error",
                     on=date(2026, 4, 9), recorded_at=NOW)  # fmt: skip
    # a later decision cannot revive a withdrawn listing: a decided case is not heard again
    with pytest.raises(CaseError, match="decided already: upheld on 2026-04-09"):
        decide_objection(lake, filed.case_id, "rejected", "second thoughts",
                         on=date(2026, 4, 20), recorded_at=NOW)  # fmt: skip
    assert read_cases(lake).filings.height == 2


# --- repair ---------------------------------------------------------------------------------------


def test_an_eligible_repair_lifts_everything_the_listing_caused_from_its_filing_day() -> None:
    app = repair(date(2026, 4, 2))
    out = effects(app, as_of=date(2026, 4, 2))
    assert out.ends.rows(named=True) == [
        {"unique_id": TAX, "credit_code": None, "role": None, "end": date(2026, 4, 2),
         "end_reason": "repaired", "case_id": app.case_id}
    ]  # fmt: skip
    row = out.repair(app.case_id)
    assert row["outcome"] == "accepted" and row["refusal_reason"] is None
    assert (row["effective_from"], row["origin"], row["list_id"]) == (
        date(2026, 4, 2),
        "filed",
        "major_tax_violators",
    )
    assert out.open_objections.is_empty()


def test_a_repair_before_the_minimum_period_is_refused_with_the_day_it_may_apply() -> None:
    app = repair(date(2025, 2, 1))
    out = effects(app, as_of=date(2025, 2, 1))
    row = out.repair(app.case_id)
    assert row["outcome"] == "refused"
    assert row["refusal_reason"] == "the minimum publication period runs until 2025-03-01"
    assert row["may_apply_from"] == date(2025, 3, 1)
    assert out.ends.is_empty()
    # assessed as of its filing day: a later run does not turn it into a repair
    assert effects(app, as_of=date(2026, 1, 1)).repair(app.case_id)["outcome"] == "refused"


@pytest.mark.parametrize(
    ("fields", "commitment", "reason"),
    [
        ({"obligations_met": False}, True, "the obligations are not met as the source shows"),
        ({}, False, "no credit commitment was filed"),
        (
            {"obligations_met": False},
            False,
            "the obligations are not met as the source shows; no credit commitment was filed",
        ),
        (
            {"repairable": False, "not_repairable_reason": "declared by law"},
            True,
            "not repairable: declared by law",
        ),
    ],
)
def test_a_repair_without_its_conditions_is_refused_with_every_reason(
    fields: dict[str, Any], commitment: bool, reason: str
) -> None:
    app = repair(date(2026, 4, 2), commitment=commitment)
    out = effects(app, as_of=date(2026, 4, 2), lst=listings(tax(**fields)))
    row = out.repair(app.case_id)
    assert (row["outcome"], row["refusal_reason"]) == ("refused", reason)
    assert out.ends.is_empty()


def test_non_repairable_information_is_refused_with_its_reason() -> None:
    app = repair(date(2026, 4, 2), uid=COURT, code=PERSON)
    row = effects(app, as_of=date(2026, 4, 2)).repair(app.case_id)
    assert row["refusal_reason"] == "not repairable: the enforcing court removes a defaulter"
    assert row["may_apply_from"] is None


@pytest.mark.parametrize(
    ("uid", "code", "lk", "reason"),
    [
        ("tax/zdsswfaj/404", ORG, None, "unknown listing tax/zdsswfaj/404"),
        (TAX, PERSON_2, None, f"{PERSON_2} is not the subject of listing {TAX}"),
        (TAX, ORG, links((TAX, None, "review")), "is not accepted (band review)"),
        (TAX, ORG, links(), "has no link to a credit code"),
    ],
)
def test_a_repair_by_someone_not_bound_by_the_listing_is_refused(
    uid: str, code: str, lk: pl.DataFrame | None, reason: str
) -> None:
    app = repair(date(2026, 4, 2), uid=uid, code=code)
    out = effects(app, as_of=date(2026, 4, 2), lk=lk)
    row = out.repair(app.case_id)
    assert row["outcome"] == "refused" and reason in row["refusal_reason"]
    assert out.ends.is_empty()


def test_a_listing_not_yet_listed_on_the_filing_day_is_unknown_then() -> None:
    app = repair(date(2026, 3, 1), uid=FLIGHT, code=PERSON)
    row = effects(app, as_of=date(2026, 4, 1)).repair(app.case_id)
    assert "was not listed yet on 2026-03-01" in row["refusal_reason"]


def test_only_cases_filed_by_the_day_count_a_backfill_sees_them_as_they_were() -> None:
    app = repair(date(2026, 4, 2))
    before = effects(app, as_of=date(2026, 4, 1))
    assert before.repairs.is_empty() and before.ends.is_empty()
    assert effects(app, as_of=date(2026, 4, 2)).ends.height == 1


def test_a_repaired_listing_is_not_repaired_twice() -> None:
    first, again = repair(date(2026, 4, 2)), repair(date(2026, 5, 2))
    out = effects(first, again, as_of=date(2026, 5, 2))
    assert out.ends["case_id"].to_list() == [first.case_id]
    assert (
        f"repaired already, from 2026-04-02 ({first.case_id})"
        in out.repair(again.case_id)["refusal_reason"]
    )


def test_a_repair_the_listing_agency_reports_is_a_case_of_its_own() -> None:
    """ "Whoever lists, repairs": a listing the source removes as repaired appears in
    publish.repairs with the case id of its reference, and ends the same way."""
    lst = listings(tax(removed_on=date(2026, 2, 1), removal_reason="repaired"))
    out = effects(as_of=date(2026, 3, 1), lst=lst)
    row = out.repairs.row(0, named=True)
    assert (row["case_id"], row["origin"], row["outcome"], row["applicant_code"]) == (
        "major_tax_violators:ref-1",
        "source",
        "accepted",
        ORG,
    )
    assert row["effective_from"] == date(2026, 2, 1) and row["filed_on"] is None
    assert out.ends.select("credit_code", "end", "end_reason", "case_id").rows() == [
        (None, date(2026, 2, 1), "repaired", "major_tax_violators:ref-1")
    ]
    # an application after it has nothing left to repair
    app = repair(date(2026, 4, 2))
    late = effects(app, as_of=date(2026, 4, 2), lst=lst).repair(app.case_id)
    assert "repaired on 2026-02-01 by the listing agency" in late["refusal_reason"]


def test_a_repair_needs_the_publication_columns() -> None:
    bare = {
        "major_tax_violators": listings(tax())["major_tax_violators"].select(list(LISTING_COLUMNS))
    }
    with pytest.raises(CaseError, match="lack the publication columns"):
        effects(repair(date(2026, 4, 2)), as_of=date(2026, 4, 2), lst=bare)
    # objections do not read them
    out = effects(objection(date(2026, 4, 2), uid=TAX, code=ORG), as_of=date(2026, 4, 2),
                  lst=bare)  # fmt: skip
    assert out.open_objections.height == 1


# --- objections -------------------------------------------------------------------------------------


def test_an_open_objection_concerns_the_whole_listing_or_the_objectors_link() -> None:
    whole = objection(date(2026, 4, 2))
    mine = objection(date(2026, 4, 2), uid=COURT, scope="link")
    out = effects(whole, mine, as_of=date(2026, 4, 5))
    assert out.open_objections.rows(named=True) == [
        {"unique_id": COURT, "credit_code": PERSON, "objection_id": mine.case_id,
         "filed_on": date(2026, 4, 2)},
        {"unique_id": FLIGHT, "credit_code": None, "objection_id": whole.case_id,
         "filed_on": date(2026, 4, 2)},
    ]  # fmt: skip
    assert set(out.objections["status"]) == {"open"}
    assert out.ends.is_empty()


def test_an_upheld_objection_withdraws_the_listing_from_its_decision_day() -> None:
    filed = objection(date(2026, 4, 2))
    upheld = decision(date(2026, 4, 9), filed, "upheld")
    during = effects(filed, upheld, as_of=date(2026, 4, 8))
    assert during.open_objections["objection_id"].to_list() == [filed.case_id]
    assert during.ends.is_empty()
    after = effects(filed, upheld, as_of=date(2026, 4, 9))
    assert after.open_objections.is_empty()
    assert after.ends.rows(named=True) == [
        {"unique_id": FLIGHT, "credit_code": None, "role": None, "end": date(2026, 4, 9),
         "end_reason": "withdrawn", "case_id": filed.case_id}
    ]  # fmt: skip
    row = after.objection(filed.case_id)
    assert (row["status"], row["decision_id"], row["decided_on"]) == (
        "upheld",
        upheld.case_id,
        date(2026, 4, 9),
    )


def test_a_rejected_objection_ends_nothing_the_restrictions_are_restored() -> None:
    filed = objection(date(2026, 4, 2))
    rejected = decision(date(2026, 4, 9), filed, "rejected")
    out = effects(filed, rejected, as_of=date(2026, 4, 10))
    assert out.ends.is_empty() and out.open_objections.is_empty()
    assert out.objection(filed.case_id)["status"] == "rejected"
    # a decided case is not heard again
    again = objection(date(2026, 4, 20))
    later = effects(filed, rejected, again, as_of=date(2026, 4, 20))
    assert later.open_objections.is_empty()
    refused = later.objection(again.case_id)
    assert refused["status"] == "refused"
    assert (
        "was decided on 2026-04-09 (rejected): a decided case is not heard again"
        in (refused["refusal_reason"])
    )


def test_a_withdrawn_listing_never_restricts_again() -> None:
    filed = objection(date(2026, 4, 2))
    upheld = decision(date(2026, 4, 9), filed, "upheld")
    again = objection(date(2026, 4, 20), code=PERSON, scope="link")
    app = repair(date(2026, 4, 21), uid=FLIGHT, code=PERSON)
    out = effects(filed, upheld, again, app, as_of=date(2026, 5, 1))
    assert out.ends["case_id"].to_list() == [filed.case_id]
    assert "withdrawn on 2026-04-09" in out.objection(again.case_id)["refusal_reason"]
    assert out.repair(app.case_id)["outcome"] == "refused"
    assert "never restricts again" in out.repair(app.case_id)["refusal_reason"]


def test_an_upheld_link_objection_frees_the_objector_alone() -> None:
    filed = objection(date(2026, 4, 2), uid=COURT, scope="link")
    upheld = decision(date(2026, 4, 9), filed, "upheld")
    out = effects(filed, upheld, as_of=date(2026, 4, 9))
    assert out.ends.select("unique_id", "credit_code", "role", "end_reason").rows() == [
        (COURT, PERSON, None, "withdrawn")
    ]


def test_objections_only_by_the_linked_subject_and_one_open_at_a_time() -> None:
    stranger = objection(date(2026, 4, 2), code=PERSON_2)
    first = objection(date(2026, 4, 2), uid=TAX, code=ORG)
    second = objection(date(2026, 4, 3), uid=TAX, code=ORG, scope="link")
    out = effects(stranger, first, second, as_of=date(2026, 4, 5))
    assert (
        f"{PERSON_2} is not the subject of listing {FLIGHT}"
        in out.objection(stranger.case_id)["refusal_reason"]
    )
    assert (
        f"objection {first.case_id} of {ORG} to listing {TAX} is open already"
        == (out.objection(second.case_id)["refusal_reason"])
    )
    assert out.open_objections["objection_id"].to_list() == [first.case_id]


def test_the_transport_objection_window_is_the_same_mechanism() -> None:
    """A ban the source withdraws in its objection window is an objection the listing agency
    upheld: publish.objections shows it, and an objection after it is refused."""
    lst = listings(flight(removed_on=date(2026, 3, 10), removal_reason="withdrawn"))
    late = objection(date(2026, 3, 20))
    out = effects(late, as_of=date(2026, 3, 20), lst=lst)
    agency = out.objections.filter(pl.col("origin") == "source").row(0, named=True)
    assert (agency["objection_id"], agency["status"], agency["decided_on"]) == (
        "flight_ban:ref-1",
        "upheld",
        date(2026, 3, 10),
    )
    assert out.ends.select("end", "end_reason", "case_id").rows() == [
        (date(2026, 3, 10), "withdrawn", "flight_ban:ref-1")
    ]
    assert (
        "withdrawn on 2026-03-10 by the listing agency"
        in out.objection(late.case_id)["refusal_reason"]
    )
    # as of a day before the removal is known, nothing
    before = listings(flight())
    assert effects(as_of=date(2026, 3, 9), lst=before).objections.is_empty()


# --- a former legal representative ------------------------------------------------------------------


def rep_change(on: date, code: str = REP, uid: str = TAX) -> Filing:
    return filing("representative_change", on, uid, code, commitment=False)


def test_a_former_representative_has_their_restriction_lifted() -> None:
    app = rep_change(date(2026, 4, 2))
    terms = reps((REP, date(2020, 1, 1), date(2025, 6, 1)), (REP_2, date(2025, 6, 1), None))
    out = effects(app, as_of=date(2026, 4, 2), rp=terms)
    assert out.ends.rows(named=True) == [
        {"unique_id": TAX, "credit_code": REP, "role": "legal_representative",
         "end": date(2026, 4, 2), "end_reason": "representative_changed",
         "case_id": app.case_id}
    ]  # fmt: skip
    row = out.repair(app.case_id)
    assert (row["kind"], row["outcome"]) == ("representative_change", "accepted")


@pytest.mark.parametrize(
    ("terms", "reason", "may_apply"),
    [
        (
            reps((REP, date(2020, 1, 1), date(2026, 9, 1))),
            f"{REP} is the legal representative of {ORG} in office on 2026-04-02",
            date(2026, 9, 1),
        ),
        (reps((REP, None, None)), "(the registry gives no end of the term)", None),
        # without terms (the registry before terms were kept) everyone is in office
        (
            pl.DataFrame({"credit_code": [ORG], "legal_rep_code": [REP]}),
            "in office on 2026-04-02",
            None,
        ),
        (reps((REP_2, None, None)), f"{REP} was never the legal representative of {ORG}", None),
    ],
)
def test_a_representative_still_in_office_or_never_one_is_refused(
    terms: pl.DataFrame, reason: str, may_apply: date | None
) -> None:
    app = rep_change(date(2026, 4, 2))
    out = effects(app, as_of=date(2026, 4, 2), rp=terms)
    row = out.repair(app.case_id)
    assert row["outcome"] == "refused" and reason in row["refusal_reason"]
    assert row["may_apply_from"] == may_apply
    assert out.ends.is_empty()


def test_a_representative_change_on_a_persons_listing_is_refused() -> None:
    app = rep_change(date(2026, 4, 2), uid=FLIGHT)
    row = effects(app, as_of=date(2026, 4, 2), rp=reps((REP, None, date(2025, 1, 1)))).repair(
        app.case_id
    )
    assert "is not an organisation's" in row["refusal_reason"]


# --- the tables --------------------------------------------------------------------------------------


def test_the_tables_hold_to_their_contracts() -> None:
    filed = objection(date(2026, 4, 2))
    out = effects(
        repair(date(2026, 4, 2)),
        repair(date(2026, 4, 2), uid=COURT, code=PERSON),
        rep_change(date(2026, 4, 1)),
        filed,
        decision(date(2026, 4, 9), filed, "upheld"),
        objection(date(2026, 4, 3), uid=COURT, code=PERSON, scope="link"),
        as_of=date(2026, 4, 10),
        lst=listings(tax(), flight(), court(),
                     listing("transport/RailBan/9", "rail_ban", "person",
                             removed_on=date(2026, 1, 5), removal_reason="withdrawn")),
        rp=reps((REP, None, date(2025, 1, 1))),
    )  # fmt: skip
    contracts = table_contracts()
    for name, frame, schema in (
        ("publish.repairs", out.repairs, REPAIR_COLUMNS),
        ("publish.objections", out.objections, OBJECTION_COLUMNS),
    ):
        assert contracts[name].polars_schema == schema
        assert frame.height >= 3
        assert check_frame(frame, contracts[name]) == []
    assert out.ends.schema == pl.Schema(ENDS_COLUMNS)
    assert out.open_objections.schema == pl.Schema(OPEN_OBJECTION_COLUMNS)
    assert set(out.ends["end_reason"]) == {"repaired", "withdrawn", "representative_changed"}
