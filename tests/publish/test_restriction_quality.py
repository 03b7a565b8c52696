"""Restriction quality against the truth (publish/quality.py): hand-made listings and links, so
that wrongful, missed and held restrictions exist; then the reader and `credlink quality` on the
small world."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
from handmade import LEGAL_REPS, ORG, PERSON, PERSON_2, REGISTRY, REP, court, link, links, staged
from typer.testing import CliRunner

from credlink.cli import app
from credlink.demo.env import DemoEnv
from credlink.demo.summary import restriction_figures
from credlink.etl.conform.apply import conform_frames
from credlink.etl.lake import Lake
from credlink.publish.history import HISTORY_COLUMNS
from credlink.publish.listings import build_listings
from credlink.publish.memoranda import Memorandum
from credlink.publish.quality import (
    RESTRICTION_QUALITY_COLUMNS,
    RestrictionQualityContractError,
    check_restriction_quality,
    key_figures,
    read_restriction_quality,
    read_truth_legal_reps,
    restriction_quality,
    truth_links,
    write_restriction_quality,
)
from credlink.publish.stage import publish_tables
from credlink.world.generate import WorldSummary

AS_OF = date(2024, 6, 1)
OTHER = "130100198502020021"  # a person who is nobody's legal representative
COURT = "court_defaulters_2016"


def _truth(**codes: str | None) -> pl.DataFrame:
    """Truth rows: record id of courts.SXBZXR -> true code."""
    return pl.DataFrame(
        {
            "unique_id": [f"courts/SXBZXR/{k.lstrip('r')}" for k in codes],
            "true_code": list(codes.values()),
        },
        schema={"unique_id": pl.String, "true_code": pl.String},
    )


def measure(
    memoranda: Sequence[Memorandum],
    rows: Sequence[dict[str, Any]],
    record_links: pl.DataFrame,
    truth: pl.DataFrame,
    *,
    legal_reps: pl.DataFrame = LEGAL_REPS,
    truth_reps: pl.DataFrame = LEGAL_REPS,
    reps_in_review: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Publish hand-made court listings with `record_links` and `legal_reps`, then measure
    the restrictions against `truth` / `truth_reps`: (restrictions, quality table)."""
    listings = build_listings(
        conform_frames({"courts__SXBZXR": staged("courts", "SXBZXR", rows)}), AS_OF
    )
    run = publish_tables(
        listings,
        record_links,
        memoranda,
        legal_reps=legal_reps,
        registry=REGISTRY,
        history=pl.DataFrame(schema=HISTORY_COLUMNS),
        run_id="r1",
        as_of=AS_OF,
    )
    table = restriction_quality(
        run.tables["publish.restrictions"],
        listings,
        truth,
        truth_reps,
        memoranda,
        AS_OF,
        pending_links=run.tables["publish.pending_links"],
        reps_in_review=reps_in_review,
    )
    assert check_restriction_quality(table) == []
    _consistent(table)
    return run.tables["publish.restrictions"], table


def _consistent(table: pl.DataFrame) -> None:
    for r in table.iter_rows(named=True):
        assert r["imposed"] == r["right"] + r["wrongful"], r
        assert r["expected"] == r["right_expected"] + r["held_in_review"] + r["missed"], r
        assert r["wrongful_expected_elsewhere"] <= r["wrongful"], r


def _row(table: pl.DataFrame, memorandum: str = "all", agency: str = "all") -> dict[str, Any]:
    hit = table.filter(
        (pl.col("memorandum_id") == memorandum) & (pl.col("enforcing_agency") == agency)
    )
    assert hit.height == 1, (memorandum, agency)
    return hit.row(0, named=True)


def _count(restrictions: pl.DataFrame, code: str, memorandum: str | None = None) -> int:
    rows = restrictions.filter(pl.col("credit_code") == code)
    if memorandum is not None:
        rows = rows.filter(pl.col("memorandum_id") == memorandum)
    return rows.height


def test_right_links_impose_every_expected_restriction(memoranda: list[Memorandum]) -> None:
    rows = [court(1), court(2, subject_type="organisation")]
    lk = links(link("courts/SXBZXR/1", PERSON), link("courts/SXBZXR/2", ORG))
    restrictions, table = measure(memoranda, rows, lk, _truth(r1=PERSON, r2=ORG))
    total = _row(table)
    assert total["imposed"] == total["expected"] == total["right"] == restrictions.height > 0
    assert (total["wrongful"], total["missed"], total["held_in_review"]) == (0, 0, 0)
    assert (total["recall"], total["precision"]) == (1.0, 1.0)
    assert (total["listings"], total["listings_in_review"], total["review_share"]) == (2, 0, 0.0)
    assert total["as_of"] == AS_OF
    # the representative's restrictions are right: REP truly represents ORG
    assert _count(restrictions, REP) > 0
    # one row per memorandum, per agency, then 'all'; every memorandum listed, even untouched
    assert table.columns == list(RESTRICTION_QUALITY_COLUMNS)
    memo_rows = table.filter(pl.col("enforcing_agency") == "all")["memorandum_id"].to_list()
    assert memo_rows == [*sorted(m.id for m in memoranda), "all"]
    assert table["memorandum_id"][-1] == "all" and table["enforcing_agency"][-1] == "all"
    caac = _row(table, agency="caac")
    assert caac["imposed"] == restrictions.filter(pl.col("enforcing_agency") == "caac").height
    assert _row(table, "aviation_ban_2018")["expected"] == 0


