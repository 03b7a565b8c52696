"""What the linkage tasks run: the Airflow context unpacked into plain arguments for `linkage`.

Imported inside tasks only (it pulls in Polars, DuckDB and Splink).
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from credlink import settings
from credlink.linkage.stage import Thresholds, run_linkage
from credlink.linkage.train import train_from_lake
from credlink.orchestration.runtime import lake


def link(
    *, run_id: str, logical_date: datetime, accept: float, review: float, full: bool = False
) -> dict[str, int]:
    """Run the linkage stage on the lake (incremental unless `full`); returns its counts
    (small, for XCom)."""
    return run_linkage(
        lake(),
        run_id=run_id,
        logical_date=logical_date,
        thresholds=Thresholds(accept=accept, review=review),
        full=full,
    )


def plan_shards(
    *, run_id: str, logical_date: datetime, accept: float, review: float, full: bool, shards: int
) -> list[int]:
    """Plan a sharded linkage run (:func:`linkage.shards.plan`); returns the shard numbers
    (what the shard tasks are mapped over)."""
    from credlink.linkage import shards as sharding

    sharding.plan(
        lake(),
        run_id=run_id,
        logical_date=logical_date,
        shards=shards,
        thresholds=Thresholds(accept=accept, review=review),
        full=full,
    )
    return list(range(shards))


def link_shard(*, run_id: str, shard: int) -> dict[str, Any]:
    """Resolve one shard of a planned run (:func:`linkage.shards.link_shard`); returns its
    records and seconds per kind."""
    from credlink.linkage import shards as sharding

    return sharding.link_shard(lake(), run_id=run_id, shard=shard)


def merge_shards(
    *, run_id: str, logical_date: datetime, accept: float, review: float, full: bool
) -> dict[str, int]:
    """Commit a sharded run from its shards' results (:func:`linkage.shards.merge`); returns
    the counts of :func:`link`, and ``shards``, ``linked_in_merge``."""
    from credlink.linkage import shards as sharding

    return sharding.merge(
        lake(),
        run_id=run_id,
        logical_date=logical_date,
        thresholds=Thresholds(accept=accept, review=review),
        full=full,
    )


def publish() -> str:
    """Refresh the DuckDB catalog (now with the linkage tables); returns its path."""
    return str(lake().refresh_catalog())


def train(subject_type: str, *, on: date, models_dir: str = "") -> dict[str, Any]:
    """Train a new model version of `subject_type` on the lake, written to `models_dir`
    (default: the work folder ``<data>/linkage/models``, never the tracked ``linkage/models``:
    promote a reviewed file with ``credlink models promote FILE``) with its charts under
    ``<data>/linkage/charts/<version>/``; returns its version and files."""
    the_lake = lake()
    result = train_from_lake(
        subject_type,
        the_lake,
        on=on,
        models_dir=Path(models_dir) if models_dir else None,
        charts_dir=(the_lake.root.parent if the_lake.is_local else settings.data_dir())
        / "linkage"
        / "charts",
    )
    return {
        "version": result.version,
        "model": str(result.model_path),
        "charts": {k: str(v) for k, v in result.charts.items()},
        "records": result.records,
        "spine": result.spine,
    }
