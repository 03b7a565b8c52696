"""The linkage stage: tables written to the lake, reviewer decisions applied on every run."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from credlink.etl.lake import Lake
from credlink.linkage.decisions import apply_decisions, read_decisions, record_decision
from credlink.linkage.review_keys import ItemKey
from credlink.linkage.review_queue import read_review_queue
from credlink.linkage.stage import Thresholds, run_linkage
from credlink.linkage.tables import (
    DECISION_COLUMNS,
    RECORD_LINKS_COLUMNS,
    REVIEW_QUEUE_COLUMNS,
    read_record_links,
)

DAY = datetime(2025, 7, 1, tzinfo=UTC)
#: The small world leaves nothing to review at the default thresholds: a strict accept band
#: sends a dozen of its weakest probabilistic links to review.
STRICT = Thresholds(accept=0.99999, review=0.3)


def links(rows: list[tuple[str, str | None, str | None, str, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema=["unique_id", "credit_code", "candidate_code", "band", "method"],
        orient="row",
    ).with_columns(
        pl.lit(None, pl.String).alias("matched_on"), pl.lit(None, pl.String).alias("reason")
    )


def decisions(rows: list[tuple[str, str, str, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            (u, c, d, "li", datetime(2026, 1, 1, h, tzinfo=UTC), None, None, None)
            for u, c, d, h in rows
        ],
        schema=DECISION_COLUMNS,
        orient="row",
    )


def test_decisions_override_the_model() -> None:
    before = links(
        [
            ("a", "X", "X", "accept", "deterministic"),  # a reviewer rejects X
            ("b", None, "Y", "review", "probabilistic"),  # accepted onto Y
            ("c", None, "Z", "review", "probabilistic"),  # Z rejected, then accepted again
            ("d", None, "W", "reject", "probabilistic"),  # W rejected, V accepted
            ("e", "Q", "Q", "accept", "probabilistic"),  # undecided: unchanged
        ]
    )
    decided = decisions(
        [
            ("a", "X", "reject", 9),
            ("b", "Y", "accept", 9),
            ("c", "Z", "reject", 9),
            ("c", "Z", "accept", 10),
            ("d", "V", "accept", 8),
            ("d", "W", "reject", 11),
        ]
    )
    after = {r["unique_id"]: r for r in apply_decisions(before, decided).iter_rows(named=True)}
    got = {k: (r["credit_code"], r["band"], r["method"]) for k, r in after.items()}
    assert got == {
        "a": (None, "reject", "clerical"),
        "b": ("Y", "accept", "clerical"),
        "c": ("Z", "accept", "clerical"),
        "d": ("V", "accept", "clerical"),
        "e": ("Q", "accept", "probabilistic"),
    }
    assert (
        after["a"]["candidate_code"] == "X" and after["a"]["reason"] == "reviewer decision: reject"
    )


def test_decision_checks(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    with pytest.raises(ValueError, match="decision must be"):
        record_decision(lake, "a", "X", "maybe", reviewer="li", decided_at=DAY)
    with pytest.raises(ValueError, match="timezone"):
        record_decision(lake, "a", "X", "accept", reviewer="li", decided_at=datetime(2026, 1, 1))
    record_decision(lake, "a", "X", "accept", reviewer="li", decided_at=DAY, note="same person")
    record_decision(lake, "a", "X", "reject", reviewer="wang", decided_at=DAY)
    got = read_decisions(lake)
    assert got.schema == pl.Schema(DECISION_COLUMNS)
    assert got["reviewer"].to_list() == ["li", "wang"]
    with pytest.raises(ValueError, match="review <= accept"):
        Thresholds(accept=0.5, review=0.9)


@pytest.fixture
def stage_lake(small_lake: Lake, tmp_path: Path) -> Lake:
    """A copy of the small world's staged data, so that decisions stay in this test."""
    shutil.copytree(small_lake.root / "staging", tmp_path / "staging")
    shutil.copytree(small_lake.root / "conformed", tmp_path / "conformed")
    return Lake(tmp_path)


@pytest.mark.slow
def test_run_writes_tables_and_decisions_win_on_rerun(stage_lake: Lake) -> None:
    counts = run_linkage(stage_lake, run_id="run-1", logical_date=DAY, thresholds=STRICT)
    first = read_record_links(stage_lake)
    queue = read_review_queue(stage_lake)
    assert first.schema == pl.Schema(RECORD_LINKS_COLUMNS)
    assert queue.schema == pl.Schema(REVIEW_QUEUE_COLUMNS)
    assert counts["records"] == first.height == first["unique_id"].n_unique()
    assert (first["run_id"] == "run-1").all()
    # Records in review produce no accepted link; the queue holds exactly them, with evidence.
    review = first.filter(pl.col("band") == "review")
    assert review["credit_code"].null_count() == review.height
    reps = stage_lake.read("linkage", "legal_representatives").filter(pl.col("band") == "review")
    assert set(queue["unique_id"]) == set(review["unique_id"]) | set(reps["unique_id"])
    assert (
        first.filter(pl.col("band") != "accept")["credit_code"].null_count()
        == first.filter(pl.col("band") != "accept").height
    )
    assert queue.height > 0, "the small world should leave something to review"
    item = queue.row(0, named=True)
    assert item["record"].startswith("{") and item["candidate"].startswith("{")
    assert "name" in item["comparison_weights"]

    accepted = first.filter(pl.col("band") == "accept").sort("unique_id")
    wrong, moved = accepted.row(0, named=True), accepted.row(1, named=True)
    # A queued record is decided by the key of what the reviewer saw (linkage.review_keys);
    # the two others are corrections of accepted links, outside the queue.
    record_decision(stage_lake, item["unique_id"], item["candidate_code"], "accept",
                    reviewer="li", decided_at=DAY, seen=ItemKey.of(item))  # fmt: skip
    record_decision(stage_lake, wrong["unique_id"], wrong["credit_code"], "reject",
                    reviewer="li", decided_at=DAY, note="different person")  # fmt: skip
    record_decision(stage_lake, moved["unique_id"], "CODE-CHOSEN-BY-A-REVIEWER", "accept",
                    reviewer="wang", decided_at=DAY)  # fmt: skip

    counts = run_linkage(stage_lake, run_id="run-2", logical_date=DAY, thresholds=STRICT)
    second = {r["unique_id"]: r for r in read_record_links(stage_lake).iter_rows(named=True)}
    assert counts["clerical"] == 3 and counts["decisions"] == 3
    assert (second[item["unique_id"]]["credit_code"], second[item["unique_id"]]["band"]) == (
        item["candidate_code"],
        "accept",
    )
    assert second[wrong["unique_id"]]["credit_code"] is None
    assert second[wrong["unique_id"]]["band"] == "reject"
    assert second[moved["unique_id"]]["credit_code"] == "CODE-CHOSEN-BY-A-REVIEWER"
    assert {second[u]["method"] for u in (item["unique_id"], wrong["unique_id"])} == {"clerical"}
    assert item["unique_id"] not in set(read_review_queue(stage_lake)["unique_id"])
    # Everything undecided is as before.
    undecided = set(second) - {item["unique_id"], wrong["unique_id"], moved["unique_id"]}
    now = read_record_links(stage_lake).filter(pl.col("unique_id").is_in(list(undecided)))
    before = first.filter(pl.col("unique_id").is_in(list(undecided)))
    assert now.sort("unique_id").drop("run_id").equals(before.sort("unique_id").drop("run_id"))
