"""Settings that Airflow imports by path from `airflow.cfg`.

`CONNECT_ARGS` (`[database] sql_alchemy_connect_args`): with the embedded SQLite metadata DB,
the scheduler, the DAG processor, the API server and command-line calls (a backfill) all write
to one file; a generous busy timeout makes a writer wait for the lock instead of failing with
"database is locked". Other engines get no extra arguments.
"""

from __future__ import annotations

import os
from typing import Any

_conn = os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "sqlite")
CONNECT_ARGS: dict[str, Any] = {"timeout": 120} if _conn.startswith("sqlite") else {}
