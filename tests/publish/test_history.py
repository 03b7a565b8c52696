"""History over a sequence of runs (imposed, extended, lifted) and as-of queries."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import polars as pl
from handmade import PERSON, court, link, links, publish, staged

from credlink.publish.history import in_force_on
from credlink.publish.memoranda import Memorandum
from credlink.publish.warehouse import write_warehouse

FLIGHTS = "court_defaulters_2016:no_flights:" + PERSON


def _runs(memoranda: list[Memorandum]) -> list:  # type: ignore[type-arg]
    """Four runs over one defaulter listing as the court updates it."""
    lk = links(link("courts/SXBZXR/1", PERSON))
    versions = [
        # run 1: listed with a 2-year term
        (date(2024, 2, 1), court(1, circumstance="evades", valid_until=date(2026, 1, 10))),
        # run 2: nothing changed
        (date(2024, 3, 1), court(1, circumstance="evades", valid_until=date(2026, 1, 10))),
        # run 3: extended by a year
        (
            date(2025, 12, 1),
            court(
                1,
                circumstance="evades",
                valid_until=date(2027, 1, 10),
                updated=datetime(2025, 11, 20, tzinfo=UTC),
            ),
        ),
        # run 4: performed, removed
        (
            date(2026, 3, 1),
            court(
                1,
                circumstance="evades",
                valid_until=date(2027, 1, 10),
                removed="yes",
                removed_on=date(2026, 2, 20),
                removal_reason="performed",
                updated=datetime(2026, 2, 20, tzinfo=UTC),
            ),
        ),
    ]
    history, recorded = None, None
    runs = []
    for i, (day, row) in enumerate(versions, start=1):
        tables = {"courts__SXBZXR": staged("courts", "SXBZXR", [row])}
        run = publish(tables, lk, memoranda, day, history=history, runs=recorded, run_id=f"run{i}")
        history, recorded = run.history, run.runs
        runs.append(run)
    return runs


def test_imposed_extended_lifted_with_the_runs_that_did_it(memoranda: list[Memorandum]) -> None:
    runs = _runs(memoranda)
    history = runs[-1].history
    flights = history.filter(pl.col("restriction_id") == FLIGHTS)
    assert flights.select("run_id", "change", "status", "valid_to", "reason").rows() == [
        ("run1", "imposed", "active", date(2026, 1, 10), None),
        ("run3", "extended", "active", date(2027, 1, 10), None),
        ("run4", "lifted", "ended", date(2026, 2, 20), "performed"),
    ]
    assert runs[1].counts()["changes"] == 0  # an unchanged run records nothing
    assert runs[-1].tables["publish.restrictions"].is_empty()
    # every restriction of the listing was lifted by run 4
    assert set(history.filter(pl.col("run_id") == "run4")["change"]) == {"lifted"}
    assert runs[-1].tables["publish.runs"]["run_id"].to_list() == ["run1", "run2", "run3", "run4"]


def test_as_of_queries(memoranda: list[Memorandum]) -> None:
    history = _runs(memoranda)[-1].history

    def codes(day: date) -> set[str]:
        return set(in_force_on(history, day)["restriction_id"])

    assert FLIGHTS not in codes(date(2024, 1, 31))  # before the first run recorded anything
    assert FLIGHTS in codes(date(2024, 2, 1))
    assert FLIGHTS in codes(date(2025, 6, 1))
    # as recorded on 2026-01-15: run 3 had extended it to 2027
    assert FLIGHTS in codes(date(2026, 1, 15))
    assert FLIGHTS in codes(date(2026, 2, 28))  # the removal was recorded on 2026-03-01
    assert FLIGHTS not in codes(date(2026, 3, 1))


def test_a_rerun_replaces_its_own_rows(memoranda: list[Memorandum]) -> None:
    runs = _runs(memoranda)
    history = runs[-1].history
    lk = links(link("courts/SXBZXR/1", PERSON))
    removed = court(
        1,
        circumstance="evades",
        valid_until=date(2027, 1, 10),
        removed="yes",
        removed_on=date(2026, 2, 20),
        removal_reason="performed",
    )
    tables = {"courts__SXBZXR": staged("courts", "SXBZXR", [removed])}
    again = publish(
        tables, lk, memoranda, date(2026, 3, 1), history=history, runs=runs[-1].runs, run_id="run4"
    )
    assert again.runs.equals(runs[-1].runs)
    assert again.history.sort("seq", "restriction_id").equals(history.sort("seq", "restriction_id"))


def test_pending_then_imposed_or_withdrawn_and_unlinked(memoranda: list[Memorandum]) -> None:
    """Objection windows and a link withdrawn by a reviewer, over three runs."""

    def ban(rid: int, **fields: object) -> dict:
        return {
            "id": rid,
            "subject_type": "person",
            "behaviour": "prohibited_items",
            "published_on": date(2024, 3, 5),
            "effective_from": date(2024, 3, 14),
            "expires_on": date(2025, 3, 14),
            "status": "pending",
            **fields,
        }

    withdrawn = ban(2, status="withdrawn", updated=datetime(2024, 3, 12, tzinfo=UTC))
    steps = [
        (date(2024, 3, 10), [ban(1), ban(2)], "accept"),  # both in the objection window
        (date(2024, 3, 20), [ban(1, status="active"), withdrawn], "accept"),
        (date(2024, 4, 1), [ban(1, status="active"), withdrawn], "review"),  # link reopened
    ]
    history, recorded = None, None
    for i, (day, rows, band) in enumerate(steps, start=1):
        lk = links(
            link(
                "transport/FlightBan/1",
                PERSON,
                band=band,
                method="probabilistic",
                probability=0.995,
            ),
            link("transport/FlightBan/2", "360426199101010071"),
        )
        tables = {"transport__FlightBan": staged("transport", "FlightBan", rows)}
        run = publish(tables, lk, memoranda, day, history=history, runs=recorded, run_id=f"run{i}")
        history, recorded = run.history, run.runs
    assert history is not None
    rows = history.filter(pl.col("memorandum_id") == "aviation_ban_2018").sort("seq", "credit_code")
    assert rows.select("run_id", "credit_code", "change", "status", "reason").rows() == [
        ("run1", "11010519491231002X", "pending", "pending", None),
        ("run1", "360426199101010071", "pending", "pending", None),
        ("run2", "11010519491231002X", "imposed", "active", None),
        ("run2", "360426199101010071", "withdrawn", "ended", "withdrawn"),
        ("run3", "11010519491231002X", "lifted", "ended", "unlinked"),
    ]
    # recorded on 2024-03-10 as pending from 2024-03-14: in force from that day, as said then
    assert "aviation_ban_2018:no_flights:" + PERSON not in set(
        in_force_on(history, date(2024, 3, 13))["restriction_id"]
    )
    assert "aviation_ban_2018:no_flights:" + PERSON in set(
        in_force_on(history, date(2024, 3, 31))["restriction_id"]
    )
    assert in_force_on(history, date(2024, 4, 1)).is_empty()


def test_the_warehouse_macro_agrees_with_in_force_on(
    tmp_path: Path, memoranda: list[Memorandum]
) -> None:
    last = _runs(memoranda)[-1]
    path = tmp_path / "credlink.duckdb"
    write_warehouse(path, last.tables)
    con = duckdb.connect(str(path), read_only=True)
    try:
        for day in (date(2024, 1, 1), date(2024, 2, 1), date(2026, 1, 15), date(2026, 3, 1)):
            sql = con.execute(
                "SELECT restriction_id, valid_to FROM publish.in_force_on(?::DATE)", [day]
            ).fetchall()
            expected = in_force_on(last.history, day).select("restriction_id", "valid_to").rows()
            assert sql == expected, day
    finally:
        con.close()
