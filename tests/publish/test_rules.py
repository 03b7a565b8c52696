"""Each memorandum's rules on hand-made listings (pure: no lake, no warehouse)."""

from __future__ import annotations

from datetime import date

import polars as pl
from handmade import (
    ORG,
    PERSON,
    PERSON_2,
    REP,
    court,
    in_force,
    link,
    links,
    publish,
    staged,
    tax_case,
)

from credlink.publish.memoranda import Memorandum


def _row(frame: pl.DataFrame, **where: str) -> dict:
    hit = frame.filter(pl.all_horizontal([pl.col(k) == v for k, v in where.items()]))
    assert hit.height == 1, (where, hit)
    return hit.row(0, named=True)


def test_court_defaulter_person_is_restricted_until_removed(memoranda: list[Memorandum]) -> None:
    tables = {"courts__SXBZXR": staged("courts", "SXBZXR", [court(1)])}
    lk = links(link("courts/SXBZXR/1", PERSON))
    run = publish(tables, lk, memoranda, date(2024, 6, 1))
    court_rows = in_force(run, "court_defaulters_2016")
    measures = set(court_rows["measure_id"])
    # persons get the consumption restrictions, not the organisation-only measures
    assert {"no_flights", "no_high_class_rail", "no_star_hotels", "no_civil_service"} <= measures
    assert "no_bond_issuance" not in measures
    flights = _row(court_rows, measure_id="no_flights")
    assert flights["status"] == "active"
    assert flights["valid_from"] == date(2024, 1, 10)
    assert flights["valid_to"] is None  # able but refuses: no fixed term
    assert flights["listing_records"] == ["courts/SXBZXR/1"]
    assert flights["link_methods"] == ["deterministic"]
    assert flights["enforcing_agency"] == "caac"
    # the 2018 cross-list restriction too: no flights, no high-class rail
    assert set(in_force(run, "cross_list_transport_2018")["measure_id"]) == {
        "no_flights",
        "no_high_class_rail",
    }
    # performed in full on 2024-07-01: lifted from that day
    removed = court(1, removed="yes", removed_on=date(2024, 7, 1), removal_reason="performed")
    tables = {"courts__SXBZXR": staged("courts", "SXBZXR", [removed])}
    assert in_force(publish(tables, lk, memoranda, date(2024, 6, 30))).height == len(
        run.tables["publish.restrictions"]
    )
    assert in_force(publish(tables, lk, memoranda, date(2024, 7, 1))).is_empty()


def test_court_fixed_term_ends_with_the_listing(memoranda: list[Memorandum]) -> None:
    row = court(2, circumstance="evades", valid_until=date(2026, 1, 10))
    tables = {"courts__SXBZXR": staged("courts", "SXBZXR", [row])}
    run = publish(tables, links(link("courts/SXBZXR/2", PERSON)), memoranda, date(2024, 6, 1))
    assert set(in_force(run, "court_defaulters_2016")["valid_to"]) == {date(2026, 1, 10)}
    after = publish(tables, links(link("courts/SXBZXR/2", PERSON)), memoranda, date(2026, 1, 10))
    assert in_force(after).is_empty()


def test_listed_organisation_binds_its_legal_representative(memoranda: list[Memorandum]) -> None:
    tables = {"courts__SXBZXR": staged("courts", "SXBZXR", [court(3, subject_type="organisation")])}
    run = publish(tables, links(link("courts/SXBZXR/3", ORG)), memoranda, date(2024, 6, 1))
    org = in_force(run, "court_defaulters_2016").filter(pl.col("credit_code") == ORG)
    rep = in_force(run, "court_defaulters_2016").filter(pl.col("credit_code") == REP)
    assert "no_bond_issuance" in set(org["measure_id"])
    assert "no_flights" not in set(org["measure_id"])  # a firm does not board planes
    assert "no_flights" in set(rep["measure_id"])
    flights = _row(rep, measure_id="no_flights")
    assert flights["roles"] == ["legal_representative"]
    assert flights["via_codes"] == [ORG]
    assert flights["listing_records"] == ["courts/SXBZXR/3"]
    assert flights["subject_type"] == "person"
    caac = run.tables["enforce.caac"]
    assert set(caac["credit_code"]) == {REP}
    assert set(caac.columns) == {
        "credit_code",
        "subject_type",
        "name",
        "measure_id",
        "measure",
        "valid_from",
        "valid_to",
    }  # nothing of the basis: no memorandum, listing or link


