"""`credlink demo` (what `make demo` runs): the whole chain through Airflow's real components.

The demo period is the last `days` days of the generated world (default 30: 2025-12-02 to
2025-12-31 for the demo world, which ends on 2025-12-31): the whole history before it comes in
through the initial load on the first day, then one run per day, so publishing runs on many of
those days and its history shows restrictions imposed, extended and lifted over the month. A
day of the five ingest DAGs is 24 tasks of a few seconds each (the scheduler's executor imports
the tasks' heavy modules once, `credlink.orchestration.executor`).

1. **Clean demo state.** The metadata DB server is started (the embedded PostgreSQL of the
   Airflow home, :mod:`credlink.metadata_db`; the demo stops it at the end when it started
   it). The lake (`data/lake`) is emptied, except the reviewers' decisions
   (`linkage/decisions`), which are kept; the published warehouse and earlier task logs are
   removed; the Airflow metadata DB is reset when it holds runs (`airflow db reset`), else
   migrated. So a second `make demo` starts from the same clean state (and the UI then shows
   only the last demo's runs). It refuses to run while a scheduler is alive on that metadata DB
   (`make stop` first).
2. **Register the DAGs** with `airflow dags reserialize` (no DAG processor needed yet), so that
3. **the initial-load backfills** can be created before the scheduler starts: for each ingest
   DAG `airflow backfill create --dag-id ingest_X --from-date D0
   --to-date D0 --dag-run-conf '{"initial_load": true}'` (D0 = the first demo day: its run
   stages all history before D0, then D0 itself), side by side (one after the other on a
   SQLite metadata DB).
4. **Start** the scheduler, DAG processor, triggerer and API server (`AirflowServices`,
   LocalExecutor) and wait until all report healthy.
5. When the initial-load backfills are complete, **the daily backfills** D0+1 .. last day are
   created (Airflow allows one active backfill per DAG, hence two steps), while the scheduler
   runs. With `CREDLINK_METADATA_DB=sqlite` a create that meets "database is locked" is retried
   with backoff (a failed create removes its half-made backfill; should one remain, "Another
   backfill is running" is retried too, until the scheduler clears it).
6. **Downstream DAGs follow through their Assets**: each `publish_<source>` task announces
   `staging.<source>`, which queues a row in `asset_dag_run_queue` for `link_credit_codes`.
   While that DAG is at `max_active_runs=1` the scheduler defers it and the queued rows pile up
   (one per asset, not per event); when its run ends, ONE new run consumes every queued row and
   every asset event since the previous run. So there are at most about
   (ingest time / link time) + 1 link runs, not one per event; and as the ingest tasks outrank
   the publish tasks (priority by downstream weight), most `publish_<source>` tasks end close
   together. `publish_joint_punishment` (on `linkage.record_links`) follows the same way.
7. **Done** when, in one consistent read of the metadata DB (one SQL statement), every backfill
   is complete, no run of the project's DAGs is queued or running and no asset event waits in
   `asset_dag_run_queue` (seen twice in a row). The first failed run stops the demo: its failed
   tasks are printed with their log files under `$AIRFLOW_HOME/logs`, and the command exits 1.
8. **Stop** every Airflow process, then print the summary: runs per DAG, staged and quarantined
   rows per source (`credlink staging`), linkage quality and the restrictions against the
   world's truth (`credlink quality`: wrongful, missed, held in review, recall), restrictions by
   memorandum and enforcing agency (`credlink publish --summary`, skipped with a note while the
   publish DAG or that command is absent) and where the warehouse and catalog are. `make ui`
   then shows the runs.

Besides the backfills, the scheduler makes one scheduled run per ingest DAG for the current day
of the wall clock (catchup is off), as it would in production; it stages an empty interval and
is waited for like the others.

Example:
    >>> plan = DemoPlan.for_world_end(date(2025, 12, 31), days=30)
    >>> (plan.load_date.isoformat(), plan.daily_from.isoformat(), plan.last_date.isoformat())
    ('2025-12-02', '2025-12-03', '2025-12-31')
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shlex
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from credlink.orchestration.services import (
    HEALTH_COMPONENTS,
    VENV_BIN,
    AirflowServices,
    free_port,
)

INGEST_DAGS = (
    "ingest_registries",
    "ingest_courts",
    "ingest_tax",
    "ingest_transport",
    "ingest_food",
)
LINK_DAG = "link_credit_codes"
PUBLISH_DAG = "publish_joint_punishment"
#: The DAGs the demo drives or follows (the publish DAG only when it is registered).
CHAIN = (*INGEST_DAGS, LINK_DAG)
UNFINISHED = ("queued", "running")
#: Errors of `airflow backfill create` worth another try: SQLite's lock, and the orphan a
#: failed create may leave until the scheduler clears it (after 2 minutes).
RETRYABLE = ("database is locked", "Another backfill is running")


# --------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class BackfillCommand:
    """One `airflow backfill create` call."""

    dag_id: str
    from_date: date
    to_date: date
    conf: Mapping[str, Any] | None = None
    max_active_runs: int = 2

    def argv(self, airflow: Path) -> list[str]:
        """The command line, e.g. `airflow backfill create --dag-id ingest_tax ...`."""
        args = [
            str(airflow), "backfill", "create", "--dag-id", self.dag_id,
            "--from-date", self.from_date.isoformat(), "--to-date", self.to_date.isoformat(),
            "--max-active-runs", str(self.max_active_runs),
        ]  # fmt: skip
        if self.conf is not None:
            args += ["--dag-run-conf", json.dumps(dict(self.conf))]
        return args


@dataclass(frozen=True)
class DemoPlan:
    """The demo period: the initial load on `load_date`, then daily runs to `last_date`."""

    load_date: date
    last_date: date
    dag_ids: tuple[str, ...] = INGEST_DAGS

    def __post_init__(self) -> None:
        if self.last_date < self.load_date:
            raise ValueError(
                f"the demo ends ({self.last_date}) before it starts ({self.load_date})"
            )

    @classmethod
    def for_world_end(cls, world_end: date, days: int) -> DemoPlan:
        """The last `days` days of a world ending on `world_end` (the initial load's day first)."""
        if days < 1:
            raise ValueError("the demo needs at least one day")
        return cls(load_date=world_end - timedelta(days=days - 1), last_date=world_end)

    @property
    def daily_from(self) -> date:
        return self.load_date + timedelta(days=1)

    @property
    def days(self) -> int:
        return (self.last_date - self.load_date).days + 1

    def initial_loads(self) -> list[BackfillCommand]:
        """One one-day backfill per ingest DAG with `{"initial_load": true}`."""
        conf = {"initial_load": True}
        return [BackfillCommand(d, self.load_date, self.load_date, conf) for d in self.dag_ids]

    def daily(self) -> list[BackfillCommand]:
        """The daily backfills after the initial load (none for a one-day demo)."""
        if self.days == 1:
            return []
        return [BackfillCommand(d, self.daily_from, self.last_date) for d in self.dag_ids]

    def expected_backfill_runs(self) -> int:
        return self.days * len(self.dag_ids)


def world_end(world_dir: Path) -> date:
    """The last day of the generated world (from its `world.json`)."""
    meta = json.loads((world_dir / "world.json").read_text())
    return date.fromisoformat(meta["end"])


# --------------------------------------------------------------------------- environment


@dataclass(frozen=True)
class DemoEnv:
    """Where everything is, from the environment the Makefile exports."""

    env: Mapping[str, str]

    @property
    def root(self) -> Path:
        return Path(self.env.get("CREDLINK_ROOT", Path(__file__).resolve().parents[1]))

    @property
    def data_dir(self) -> Path:
        return Path(self.env.get("CREDLINK_DATA", self.root / "data"))

    @property
    def airflow_home(self) -> Path:
        return Path(self.env.get("AIRFLOW_HOME", self.root / ".airflow"))

    @property
    def logs_dir(self) -> Path:
        """`[logging] base_log_folder` of the project's airflow.cfg."""
        return Path(
            self.config_value("logging", "base_log_folder", str(self.airflow_home / "logs"))
        )

    @property
    def lake_dir(self) -> Path:
        return self.data_dir / "lake"

    @property
    def warehouse(self) -> Path:
        """The published warehouse (`$CREDLINK_WAREHOUSE`, as `credlink.settings` says)."""
        env = self.env.get("CREDLINK_WAREHOUSE")
        return Path(env) if env else self.data_dir / "warehouse" / "credlink.duckdb"

    def config_value(self, section: str, key: str, default: str) -> str:
        """An airflow.cfg value as Airflow reads it: `AIRFLOW__S__K` first, `${VARS}` expanded."""
        override = self.env.get(f"AIRFLOW__{section.upper()}__{key.upper()}")
        if override:
            return override
        cfg = configparser.ConfigParser(interpolation=None)
        path = self.env.get("AIRFLOW_CONFIG")
        if path:
            cfg.read(path)
        raw = cfg.get(section, key, fallback=default)
        return _expand(raw, self.env)

    @property
    def metadata_url(self) -> str:
        """`sql_alchemy_conn` as set (variable or cfg), else the URL file of the home."""
        from credlink.metadata_db import configured_url

        return self.config_value("database", "sql_alchemy_conn", "") or configured_url(
            self.airflow_home, self.env
        )


def _expand(value: str, env: Mapping[str, str]) -> str:
    """`${VAR}` / `$VAR` replaced from `env` (as Airflow expands cfg values), others kept."""
    return re.sub(
        r"\$\{(\w+)\}|\$(\w+)",
        lambda m: env.get(m.group(1) or m.group(2), m.group(0)),
        value,
    )


# --------------------------------------------------------------------------- metadata DB


@dataclass(frozen=True)
class Snapshot:
    """One consistent read of the metadata DB: runs by DAG and state, queued asset events by
    target DAG, open backfills by DAG."""

    runs: dict[str, dict[str, int]] = field(default_factory=dict)
    pending: dict[str, int] = field(default_factory=dict)
    open_backfills: dict[str, int] = field(default_factory=dict)
    backfills: dict[str, int] = field(default_factory=dict)

    def count(self, dag_id: str, *states: str) -> int:
        return sum(self.runs.get(dag_id, {}).get(s, 0) for s in states)

    def unfinished(self, dag_ids: Iterable[str]) -> int:
        return sum(self.count(d, *UNFINISHED) for d in dag_ids)

    def failed(self, dag_ids: Iterable[str]) -> list[str]:
        return [d for d in dag_ids if self.count(d, "failed")]

    def settled(self, dag_ids: Iterable[str]) -> bool:
        """Nothing left to do: no open backfill, no unfinished run, no queued asset event."""
        ids = list(dag_ids)
        return (
            not any(self.open_backfills.get(d, 0) for d in ids)
            and self.unfinished(ids) == 0
            and not any(self.pending.get(d, 0) for d in ids)
        )


SNAPSHOT_SQL = """
SELECT 'run', dag_id, state, COUNT(*) FROM dag_run GROUP BY dag_id, state
UNION ALL
SELECT 'pending', target_dag_id, '', COUNT(*) FROM asset_dag_run_queue GROUP BY target_dag_id
UNION ALL
SELECT 'backfill', dag_id, CASE WHEN completed_at IS NULL THEN 'open' ELSE 'done' END, COUNT(*)
FROM backfill GROUP BY dag_id, CASE WHEN completed_at IS NULL THEN 'open' ELSE 'done' END
"""


def snapshot_from_rows(rows: Iterable[Sequence[Any]]) -> Snapshot:
    """Fold the rows of `SNAPSHOT_SQL` into a `Snapshot`."""
    snap = Snapshot()
    for kind, dag_id, state, n in rows:
        if kind == "run":
            snap.runs.setdefault(dag_id, {})[str(state)] = int(n)
        elif kind == "pending":
            snap.pending[dag_id] = int(n)
        elif kind == "backfill":
            snap.backfills[dag_id] = snap.backfills.get(dag_id, 0) + int(n)
            if state == "open":
                snap.open_backfills[dag_id] = int(n)
    return snap


@dataclass(frozen=True)
class FailedTask:
    """A failed task instance and where its log is."""

    dag_id: str
    run_id: str
    task_id: str
    try_number: int
    log_path: Path


def task_log_path(
    logs_dir: Path, dag_id: str, run_id: str, task_id: str, try_number: int, map_index: int = -1
) -> Path:
    """Where Airflow's default `log_filename_template` puts a task attempt's log."""
    path = logs_dir / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
    if map_index >= 0:
        path = path / f"map_index={map_index}"
    return path / f"attempt={max(try_number, 1)}.log"


def log_error(path: Path) -> str | None:
    """The exception a task log ends with, as `KeyError: 'x' (file.py:28)`, or None.

    Task logs are JSON lines; a failure carries `error_detail` with the exception and frames.
    """
    if not path.is_file():
        return None
    found = None
    for line in path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        detail = record.get("error_detail") if isinstance(record, dict) else None
        if detail and isinstance(detail, list) and isinstance(detail[0], dict):
            exc = detail[0]
            last = (exc.get("frames") or [{}])[-1]
            where = f"{Path(str(last.get('filename', '?'))).name}:{last.get('lineno')}"
            found = f"{exc.get('exc_type')}: {exc.get('exc_value')} ({where})"
    return found


class MetadataDB:
    """Read-only queries on Airflow's metadata DB (SQLite or any SQLAlchemy URL)."""

    def __init__(self, url: str) -> None:
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        args: dict[str, Any] = {"timeout": 60} if url.startswith("sqlite") else {}
        self.url = url
        self.engine = create_engine(url, poolclass=NullPool, connect_args=args)

    def _rows(self, sql: str, **params: Any) -> list[Sequence[Any]]:
        from sqlalchemy import text

        with self.engine.connect() as con:
            return [tuple(r) for r in con.execute(text(sql), params)]

    def exists(self) -> bool:
        """Is the DB migrated (has a `dag_run` table)?"""
        from sqlalchemy import inspect

        if self.url.startswith("sqlite:///"):
            path = Path(self.url.removeprefix("sqlite:///").split("?")[0])
            if not path.exists():
                return False
        return inspect(self.engine).has_table("dag_run")

    def snapshot(self) -> Snapshot:
        return snapshot_from_rows(self._rows(SNAPSHOT_SQL))

    def has_runs(self) -> bool:
        return bool(self._rows("SELECT 1 FROM dag_run LIMIT 1"))

    def live_scheduler(self, within_seconds: int = 60) -> bool:
        """Does a scheduler heartbeat on this DB (it would race with a reset)?"""
        from datetime import UTC, datetime

        rows = self._rows(
            "SELECT latest_heartbeat FROM job WHERE job_type = 'SchedulerJob' AND state = 'running'"
        )
        now = datetime.now(UTC)
        for (beat,) in rows:
            if beat is None:
                continue
            t = beat if isinstance(beat, datetime) else datetime.fromisoformat(str(beat))
            if t.tzinfo is None:
                t = t.replace(tzinfo=UTC)
            if (now - t).total_seconds() < within_seconds:
                return True
        return False

    def registered(self) -> set[str]:
        """DAGs with a serialized version (the scheduler can run them)."""
        return {d for (d,) in self._rows("SELECT DISTINCT dag_id FROM serialized_dag")}

    def import_errors(self) -> list[tuple[str, str]]:
        return [
            (str(f), str(s)) for f, s in self._rows("SELECT filename, stacktrace FROM import_error")
        ]

    def failed_tasks(self, dag_ids: Iterable[str], logs_dir: Path) -> list[FailedTask]:
        """The failed task instances of failed runs of `dag_ids`."""
        out = []
        for dag_id in dag_ids:
            rows = self._rows(
                "SELECT ti.dag_id, ti.run_id, ti.task_id, ti.try_number, ti.map_index "
                "FROM task_instance ti JOIN dag_run dr "
                "ON dr.dag_id = ti.dag_id AND dr.run_id = ti.run_id "
                "WHERE ti.dag_id = :dag AND ti.state = 'failed' ORDER BY ti.run_id, ti.task_id",
                dag=dag_id,
            )
            for d, run, task, tries, idx in rows:
                path = task_log_path(logs_dir, d, run, task, int(tries or 1), int(idx))
                out.append(FailedTask(d, run, task, int(tries or 1), path))
        return out

    def run_types(self, dag_ids: Iterable[str]) -> dict[str, dict[str, int]]:
        """Successful runs per DAG by run type (backfill, scheduled, asset_triggered ...)."""
        out: dict[str, dict[str, int]] = {}
        for dag_id, run_type, n in self._rows(
            "SELECT dag_id, run_type, COUNT(*) FROM dag_run WHERE state = 'success' "
            "GROUP BY dag_id, run_type"
        ):
            if dag_id in set(dag_ids):
                out.setdefault(dag_id, {})[str(run_type)] = int(n)
        return out

    def dispose(self) -> None:
        self.engine.dispose()


# --------------------------------------------------------------------------- the driver


class DemoFailed(RuntimeError):
    """A step of the demo failed; the message says which and where the log is."""


@dataclass
class DemoResult:
    """What the demo did: the plan, the runs by DAG and state, the link runs, the time taken."""

    plan: DemoPlan
    dag_ids: tuple[str, ...]
    runs: dict[str, dict[str, int]]
    run_types: dict[str, dict[str, int]]
    seconds: float
    warnings: list[str] = field(default_factory=list)

    @property
    def all_succeeded(self) -> bool:
        return all(set(states) <= {"success"} for states in self.runs.values())


def reset_demo_state(
    lake_dir: Path, warehouse: Path, logs_dir: Path, keep: Sequence[str] = ("linkage/decisions",)
) -> None:
    """Empty the lake (keeping the datasets in `keep`: reviewers' decisions), remove the
    published warehouse and the task logs of earlier runs (a reset metadata DB reuses run ids)."""
    warehouse.unlink(missing_ok=True)
    for task_logs in logs_dir.glob("dag_id=*"):
        shutil.rmtree(task_logs, ignore_errors=True)
    if not lake_dir.exists():
        return
    saved = lake_dir.parent / f".{lake_dir.name}-kept"
    shutil.rmtree(saved, ignore_errors=True)
    for rel in keep:
        if (lake_dir / rel).exists():
            (saved / rel).parent.mkdir(parents=True, exist_ok=True)
            (lake_dir / rel).rename(saved / rel)
    shutil.rmtree(lake_dir)
    if saved.exists():
        saved.rename(lake_dir)


def progress_table(snap: Snapshot, dag_ids: Sequence[str], title: str) -> Table:
    """Runs queued / running / success / failed and queued asset events, per DAG."""
    table = Table(title=title, title_justify="left")
    table.add_column("DAG")
    for col in ("queued", "running", "success", "failed", "asset events queued"):
        table.add_column(col, justify="right")
    for d in dag_ids:
        failed = snap.count(d, "failed")
        table.add_row(
            d,
            str(snap.count(d, "queued")),
            str(snap.count(d, "running")),
            str(snap.count(d, "success")),
            Text(str(failed), style="bold red" if failed else ""),
            str(snap.pending.get(d, 0)),
        )
    return table


def progress_line(snap: Snapshot, dag_ids: Sequence[str], elapsed: float) -> str:
    """The progress as one line (for logs that are not a terminal)."""
    parts = [
        f"{d}: {snap.count(d, 'queued')}q {snap.count(d, 'running')}r "
        f"{snap.count(d, 'success')}ok {snap.count(d, 'failed')}failed"
        for d in dag_ids
    ]
    return f"[{elapsed:5.0f}s] " + " | ".join(parts)


class Demo:
    """Drives one demo: see the module doc for the steps."""

    def __init__(
        self,
        plan: DemoPlan,
        env: Mapping[str, str] | None = None,
        *,
        port: int | None = None,
        timeout: float = 1800,
        poll: float = 2.0,
        console: Console | None = None,
    ) -> None:
        self.plan = plan
        self.where = DemoEnv(dict(env if env is not None else os.environ))
        self.port = port or free_port()
        self.timeout = timeout
        self.poll = poll
        self.console = console or Console()
        self.services = AirflowServices(
            port=self.port, log_dir=self.where.logs_dir / "services", env=dict(self.where.env)
        )
        self.db = MetadataDB(self.where.metadata_url)
        self.airflow = VENV_BIN / "airflow"
        self.dag_ids: tuple[str, ...] = CHAIN
        self.warnings: list[str] = []
        #: The process group of the Airflow components, once started (for checks afterwards).
        self.pgid: int | None = None
        #: Whether `prepare` started the embedded PostgreSQL server (then `run` stops it).
        self.started_db = False

    # ---- steps

    def airflow_cli(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                [str(self.airflow), *args],
                env=self.services.env,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as exc:
            what = shlex.join(["airflow", *args])
            raise DemoFailed(f"`{what}` did not finish in {timeout:.0f}s") from exc

    def prepare(self) -> None:
        """Clean demo state: empty lake, reset (or migrate) metadata DB, registered DAGs."""
        from credlink import metadata_db

        home = self.where.airflow_home
        self.started_db = (
            metadata_db.backend(self.where.env) == "postgres"
            and metadata_db.EmbeddedPostgres(home).pid() is None
        )
        try:
            metadata_db.prepare(home, self.where.env)
        except metadata_db.MetadataDBError as exc:
            raise DemoFailed(f"the metadata DB did not start: {exc}") from exc
        self.db.dispose()
        self.db = MetadataDB(self.where.metadata_url)
        if self.db.exists() and self.db.live_scheduler():
            raise DemoFailed(
                "an Airflow scheduler is running on this metadata DB: stop it first (make stop)"
            )
        reset_demo_state(self.where.lake_dir, self.where.warehouse, self.where.logs_dir)
        if self.db.exists():
            if self.db.has_runs():
                self._checked(self.airflow_cli("db", "reset", "--yes"), "airflow db reset")
        else:
            self._checked(self.airflow_cli("db", "migrate"), "airflow db migrate")
        self._checked(self.airflow_cli("dags", "reserialize"), "airflow dags reserialize")
        registered = self.db.registered()
        missing = set(CHAIN) - registered
        errors = self.db.import_errors()
        if missing:
            detail = "\n".join(f"{f}:\n{s[-1500:]}" for f, s in errors)
            raise DemoFailed(f"DAGs not registered: {sorted(missing)}\n{detail}")
        for f, s in errors:
            self.warnings.append(f"import error in {f}: {s.strip().splitlines()[-1]}")
        if PUBLISH_DAG in registered:
            self.dag_ids = (*CHAIN, PUBLISH_DAG)

    def create_backfills(self, commands: Sequence[BackfillCommand], deadline: float = 600) -> None:
        """Run the `airflow backfill create` commands side by side (each is a process that
        imports Airflow: most of its time), or one after the other on a SQLite metadata DB (in
        parallel they only queue for its write lock, and some give up with "database is
        locked"). The first failure raises `DemoFailed` once all have returned."""
        from concurrent.futures import ThreadPoolExecutor

        if self.db.url.startswith("sqlite"):
            for cmd in commands:
                self.create_backfill(cmd, deadline=deadline)
            return
        with ThreadPoolExecutor(max(1, len(commands))) as pool:
            futures = [pool.submit(self.create_backfill, c, deadline=deadline) for c in commands]
        for future in futures:
            future.result()

    def create_backfill(self, cmd: BackfillCommand, *, deadline: float = 600) -> None:
        """One `airflow backfill create`; retried with backoff while it meets SQLite's lock
        ("database is locked") or the half-created backfill such a failure can leave behind;
        any other failure (or `deadline` seconds of retries) raises `DemoFailed`."""
        shown = shlex.join(cmd.argv(Path("airflow")))
        delay, end = 2.0, time.monotonic() + deadline
        while True:
            t0 = time.monotonic()
            try:
                proc = subprocess.run(
                    cmd.argv(self.airflow),
                    env=self.services.env,
                    capture_output=True,
                    text=True,
                    timeout=deadline,
                )
            except subprocess.TimeoutExpired as exc:
                raise DemoFailed(f"`{shown}` did not finish in {deadline:.0f}s") from exc
            out = proc.stdout + proc.stderr
            if proc.returncode == 0:
                self.console.print(f"  {shown}  [dim]({time.monotonic() - t0:.0f}s)[/dim]")
                return
            reason = next((r for r in RETRYABLE if r in out), None)
            if reason is None or time.monotonic() + delay > end:
                raise DemoFailed(f"`{shown}` failed (exit {proc.returncode}):\n{out[-3000:]}")
            self.console.print(
                f"  {cmd.dag_id}: {reason!r} after {time.monotonic() - t0:.0f}s, "
                f"retrying in {delay:.0f}s"
            )
            time.sleep(delay)
            delay = min(delay * 2, 30)

    def wait(
        self,
        until: Callable[[Snapshot], bool],
        what: str,
        started: float,
        live: Live | None,
    ) -> Snapshot:
        """Poll the metadata DB until `until(snapshot)` holds twice in a row; fail fast on a
        failed run; time out at the demo's deadline."""
        seen = 0
        last_line = ""
        last_print = 0.0
        while True:
            snap = self.db.snapshot()
            elapsed = time.monotonic() - started
            title = f"{what} — {elapsed:.0f}s"
            if live is not None:
                live.update(progress_table(snap, self.dag_ids, title))
            else:
                line = progress_line(snap, self.dag_ids, elapsed)
                if line != last_line and time.monotonic() - last_print > 10:
                    self.console.print(line, highlight=False)
                    last_line, last_print = line, time.monotonic()
            if failed := snap.failed(self.dag_ids):
                raise DemoFailed(self._failure_report(failed))
            if self.services.process is not None and self.services.process.poll() is not None:
                raise DemoFailed(f"the Airflow components exited; logs: {self.services.log_dir}")
            seen = seen + 1 if until(snap) else 0
            if seen >= 2:
                return snap
            if elapsed > self.timeout:
                raise DemoFailed(
                    f"timed out after {elapsed:.0f}s {what}:\n"
                    + progress_line(snap, self.dag_ids, elapsed)
                    + f"\nlogs: {self.where.logs_dir}"
                )
            time.sleep(self.poll)

    def run(self) -> DemoResult:
        """All the steps; services (and the metadata DB server the demo started) are stopped
        whatever happens."""
        try:
            return self._run()
        finally:
            if self.started_db:
                from credlink.metadata_db import EmbeddedPostgres

                self.db.dispose()
                EmbeddedPostgres(self.where.airflow_home).stop()

    def _run(self) -> DemoResult:
        started = time.monotonic()
        c = self.console
        c.rule("credlink demo")
        c.print(
            f"demo period {self.plan.load_date} .. {self.plan.last_date}: initial load on "
            f"{self.plan.load_date}, then daily runs; Airflow home {self.where.airflow_home}"
        )
        with c.status("resetting the lake and the metadata DB, registering the DAGs"):
            self.prepare()
        c.print(f"clean demo state; DAGs registered: {', '.join(self.dag_ids)}")
        for w in self.warnings:
            c.print(f"[yellow]warning:[/yellow] {w}")
        c.print("initial-load backfills (the scheduler is not running yet):")
        self.create_backfills(self.plan.initial_loads())
        c.print(f"starting the scheduler, DAG processor and API server on {self.services.base_url}")
        self.services.start()
        self.pgid = self.services.process.pid if self.services.process else None
        try:
            self.services.wait_healthy(timeout=300, require=HEALTH_COMPONENTS)
            live = Live(console=c, refresh_per_second=2) if c.is_terminal else None
            initial = set(self.plan.dag_ids)
            if live is not None:
                live.start()
            try:
                self.wait(
                    lambda s: not any(s.open_backfills.get(d) for d in initial),
                    "initial loads",
                    started,
                    live,
                )
                if daily := self.plan.daily():
                    if live is not None:
                        live.stop()
                    c.print(f"daily backfills {self.plan.daily_from} .. {self.plan.last_date}:")
                    self.create_backfills(daily)
                    if live is not None:
                        live.start()
                final = self.wait(
                    lambda s: s.settled(self.dag_ids),
                    "daily runs and everything downstream",
                    started,
                    live,
                )
            finally:
                if live is not None:
                    live.stop()
            c.print(progress_table(final, self.dag_ids, "all runs finished"))
        finally:
            with c.status("stopping Airflow"):
                self.services.stop()
        result = DemoResult(
            plan=self.plan,
            dag_ids=self.dag_ids,
            runs={d: dict(final.runs.get(d, {})) for d in self.dag_ids},
            run_types=self.db.run_types(self.dag_ids),
            seconds=time.monotonic() - started,
            warnings=self.warnings,
        )
        self.db.dispose()
        return result

    # ---- helpers

    def _checked(self, proc: subprocess.CompletedProcess[str], what: str) -> None:
        if proc.returncode != 0:
            raise DemoFailed(f"`{what}` failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")

    def _failure_report(self, failed_dags: Sequence[str]) -> str:
        lines = [f"run(s) failed: {', '.join(failed_dags)}"]
        for t in self.db.failed_tasks(failed_dags, self.where.logs_dir):
            note = "" if t.log_path.exists() else " (not found)"
            lines.append(
                f"  DAG {t.dag_id}, run {t.run_id}, task {t.task_id} (attempt {t.try_number})\n"
                f"    log: {t.log_path}{note}"
            )
            if error := log_error(t.log_path):
                lines.append(f"    error: {error}")
        if len(lines) == 1:
            lines.append(f"  no failed task recorded; logs under {self.where.logs_dir}")
        return "\n".join(lines)


# --------------------------------------------------------------------------- the summary


def runs_table(result: DemoResult) -> Table:
    """Successful runs per DAG by run type, and the time taken."""
    kinds = sorted({k for types in result.run_types.values() for k in types})
    table = Table(
        title=f"Runs (all succeeded, {result.seconds / 60:.1f} min)", title_justify="left"
    )
    table.add_column("DAG")
    for k in kinds:
        table.add_column(k, justify="right")
    for d in result.dag_ids:
        table.add_row(d, *(str(result.run_types.get(d, {}).get(k, 0)) for k in kinds))
    return table


def publish_summary(result: DemoResult, credlink: Path, env: Mapping[str, str]) -> tuple[bool, str]:
    """The publish hook: `credlink publish --summary` once the publish DAG exists.

    Returns (ran, output or the note saying why it was skipped).
    """
    if PUBLISH_DAG not in result.dag_ids:
        return False, f"restrictions: skipped, the {PUBLISH_DAG} DAG is not in dags/ yet"
    proc = subprocess.run(
        [str(credlink), "publish", "--summary"], env=dict(env), capture_output=True, text=True
    )
    if proc.returncode != 0 and "No such command" in proc.stderr + proc.stdout:
        return False, "restrictions: skipped, `credlink publish --summary` does not exist yet"
    if proc.returncode != 0:
        raise DemoFailed(f"`credlink publish --summary` failed:\n{proc.stderr[-3000:]}")
    return True, proc.stdout


def print_summary(result: DemoResult, console: Console, env: Mapping[str, str]) -> None:
    """Runs, staged and quarantined rows, linkage quality, restrictions, where things are."""
    from credlink import cli

    where = DemoEnv(env)
    console.rule("summary")
    console.print(runs_table(result))
    cli.staging()
    cli.quality(world=None)  # linkage quality, then the restrictions against the truth
    console.print(Text(restriction_figures(where), style="bold"))
    console.print(Text(history_figures(where.warehouse)))
    console.print(Text(readme_figures(where)))
    _, publish_out = publish_summary(result, VENV_BIN / "credlink", env)
    console.print(Text(publish_out.rstrip()))
    console.print(
        Group(
            Text(f"warehouse (restrictions, DuckDB): {where.warehouse}"),
            Text(f"catalog (DuckDB views over the lake): {where.lake_dir / 'catalog.duckdb'}"),
            Text(f"lake: {where.lake_dir}"),
            Text(f"Airflow logs: {where.logs_dir}"),
            Text("see the runs in the web UI: make ui (then make stop)"),
        )
    )
    for w in result.warnings:
        console.print(f"[yellow]warning:[/yellow] {w}")


def restriction_figures(where: DemoEnv) -> str:
    """The key figures of the restrictions against the world's truth (wrongful, missed, held in
    review, recall), from the lake's ``linkage.restriction_quality`` that `credlink quality`
    stores; a note when it is absent."""
    from credlink.etl.lake import Lake
    from credlink.publish.quality import DATASET, LAYER, key_figures

    table = Lake(where.lake_dir).read(LAYER, DATASET)
    if table.is_empty():
        return "restrictions against the truth: not measured (no published warehouse)"
    return key_figures(table)


def history_figures(warehouse: Path) -> str:
    """What the publish runs changed over the demo: restrictions imposed, extended, lifted ...
    by the runs' days (from ``publish.restriction_history`` of the warehouse)."""
    import duckdb

    if not warehouse.is_file():
        return "restriction history: no published warehouse"
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        runs = con.execute(
            "SELECT count(*), min(as_of), max(as_of), count(DISTINCT as_of) FROM publish.runs"
        ).fetchone()
        rows = con.execute(
            "SELECT change, count(*), count(DISTINCT as_of) FROM publish.restriction_history "
            "GROUP BY change ORDER BY count(*) DESC"
        ).fetchall()
    finally:
        con.close()
    assert runs is not None
    head = f"restriction history: {runs[0]} publish runs on {runs[3]} days, {runs[1]} .. {runs[2]}"
    parts = [f"{change} {n:,} (on {days} days)" for change, n, days in rows]
    return f"{head}: " + (", ".join(parts) if parts else "no changes")


#: A README SQL block and the file it is for (its first line: `-- duckdb -readonly FILE`).
README_BLOCK = re.compile(r"```sql\n(.*?)```", re.S)
README_TARGET = re.compile(r"^-- duckdb -readonly (\S+)$", re.M)


def readme_query_rows(root: Path, data_dir: Path) -> list[tuple[str, int | str]]:
    """Run every SQL block of the README against this demo's files, as a user would (read-only);
    for each block its first question line and the rows it answered (or the error)."""
    import duckdb

    out: list[tuple[str, int | str]] = []
    for block in README_BLOCK.findall((root / "README.md").read_text(encoding="utf-8")):
        target = README_TARGET.search(block)
        if target is None:
            continue
        path = data_dir / Path(target.group(1)).relative_to("data")
        sql = README_TARGET.sub("", block).strip()
        first = next(
            (ln.strip() for ln in sql.splitlines() if ln.strip() and not ln.startswith("--")), ""
        )
        try:
            con = duckdb.connect(str(path), read_only=True)
            try:
                out.append((first, len(con.execute(sql).fetchall())))
            finally:
                con.close()
        except duckdb.Error as exc:
            out.append((first, f"error: {str(exc).splitlines()[0]}"))
    return out


def readme_figures(where: DemoEnv) -> str:
    """One line per README query: how many rows it answers on this demo's warehouse."""
    rows = readme_query_rows(where.root, where.data_dir)
    answered = sum(1 for _, n in rows if isinstance(n, int) and n > 0)
    lines = [f"README queries on this warehouse: {answered} of {len(rows)} answer with rows"]
    lines += [f"  {n if isinstance(n, str) else f'{n:,} rows'}: {q[:80]}" for q, n in rows]
    return "\n".join(lines)


def source_counts(runs: Any) -> dict[str, dict[str, int]]:
    """Extracted / staged / quarantined rows per source from `ops.ingest_runs` (a Polars frame)."""
    import polars as pl

    if runs.is_empty():
        return {}
    totals = runs.group_by("source").agg(
        pl.col("extracted").sum(), pl.col("staged").sum(), pl.col("quarantined").sum()
    )
    return {
        r["source"]: {k: int(r[k]) for k in ("extracted", "staged", "quarantined")}
        for r in totals.iter_rows(named=True)
    }


def main(plan: DemoPlan, *, port: int | None = None, timeout: float = 1800) -> DemoResult:
    """Run the demo and print its summary (what `credlink demo` does)."""
    console = Console(width=None if Console().is_terminal else 120)
    demo = Demo(plan, port=port, timeout=timeout, console=console)
    result = demo.run()
    print_summary(result, console, demo.where.env)
    return result