def test_a_restriction_on_someone_elses_record_is_wrongful_and_the_true_one_missed(
    memoranda: list[Memorandum],
) -> None:
    # record 1 is truly PERSON but linked (accept band) onto PERSON_2
    restrictions, table = measure(
        memoranda, [court(1)], links(link("courts/SXBZXR/1", PERSON_2)), _truth(r1=PERSON)
    )
    wrong = restrictions.height
    assert wrong > 0 and _count(restrictions, PERSON_2) == wrong
    total = _row(table)
    assert (total["imposed"], total["wrongful"], total["right"]) == (wrong, wrong, 0)
    assert (total["expected"], total["missed"], total["right_expected"]) == (wrong, wrong, 0)
    assert total["wrongful_expected_elsewhere"] == 0
    assert (total["recall"], total["precision"]) == (0.0, 0.0)
    court_row = _row(table, COURT)
    assert court_row["wrongful"] == _count(restrictions, PERSON_2, COURT)
    assert _row(table, agency="caac")["wrongful"] == 2  # no flights: court 2016 and cross-list


def test_a_record_of_no_registry_restricts_no_one_rightly(memoranda: list[Memorandum]) -> None:
    # record 1 is truly a foreigner (no code) but linked onto PERSON; record 2 is unlinked
    lk = links(link("courts/SXBZXR/1", PERSON), link("courts/SXBZXR/2", PERSON_2, band="reject"))
    restrictions, table = measure(memoranda, [court(1), court(2)], lk, _truth(r1=None, r2=None))
    total = _row(table)
    assert total["wrongful"] == total["imposed"] == restrictions.height > 0
    assert total["expected"] == 0 and total["recall"] is None and total["missed"] == 0
    assert total["listings"] == 2


def test_legal_representative_right_only_when_it_is_the_true_one(
    memoranda: list[Memorandum],
) -> None:
    row = [court(3, subject_type="organisation")]
    lk = links(link("courts/SXBZXR/3", ORG))
    # the pipeline's registry names OTHER as ORG's representative; the truth is REP
    wrong_reps = pl.DataFrame({"credit_code": [ORG], "legal_rep_code": [OTHER]})
    restrictions, table = measure(memoranda, row, lk, _truth(r3=ORG), legal_reps=wrong_reps)
    on_other = _count(restrictions, OTHER)
    assert on_other > 0 and _count(restrictions, REP) == 0
    total = _row(table)
    assert total["wrongful"] == on_other
    assert total["missed"] == on_other  # REP's restrictions, the same measures
    assert total["right"] == _count(restrictions, ORG)
    # the same listing with the true representative: all right
    restrictions, table = measure(memoranda, row, lk, _truth(r3=ORG))
    assert _count(restrictions, REP) == on_other
    assert (_row(table)["wrongful"], _row(table)["missed"]) == (0, 0)


def test_the_true_representative_is_the_one_in_office_on_the_listing_day(
    memoranda: list[Memorandum],
) -> None:
    row = [court(3, subject_type="organisation")]  # listed 2024-01-10
    lk = links(link("courts/SXBZXR/3", ORG))

    def truly(change: date) -> pl.DataFrame:
        """OTHER represented ORG until `change`, REP since."""
        return pl.DataFrame(
            {
                "credit_code": [ORG, ORG],
                "legal_rep_code": [OTHER, REP],
                "in_office_from": [date(2015, 5, 4), change],
                "in_office_to": [change, None],
            }
        )

    # REP took office after the listing day: OTHER should carry the restrictions, not REP
    restrictions, table = measure(
        memoranda, row, lk, _truth(r3=ORG), truth_reps=truly(date(2024, 3, 1))
    )
    on_rep = _count(restrictions, REP)
    assert on_rep > 0 and _count(restrictions, OTHER) == 0
    assert (_row(table)["wrongful"], _row(table)["missed"]) == (on_rep, on_rep)
    # REP was in office on the listing day: all right
    _, table = measure(memoranda, row, lk, _truth(r3=ORG), truth_reps=truly(date(2023, 7, 1)))
    assert (_row(table)["wrongful"], _row(table)["missed"]) == (0, 0)