def test_tax_thresholds_three_years_and_early_removal(memoranda: list[Memorandum]) -> None:
    rows = [
        tax_case(1),  # evasion above both thresholds
        tax_case(2, sjse=900_000.0),  # below 1,000,000 yuan
        tax_case(3, sjbl=0.05),  # below 10% of tax due
        tax_case(4, violation_type="false_ordinary_invoices", sjse=100_000.0, sjbl=None, fpfs=150),
        tax_case(5, violation_type="false_ordinary_invoices", sjse=100_000.0, sjbl=None, fpfs=20),
    ]
    tables = {"tax__zdsswfaj": staged("tax", "zdsswfaj", rows)}
    lk = links(*(link(f"tax/zdsswfaj/{i}", ORG) for i in range(1, 6)))
    run = publish(tables, lk, memoranda, date(2024, 6, 1))
    tax = in_force(run, "major_tax_violators_2014")
    grade = _row(tax, measure_id="tax_credit_grade_d", credit_code=ORG)
    assert grade["listing_records"] == ["tax/zdsswfaj/1", "tax/zdsswfaj/4"]
    assert grade["valid_to"] == date(2027, 3, 1)  # published for 3 years
    exit_ban = _row(tax, measure_id="exit_restriction")
    assert exit_ban["credit_code"] == REP and exit_ban["roles"] == ["legal_representative"]
    listed = run.tables["publish.listings"].filter(
        pl.col("memoranda").list.contains("major_tax_violators_2014")
    )
    assert set(listed["unique_id"]) == {"tax/zdsswfaj/1", "tax/zdsswfaj/4"}

    paid = [
        tax_case(1, removed_on=date(2024, 9, 1), ycyy="已缴清税款、滞纳金和罚款"),
        tax_case(4, removed_on=date(2024, 9, 1), ycyy="已缴清税款、滞纳金和罚款"),
    ]
    tables = {"tax__zdsswfaj": staged("tax", "zdsswfaj", paid)}
    assert in_force(publish(tables, lk, memoranda, date(2024, 9, 1))).is_empty()
    # the payment is not known before its day
    assert not in_force(publish(tables, lk, memoranda, date(2024, 8, 31))).is_empty()


def _flight(rid: int, **fields: object) -> dict:
    return {
        "id": rid,
        "subject_type": "person",
        "subject_name": "张伟",
        "FlightNumber": "CA1234",
        "behaviour": "smoking_on_board",
        "published_on": date(2024, 3, 5),
        "effective_from": date(2024, 3, 14),
        "expires_on": date(2025, 3, 14),
        "status": "active",
        **fields,
    }


def test_flight_ban_pending_in_the_objection_window_then_one_year(
    memoranda: list[Memorandum],
) -> None:
    tables = {"transport__FlightBan": staged("transport", "FlightBan", [_flight(1)])}
    lk = links(link("transport/FlightBan/1", PERSON))
    during = publish(tables, lk, memoranda, date(2024, 3, 10))
    ban = _row(in_force(during, "aviation_ban_2018"), measure_id="no_flights")
    assert ban["status"] == "pending"
    assert during.tables["enforce.caac"].is_empty()  # not enforced before it takes effect
    after = publish(tables, lk, memoranda, date(2024, 3, 14))
    ban = _row(in_force(after, "aviation_ban_2018"), measure_id="no_flights")
    assert (ban["status"], ban["valid_from"], ban["valid_to"]) == (
        "active",
        date(2024, 3, 14),
        date(2025, 3, 14),
    )
    assert set(after.tables["enforce.caac"]["credit_code"]) == {PERSON}
    assert in_force(publish(tables, lk, memoranda, date(2025, 3, 14))).is_empty()


def test_flight_ban_withdrawn_in_the_objection_window(memoranda: list[Memorandum]) -> None:
    from datetime import UTC, datetime

    row = _flight(2, status="withdrawn", updated=datetime(2024, 3, 12, 2, tzinfo=UTC))
    tables = {"transport__FlightBan": staged("transport", "FlightBan", [row])}
    run = publish(tables, links(link("transport/FlightBan/2", PERSON)), memoranda, date(2024, 4, 1))
    assert in_force(run).is_empty()
    # withdrawn on an upheld objection: it never restricts again, and says so
    assert run.tables["publish.listings"]["outcome"].to_list() == ["withdrawn"]


def _rail(rid: int, **fields: object) -> dict:
    return {
        "id": rid,
        "subject_type": "person",
        "subject_name": "李娜",
        "TrainNumber": "G1",
        "behaviour": "smoking_on_train",
        "fare_owed_yuan": None,
        "fare_paid_on": None,
        "published_on": date(2024, 5, 5),
        "effective_from": date(2024, 5, 14),
        "expires_on": date(2024, 11, 10),
        "status": "active",
        **fields,
    }


