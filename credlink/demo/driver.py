"""The demo's driver: the steps of :mod:`credlink.demo`, one :class:`Demo` per run.

:class:`Demo` resets the demo state, registers the DAGs, creates the backfills, starts Airflow's
components and waits for everything to settle (:mod:`credlink.demo.metadata`), then stops them
and returns a :class:`DemoResult`; the first failed run raises :class:`DemoFailed`.

Example:
    >>> result = Demo(DemoPlan.for_world_end(date(2025, 12, 31), days=2)).run()  # doctest: +SKIP
    >>> result.all_succeeded                                                     # doctest: +SKIP
    True
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from credlink.demo.env import DemoEnv
from credlink.demo.metadata import MetadataDB, Snapshot, log_error
from credlink.demo.plan import CHAIN, PUBLISH_DAG, BackfillCommand, DemoPlan
from credlink.orchestration.services import (
    HEALTH_COMPONENTS,
    VENV_BIN,
    AirflowServices,
    free_port,
)

#: Errors of `airflow backfill create` worth another try: SQLite's lock, and the orphan a
#: failed create may leave until the scheduler clears it (after 2 minutes).
RETRYABLE = ("database is locked", "Another backfill is running")


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
        timeout: float = 3600,
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
