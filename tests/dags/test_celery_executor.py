"""The CeleryExecutor for real: Airflow's scheduler, DAG processor, triggerer and API server with
two Celery workers (`airflow celery worker`, Redis as broker, the metadata DB as result backend)
run the whole chain for one day on a small world, through the demo's driver: the initial-load
backfills of every ingest DAG for the world's last day, then `link_credit_codes` and
`publish_joint_punishment` through their Assets.

The same chain then runs on a second Airflow deployment with the LocalExecutor (the default,
`make demo`'s), on a copy of the same world: every DAG run the Celery deployment made, in the
order they started, with the same run ids, intervals, confs and run-after times, triggered
through the REST API one after the other. Its scheduler creates no run of its own
(`[scheduler] use_job_schedule = False`: no scheduled and no asset-triggered runs, whose number
depends on timing), so both deployments run exactly the same runs. The two must agree table
for table: the staged and conformed records, the lake's linkage tables and every table of the
published warehouse.

The Celery run uses Redis database 5 of 127.0.0.1:6379 (emptied before and after, no other
database is touched). Without a Redis server the test is skipped, saying so.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
import sqlalchemy as sa
from rich.console import Console

from credlink import metadata_db
from credlink.airflow_home import ADMIN_USER, executor_env, prepare_airflow_home
from credlink.demo.driver import Demo, DemoResult
from credlink.demo.plan import INGEST_DAGS, LINK_DAG, PUBLISH_DAG, DemoPlan, world_end
from credlink.etl.lake import Lake
from credlink.orchestration.services import HEALTH_COMPONENTS, AirflowServices, _members
from credlink.orchestration.workers import CeleryWorkers, broker_problem, session_members
from credlink.ui import api_get, api_token
from credlink.world.config import WorldConfig
from credlink.world.generate import generate_world

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
#: A database of the local Redis server of this test's own (emptied before and after).
BROKER = "redis://127.0.0.1:6379/5"
#: The `dag_world` of tests/conftest.py: 3,000 persons over the first half of 2024.
WORLD = {"persons": 3000, "seed": 21, "start": date(2024, 1, 1), "end": date(2024, 6, 30)}
#: Lake layers compared between the two executors (besides the warehouse).
LAYERS = ("staging", "conformed", "linkage")
#: Columns that record the run rather than the data, which differ between the two deployments'
#: runs of the same chain (checked on this chain: nothing else differs): the Airflow run's id
#: (a replayed run's is the Celery run's with a prefix; `_run_id` in staging, `linked_run_id`),
#: how long a run took, a staged registry partition's modification time and size (its rows
#: hold the run id) in the spine manifest, the published warehouse file's digest (its rows
#: hold the run ids).
VOLATILE = (
    "run_id", "_run_id", "linked_run_id", "seconds", "mtime_ns", "size", "warehouse_sha256",
)  # fmt: skip

if problem := broker_problem(BROKER):
    pytest.skip(
        f"the Celery executor test needs a Redis server at 127.0.0.1:6379: {problem}",
        allow_module_level=True,
    )


@dataclass
class ChainRun:
    """The chain on Celery: where its data is, what Airflow recorded, how long it took."""

    data: Path
    result: DemoResult
    seconds: float
    task_workers: list[tuple[str, str, str, str, str | None]]  # dag, run, task, state, worker
    replay: list[Replay]  # its DAG runs, in the order they started
    celery_results: int  # rows Celery stored in the metadata DB (celery_taskmeta)
    worker_logs: dict[str, str]


class ServicesWithWorkers(AirflowServices):
    """The Airflow components, then (once the API server answers: a task taken before fails
    at its first call to it) Celery workers in their own process group, stopped after them."""

    def __init__(self, *args: Any, workers: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.workers = CeleryWorkers(workers, self.log_dir / "workers", self.env, concurrency=1)

    def start(self) -> None:
        super().start()
        try:
            self.wait_healthy(timeout=600)
            self.workers.start()
            # a worker imports the tasks' modules before it is ready (celery_config.py)
            self.workers.wait_ready(timeout=600)
        except BaseException:
            self.stop()  # the demo stops what it started only once `start` has returned
            raise

    def stop(self, timeout: float = 30) -> None:
        try:
            super().stop(timeout)
        finally:
            self.workers.stop()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("celery-world") / "world"
    generate_world(WorldConfig(out=out, **WORLD))  # type: ignore[arg-type]
    return out


@pytest.fixture(scope="module")
def redis_db() -> Iterator[str]:
    """Database 5 of the local Redis, empty before and after the Celery run."""
    import redis

    client = redis.Redis.from_url(BROKER)
    client.flushdb()
    try:
        yield BROKER
    finally:
        client.flushdb()
        client.close()


def run_chain(world: Path, base: Path) -> ChainRun:
    """The demo's chain for the world's last day (initial load) on two Celery workers."""
    data, home = base / "data", base / "airflow"
    shutil.copytree(world, data / "world")
    prepare_airflow_home(home, ROOT)
    env = {
        **os.environ,
        "CREDLINK_DATA": str(data),
        "AIRFLOW_HOME": str(home),
        "CREDLINK_EXECUTOR": "celery",
        "CREDLINK_CELERY_BROKER": BROKER,
    }
    env.update(executor_env(env))
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    plan = DemoPlan.for_world_end(world_end(data / "world"), days=1)
    # The metadata DB is started here (not by the demo), so that it can be read after the run.
    url = metadata_db.prepare(home, env)
    demo = Demo(plan, env=env, timeout=1500, console=Console(file=io.StringIO(), width=200))
    services = ServicesWithWorkers(
        port=demo.port, log_dir=demo.services.log_dir, env=dict(demo.where.env), workers=2
    )
    demo.services = services
    t0 = time.monotonic()
    try:
        result = demo.run()
        seconds = time.monotonic() - t0
        tasks, replay, backend = metadata(url)
    finally:
        demo.db.dispose()
        metadata_db.EmbeddedPostgres(home).stop()
        left = _members(demo.pgid) if demo.pgid else []
        if services.workers.sid is not None:
            left += session_members(services.workers.sid)
        assert not left, f"processes left behind: {left}"
    logs = {n: services.workers.log_file(n).read_text() for n in services.workers.nodes}
    return ChainRun(data, result, seconds, tasks, replay, backend, logs)


def metadata(url: str) -> tuple[list[tuple[str, str, str, str, str | None]], list[Replay], int]:
    """From the metadata DB: every task instance with its state and the Celery node that ran it
    (Celery's result row, `celery_taskmeta`, by the task's Celery id); every DAG run in the
    order they started (to replay them); how many results Celery stored there."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as con:
            tasks = con.execute(
                sa.text(
                    "SELECT ti.dag_id, ti.run_id, ti.task_id, ti.state, m.worker FROM task_instance ti "
                    "LEFT JOIN celery_taskmeta m ON m.task_id = ti.external_executor_id"
                )
            )
            dag_runs = con.execute(
                sa.text(
                    "SELECT dag_id, run_id, run_type, data_interval_start, data_interval_end, "
                    "logical_date, run_after, conf FROM dag_run ORDER BY start_date, id"
                )
            )
            replay = [Replay(*r) for r in dag_runs]
            stored = con.execute(sa.text("SELECT count(*) FROM celery_taskmeta")).scalar_one()
            return [tuple(r) for r in tasks], replay, int(stored)
    finally:
        engine.dispose()