def test_a_listing_in_review_holds_its_restrictions_it_does_not_miss_them(
    memoranda: list[Memorandum],
) -> None:
    lk = links(
        link("courts/SXBZXR/1", PERSON, band="review", method="probabilistic", probability=0.6),
        link("courts/SXBZXR/2", PERSON_2),
    )
    restrictions, table = measure(
        memoranda, [court(1), court(2)], lk, _truth(r1=PERSON, r2=PERSON_2)
    )
    assert _count(restrictions, PERSON) == 0
    total = _row(table)
    held = total["held_in_review"]
    assert held == _count(restrictions, PERSON_2) > 0  # the same measures as PERSON_2's
    assert (total["missed"], total["wrongful"]) == (0, 0)
    assert total["expected"] == restrictions.height + held
    assert (total["listings"], total["listings_in_review"], total["review_share"]) == (2, 1, 0.5)
    assert _row(table, COURT)["listings_in_review"] == 1
    assert _row(table, agency="caac")["listings_in_review"] == 1
    assert 0 < total["recall"] < 1


def test_a_representative_whose_own_link_is_in_review_is_held(
    memoranda: list[Memorandum],
) -> None:
    row = [court(3, subject_type="organisation")]
    lk = links(link("courts/SXBZXR/3", ORG))
    no_reps = LEGAL_REPS.head(0)  # REP's link to the population registry awaits a reviewer
    restrictions, table = measure(
        memoranda,
        row,
        lk,
        _truth(r3=ORG),
        legal_reps=no_reps,
        reps_in_review=pl.DataFrame({"credit_code": [ORG]}),
    )
    assert _count(restrictions, REP) == 0
    total = _row(table)
    assert total["held_in_review"] > 0 and total["missed"] == 0
    # without the review information the same restrictions count as missed
    _, table = measure(memoranda, row, lk, _truth(r3=ORG), legal_reps=no_reps)
    assert _row(table)["missed"] == total["held_in_review"]


def test_wrongful_is_decided_row_by_row_on_the_listing_records(
    memoranda: list[Memorandum],
) -> None:
    # Two listings linked onto PERSON: record 1 truly PERSON's, record 2 truly PERSON_2's.
    # PERSON's restrictions rest on both records: one supports them, so they are right.
    lk = links(link("courts/SXBZXR/1", PERSON), link("courts/SXBZXR/2", PERSON))
    truth = _truth(r1=PERSON, r2=PERSON_2)
    restrictions, table = measure(memoranda, [court(1), court(2)], lk, truth)
    assert restrictions["listing_records"].list.len().min() == 2
    total = _row(table)
    assert total["wrongful"] == 0 and total["right"] == restrictions.height
    assert total["missed"] == restrictions.height  # PERSON_2's, missed

    # Record 1 (truly PERSON's) unlinked, record 2 (truly PERSON_2's) linked onto PERSON: PERSON
    # should carry the same measures, but on record 1, not on someone else's record: wrongful.
    lk = links(link("courts/SXBZXR/1", PERSON, band="reject"), link("courts/SXBZXR/2", PERSON))
    restrictions, table = measure(memoranda, [court(1), court(2)], lk, truth)
    total = _row(table)
    assert total["wrongful"] == total["wrongful_expected_elsewhere"] == restrictions.height > 0
    assert total["right"] == 0
    assert total["missed"] == 2 * restrictions.height  # PERSON's (on record 1) and PERSON_2's


def test_truth_links_link_every_known_record_and_refuse_an_unknown_one() -> None:
    listings = build_listings(
        conform_frames({"courts__SXBZXR": staged("courts", "SXBZXR", [court(1), court(2)])}), AS_OF
    )
    made = truth_links(listings, _truth(r1=PERSON, r2=None))
    assert made.select("unique_id", "credit_code", "band", "method").rows() == [
        ("courts/SXBZXR/1", PERSON, "accept", "truth")
    ]
    # every identity fact: no identity-evidence rule of a measure holds a true link back
    assert made["name_agreement"].to_list() == ["exact"]
    assert {"citizen_id", "birth_date"} <= set(made["evidence"][0])
    with pytest.raises(ValueError, match="no truth row"):
        truth_links(listings, _truth(r1=PERSON))


def test_the_table_is_held_to_its_contract_when_written(
    tmp_path: Path, memoranda: list[Memorandum]
) -> None:
    _, table = measure(
        memoranda, [court(1)], links(link("courts/SXBZXR/1", PERSON)), _truth(r1=PERSON)
    )
    lake = Lake(tmp_path / "lake")
    write_restriction_quality(lake, table)
    assert lake.read("linkage", "restriction_quality").equals(table)
    assert ", 0 wrongful, 0 missed, 0 held in review; recall 1.0000" in key_figures(table)
    broken = {
        "duplicate key": pl.concat([table, table.tail(1)]),
        "missing column": table.drop("missed"),
        "null count": table.with_columns(pl.lit(None, pl.Int64).alias("wrongful")),
    }
    for what, frame in broken.items():
        assert check_restriction_quality(frame), what
        with pytest.raises(RestrictionQualityContractError):
            write_restriction_quality(Lake(tmp_path / what), frame)
        assert Lake(tmp_path / what).read("linkage", "restriction_quality").is_empty()


