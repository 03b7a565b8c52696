"""The preloading executor: third-party modules imported once before the fork, the project's own
modules not kept, and forked children (a worker, then its task, as under the scheduler) compute
with Polars, DuckDB and Great Expectations."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import json, os, sys, time
    from pathlib import Path

    from credlink.orchestration.executor import preload

    took = preload()
    import credlink.orchestration as orch

    state = {
        "took": sorted(took),
        "third_party": [m for m in ("polars", "pandas", "great_expectations", "duckdb",
                                    "sqlalchemy", "pypinyin") if m in sys.modules],
        "project": sorted(m for m in sys.modules
                          if m.split(".")[0] in ("etl", "linkage", "publish", "world")
                          or m in ("credlink.orchestration.runtime",
                                   "credlink.orchestration.ingest_dag")),
        "stale_attribute": hasattr(orch, "runtime"),
    }
    print(json.dumps(state), flush=True)

    def task(out: Path) -> None:
        import duckdb
        import polars as pl

        from credlink.etl.validate import Rule, validate

        frame = pl.DataFrame({"k": [str(i % 5000) for i in range(200_000)], "v": range(200_000)})
        groups = frame.lazy().group_by("k").agg(pl.col("v").sum()).collect().height
        con = duckdb.connect()
        total = con.sql("SELECT sum(v) AS s FROM frame").fetchone()[0]
        con.close()
        result = validate(
            frame.head(100).with_columns(pl.when(pl.col("v") == 3).then(None)
                                         .otherwise(pl.col("k")).alias("k")),
            [Rule("not_null:k", "not_null", "k")],
            key_column="v", suite_name="t", run_name="r", docs_dir=out / str(os.getpid()),
        )
        assert groups == 5000 and total == sum(range(200_000)), (groups, total)
        assert result.row_failures["v"].to_list() == [3], result.row_failures
        assert result.docs_index is not None and result.docs_index.is_file()

    def fork_and_wait(body, seconds: int) -> int:
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                body()
                code = 0
            finally:
                os._exit(code)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return os.waitstatus_to_exitcode(status)
            time.sleep(0.1)
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        return -999  # hung

    out = Path(sys.argv[1])

    def worker() -> None:  # a LocalExecutor worker: it forks one task after another
        for _ in range(2):
            code = fork_and_wait(lambda: task(out), 240)
            assert code == 0, code

    print("worker exit", fork_and_wait(worker, 500), flush=True)
    """
)


@pytest.mark.slow
def test_forked_tasks_compute_with_preloaded_modules(tmp_path: Path) -> None:
    import json

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)],
        capture_output=True, text=True, timeout=600, env=env, cwd=ROOT,
    )  # fmt: skip
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    state = json.loads(next(line for line in lines if line.startswith("{")))
    assert "great_expectations" in state["took"]
    assert state["third_party"] == [
        "polars", "pandas", "great_expectations", "duckdb", "sqlalchemy", "pypinyin",
    ]  # fmt: skip
    assert state["project"] == [], "the project's own modules must be imported by each task"
    assert not state["stale_attribute"], "a forgotten module left on its package"
    assert "worker exit 0" in lines, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert len(list(tmp_path.glob("*/index.html"))) == 2, "one Data Docs site per task"


def test_airflow_loads_the_configured_executor() -> None:
    """airflow.cfg names it by module path; Airflow's loader makes it the default executor, a
    local one (the scheduler treats it as the LocalExecutor it extends)."""
    from airflow.executors.executor_loader import ExecutorLoader

    from credlink.orchestration.executor import PreloadingLocalExecutor

    name = ExecutorLoader.get_default_executor_name()
    assert name.module_path == "credlink.orchestration.executor.PreloadingLocalExecutor"
    executor = ExecutorLoader.get_default_executor()
    assert isinstance(executor, PreloadingLocalExecutor)
    assert executor.is_local and executor.is_mp_using_fork == (sys.platform == "linux")
