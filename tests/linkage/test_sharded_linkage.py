"""Sharded linkage (:mod:`linkage.shards`) commits exactly what an unsharded run commits, and a
shard's work stays invisible until the merge.

Each test links the small world twice from the same lake state: once with
:func:`linkage.stage.run_linkage`, once planned in three shards, each shard resolved on its
own, then merged; every linkage table is compared row for row.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from credlink.etl.commit import crash_env
from credlink.etl.lake import Lake
from credlink.linkage import shards
from credlink.linkage.decisions import record_decision
from credlink.linkage.review_keys import ItemKey
from credlink.linkage.review_queue import read_review_queue
from credlink.linkage.runs import read_runs
from credlink.linkage.stage import Thresholds, run_linkage
from credlink.linkage.tables import read_record_links

pytestmark = pytest.mark.slow

DAY = datetime(2025, 7, 1, tzinfo=UTC)
#: As in test_stage.py: a strict accept band leaves the small world something to review.
STRICT = Thresholds(accept=0.99999, review=0.3)
N = 3


def _copy(small_lake: Lake, to: Path) -> Lake:
    to.mkdir(parents=True)
    for layer in ("staging", "conformed"):
        shutil.copytree(small_lake.root / layer, to / layer)
    return Lake(to)


def tables(lake: Lake) -> dict[str, pl.DataFrame]:
    """Every linkage table a run writes, in a fixed order; the runs' seconds aside (timing)."""
    return {
        "record_links": read_record_links(lake).sort("unique_id"),
        "legal_representatives": lake.read("linkage", "legal_representatives").sort("unique_id"),
        "review_queue": read_review_queue(lake).sort("unique_id"),
        "runs": read_runs(lake).drop("seconds").sort("run_id", "subject_type"),
        "person_spine": lake.read("linkage", "person_spine").sort("unique_id"),
        "organisation_spine": lake.read("linkage", "organisation_spine").sort("unique_id"),
    }


def assert_same_tables(a: Lake, b: Lake) -> None:
    ta, tb = tables(a), tables(b)
    for name in ta:
        assert ta[name].schema == tb[name].schema, name
        assert ta[name].height == tb[name].height, name
        diff = ta[name].join(tb[name], on=ta[name].columns, how="anti", nulls_equal=True)
        assert diff.is_empty(), (name, diff.head(5))
        assert ta[name].equals(tb[name]), name


def sharded(lake: Lake, run_id: str, **kw: object) -> tuple[dict[str, int], dict[str, object]]:
    """Plan, link every shard, merge: the merge's counts and what the steps took."""
    t = time.perf_counter()
    sizes = shards.plan(lake, run_id=run_id, logical_date=DAY, shards=N, thresholds=STRICT, **kw)  # type: ignore[arg-type]
    timing: dict[str, object] = {"plan": time.perf_counter() - t, "sizes": sizes, "shards": []}
    for i in range(N):
        done = shards.link_shard(lake, run_id=run_id, shard=i)
        timing["shards"].append(done["seconds"])  # type: ignore[attr-defined]
    t = time.perf_counter()
    counts = shards.merge(lake, run_id=run_id, logical_date=DAY, thresholds=STRICT, **kw)  # type: ignore[arg-type]
    timing["merge"] = time.perf_counter() - t
    return counts, timing


def linkage_files(lake: Lake) -> dict[str, str]:
    """Every file of the lake's linkage layer and a hash of its bytes."""
    root = lake.root / "linkage"
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.endswith(".lock")
    }


def test_assign_is_by_province_balanced_and_total() -> None:
    ids = [f"s/t/{i}" for i in range(900)]
    regions = ["110101"] * 500 + ["310101"] * 200 + ["440101"] * 100 + [None] * 100
    records = pl.DataFrame({"unique_id": ids, "id_region": regions, "household_region": None},
                           schema_overrides={"household_region": pl.String})  # fmt: skip
    got = shards.assign(records, 3, "person")
    assert got.len() == 900 and set(got.to_list()) <= {0, 1, 2}
    sizes = got.value_counts().sort("shard")["count"].to_list()
    assert max(sizes) - min(sizes) <= 120, sizes  # the big province is split by the id's hash
    frame = records.with_columns(got)
    # a province smaller than a shard's share stays on one shard
    assert frame.filter(pl.col("id_region") == "440101")["shard"].n_unique() == 1
    assert shards.assign(records, 3, "person").equals(got)  # the same plan every time
    assert shards.assign(records, 1, "person").unique().to_list() == [0]
    with pytest.raises(ValueError, match="shards must be"):
        shards.assign(records, 0, "person")


