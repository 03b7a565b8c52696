"""Airflow's Celery workers (`airflow celery worker`) on this machine, for the CeleryExecutor.

With `CREDLINK_EXECUTOR=celery` (docs/executors.md) the scheduler queues each task on the
broker (Redis, `CREDLINK_CELERY_BROKER`) instead of running it, and any worker attached to that
broker takes it: workers may run on other machines, which then need the same project, the same
airflow.cfg and secrets, the metadata DB, the API server's execution URL and the same lake and
warehouse. :class:`CeleryWorkers` starts `count` of them here, each with its own Celery node
name (`credlink1@<host>`, `credlink2@<host>`...) and log file, all in one new process group that
outlives the caller (as :class:`credlink.orchestration.services.AirflowServices` does for the
scheduler), so that `credlink ui stop` can end them from another command.

A worker starts its task processes like the LocalExecutor does (a supervisor forking the task;
Airflow's log server is not started: it would bind every interface, see services.py). Each
task result is stored by Celery in the metadata DB (`celery_taskmeta`, with the worker's node
name), which is how the tests tell which worker ran which task.

Example:
    >>> workers = CeleryWorkers(2, Path("logs/workers"), env=services.env)  # doctest: +SKIP
    >>> with workers:  # doctest: +SKIP
    ...     workers.wait_ready()
    ...     workers.nodes
    ['credlink1@vm', 'credlink2@vm']
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit

from credlink.airflow_home import BROKER_ENV, DEFAULT_BROKER
from credlink.orchestration.services import (
    UMASK,
    VENV_BIN,
    _members,
    session_members,
    stop_group,
)

#: The node name prefix: worker `i` (from 1) is `credlink<i>@<host>`.
NODE_PREFIX = "credlink"


class WorkerError(RuntimeError):
    """The Celery workers could not start (broker unreachable, a worker exited, not ready)."""


def broker_url(env: Mapping[str, str] | None = None) -> str:
    """The broker the workers and the scheduler use: `CREDLINK_CELERY_BROKER`, else Airflow's
    own `AIRFLOW__CELERY__BROKER_URL`, else the Redis server on this machine (database 0)."""
    env = os.environ if env is None else env
    return env.get(BROKER_ENV) or env.get("AIRFLOW__CELERY__BROKER_URL") or DEFAULT_BROKER


def broker_problem(url: str, timeout: float = 3.0) -> str | None:
    """Why the Redis broker at `url` cannot be used, or None when it answers PING.

    Only `redis://` and `rediss://` brokers are checked (another broker is left to Celery).

    Example: `broker_problem("redis://127.0.0.1:6379/5")` is None while Redis runs, else
    "nothing answers at 127.0.0.1:6379 (Connection refused): ...".
    """
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        return None
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        try:
            client.ping()
        finally:
            client.close()
    except redis.RedisError as exc:
        where = f"{parts.hostname or '127.0.0.1'}:{parts.port or 6379}"
        return (
            f"the Celery broker {where} does not answer ({exc}): start Redis there "
            f"(Debian: `apt-get install redis-server`) or point {BROKER_ENV} at a running one"
        )
    return None


class CeleryWorkers:
    """`count` Celery workers of Airflow, each running `concurrency` tasks at a time (default:
    airflow.cfg's `[celery] worker_concurrency`), logging to `log_dir/<node>.log`.

    `env` must be the environment of the Airflow components (the API server's execution URL,
    `AIRFLOW_HOME`, the executor and broker settings): the workers' task processes report to
    that API server.
    """

    def __init__(
        self,
        count: int,
        log_dir: Path,
        env: Mapping[str, str] | None = None,
        *,
        concurrency: int | None = None,
        prefix: str = NODE_PREFIX,
    ) -> None:
        if count < 1:
            raise ValueError(f"at least one Celery worker is needed, not {count}")
        self.count = count
        self.log_dir = log_dir
        self.env = dict(os.environ if env is None else env)
        self.env["PATH"] = f"{VENV_BIN}{os.pathsep}{self.env.get('PATH', '')}"
        self.concurrency = concurrency
        host = socket.gethostname()
        #: The Celery node names, as the workers and `celery_taskmeta.worker` report them.
        self.nodes = [f"{prefix}{i}@{host}" for i in range(1, count + 1)]
        self.process: subprocess.Popen[bytes] | None = None
        #: The workers' session (the launcher's id): their task processes keep it, though each
        #: task gets a process group of its own (Airflow's supervisor), so :meth:`stop` ends
        #: the session's leftovers too.
        self.sid: int | None = None

    @property
    def pgid(self) -> int | None:
        """The process group of the workers (the `sh` that started them), once started."""
        return self.process.pid if self.process is not None else None

    def log_file(self, node: str) -> Path:
        return self.log_dir / f"{node.split('@')[0]}.log"

    def command(self, node: str) -> list[str]:
        """One worker's command line (Airflow's log server skipped, see services.py)."""
        argv = ["airflow", "celery", "worker", "--celery-hostname", node, "--skip-serve-logs"]
        if self.concurrency is not None:
            argv += ["--concurrency", str(self.concurrency)]
        return argv

    def start(self) -> None:
        """Check the broker, then start every worker in one new process group (own session,
        stdin from /dev/null, umask 077 as the other components)."""
        if problem := broker_problem(broker_url(self.env)):
            raise WorkerError(problem)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        script = " ".join(
            f"{shlex.join(self.command(node))} > {shlex.quote(str(self.log_file(node)))} 2>&1 &"
            for node in self.nodes
        )
        with (self.log_dir / "launcher.log").open("ab") as launcher_log:
            self.process = subprocess.Popen(
                ["sh", "-c", f"{script} wait"],
                env=self.env,
                start_new_session=True,
                stdin=subprocess.DEVNULL,
                stdout=launcher_log,
                stderr=subprocess.STDOUT,
                umask=UMASK,
            )
        self.sid = self.process.pid

    def ready(self) -> list[str]:
        """The nodes whose log says they are ready (Celery's `<node> ready.` line)."""
        out = []
        for node in self.nodes:
            try:
                text = self.log_file(node).read_text(errors="replace")
            except OSError:
                continue
            if f"{node} ready." in text:
                out.append(node)
        return out

    def wait_ready(self, timeout: float = 120) -> None:
        """Wait until every worker is connected to the broker and ready for tasks."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise WorkerError(f"the Celery workers exited; logs: {self.log_dir}")
            if len(self.ready()) == self.count:
                return
            time.sleep(1)
        waiting = sorted(set(self.nodes) - set(self.ready()))
        raise WorkerError(
            f"Celery workers not ready after {timeout:.0f}s: {', '.join(waiting)}; "
            f"logs: {self.log_dir}"
        )

    def stop(self, timeout: float = 60) -> int:
        """Stop every worker: TERM (Celery's warm shutdown lets running tasks finish), then KILL
        what is left after `timeout` s; returns how many processes the group had."""
        if self.process is None:
            return 0
        found = stop_group(self.process.pid, timeout)
        self.process.wait(timeout=10)
        self.process = None
        if self.sid is not None:
            found += stop_session(self.sid)
        return found

    def alive(self) -> int:
        """How many processes of the workers' group are alive."""
        return len(_members(self.pgid)) if self.pgid is not None else 0

    def __enter__(self) -> CeleryWorkers:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def stop_session(sid: int, timeout: float = 10) -> int:
    """TERM, then KILL after `timeout` s, every process left in the session `sid` (a task
    process whose worker was killed); returns how many there were."""
    left = session_members(sid)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in session_members(sid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and session_members(sid):
            time.sleep(0.5)
        if not session_members(sid):
            break
    return len(left)


__all__ = [
    "CeleryWorkers",
    "WorkerError",
    "broker_problem",
    "broker_url",
    "session_members",
    "stop_session",
]
