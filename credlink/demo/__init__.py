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
   rows per source (as `credlink staging` prints them), linkage quality and the restrictions
   against the world's truth (as `credlink quality` measures, stores and prints them: wrongful,
   missed, held in review, recall; both through :mod:`credlink.reports`), restrictions by
   memorandum and enforcing agency (`credlink publish --summary`, skipped with a note while the
   publish DAG or that command is absent) and where the warehouse and catalog are. `make ui`
   then shows the runs.

Besides the backfills, the scheduler makes one scheduled run per ingest DAG for the current day
of the wall clock (catchup is off), as it would in production; it stages an empty interval and
is waited for like the others.

The parts: :mod:`credlink.demo.plan` (the days and the backfill commands),
:mod:`credlink.demo.env` (where the files are), :mod:`credlink.demo.metadata` (what the metadata
DB says), :mod:`credlink.demo.driver` (the steps) and :mod:`credlink.demo.summary` (what is
printed at the end); :func:`main` runs them.

Example:
    >>> result = main(DemoPlan.for_world_end(date(2025, 12, 31), days=30))  # doctest: +SKIP
    >>> result.all_succeeded                                               # doctest: +SKIP
    True
"""

from __future__ import annotations

from rich.console import Console

from credlink.demo.driver import Demo, DemoResult
from credlink.demo.plan import DemoPlan
from credlink.demo.summary import print_summary

__all__ = ["main"]


def main(plan: DemoPlan, *, port: int | None = None, timeout: float = 3600) -> DemoResult:
    """Run the demo and print its summary (what `credlink demo` does)."""
    console = Console(width=None if Console().is_terminal else 120)
    demo = Demo(plan, port=port, timeout=timeout, console=console)
    result = demo.run()
    print_summary(result, console, demo.where.env)
    return result
