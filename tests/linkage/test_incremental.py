"""Incremental linking: a daily run links only what is new or changed, and agrees with a full run."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from lakes import stage_world

from credlink.etl.ingest.interval import Interval
from credlink.etl.lake import Lake
from credlink.linkage.incremental import FINGERPRINT_SCHEME, fingerprints, full_reason, plan
from credlink.linkage.runs import read_runs
from credlink.linkage.spine_store import update_spine
from credlink.linkage.stage import Thresholds, run_linkage
from credlink.linkage.tables import read_record_links
from credlink.world.generate import WorldSummary

SPLIT = datetime(2025, 6, 1, tzinfo=UTC)
END = datetime(2025, 7, 1, tzinfo=UTC)


def frame(rows: list[tuple[str, int]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"unique_id": pl.String, "fingerprint": pl.UInt64},
                        orient="row")  # fmt: skip


def previous(rows: list[tuple[str, int, str | None, str, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        [(u, fp, code, code if band == "accept" else None, band, method)
         for u, fp, code, band, method in rows],
        schema={"unique_id": pl.String, "record_fingerprint": pl.UInt64,
                "candidate_code": pl.String, "credit_code": pl.String, "band": pl.String,
                "method": pl.String},
        orient="row",
    )  # fmt: skip


def test_fingerprints_change_with_any_field() -> None:
    a = pl.DataFrame({"unique_id": ["x", "y"], "name": ["王伟", "王伟"], "born": [1980, None]})
    b = a.with_columns(pl.Series("born", [1980, 1981]))
    fa, fb = fingerprints(a), fingerprints(b)
    assert fa["fingerprint"][0] == fb["fingerprint"][0]
    assert fa["fingerprint"][1] != fb["fingerprint"][1]
    assert fingerprints(a)["fingerprint"].to_list() == fa["fingerprint"].to_list()


def test_plan_relinks_new_changed_and_what_the_spine_change_concerns() -> None:
    records = frame([("kept", 1), ("changed", 2), ("new", 3), ("on_moved", 4), ("review", 5)])
    prev = previous(
        [
            ("kept", 1, "A", "accept", "deterministic"),
            ("changed", 20, "A", "accept", "probabilistic"),
            ("on_moved", 4, "B", "accept", "probabilistic"),
            ("review", 5, "A", "review", "probabilistic"),
            ("gone", 6, "A", "accept", "deterministic"),  # no longer staged
        ]
    )
    spine_before = frame([("A", 100), ("B", 200)]).with_columns(subject_type=pl.lit("person"))
    # B's registry entry changed, C is new: the review record may be C.
    spine_now = frame([("A", 100), ("B", 201), ("C", 300)])
    p = plan(records, prev, spine_now, spine_before.select("unique_id", "fingerprint"))
    assert sorted(p.relink["unique_id"]) == ["changed", "new", "on_moved", "review"]
    assert p.keep["unique_id"].to_list() == ["kept"]
    assert p.reasons == {"new": 1, "changed": 1, "spine_changed": 1, "not_accepted": 1}
    # An unchanged spine leaves the review record alone.
    same = plan(records, prev, spine_before.select("unique_id", "fingerprint"),
                spine_before.select("unique_id", "fingerprint"))  # fmt: skip
    assert sorted(same.relink["unique_id"]) == ["changed", "new"]


def test_full_run_reasons() -> None:
    last = {"fingerprint_scheme": FINGERPRINT_SCHEME, "accept": 0.99, "review": 0.3,
            "model_version": "person-1"}  # fmt: skip
    args = {"model_version": "person-1", "accept": 0.99, "review": 0.3, "has_previous_links": True}
    assert full_reason(last, **args) is None  # type: ignore[arg-type]
    assert full_reason(None, **args) == "no previous run"  # type: ignore[arg-type]
    assert "model changed" in str(full_reason(last, **{**args, "model_version": "person-2"}))  # type: ignore[arg-type]
    assert "thresholds" in str(full_reason(last, **{**args, "accept": 0.999}))  # type: ignore[arg-type]
    assert full_reason(last, **args, full=True) == "asked for a full run"  # type: ignore[arg-type]
    old = {**last, "fingerprint_scheme": "polars-0.1"}
    assert "fingerprint scheme" in str(full_reason(old, **args))  # type: ignore[arg-type]


def kept_spines(lake: Lake) -> pl.DataFrame:
    return pl.concat(
        lake.read("linkage", f"{s}_spine").select("unique_id", "fingerprint")
        for s in ("person", "organisation")
    )


def stage(world: WorldSummary, lake: Lake, interval: Interval) -> None:
    stage_world(world.out, lake, interval.end, start=interval.start,
                run_id=f"stage-{interval.key}", docs_root=lake.root / "docs")  # fmt: skip


@pytest.mark.slow
def test_a_daily_run_links_only_the_new_records(small_world: WorldSummary, tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    stage(small_world, lake, Interval(None, SPLIT))
    first = run_linkage(lake, run_id="history", logical_date=SPLIT)
    before = read_record_links(lake)
    spine_before = kept_spines(lake)
    assert first["relinked"] == before.height and first["kept"] == 0

    stage(small_world, lake, Interval(SPLIT, END))  # a month of new and updated records
    second = run_linkage(lake, run_id="month", logical_date=END)
    after = read_record_links(lake)
    spine_after = kept_spines(lake)
    runs = read_runs(lake).filter(pl.col("run_id") == "month")
    assert set(runs["mode"]) == {"incremental"}
    # The kept spines were merged with the registries' new rows, not rebuilt, and equal a
    # spine rebuilt from the whole registry.
    assert set(runs["spine_mode"]) == {"updated"}
    for subject in ("person", "organisation"):
        rebuilt = update_spine(lake, subject, rebuild=True).spine
        merged = lake.read("linkage", f"{subject}_spine")
        cols = ["unique_id", "fingerprint", "record_id"]
        assert merged.select(cols).sort("unique_id").equals(rebuilt.select(cols).sort("unique_id"))

    new = after.join(before, on="unique_id", how="anti")
    changed = after.join(before, on="unique_id").filter(
        pl.col("record_fingerprint") != pl.col("record_fingerprint_right")
    )
    relinked = after.filter(pl.col("linked_run_id") == "month")
    assert new.height > 0
    # Every new and changed record was linked by this run ...
    assert set(new["unique_id"]) | set(changed["unique_id"]) <= set(relinked["unique_id"])
    # ... and only those and the not-accepted ones the registry change concerns.
    others = relinked.join(pl.concat([new, changed.select(new.columns)]), on="unique_id",
                           how="anti")  # fmt: skip
    moved = set(
        spine_after.join(spine_before, on=["unique_id", "fingerprint"], how="anti")["unique_id"]
    )
    prior = before.join(others.select("unique_id"), on="unique_id")
    not_accepted = (pl.col("band") != "accept") & (pl.col("method") == "probabilistic")
    assert prior.filter(~not_accepted)["candidate_code"].is_in(list(moved)).all()
    assert second["relinked"] == relinked.height < after.height // 4
    assert second["kept"] == after.height - relinked.height
    kept = after.filter(pl.col("linked_run_id") == "history")
    assert (
        kept.join(before, on="unique_id")
        .filter(
            pl.col("credit_code").ne_missing(pl.col("credit_code_right"))
            | pl.col("band").ne(pl.col("band_right"))
        )
        .is_empty()
    )

    # The incremental result agrees with linking everything again.
    full = run_linkage(lake, run_id="full", logical_date=END, full=True)
    assert full["relinked"] == full["records"] == second["records"]
    again = read_record_links(lake)
    diff = after.join(again, on="unique_id").filter(
        pl.col("credit_code").ne_missing(pl.col("credit_code_right"))
    )
    assert diff.height <= after.height // 1000, diff.select("unique_id", "credit_code",
                                                            "credit_code_right")  # fmt: skip


@pytest.mark.slow
def test_new_thresholds_or_model_mean_a_full_run(small_lake: Lake, tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    (tmp_path / "staging").symlink_to(small_lake.root / "staging")
    (tmp_path / "conformed").symlink_to(small_lake.root / "conformed")
    run_linkage(lake, run_id="a", logical_date=END)
    again = run_linkage(lake, run_id="b", logical_date=END)
    assert again["relinked"] == 0 and again["kept"] == again["records"]
    strict = run_linkage(lake, run_id="c", logical_date=END, thresholds=Thresholds(0.999, 0.3))
    assert strict["relinked"] == strict["records"]
    runs = read_runs(lake)
    assert runs.filter(pl.col("run_id") == "c")["full_reason"].str.contains("thresholds").all()
