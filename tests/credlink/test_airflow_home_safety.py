"""A safe Airflow home: a generated Fernet key, private modes, no log server on every interface."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from credlink.airflow_home import prepare_airflow_home
from credlink.orchestration import services
from credlink.settings import project_root

ROOT = project_root()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_fernet_key_is_generated_valid_private_and_kept(tmp_path: Path) -> None:
    home = prepare_airflow_home(tmp_path / "home", ROOT)
    key_file = home.home / "secrets" / "fernet_key"
    key = key_file.read_text()
    token = Fernet(key.encode()).encrypt(b"connection password")  # a valid Fernet key
    assert Fernet(key.encode()).decrypt(token) == b"connection password"
    again = prepare_airflow_home(tmp_path / "home", ROOT)
    assert (again.home / "secrets" / "fernet_key").read_text() == key  # stored secrets readable
    other = prepare_airflow_home(tmp_path / "other", ROOT)
    assert (other.home / "secrets" / "fernet_key").read_text() != key
    cfg = (ROOT / "airflow.cfg").read_text()
    assert "fernet_key_cmd = sh -c 'cat \"$AIRFLOW_HOME/secrets/fernet_key\"'" in cfg


def test_home_secrets_and_metadata_db_are_private(tmp_path: Path) -> None:
    home_dir = tmp_path / "home"
    home_dir.mkdir(mode=0o755)
    db = home_dir / "airflow.db"
    db.write_bytes(b"")
    db.chmod(0o644)
    home = prepare_airflow_home(home_dir, ROOT)
    assert mode(home.home) == 0o700
    assert mode(home.home / "secrets") == 0o700
    for f in (*sorted((home.home / "secrets").iterdir()), home.password_file, db, home.env_script):
        assert mode(f) == 0o600, f


def test_components_start_private_and_without_the_log_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Airflow 3.3's `serve-logs` binds every interface (no host option), so the scheduler is
    started with --skip-serve-logs; every component runs with umask 077."""
    seen: dict[str, Any] = {}

    class FakePopen:
        pid = 12345

        def __init__(self, args: list[str], **kwargs: Any) -> None:
            seen["args"], seen["kwargs"] = args, kwargs

    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    monkeypatch.setattr(subprocess, "Popen", FakePopen)
    svc = services.AirflowServices(port=8099, log_dir=tmp_path / "logs",
                                   env={"AIRFLOW_HOME": str(home), "PATH": "/bin"})  # fmt: skip
    svc.start()
    script = seen["args"][-1]
    assert "airflow scheduler --skip-serve-logs >" in script
    assert "airflow triggerer --skip-serve-logs >" in script
    assert "airflow dag-processor >" in script and "airflow api-server >" in script
    assert seen["kwargs"]["umask"] == 0o077
    assert mode(home) == 0o700