@dataclass(frozen=True)
class Replay:
    """One DAG run of the Celery chain, to run again on the LocalExecutor deployment."""

    dag_id: str
    run_id: str
    run_type: str
    data_interval_start: Any
    data_interval_end: Any
    logical_date: Any
    run_after: Any
    conf: Any

    @property
    def replay_id(self) -> str:
        """The replay's run id: a manual run may not take an id of another run type's form
        (``backfill__...``, ``scheduled__...``, ``asset_triggered__...``), so it is prefixed."""
        return f"replay__{self.run_id}"

    def body(self) -> dict[str, Any]:
        """The REST API's body (`POST /api/v2/dags/{dag_id}/dagRuns`) for the same run: its id,
        logical date, data interval, run-after time and conf. (An asset-triggered run has no
        logical date; the API then takes no interval, and the tasks use the run-after time.)"""
        iso = lambda t: None if t is None else t.isoformat()  # noqa: E731
        body = {
            "dag_run_id": self.replay_id,
            "logical_date": iso(self.logical_date),
            "run_after": iso(self.run_after),
            "conf": self.conf if isinstance(self.conf, dict) else {},
        }
        if self.logical_date is not None:
            body["data_interval_start"] = iso(self.data_interval_start)
            body["data_interval_end"] = iso(self.data_interval_end)
        return body


