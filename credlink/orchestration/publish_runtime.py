"""What the publish task runs: the Airflow context unpacked into plain arguments for `publish`.

Imported inside tasks only (it pulls in Polars and DuckDB).
"""

from __future__ import annotations

from datetime import datetime

from credlink import settings
from credlink.orchestration.runtime import lake
from credlink.publish.listings import staged_through
from credlink.publish.stage import as_of_day, run_publish


def publish(
    *,
    run_id: str,
    logical_date: datetime | None,
    run_after: datetime,
    approve_mass_lift: bool = False,
) -> dict[str, int]:
    """Publish the restrictions in force on the run's day into the warehouse
    (`credlink.settings.warehouse_path`); returns the counts (small, for XCom).

    The day: the run's logical date (China time) when it has one (manual, backfill); a run
    triggered by the linkage Asset has none, so the last day the lists are staged through
    (`publish.listings.staged_through`), and only without any staged list its `run_after`.
    `approve_mass_lift` is an operator's approval to lift more at once than the mass-lift
    guard allows (`publish.guard`; the DAG parameter of the same name).
    """
    the_lake = lake()
    day = as_of_day(logical_date) if logical_date else staged_through(the_lake)
    day = day or as_of_day(run_after)
    counts = run_publish(
        the_lake, settings.warehouse_path(), run_id, day, approve_mass_lift=approve_mass_lift
    )
    return {**counts, "as_of": int(day.strftime("%Y%m%d"))}
