"""Settings that Airflow imports by path from `airflow.cfg`.

`CONNECT_ARGS` (`[database] sql_alchemy_connect_args`): with a SQLite metadata DB
(`CREDLINK_METADATA_DB=sqlite`), the scheduler, the DAG processor, the API server and
command-line calls (a backfill) all write to one file; a generous busy timeout makes a writer
wait for the lock instead of failing with "database is locked". Other engines (the default
PostgreSQL) get no extra arguments.
"""

from __future__ import annotations

from typing import Any

from airflow.configuration import conf

_conn = conf.get("database", "sql_alchemy_conn", fallback="sqlite")
CONNECT_ARGS: dict[str, Any] = {"timeout": 120} if _conn.startswith("sqlite") else {}
