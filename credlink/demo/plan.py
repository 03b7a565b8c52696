"""The demo's plan: which days it backfills, and the `airflow backfill create` commands.

The demo period is the last `days` days of the generated world: the initial load on its first
day (all history before it, then that day), then daily runs to the world's last day.

Example:
    >>> plan = DemoPlan.for_world_end(date(2025, 12, 31), days=30)
    >>> (plan.load_date.isoformat(), plan.daily_from.isoformat(), plan.last_date.isoformat())
    ('2025-12-02', '2025-12-03', '2025-12-31')
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from credlink.orchestration.sources import ingest_dag_sources

#: The ingest DAGs, from the source contracts: the registries' first, then one per agency.
INGEST_DAGS = tuple(ingest_dag_sources())
LINK_DAG = "link_credit_codes"
PUBLISH_DAG = "publish_joint_punishment"
#: The DAGs the demo drives or follows (the publish DAG only when it is registered).
CHAIN = (*INGEST_DAGS, LINK_DAG)


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
