"""Fault injection: an ingest killed right after each of its writes (`os._exit`, as kill -9
leaves it) is followed by a next run that equals an uninterrupted one, also on a re-ingest that
keeps earlier versions and quarantines rows no interval extracts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from ingest_faults import DS, ingest, some_ids, sql, unconstrained_courts

from credlink.etl.lake import Lake
from credlink.world.generate import WorldSummary

pytestmark = pytest.mark.slow  # four child processes, each importing Great Expectations
KILLED = 17
#: staging, quarantine, the incremental check, the run row.
WRITES = 4

CHILD = """
import os, sys
from pathlib import Path
import credlink.etl.lake as lake_module
from ingest_faults import ingest

kill_after = int(sys.argv[3])
original = lake_module._atomic_parquet
done = 0

def write_then_die(path, frame, metadata=None):
    global done
    result = original(path, frame, metadata)
    done += 1
    if done == kill_after:
        os._exit(int(sys.argv[4]))
    return result

lake_module._atomic_parquet = write_then_die
ingest(Path(sys.argv[1]), lake_module.Lake(Path(sys.argv[2])), run_id="second")
"""


def contents(lake: Lake) -> dict[str, pl.DataFrame]:
    runs = lake.read_runs().drop("docs_index")
    out = {"runs": runs.sort(pl.all())}
    for layer in ("staging", "quarantine"):
        frame = lake.read(layer, DS)
        out[layer] = frame.sort(pl.all().exclude(pl.List(pl.String)), nulls_last=True)
    return out


def test_a_killed_ingest_is_repaired_by_the_next_run(
    small_world: WorldSummary, tmp_path: Path
) -> None:
    world = unconstrained_courts(small_world, tmp_path)
    first = Lake(tmp_path / "first")
    ingest(world, first, run_id="first")
    a, b = some_ids(world, 2)
    sql(world, "UPDATE SXBZXR SET FBRQ = 'garbled' WHERE SXID = ?", a)  # keeps its version
    sql(world, "UPDATE SXBZXR SET XGSJ = NULL WHERE SXID = ?", b)  # no interval extracts it
    expected_lake = Lake(tmp_path / "expected")
    shutil.copytree(first.root, expected_lake.root)
    report = ingest(world, expected_lake, run_id="second")
    assert report.kept == 2 and report.incremental_anomalies == 1
    expected = contents(expected_lake)

    lakes = [Lake(tmp_path / f"killed{n}") for n in range(1, WRITES + 1)]
    for lake in lakes:
        shutil.copytree(first.root, lake.root)
    root = Path(__file__).resolve().parents[3]
    here = Path(__file__).resolve().parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(here)])}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(world), str(lake.root), str(n), str(KILLED)],
            cwd=root,
            env=env,
        )
        for n, lake in enumerate(lakes, start=1)
    ]
    assert [c.wait(timeout=300) for c in children] == [KILLED] * WRITES
    for lake in lakes:
        ingest(world, lake, run_id="second")
        got = contents(lake)
        for name, frame in expected.items():
            assert got[name].equals(frame), f"{lake.root.name}: {name} differs"
