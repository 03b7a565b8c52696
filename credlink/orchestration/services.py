"""Run Airflow's own components (scheduler, DAG processor, API server) for this project.

Used by `make ui` / `make demo` and by the tests that need a real scheduler. All components run
in one new process group, so that stopping it stops every worker they forked.

Example:
    >>> services = AirflowServices(port=8080, log_dir=Path(".airflow/logs"))  # doctest: +SKIP
    >>> with services:  # doctest: +SKIP
    ...     services.wait_healthy()
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import TracebackType

COMPONENTS = ("scheduler", "dag-processor", "api-server")
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    """A TCP port nobody listens on right now (for tests)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class AirflowServices:
    """The scheduler, DAG processor and API server, bound to 127.0.0.1:`port`."""

    def __init__(self, port: int, log_dir: Path, env: dict[str, str] | None = None) -> None:
        self.port = port
        self.log_dir = log_dir
        self.base_url = f"http://127.0.0.1:{port}"
        base = env if env is not None else os.environ
        self.env = {
            **base,
            # The components and their workers start `airflow` from the PATH: this venv's.
            "PATH": f"{VENV_BIN}{os.pathsep}{base.get('PATH', '')}",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": self.base_url,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start every component in a new process group; logs go to `log_dir`."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        script = " ".join(f"airflow {c} > {self.log_dir / (c + '.log')} 2>&1 &" for c in COMPONENTS)
        self.process = subprocess.Popen(
            ["sh", "-c", f"{script} wait"], env=self.env, start_new_session=True
        )

    def wait_healthy(self, timeout: float = 180) -> None:
        """Wait until the API server answers its health check."""
        deadline = time.monotonic() + timeout
        url = f"{self.base_url}/api/v2/monitor/health"
        last = "no answer"
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"Airflow components exited; see the logs in {self.log_dir}")
            try:
                with urllib.request.urlopen(url, timeout=5) as resp:
                    if resp.status == 200:
                        return
                    last = f"HTTP {resp.status}"
            except OSError as exc:
                last = str(exc)
            time.sleep(2)
        raise TimeoutError(f"{url} not healthy after {timeout:.0f}s ({last}); logs: {self.log_dir}")

    def stop(self, timeout: float = 30) -> None:
        """Stop the whole process group: TERM, then KILL what is left."""
        if self.process is None:
            return
        pgid = self.process.pid
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and _group_alive(pgid):
                time.sleep(0.5)
            if not _group_alive(pgid):
                break
        self.process.wait(timeout=10)
        self.process = None

    def __enter__(self) -> AirflowServices:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _group_alive(pgid: int) -> bool:
    return bool(_members(pgid))


def _members(pgid: int) -> list[int]:
    """Live (not zombie) processes of the group."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            out.append(int(stat.parent.name))
    return out
