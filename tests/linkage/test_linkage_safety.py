"""The linkage stage fails safe: a run killed at any write point is completed or undone by the
next, which equals an uninterrupted run; two runs never interleave (issue 12)."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from linkfault import DATASETS, DAY, DELTA_DATASETS, Forker, same, snapshot, two_day_lake

from credlink.etl.commit import stage_lock
from credlink.etl.lake import Lake
from credlink.linkage.stage import LinkageLockedError, run_linkage


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """r1 on the first day's records; r1 then r2 after a second day's record, uninterrupted
    (r2 writes deltas of the big tables, linkage.partitions); then a full run r3 (it writes
    new bases and removes the deltas)."""
    root = tmp_path_factory.mktemp("linkage-safety")
    first = two_day_lake(root / "r1", second_day=False)
    run_linkage(first, run_id="r1", logical_date=DAY)
    both = root / "r1r2"
    shutil.copytree(first.root, both)
    after = two_day_lake(both, second_day=True)
    run_linkage(after, run_id="r2", logical_date=DAY)
    assert list((both / "linkage" / "record_links").glob("interval=delta-*/data.parquet"))
    r1r2 = snapshot(after)
    third = root / "r1r2r3"
    shutil.copytree(both, third)
    run_linkage(Lake(third), run_id="r3", logical_date=DAY, full=True)
    assert not list((third / "linkage").glob("*/interval=delta-*"))
    return {"r1": first.root, "r1r2": r1r2, "r2": both, "r1r2r3": snapshot(Lake(third))}


@pytest.fixture(scope="module")
def forker() -> Iterator[Forker]:
    f = Forker()
    yield f
    f.close()


def _killed_copy(base: dict[str, object], to: Path) -> Lake:
    shutil.copytree(base["r1"], to)  # type: ignore[arg-type]
    return two_day_lake(to, second_day=True)


def test_a_normal_run_writes_its_tables_at_once(base: dict[str, object]) -> None:
    want = base["r1r2"]
    assert isinstance(want, dict)
    assert set(want["runs"]["run_id"]) == {"r1", "r2"}
    assert want["record_links"].height == 3
    assert not list(Path(str(base["r1"])).rglob("*.tmp"))


def test_a_kill_at_any_write_point_then_the_next_run_equals_an_uninterrupted_one(
    base: dict[str, object], forker: Forker, tmp_path: Path
) -> None:
    k, killed_at = 0, []
    while True:
        k += 1
        lake = _killed_copy(base, tmp_path / f"k{k}")
        code = forker.run(lake.root, "r2", k)
        if code == 0:  # past the last write point: the run completed
            assert same(snapshot(lake), base["r1r2"])
            break
        assert code == -9, f"run not killed at write point {k} (exit {code})"
        killed_at.append(k)
        run_linkage(lake, run_id="r2", logical_date=DAY)  # the retry (Airflow's)
        assert same(snapshot(lake), base["r1r2"]), f"killed at write point {k}"
        assert not list(lake.root.rglob(".*.tmp")), f"temporaries left after a kill at {k}"
    # every table staged, the commit record, every rename, the record removed
    assert len(killed_at) >= 2 * len(DATASETS) + 1, killed_at


def test_a_kill_at_any_write_point_of_a_compaction_then_the_next_run_equals_an_uninterrupted_one(
    base: dict[str, object], forker: Forker, tmp_path: Path
) -> None:
    """A full run after delta runs: new bases, then the deltas removed (each a write point)."""
    k, killed_at = 0, []
    while True:
        k += 1
        lake = Lake(tmp_path / f"k{k}")
        shutil.copytree(base["r2"], lake.root)  # type: ignore[arg-type]
        code = forker.run(lake.root, "r3", k, full=True)
        if code == 0:
            assert same(snapshot(lake), base["r1r2r3"])
            break
        assert code == -9, f"run not killed at write point {k} (exit {code})"
        killed_at.append(k)
        run_linkage(lake, run_id="r3", logical_date=DAY, full=True)  # the retry
        assert same(snapshot(lake), base["r1r2r3"]), f"killed at write point {k}"
        assert not list(lake.root.rglob(".*.tmp")), f"temporaries left after a kill at {k}"
        assert not list((lake.root / "linkage").glob("*/interval=delta-*/data.parquet"))
    # every table staged, the commit record, every rename and removal, the record removed
    assert len(killed_at) >= 2 * len(DATASETS) + 1 + len(DELTA_DATASETS), killed_at


def test_two_runs_never_interleave(base: dict[str, object], tmp_path: Path) -> None:
    lake = _killed_copy(base, tmp_path / "locked")
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with stage_lock(lake.root, "linkage", "other-run"):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert held.wait(10)
        with pytest.raises(LinkageLockedError, match="other-run"):
            run_linkage(lake, run_id="r2", logical_date=DAY, lock_timeout=0.3)
    finally:
        release.set()
        thread.join()
    assert set(lake.read("linkage", "runs")["run_id"]) == {"r1"}  # nothing written
    run_linkage(lake, run_id="r2", logical_date=DAY)
    assert same(snapshot(lake), base["r1r2"])