def test_rail_ban_180_days_and_fare_dodging_until_paid(memoranda: list[Memorandum]) -> None:
    dodger = _rail(2, behaviour="fare_dodging", fare_owed_yuan=559.0, expires_on=None)
    tables = {"transport__RailBan": staged("transport", "RailBan", [_rail(1), dodger])}
    lk = links(link("transport/RailBan/1", PERSON), link("transport/RailBan/2", PERSON_2))
    run = publish(tables, lk, memoranda, date(2024, 6, 1))
    rail = in_force(run, "rail_ban_2018")
    assert _row(rail, credit_code=PERSON)["valid_to"] == date(2024, 11, 10)  # 180 days
    assert _row(rail, credit_code=PERSON_2)["valid_to"] is None  # until the fare is paid
    later = publish(tables, lk, memoranda, date(2025, 6, 1))
    assert set(in_force(later)["credit_code"]) == {PERSON_2}
    paid = _rail(2, behaviour="fare_dodging", fare_paid_on=date(2025, 7, 1), expires_on=None)
    tables = {"transport__RailBan": staged("transport", "RailBan", [_rail(1), paid])}
    assert in_force(publish(tables, lk, memoranda, date(2025, 7, 1))).is_empty()


def _violation(rid: int, **fields: object) -> dict:
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


def test_food_serious_dishonesty_trigger(memoranda: list[Memorandum]) -> None:
    def run(violation: dict, inspections: list[dict]) -> pl.DataFrame:
        tables = {
            "food__serious_violations": staged("food", "serious_violations", [violation]),
            "food__inspections": staged("food", "inspections", inspections),
        }
        lk = links(link(f"food/serious_violations/{violation['id']}", ORG))
        return in_force(publish(tables, lk, memoranda, date(2024, 7, 1)), "food_safety_2016")

    ok = {
        "id": 1,
        "licence_no": "JY11101050000011",
        "inspected_on": date(2024, 2, 1),
        "grade": "fair",
    }
    failed = {**ok, "id": 2, "grade": None}
    old_fail = {**failed, "id": 3, "inspected_on": date(2023, 1, 1)}
    # an ordinary violation, graded inspections (or a failure long ago): not serious dishonesty
    assert run(_violation(1), [ok, old_fail]).is_empty()
    # a failed inspection within the year before: a repeat offender
    repeat = run(_violation(1), [ok, failed])
    assert set(repeat["measure_id"]) >= {"key_supervision", "no_food_licence"}
    assert set(repeat.filter(pl.col("credit_code") == ORG)["valid_to"]) == {date(2027, 6, 1)}
    assert REP in set(repeat["credit_code"])  # extended to the legal representative
    # a revoked licence or the gravest violations suffice alone
    assert not run(_violation(1, revoked="yes"), [ok]).is_empty()
    assert not run(_violation(1, violation_type="diseased_meat"), []).is_empty()


def test_nothing_restricted_on_a_review_band_link(memoranda: list[Memorandum]) -> None:
    tables = {"courts__SXBZXR": staged("courts", "SXBZXR", [court(1), court(2)])}
    lk = links(
        link("courts/SXBZXR/1", PERSON, band="review", method="probabilistic", probability=0.7),
        link("courts/SXBZXR/2", PERSON_2, band="reject", method="probabilistic", probability=0.1),
    )
    run = publish(tables, lk, memoranda, date(2024, 6, 1))
    assert in_force(run).is_empty()
    assert all(t.is_empty() for n, t in run.tables.items() if n.startswith("enforce."))
    pending = run.tables["publish.pending_links"]
    assert pending["unique_id"].to_list() == ["courts/SXBZXR/1"]
    assert pending["candidate_code"].to_list() == [PERSON]
    outcome = dict(run.tables["publish.listings"].select("unique_id", "outcome").iter_rows())
    assert outcome == {"courts/SXBZXR/1": "awaiting_review", "courts/SXBZXR/2": "unlinked"}
    # a reviewer accepts: the link is clerical, in the accept band, and restricts
    accepted = links(
        link("courts/SXBZXR/1", PERSON, method="clerical", probability=0.7),
        link("courts/SXBZXR/2", PERSON_2, band="reject", method="probabilistic", probability=0.1),
    )
    run = publish(tables, accepted, memoranda, date(2024, 6, 1))
    assert set(in_force(run)["credit_code"]) == {PERSON}
    assert set(in_force(run)["link_methods"].explode()) == {"clerical"}
    assert run.tables["publish.pending_links"].is_empty()
