"""The ingest DAG: one per source (or a few sources, for the registries), driven by contracts.

Each DAG: check_<source> (reach it, hold its schema to the contract) -> one ingest task per table
(extract the run's interval, standardise, validate, stage or quarantine, then conform the staged
partition into the conformed layer by the source's mapping) -> publish_<source> (refresh the
DuckDB catalog, announce the `staging.<source>` Asset: linkage and publishing read the conformed
tables). A fifth agency is a new contract in `schemas/sources/`, its conform mapping in
`schemas/conform/` (or both in a folder of `$CREDLINK_SCHEMAS_OVERLAY`) and a DAG file calling
`ingest_dag`: no code in linkage or publishing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG, CronDataIntervalTimetable, Param, get_current_context, task

from credlink.etl.conform.mappings import all_source_contracts
from credlink.orchestration.assets import staging_asset
from credlink.settings import TIMEZONE

#: The first day of the scheduled period: the demo world starts here. Everything before it
#: comes in through one initial-load run (param `initial_load`).
START = pendulum.datetime(2024, 1, 1, tz=TIMEZONE)

DEFAULT_ARGS: dict[str, Any] = {
    "owner": "credlink",
    "retries": 2,
    "retry_delay": timedelta(seconds=30),
}


@task
def check_source(source: str) -> dict[str, Any]:
    from credlink.orchestration import runtime

    return runtime.check_source(source)


@task
def ingest_table(source: str, table: str) -> dict[str, Any]:
    from credlink.orchestration import runtime

    ctx = get_current_context()
    params = ctx["params"]
    start, end = ctx["data_interval_start"], ctx["data_interval_end"]
    if start is None or end is None:
        raise ValueError("this run has no data interval")
    return runtime.ingest(
        source,
        table,
        run_id=ctx["run_id"],
        logical_date=ctx["logical_date"] or start,
        start=start,
        end=end,
        initial_load=bool(params["initial_load"]),
        quarantine_limit=float(params["quarantine_limit"]),
    )


@task
def publish(source: str) -> str:
    from credlink.orchestration import runtime

    return runtime.publish(source)


def ingest_dag(dag_id: str, sources: Sequence[str], doc_md: str, tags: Sequence[str]) -> DAG:
    """Build the ingest DAG of `sources` (each a contract in `schemas/sources/` or in an
    overlay folder, :func:`credlink.settings.schema_folders`)."""
    contracts = all_source_contracts()
    unknown = sorted(set(sources) - set(contracts))
    if unknown:
        raise ValueError(f"{dag_id}: no source contract for {unknown} (known: {sorted(contracts)})")
    with DAG(
        dag_id=dag_id,
        description=f"Stage {', '.join(sources)} by daily interval, validated, nothing lost",
        doc_md=doc_md,
        schedule=CronDataIntervalTimetable("0 0 * * *", timezone=TIMEZONE),
        start_date=START,
        catchup=False,
        max_active_runs=2,
        default_args=DEFAULT_ARGS,
        tags=["ingest", *tags],
        params={
            "initial_load": Param(
                False,
                type="boolean",
                description="Also load all history before this run's interval (first run only).",
            ),
            "quarantine_limit": Param(
                0.05,
                type="number",
                minimum=0,
                maximum=1,
                description="Fail the run when a larger share of a table's rows is quarantined.",
            ),
        },
    ) as dag:
        for source in sources:
            contract = contracts[source]
            checked = check_source.override(task_id=f"check_{source}")(source)
            tables = [
                ingest_table.override(task_id=f"ingest_{source}__{t.name}")(source, t.name)
                for t in contract.tables
            ]
            done = publish.override(task_id=f"publish_{source}", outlets=[staging_asset(source)])(
                source
            )
            checked >> tables >> done
    return dag