@dataclass
class LocalRun:
    """The same runs on the LocalExecutor: where its data is, what Airflow recorded, how long
    it took, the scheduler's log."""

    data: Path
    states: list[tuple[str, str, str]]  # dag, run id, state, as the REST API gave them
    tasks: list[tuple[str, str, str, str, str | None]]  # dag, run, task, state, executor id
    seconds: float
    scheduler_log: str


def _rest(url: str, token: str, method: str, path: str, body: Any = None) -> Any:
    req = urllib.request.Request(
        f"{url}{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        pytest.fail(f"{method} {path} {body}: {exc.code} {exc.read().decode(errors='replace')}")


def run_on_local_executor(world: Path, base: Path, replay: list[Replay]) -> LocalRun:
    """Every DAG run of the Celery chain again, in the order they started, on an Airflow
    deployment with the LocalExecutor (scheduler, DAG processor, triggerer, API server; the
    embedded PostgreSQL) on a copy of the same world. Each run is triggered through the REST
    API once the one before it has ended; the scheduler makes no run of its own."""
    data, home = base / "data", base / "airflow"
    shutil.copytree(world, data / "world")
    airflow_home = prepare_airflow_home(home, ROOT)
    drop = ("CREDLINK_EXECUTOR", "AIRFLOW__CORE__EXECUTOR", "CREDLINK_WAREHOUSE")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env |= {
        "CREDLINK_DATA": str(data),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
    }
    env.update(executor_env(env))
    plan = DemoPlan.for_world_end(world_end(data / "world"), days=1)
    demo = Demo(plan, env=env, timeout=1500, console=Console(file=io.StringIO(), width=200))
    demo.prepare()  # the metadata DB: started, migrated, the DAGs registered
    services = demo.services
    t0 = time.monotonic()
    states: list[tuple[str, str, str]] = []
    try:
        services.start()
        pgid = services.process.pid if services.process else None
        try:
            services.wait_healthy(timeout=600, require=HEALTH_COMPONENTS)
            token = api_token(services.base_url, ADMIN_USER, airflow_home.admin_password())
            for one in replay:
                _rest(services.base_url, token, "POST", f"/api/v2/dags/{one.dag_id}/dagRuns",
                      one.body())  # fmt: skip
                states.append((one.dag_id, one.replay_id, _wait_run(services.base_url, token, one)))
        finally:
            services.stop()
        seconds = time.monotonic() - t0
        left = _members(pgid) if pgid else []
        assert not left, f"processes left behind: {left}"
        engine = sa.create_engine(demo.where.metadata_url)
        try:
            with engine.connect() as con:
                tasks = con.execute(
                    sa.text(
                        "SELECT dag_id, run_id, task_id, state, external_executor_id "
                        "FROM task_instance"
                    )
                )
                task_rows = [tuple(r) for r in tasks]
        finally:
            engine.dispose()
    finally:
        demo.db.dispose()
        metadata_db.EmbeddedPostgres(home).stop()
    log = (services.log_dir / "scheduler.log").read_text(errors="replace")
    return LocalRun(data, states, task_rows, seconds, log)  # type: ignore[arg-type]


def _wait_run(url: str, token: str, one: Replay, timeout: float = 900) -> str:
    """The state a run ended in (success or failed), polled through the REST API."""
    quoted = urllib.parse.quote(one.replay_id, safe="")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = api_get(url, f"/api/v2/dags/{one.dag_id}/dagRuns/{quoted}", token)
        if run["state"] in ("success", "failed"):
            return str(run["state"])
        time.sleep(2)
    pytest.fail(f"{one.dag_id} run {one.replay_id} did not end within {timeout:.0f}s")


def chain_tables(data: Path) -> dict[str, pl.DataFrame]:
    """What the chain produced: the lake's staged, conformed and linkage tables and every
    table of the published warehouse, without the columns naming runs and write times."""
    lake = Lake(data / "lake")
    out = {
        f"lake {layer}.{d}": lake.read(layer, d) for layer in LAYERS for d in lake.datasets(layer)
    }
    con = duckdb.connect(str(data / "warehouse" / "credlink.duckdb"), read_only=True)
    try:
        names = con.sql(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_type = 'BASE TABLE'"
        ).fetchall()
        for schema, name in names:
            out[f"warehouse {schema}.{name}"] = con.sql(f'SELECT * FROM "{schema}"."{name}"').pl()
    finally:
        con.close()
    return {k: f.drop([c for c in f.columns if c in VOLATILE]) for k, f in out.items()}


def rows(frame: pl.DataFrame) -> list[str]:
    """A table's rows as sorted text (order is not part of a table's contract)."""
    return sorted(repr(r) for r in frame.rows())


@pytest.fixture(scope="module")
def runs(world: Path, redis_db: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    celery = run_chain(world, tmp_path_factory.mktemp("celery-run"))
    local = run_on_local_executor(world, tmp_path_factory.mktemp("local-run"), celery.replay)
    return {"celery": celery, "local": local}


def test_tasks_ran_on_both_celery_workers(runs: dict[str, Any]) -> None:
    celery: ChainRun = runs["celery"]
    assert celery.result.all_succeeded, celery.result.runs
    assert celery.result.run_types[LINK_DAG].get("asset_triggered", 0) >= 1
    assert celery.result.run_types[PUBLISH_DAG].get("asset_triggered", 0) >= 1
    ran = [t for t in celery.task_workers if t[3] == "success"]
    assert {d for d, *_ in ran} >= {*INGEST_DAGS, LINK_DAG, PUBLISH_DAG}
    nodes = sorted(celery.worker_logs)
    by_worker = {n: [t for t in ran if t[4] == n] for n in nodes}
    # every task that ran was run by one of the two workers, and each ran some
    assert sum(len(v) for v in by_worker.values()) == len(ran), [t for t in ran if t[4] is None]
    assert all(by_worker.values()), {n: len(v) for n, v in by_worker.items()}
    assert celery.celery_results >= len(ran)  # the result backend is the metadata DB
    # each worker's own log tells the same: one workload per task it ran
    for node, log in celery.worker_logs.items():
        assert log.count("Executing workload in Celery") >= len(by_worker[node]), node
    print(
        f"\nCelery chain {celery.seconds:.0f}s (demo driver, start to stop), LocalExecutor "
        f"replay {runs['local'].seconds:.0f}s (start to stop); {len(ran)} tasks: "
        + ", ".join(f"{n} ran {len(v)}" for n, v in by_worker.items())
    )


def test_the_local_executor_ran_the_same_runs_and_tasks(runs: dict[str, Any]) -> None:
    celery: ChainRun = runs["celery"]
    local: LocalRun = runs["local"]
    # the same runs, by id, each ended in success
    assert [(d, r) for d, r, _ in local.states] == [(r.dag_id, r.replay_id) for r in celery.replay]
    assert {s for *_, s in local.states} == {"success"}, local.states
    assert {r.dag_id for r in celery.replay} >= {*INGEST_DAGS, LINK_DAG, PUBLISH_DAG}
    # the same task instances in the same states (nothing skipped or ran on one side only)
    replayed = sorted((d, r.removeprefix("replay__"), t, s) for d, r, t, s, _ in local.tasks)
    assert replayed == sorted(t[:4] for t in celery.task_workers)
    # run by the LocalExecutor: no Celery task id, and the scheduler started the preloading
    # LocalExecutor of airflow.cfg (its log line, credlink/orchestration/executor.py)
    assert all(t[4] is None for t in local.tasks), [t for t in local.tasks if t[4]]
    assert "preloaded the tasks' modules in" in local.scheduler_log


def test_celery_results_equal_the_local_executors(runs: dict[str, Any]) -> None:
    celery: ChainRun = runs["celery"]
    mine, theirs = chain_tables(celery.data), chain_tables(runs["local"].data)
    assert mine.keys() == theirs.keys()
    assert any(k.startswith("lake linkage.") for k in mine), sorted(mine)
    assert any(k.startswith("warehouse publish.") for k in mine), sorted(mine)
    assert mine["lake linkage.record_links"].height > 500
    assert mine["warehouse publish.restrictions"].height > 0
    differ = []
    for name in sorted(mine):
        a, b = mine[name], theirs[name]
        if a.columns != b.columns:
            differ.append(f"{name}: columns {a.columns} vs {b.columns}")
            continue
        if rows(a) != rows(b):
            cols = [c for c in a.columns if rows(a.select(c)) != rows(b.select(c))]
            differ.append(f"{name}: {a.shape} vs {b.shape}, columns differing: {cols}")
    assert not differ, "\n".join(differ)
    compared = sum(f.height for f in mine.values())
    print(f"\n{len(mine)} tables, {compared} rows: equal under Celery and the LocalExecutor")
