"""Read-only queries on Airflow's metadata DB: what the demo waits for, and what failed.

:class:`Snapshot` is one consistent read (one SQL statement, :data:`SNAPSHOT_SQL`): runs by DAG
and state, queued asset events by target DAG, backfills by DAG; a failed task's log is found
with :func:`task_log_path` and its exception read with :func:`log_error`.

Example:
    >>> snap = snapshot_from_rows([("run", "ingest_tax", "success", 2)])
    >>> snap.count("ingest_tax", "success"), snap.settled(["ingest_tax"])
    (2, True)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

UNFINISHED = ("queued", "running")


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
