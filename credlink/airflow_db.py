"""Prepare the Airflow metadata DB: migrate it and, for SQLite, switch it to WAL journaling
so that readers (the UI, `airflow dags list-runs`) do not block the scheduler's writes."""

from __future__ import annotations

import sqlite3

from sqlalchemy.engine import make_url


def enable_wal(sql_alchemy_conn: str) -> bool:
    """Set WAL journaling on a SQLite metadata DB (a setting kept in the file); True if done."""
    url = make_url(sql_alchemy_conn)
    if url.get_backend_name() != "sqlite" or not url.database:
        return False
    con = sqlite3.connect(url.database)
    try:
        (mode,) = con.execute("PRAGMA journal_mode=WAL").fetchone()
    finally:
        con.close()
    return str(mode).lower() == "wal"


def migrate() -> None:
    """`airflow db migrate` in-process, then WAL for SQLite."""
    from airflow.configuration import conf
    from airflow.utils.db import initdb

    initdb()
    enable_wal(conf.get("database", "sql_alchemy_conn"))
