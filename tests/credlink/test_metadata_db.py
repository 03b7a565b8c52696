"""The metadata DB the project runs itself: an embedded PostgreSQL server in the Airflow home
(started, restarted, stopped, nothing left running), SQLite or your own database by setting."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from credlink import metadata_db, ui
from credlink.airflow_home import prepare_airflow_home
from credlink.metadata_db import EmbeddedPostgres, MetadataDBError

ROOT = Path(__file__).resolve().parents[2]


def processes_of(data: Path) -> list[int]:
    """Live processes whose command line names the cluster folder `data`."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if str(data).encode() in cmdline.read_bytes():
                stat = (cmdline.parent / "stat").read_text().rsplit(")", 1)[1].split()
                if stat[0] != "Z":
                    found.append(int(cmdline.parent.name))
        except OSError:
            continue
    return found


def plain(url: str) -> str:
    """The SQLAlchemy URL as libpq takes it."""
    return url.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return prepare_airflow_home(tmp_path / "airflow", ROOT).home


def test_server_starts_restarts_and_stops_leaving_nothing(home: Path) -> None:
    server = EmbeddedPostgres(home)
    try:
        url = server.start()
        assert url.startswith("postgresql+psycopg://airflow:") and "@127.0.0.1:" in url
        assert metadata_db.url_file(home).read_text() == url  # what airflow.cfg's cmd reads
        assert oct(metadata_db.url_file(home).stat().st_mode & 0o777) == "0o600"
        pid, port = server.pid(), server.port()
        assert pid is not None and port is not None
        assert server.start() == url and server.pid() == pid  # idempotent: the server is kept
        with psycopg.connect(plain(url), autocommit=True) as con:
            con.execute("CREATE TABLE kept (x int)")
            con.execute("INSERT INTO kept VALUES (7)")
        # password authentication: no trust, so another local user cannot read it
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(f"postgresql://airflow:wrong@127.0.0.1:{port}/airflow")
        # TCP on 127.0.0.1 only, no Unix socket anywhere in the home
        assert not list(home.rglob(".s.PGSQL.*"))

        assert server.stop() is True
        assert server.pid() is None and processes_of(server.data) == []
        assert server.stop() is False  # nothing to stop

        assert server.start() == url  # restarted on the same port (still free), data kept
        with psycopg.connect(plain(url)) as con:
            assert con.execute("SELECT x FROM kept").fetchall() == [(7,)]
    finally:
        server.stop()
    assert processes_of(server.data) == []


def test_ui_stop_stops_the_server(home: Path) -> None:
    server = EmbeddedPostgres(home)
    server.start()
    try:
        assert ui.stop(home) == 1  # no Airflow components recorded; the server counts as one
        assert processes_of(server.data) == []
    finally:
        server.stop()


def test_a_taken_port_moves_the_server(home: Path) -> None:
    import socket

    recorded = metadata_db._port_of(metadata_db.url_file(home).read_text())
    assert recorded is not None  # `credlink init` chose one
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", recorded))
        blocker.listen()
        server = EmbeddedPostgres(home)
        try:
            url = server.start()
            assert server.port() != recorded
            assert f":{server.port()}/" in url and metadata_db.url_file(home).read_text() == url
        finally:
            server.stop()


def test_backend_selection(home: Path) -> None:
    assert metadata_db.backend({}) == "postgres"
    assert metadata_db.backend({"CREDLINK_METADATA_DB": "sqlite"}) == "sqlite"
    assert metadata_db.backend({"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "mysql://x"}) == "external"
    with pytest.raises(MetadataDBError, match="CREDLINK_METADATA_DB='oracle'"):
        metadata_db.backend({"CREDLINK_METADATA_DB": "oracle"})

    sqlite = metadata_db.prepare(home, {"CREDLINK_METADATA_DB": "sqlite"})
    assert sqlite == f"sqlite:///{home}/airflow.db" == metadata_db.url_file(home).read_text()
    assert EmbeddedPostgres(home).pid() is None  # nothing started for SQLite
    external = "postgresql+psycopg://me:pw@db.example:5432/airflow"
    env = {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": external}
    assert metadata_db.prepare(home, env) == external
    assert metadata_db.url_file(home).read_text() == sqlite  # left alone
    # back to the default: `credlink init` writes the embedded server's URL again
    metadata_db.init_url(home, {})
    assert metadata_db.url_file(home).read_text().startswith("postgresql+psycopg://airflow:")


@pytest.mark.slow
def test_airflow_reads_the_selected_database(home: Path) -> None:
    """What every Airflow process sees: the URL file, unless the variable is set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")}
    env |= {"AIRFLOW_HOME": str(home), "AIRFLOW_CONFIG": str(ROOT / "airflow.cfg")}
    probe = (
        "import json; from airflow.configuration import conf; "
        "print(json.dumps(conf.get('database', 'sql_alchemy_conn')))"
    )

    def seen(extra: dict[str, str]) -> str:
        out = subprocess.run(
            [sys.executable, "-c", probe],
            env=env | extra,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        return str(json.loads(out.stdout.strip().splitlines()[-1]))

    assert seen({}) == metadata_db.url_file(home).read_text()
    assert seen({}).startswith("postgresql+psycopg://airflow:")
    metadata_db.prepare(home, {"CREDLINK_METADATA_DB": "sqlite"})
    assert seen({}) == f"sqlite:///{home}/airflow.db"
    assert seen({"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "sqlite:////x.db"}) == "sqlite:////x.db"


def test_stop_works_after_a_folder_above_became_private(home: Path) -> None:
    """pytest (or a user) may make a folder above the cluster private again while the server
    runs; run as root, the server's own user then cannot reach it, and stopping must still work
    (the folders are made traversable again, else the postmaster gets SIGINT)."""
    server = EmbeddedPostgres(home)
    server.start()
    try:
        home.parent.chmod(0o700)
        assert server.stop() is True
        assert processes_of(server.data) == []
    finally:
        server.stop()
