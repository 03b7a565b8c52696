"""What the publish tasks run: the Airflow context unpacked into plain arguments for `publish`.

Imported inside tasks only (it pulls in Polars and DuckDB).
"""

from __future__ import annotations

from datetime import date, datetime

from credlink import settings
from credlink.orchestration.runtime import lake
from credlink.publish.listings import staged_through
from credlink.publish.stage import as_of_day, run_publish


def run_day(logical_date: datetime | None, run_after: datetime) -> date:
    """The day a publishing run publishes as of: the run's logical date (China time) when it
    has one (manual, backfill); a run triggered by the linkage Asset has none, so the last day
    the lists are staged through (`publish.listings.staged_through`), and only without any
    staged list its `run_after`."""
    day = as_of_day(logical_date) if logical_date else staged_through(lake())
    return day or as_of_day(run_after)


def publish(
    *,
    run_id: str,
    logical_date: datetime | None,
    run_after: datetime,
    approve_mass_lift: bool = False,
) -> dict[str, int]:
    """Publish the restrictions in force on the run's day (:func:`run_day`) into the warehouse
    (`credlink.settings.warehouse_path`); returns the counts (small, for XCom).

    `approve_mass_lift` is an operator's approval to lift more at once than the mass-lift
    guard allows (`publish.guard`; the DAG parameter of the same name).
    """
    day = run_day(logical_date, run_after)
    counts = run_publish(
        lake(), settings.warehouse_path(), run_id, day, approve_mass_lift=approve_mass_lift
    )
    return {**counts, "as_of": int(day.strftime("%Y%m%d"))}


def plan_shards(
    *, run_id: str, logical_date: datetime | None, run_after: datetime, shards: int
) -> list[int]:
    """Plan a sharded publishing run as of the run's day (:func:`publish.shards.plan`);
    returns the shard numbers (what the shard tasks are mapped over)."""
    from credlink.publish import shards as sharding

    sharding.plan(lake(), run_id=run_id, as_of=run_day(logical_date, run_after), shards=shards)
    return list(range(shards))


def publish_shard(*, run_id: str, shard: int) -> dict[str, int]:
    """Compute one shard's tables of a planned run (:func:`publish.shards.publish_shard`)."""
    from credlink.publish import shards as sharding

    return sharding.publish_shard(lake(), run_id=run_id, shard=shard)


def merge_shards(
    *,
    run_id: str,
    logical_date: datetime | None,
    run_after: datetime,
    approve_mass_lift: bool = False,
) -> dict[str, int]:
    """Commit a sharded run from its shards' tables (:func:`publish.shards.merge`) as of the
    plan's day (without a plan, the whole run as of :func:`run_day`); returns the counts of
    :func:`publish` and ``published_in_merge``."""
    from credlink.publish import shards as sharding

    the_lake = lake()
    day = sharding.planned_day(the_lake, run_id) or run_day(logical_date, run_after)
    counts = sharding.merge(the_lake, settings.warehouse_path(), run_id=run_id, as_of=day,
                            approve_mass_lift=approve_mass_lift)  # fmt: skip
    return {**counts, "as_of": int(day.strftime("%Y%m%d"))}
