"""Agencies on real servers: extraction through a PostgreSQL or MariaDB URL gives the same rows
as from the SQLite file. Needs the servers this machine runs (127.0.0.1:5432 and :3306); the
tests are skipped, saying so, when a server does not answer."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from credlink.etl.contracts import source_contracts
from credlink.etl.ingest.extract import ConnectionSpec, check_schema, connect, extract, source_url
from credlink.etl.ingest.interval import Interval
from credlink.world.export import copy_database
from credlink.world.generate import WorldSummary

SERVERS = {
    "postgres": ConnectionSpec(
        conn_type="postgres", host="127.0.0.1", port=5432, login="postgres", schema="test"
    ),
    "mariadb": ConnectionSpec(
        conn_type="mysql", host="127.0.0.1", port=3306, login="root", schema="test"
    ),
}


def reachable(url: str) -> str | None:
    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as con:
            con.execute(sa.text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:
        return f"{exc.__class__.__name__}: {exc}".splitlines()[0]


@pytest.mark.server
@pytest.mark.parametrize("server", sorted(SERVERS))
@pytest.mark.parametrize("source", ["courts", "transport", "food", "tax"])
def test_extract_from_server_equals_sqlite(
    small_world: WorldSummary, server: str, source: str
) -> None:
    url = source_url(SERVERS[server], default_file=small_world.out)
    why = reachable(url)
    if why:
        pytest.skip(f"{server} not reachable at {sa.make_url(url).render_as_string()}: {why}")
    contract = source_contracts()[source]
    sqlite_file = small_world.out / contract.default_database
    copy_database(sqlite_file, url)
    on_server = connect(url, source)
    on_file = connect(source_url(None, sqlite_file), source)
    check_schema(on_server, contract)
    interval = Interval(None, datetime(2025, 7, 1, tzinfo=UTC))
    total = 0
    for table in contract.tables:
        a = extract(on_server, table, interval)
        b = extract(on_file, table, interval)
        assert a.height == b.height, f"{server} {source}.{table.name}"
        key = list(table.primary_key)
        assert a.sort(key).equals(b.sort(key)), f"{server} {source}.{table.name} differs"
        total += a.height
    assert total > 0
    on_server.dispose()
    on_file.dispose()