def test_sharded_run_equals_unsharded(small_lake: Lake, tmp_path: Path) -> None:
    one, many = _copy(small_lake, tmp_path / "one"), _copy(small_lake, tmp_path / "many")
    t = time.perf_counter()
    expected = run_linkage(one, run_id="run-1", logical_date=DAY, thresholds=STRICT)
    unsharded = time.perf_counter() - t
    got, timing = sharded(many, "run-1")
    print(f"\nunsharded {unsharded:.1f} s; sharded {timing}")
    assert got.pop("shards") == N and got.pop("linked_in_merge") == 0
    assert got == expected
    assert expected["review_queue"] > 0, "the small world should leave something to review"
    sizes: dict[str, list[int]] = timing["sizes"]  # type: ignore[assignment]
    assert sum(sizes["person"]) == expected["relinked"] - sum(sizes["organisation"])
    assert all(n > 0 for n in sizes["person"] + sizes["organisation"]), sizes
    assert_same_tables(one, many)
    assert not shards.scratch_dir(many, "run-1").exists()  # the merge cleans up

    # A second run: reviewer decisions and an incremental plan, both applied in the merge.
    queue = read_review_queue(one).row(0, named=True)
    accepted = read_record_links(one).filter(pl.col("band") == "accept").row(0, named=True)
    for lake in (one, many):
        record_decision(lake, queue["unique_id"], queue["candidate_code"], "accept",
                        reviewer="li", decided_at=DAY, seen=ItemKey.of(queue))  # fmt: skip
        record_decision(lake, accepted["unique_id"], accepted["credit_code"], "reject",
                        reviewer="li", decided_at=DAY)  # fmt: skip
    expected = run_linkage(one, run_id="run-2", logical_date=DAY, thresholds=STRICT)
    got, _ = sharded(many, "run-2")
    got.pop("shards"), got.pop("linked_in_merge")
    assert got == expected and expected["clerical"] == 2
    assert_same_tables(one, many)


def _crashing_shard(lake: Lake, run_id: str, shard: int) -> int:
    """Run one shard in a fresh process, SIGKILLed at its first write point: its exit code."""
    code = (
        "import sys; from pathlib import Path; from credlink.etl.lake import Lake; "
        "from credlink.linkage.shards import link_shard; "
        "link_shard(Lake(Path(sys.argv[1])), run_id=sys.argv[2], shard=int(sys.argv[3]))"
    )
    env = dict(os.environ)
    env[crash_env(shards.SHARD_STAGE)] = "1"
    proc = subprocess.run([sys.executable, "-c", code, str(lake.root), run_id, str(shard)],
                          env=env, capture_output=True, text=True, timeout=600)  # fmt: skip
    return proc.returncode


def test_a_shard_is_invisible_until_the_merge(small_lake: Lake, tmp_path: Path) -> None:
    one = _copy(small_lake, tmp_path / "one")
    run_linkage(one, run_id="run-1", logical_date=DAY, thresholds=STRICT)
    shutil.copytree(one.root, tmp_path / "many")
    many = Lake(tmp_path / "many")
    before = linkage_files(many)

    sizes = shards.plan(many, run_id="run-2", logical_date=DAY, shards=N, thresholds=STRICT,
                        full=True)  # fmt: skip
    shards.link_shard(many, run_id="run-2", shard=0)
    assert _crashing_shard(many, "run-2", 1) == -9  # killed mid-write
    folder = shards.scratch_dir(many, "run-2")
    assert not (folder / "output" / "shard-0001.done.json").exists()
    assert not list((folder / "output").glob("*/shard-0001.*.parquet"))  # only its temporary
    assert linkage_files(many) == before  # the plan, a shard and a killed one: nothing seen

    shards.link_shard(many, run_id="run-2", shard=1)  # the retry
    assert linkage_files(many) == before
    # Shard 2 never ran: the merge links its records itself, and the result is still exact.
    got = shards.merge(many, run_id="run-2", logical_date=DAY, thresholds=STRICT, full=True)
    assert got.pop("linked_in_merge") == sum(s[2] for s in sizes.values()) > 0
    got.pop("shards")
    assert linkage_files(many) != before
    expected = run_linkage(one, run_id="run-2", logical_date=DAY, thresholds=STRICT, full=True)
    assert got == expected
    assert_same_tables(one, many)


def test_shards_of_other_settings_are_not_used(small_lake: Lake, tmp_path: Path) -> None:
    """Shards planned with other thresholds than the merge's: the merge links every record
    itself, and commits what one run with its own thresholds commits."""
    one, many = _copy(small_lake, tmp_path / "one"), _copy(small_lake, tmp_path / "many")
    sizes = shards.plan(many, run_id="run-1", logical_date=DAY, shards=N, thresholds=STRICT)
    for i in range(N):
        shards.link_shard(many, run_id="run-1", shard=i)
    got = shards.merge(many, run_id="run-1", logical_date=DAY)  # the default thresholds
    assert got.pop("linked_in_merge") == sum(sum(s) for s in sizes.values())
    got.pop("shards")
    assert got == run_linkage(one, run_id="run-1", logical_date=DAY)
    assert_same_tables(one, many)


def test_a_shard_without_a_plan_says_so(tmp_path: Path) -> None:
    with pytest.raises(shards.ShardError, match=r"no plan at .*the plan task runs first"):
        shards.link_shard(Lake(tmp_path), run_id="manual__x", shard=0)
