"""The Airflow home: generated secrets, and the repo's airflow.cfg as Airflow itself reads it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from credlink.airflow_home import prepare_airflow_home
from credlink.settings import project_root

ROOT = project_root()


def test_secrets_are_generated_private_and_kept(tmp_path: Path) -> None:
    home = prepare_airflow_home(tmp_path / "home", ROOT)
    jwt = (home.home / "secrets" / "jwt_secret").read_text()
    key = (home.home / "secrets" / "api_secret_key").read_text()
    password = home.admin_password()
    assert len(jwt) >= 40 and len(key) >= 30 and len(password) >= 12
    assert jwt != key
    for f in (home.home / "secrets" / "jwt_secret", home.password_file):
        assert f.stat().st_mode & 0o077 == 0, f"{f} is readable by others"
    again = prepare_airflow_home(tmp_path / "home", ROOT)
    assert (again.home / "secrets" / "jwt_secret").read_text() == jwt
    assert again.admin_password() == password
    other = prepare_airflow_home(tmp_path / "other", ROOT)
    assert other.admin_password() != password
    assert f"export AIRFLOW_HOME='{home.home}'" in home.env_script.read_text()


def test_no_secret_is_committed() -> None:
    cfg = (ROOT / "airflow.cfg").read_text()
    for line in cfg.splitlines():
        key = line.split("=", 1)[0].strip()
        if key in {"jwt_secret", "secret_key", "fernet_key"}:
            pytest.fail(f"airflow.cfg sets {key} directly: {line}")
    assert "jwt_secret_cmd" in cfg and "secret_key_cmd" in cfg


@pytest.mark.slow
def test_airflow_reads_the_project_config(tmp_path: Path) -> None:
    """Airflow, started with the project's environment, sees our settings and secrets."""
    home = prepare_airflow_home(tmp_path / "home", ROOT)
    env = {
        **os.environ,
        "CREDLINK_ROOT": str(ROOT),
        "AIRFLOW_HOME": str(home.home),
        "AIRFLOW_CONFIG": str(ROOT / "airflow.cfg"),
    }
    env = {k: v for k, v in env.items() if not k.startswith("AIRFLOW__")}
    probe = (
        "import json; from airflow.configuration import conf; print(json.dumps({"
        "'executor': conf.get('core', 'executor'),"
        "'load_examples': conf.getboolean('core', 'load_examples'),"
        "'parallelism': conf.getint('core', 'parallelism'),"
        "'paused': conf.getboolean('core', 'dags_are_paused_at_creation'),"
        "'dags_folder': conf.get('core', 'dags_folder'),"
        "'db': conf.get('database', 'sql_alchemy_conn'),"
        "'jwt': conf.get('api_auth', 'jwt_secret'),"
        "'key': conf.get('api', 'secret_key'),"
        "'fernet': conf.get('core', 'fernet_key'),"
        "'host': conf.get('api', 'host')}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["executor"] == "credlink.orchestration.executor.PreloadingLocalExecutor"
    assert seen["load_examples"] is False
    assert 1 <= seen["parallelism"] <= 4, "sized for a 2-core machine"
    assert seen["paused"] is False
    assert Path(seen["dags_folder"]) == ROOT / "dags"
    # the embedded PostgreSQL server's URL, read from the home (credlink/metadata_db.py)
    assert seen["db"] == (home.home / "secrets" / "metadata_db_url").read_text()
    assert seen["db"].startswith("postgresql+psycopg://airflow:")
    assert seen["jwt"] == (home.home / "secrets" / "jwt_secret").read_text()
    assert seen["key"] == (home.home / "secrets" / "api_secret_key").read_text()
    assert seen["fernet"] == (home.home / "secrets" / "fernet_key").read_text()
    assert seen["host"] == "127.0.0.1"