def test_true_legal_representatives_come_from_the_worlds_registry(tmp_path: Path) -> None:
    (tmp_path / "registries").mkdir()
    con = sqlite3.connect(tmp_path / "registries" / "legal_entities.db")
    con.execute("CREATE TABLE legal_entity (uscc TEXT, name TEXT, legal_rep_id TEXT)")
    con.execute("INSERT INTO legal_entity VALUES (?, ?, ?)", (ORG, "北京某某有限公司", REP))
    con.commit()
    con.close()
    # a world from before the registry kept terms: the representative, term unknown
    assert read_truth_legal_reps(tmp_path).rows() == [(ORG, REP, None, None)]
    with pytest.raises(FileNotFoundError):
        read_truth_legal_reps(tmp_path / "nowhere")


def test_true_legal_representatives_come_with_their_terms(tmp_path: Path) -> None:
    (tmp_path / "registries").mkdir()
    con = sqlite3.connect(tmp_path / "registries" / "legal_entities.db")
    con.execute("CREATE TABLE legal_entity (uscc TEXT, name TEXT, legal_rep_id TEXT)")
    con.execute("INSERT INTO legal_entity VALUES (?, ?, ?)", (ORG, "北京某某有限公司", REP))
    con.execute(
        "CREATE TABLE legal_representative "
        "(uscc TEXT, legal_rep_id TEXT, term_from TEXT, term_to TEXT)"
    )
    con.executemany(
        "INSERT INTO legal_representative VALUES (?, ?, ?, ?)",
        [(ORG, OTHER, "2010-05-04", "2024-03-01"), (ORG, REP, "2024-03-01", None)],
    )
    con.commit()
    con.close()
    assert read_truth_legal_reps(tmp_path).sort("in_office_from").rows() == [
        (ORG, OTHER, date(2010, 5, 4), date(2024, 3, 1)),
        (ORG, REP, date(2024, 3, 1), None),
    ]


def test_demo_summary_shows_the_key_figures(tmp_path: Path, memoranda: list[Memorandum]) -> None:
    where = DemoEnv({"CREDLINK_DATA": str(tmp_path)})
    assert "not measured" in restriction_figures(where)
    lk = links(link("courts/SXBZXR/1", PERSON_2))
    _, table = measure(memoranda, [court(1)], lk, _truth(r1=PERSON))
    write_restriction_quality(Lake(where.lake_dir), table)
    text = restriction_figures(where)
    total = _row(table)
    assert f"{total['wrongful']} wrongful" in text and f"{total['missed']} missed" in text
    assert "0 held in review" in text and "recall 0.0000" in text


@pytest.mark.slow
def test_quality_measures_the_published_restrictions_of_the_small_world(
    lake_copy: Lake, small_world: WorldSummary, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse = tmp_path / "credlink.duckdb"
    monkeypatch.setenv("CREDLINK_DATA", str(lake_copy.root.parent))
    monkeypatch.setenv("CREDLINK_WAREHOUSE", str(warehouse))
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()
    published = runner.invoke(app, ["publish", "--on", "2025-06-30"])
    assert published.exit_code == 0, published.output
    result = runner.invoke(app, ["quality", "--world", str(small_world.out)])
    assert result.exit_code == 0, (result.output, result.exception)
    out = result.output
    assert "Restrictions against" in out and "wrongful" in out and COURT in out

    stored = lake_copy.read("linkage", "restriction_quality")
    assert stored.equals(read_restriction_quality(warehouse, lake_copy, small_world.out))
    _consistent(stored)
    total = _row(stored)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        imposed = con.sql("SELECT count(*) FROM publish.restrictions").fetchone()
        pending = con.sql("SELECT count(*) FROM publish.pending_links").fetchone()
    finally:
        con.close()
    assert imposed is not None and pending is not None
    assert total["imposed"] == imposed[0] > 0
    assert total["listings_in_review"] == pending[0]
    assert total["as_of"] == date(2025, 6, 30)
    assert total["wrongful"] == 0  # linkage is precise on our own world
    assert total["recall"] > 0.95
    # the catalog shows it
    con = duckdb.connect(str(lake_copy.catalog_path), read_only=True)
    try:
        rows = con.sql("SELECT count(*) FROM linkage.restriction_quality").fetchone()
    finally:
        con.close()
    assert rows is not None and rows[0] == stored.height
