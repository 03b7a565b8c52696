"""Run Airflow's own components (scheduler, DAG processor, triggerer, API server) here.

Used by `make ui` / `make demo` and by the tests that need a real scheduler. All components run
in one new process group, so that stopping it stops every worker they forked. The group outlives
the Python process that started it (stdin and output are detached), so a command can start it in
the background, record `services.pgid`, and another command can end it with `stop_group(pgid)`
(this is what `credlink ui start|stop` does, see credlink/ui.py).

Example:
    >>> services = AirflowServices(port=8080, log_dir=Path(".airflow/logs"))  # doctest: +SKIP
    >>> with services:  # doctest: +SKIP
    ...     services.wait_healthy()
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

COMPONENTS = ("scheduler", "dag-processor", "triggerer", "api-server")
#: What the API server's health check reports for them (all green in the UI).
HEALTH_COMPONENTS = ("metadatabase", "scheduler", "dag_processor", "triggerer")
#: Extra arguments per component. Airflow 3.3's log server binds every interface (no host
#: option: airflow/utils/serve_logs/core.py), so neither the scheduler nor the triggerer starts
#: it; the API server reads the task logs from the local log folder.
COMPONENT_ARGS = {"scheduler": "--skip-serve-logs", "triggerer": "--skip-serve-logs"}
#: Files the components create (metadata DB, logs, lake files of tasks) are private.
UMASK = 0o077
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    """A TCP port nobody listens on right now (for tests)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class AirflowServices:
    """The scheduler, DAG processor, triggerer and API server, bound to 127.0.0.1:`port`.

    The metadata DB must be reachable first (:func:`credlink.metadata_db.prepare`).
    """

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

    @property
    def pgid(self) -> int | None:
        """The id of the components' process group (the `sh` that started them), once started."""
        return self.process.pid if self.process is not None else None

    def start(self) -> None:
        """Start every component in a new process group; logs go to `log_dir`.

        The scheduler runs without the log server (see :data:`COMPONENT_ARGS`), every component
        with umask 077, and the Airflow home is made private first
        (:func:`credlink.airflow_home.secure_home`). The group is detached from the caller's
        terminal and output (its own session, stdin from
        /dev/null, the launcher's output in `log_dir/services.log`), so it keeps running when the
        caller exits, and a caller whose output is a pipe (make, CI) is not held open by it.
        """
        self.log_dir.mkdir(parents=True, exist_ok=True)
        script = " ".join(
            f"airflow {' '.join([c, *COMPONENT_ARGS.get(c, '').split()])} "
            f"> {self.log_dir / (c + '.log')} 2>&1 &"
            for c in COMPONENTS
        )
        home = self.env.get("AIRFLOW_HOME")
        if home and Path(home).is_dir():
            from credlink.airflow_home import secure_home

            secure_home(Path(home))
        with (self.log_dir / "services.log").open("ab") as launcher_log:
            self.process = subprocess.Popen(
                ["sh", "-c", f"{script} wait"],
                env=self.env,
                start_new_session=True,
                stdin=subprocess.DEVNULL,
                stdout=launcher_log,
                stderr=subprocess.STDOUT,
                umask=UMASK,
            )

    def health(self) -> dict[str, Any] | None:
        """The API server's health answer (`/api/v2/monitor/health`), or None without one."""
        return health(self.base_url)

    def wait_healthy(self, timeout: float = 180, require: Sequence[str] = ()) -> None:
        """Wait until the API server answers its health check and, if `require` names them
        (e.g. `("scheduler", "dag_processor")`), those components report healthy too."""
        deadline = time.monotonic() + timeout
        url = f"{self.base_url}/api/v2/monitor/health"
        last = "no answer"
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"Airflow components exited; see the logs in {self.log_dir}")
            try:
                with urllib.request.urlopen(url, timeout=5) as resp:  # raises unless 2xx
                    answer = json.loads(resp.read() or b"{}")
            except (OSError, ValueError) as exc:
                last = str(exc)
            else:
                waiting = [c for c in require if _status(answer, c) != "healthy"]
                if not waiting:
                    return
                last = f"not yet healthy: {', '.join(waiting)}"
            time.sleep(2)
        raise TimeoutError(f"{url} not healthy after {timeout:.0f}s ({last}); logs: {self.log_dir}")

    def stop(self, timeout: float = 30) -> None:
        """Stop the whole process group: TERM, then KILL what is left."""
        if self.process is None:
            return
        stop_group(self.process.pid, timeout)
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


def health(base_url: str) -> dict[str, Any] | None:
    """The health answer of the API server at `base_url`, or None when it does not answer.

    Example: `health("http://127.0.0.1:8080")["scheduler"]["status"]` is `"healthy"`.
    """
    try:
        with urllib.request.urlopen(f"{base_url}/api/v2/monitor/health", timeout=5) as resp:
            answer = json.loads(resp.read() or b"{}")
    except (OSError, ValueError):
        return None
    return answer if isinstance(answer, dict) else None


def _status(answer: object, component: str) -> str | None:
    part = answer.get(component) if isinstance(answer, dict) else None
    return part.get("status") if isinstance(part, dict) else None


def stop_group(pgid: int, timeout: float = 30) -> int:
    """Stop the process group `pgid`: TERM, wait up to `timeout` s, then KILL what is left.

    Returns how many live processes the group had. Works from any process (e.g. `credlink ui
    stop` ending what `credlink ui start` left running).
    """
    found = len(_members(pgid))
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
    return found


def _group_alive(pgid: int) -> bool:
    return bool(_members(pgid))


def _members(pgid: int) -> list[int]:
    """Live (not zombie) processes of the group."""
    return _live(_PGRP, pgid)


def session_members(sid: int) -> list[int]:
    """Live (not zombie) processes of the session `sid`, whatever their process group."""
    return _live(_SESSION, sid)


#: Fields of /proc/<pid>/stat after the command's closing parenthesis (proc(5)).
_STATE, _PGRP, _SESSION = 0, 2, 3


def _live(field: int, value: int) -> list[int]:
    """Live (not zombie) processes whose /proc stat field `field` is `value`."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[field]) == value and fields[_STATE] != "Z":
            out.append(int(stat.parent.name))
    return out
