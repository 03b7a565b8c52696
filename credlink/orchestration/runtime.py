"""What the ingest tasks run: the Airflow context unpacked into plain arguments for `etl`.

Each ingest task stages its table's intervals and conforms each staged partition
(:func:`etl.conform.apply.conform_partition`) before the DAG's last task announces the source's
Asset, so linkage and publishing, which read only the conformed layer, see what was staged.

Imported inside tasks only (it pulls in Polars, SQLAlchemy and Great Expectations).
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from credlink import settings
from credlink.etl.conform.apply import conform_partition
from credlink.etl.conform.mappings import all_source_contracts
from credlink.etl.contracts import SourceContract
from credlink.etl.ingest.extract import (
    ConnectionSpec,
    SourceUnreachableError,
    check_schema,
    connect,
    source_url,
)
from credlink.etl.ingest.run import RunContext, ingest_table, intervals_for_run
from credlink.etl.lake import Lake

log = logging.getLogger(__name__)


def lake() -> Lake:
    """The lake under the data folder (`$CREDLINK_DATA`, default `<root>/data`)."""
    return Lake(settings.lake_dir())


def docs_root(the_lake: Lake) -> Path:
    """Where the Great Expectations Data Docs of a run go: `<lake>/docs` for a local lake;
    for a lake on an object store (no local folder), `<data>/docs` on the worker that ran the
    task (the validation results themselves are in the run rows, in the lake)."""
    return the_lake.root / "docs" if the_lake.is_local else settings.data_dir() / "docs"


def world_dir() -> Path:
    """The generated world the default connections point at."""
    return settings.data_dir() / "world"


def connection_spec(conn_id: str) -> ConnectionSpec | None:
    """The Airflow connection `conn_id` (e.g. from `AIRFLOW_CONN_COURTS_DB`), or None."""
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = Connection.get(conn_id)
    except AirflowNotFoundException:
        return None
    return ConnectionSpec(
        conn_type=conn.conn_type,
        host=conn.host,
        schema=conn.schema,
        login=conn.login,
        password=conn.password,
        port=conn.port,
        extra=conn.extra_dejson,
    )


def _url(contract: SourceContract) -> str:
    conn = connection_spec(contract.connection_id)
    default = world_dir() / contract.default_database
    if conn is None:
        log.info("no connection %s: using the world's %s", contract.connection_id, default)
    return source_url(conn, default)


def check_source(source: str) -> dict[str, Any]:
    """Reach the source and hold its schema to the contract (fails loudly otherwise)."""
    contract = all_source_contracts()[source]
    engine = connect(_url(contract), source)
    try:
        warnings = check_schema(engine, contract)
    finally:
        engine.dispose()
    return {"source": source, "tables": [t.name for t in contract.tables], "warnings": warnings}


def ingest(
    source: str,
    table: str,
    *,
    run_id: str,
    logical_date: datetime,
    start: datetime,
    end: datetime,
    initial_load: bool,
    quarantine_limit: float,
) -> dict[str, Any]:
    """Ingest one table for a run and conform each staged partition (the conformed layer is
    never behind staging when the source's Asset is announced); returns the counts (small, for
    XCom)."""
    contract = all_source_contracts()[source]
    tbl = contract.table(table)
    engine = connect(_url(contract), source)
    the_lake = lake()
    ctx = RunContext(
        run_id=run_id,
        logical_date=logical_date,
        docs_root=docs_root(the_lake),
        quarantine_limit=quarantine_limit,
    )
    out: dict[str, Any] = {"source": source, "table": table, "intervals": []}
    try:
        for interval in intervals_for_run(start, end, initial_load):
            r = ingest_table(contract, tbl, engine, interval, the_lake, ctx)
            conformed = conform_partition(the_lake, source, table, interval.key)
            out["intervals"].append(
                {
                    "interval": r.interval,
                    "extracted": r.extracted,
                    "staged": r.staged,
                    "quarantined": r.quarantined,
                    "conformed": conformed,
                    "data_docs": r.docs_index,
                }
            )
    finally:
        engine.dispose()
    return out


def publish(source: str) -> str:
    """Refresh the DuckDB catalog of the lake (staged and conformed tables); returns its
    path."""
    return str(lake().refresh_catalog())


__all__ = ["SourceUnreachableError", "check_source", "ingest", "publish"]
