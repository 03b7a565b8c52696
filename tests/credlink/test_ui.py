"""`credlink ui start|stop` bookkeeping, without Airflow: the pid file, the process group, the
port check. (The real components in a real browser: tests/ui/test_browser.py.)"""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from credlink import ui
from credlink.orchestration.services import _members


def _record(home: Path, pgid: int) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / ui.PID_FILE).write_text(f"{pgid}\n")
    (home / ui.URL_FILE).write_text("http://127.0.0.1:18080\n")
    (home / "simple_auth_manager_passwords.json.generated").write_text(json.dumps({"admin": "pw"}))


@pytest.fixture
def group() -> Iterator[subprocess.Popen[bytes]]:
    """A process group that looks like the one `ui.start` leaves: an `sh` named after airflow
    with a child."""
    proc = subprocess.Popen(
        ["sh", "-c", "sleep 60 & wait", "airflow-lookalike"], start_new_session=True
    )
    deadline = time.monotonic() + 30
    while len(_members(proc.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)  # the sh has not forked its sleep yet
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def test_recorded_group_is_found_and_stopped(
    tmp_path: Path, group: subprocess.Popen[bytes]
) -> None:
    home = tmp_path / "airflow"
    _record(home, group.pid)
    found = ui.running(home)
    assert found is not None
    assert (found.pgid, found.url, found.user, found.password) == (
        group.pid,
        "http://127.0.0.1:18080",
        "admin",
        "pw",
    )
    assert found.processes == 2  # the sh and its sleep
    assert ui.stop(home, timeout=10) == 2
    group.wait(timeout=10)
    assert not _members(group.pid)
    assert not (home / ui.PID_FILE).exists() and not (home / ui.URL_FILE).exists()
    assert ui.stop(home) == 0  # nothing left to stop


def test_a_stale_record_is_forgotten_and_never_signalled(tmp_path: Path) -> None:
    # The recorded id now belongs to processes that are not Airflow: leave them alone.
    other = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        home = tmp_path / "airflow"
        _record(home, other.pid)
        assert ui.running(home) is None
        assert not (home / ui.PID_FILE).exists()
        assert ui.stop(home) == 0
        assert other.poll() is None, "a process that is not Airflow was signalled"
    finally:
        other.kill()
        other.wait()


def test_start_refuses_a_taken_port(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert not ui.port_free(port)
        with pytest.raises(ui.UiError, match=f"port {port} .* in use.*UI_PORT={port + 1}"):
            ui.start(tmp_path / "airflow", port)
    assert not (tmp_path / "airflow" / ui.PID_FILE).exists()
    assert ui.port_free(port)
