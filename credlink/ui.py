"""The Airflow web UI in the background: what `make ui` / `make stop` (`credlink ui ...`) run.

`start` starts the metadata DB (the embedded PostgreSQL server of the home, see
:mod:`credlink.metadata_db`; migrated when new), then Airflow's own components (scheduler, DAG
processor, triggerer, API server with the UI; LocalExecutor) in one process group bound to
127.0.0.1, records the group in the Airflow home (`ui.pid` holds its id, `ui.url` the address),
waits until the metadata DB, scheduler, DAG processor and triggerer report healthy and the
project's DAGs are registered, and returns. `stop` ends the whole group (TERM, then KILL),
wherever it was started from, then the PostgreSQL server. The login
is `admin` with the password `credlink init` generated into the Airflow home (never committed).

With `CREDLINK_EXECUTOR=celery` (docs/executors.md) the components run Airflow's
CeleryExecutor, and `start` also starts `CREDLINK_CELERY_WORKERS` Celery workers (default 1;
:mod:`credlink.orchestration.workers`) in a process group of their own, recorded in
`ui.workers`; `stop` ends them too. An unreachable broker stops `start` before anything runs.

Example:
    >>> ui = start(Path(".airflow"), port=8080)  # doctest: +SKIP
    >>> ui.url, ui.pgid  # doctest: +SKIP
    ('http://127.0.0.1:8080', 41234)
    >>> stop(Path(".airflow"))  # doctest: +SKIP
    9
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from credlink import metadata_db, settings
from credlink.airflow_home import (
    ADMIN_USER,
    ExecutorChoiceError,
    executor_choice,
    executor_env,
    prepare_airflow_home,
)
from credlink.orchestration.services import (
    HEALTH_COMPONENTS,
    UMASK,
    VENV_BIN,
    AirflowServices,
    _members,
    stop_group,
)
from credlink.orchestration.workers import (
    CeleryWorkers,
    broker_problem,
    broker_url,
    session_members,
    stop_session,
)

PID_FILE = "ui.pid"
URL_FILE = "ui.url"
#: The Celery workers' process group id (and session), when the executor is Celery.
WORKERS_FILE = "ui.workers"
#: How many Celery workers `start` runs (with `CREDLINK_EXECUTOR=celery`).
WORKERS_ENV = "CREDLINK_CELERY_WORKERS"
DEFAULT_PORT = 8080


class UiError(RuntimeError):
    """The UI could not be started (port taken, components exited, not healthy in time)."""


@dataclass(frozen=True)
class RunningUi:
    """Airflow started by `start`: its process group, address, login and logs."""

    pgid: int
    url: str
    log_dir: Path
    user: str
    password: str
    processes: int
    #: Processes of the Celery workers started with it (0 with the LocalExecutor).
    workers: int = 0


def pid_file(home: Path) -> Path:
    """Where the process group id of the running UI is kept (`<home>/ui.pid`)."""
    return home / PID_FILE


def running(home: Path) -> RunningUi | None:
    """The UI recorded in `home` if its processes are still alive, else None (stale records of
    a UI that died are removed)."""
    pids, urls = pid_file(home), home / URL_FILE
    try:
        pgid = int(pids.read_text().split()[0])
        url = urls.read_text().strip()
    except (OSError, ValueError, IndexError):
        return None
    members = _members(pgid)
    if not members or not any(_is_airflow(pid) for pid in members):
        # Dead, or the id now belongs to someone else's processes: never signal those.
        _forget(home)
        return None
    return RunningUi(
        pgid=pgid,
        url=url,
        log_dir=_log_dir(home),
        user=ADMIN_USER,
        password=_password(home),
        processes=len(members),
        workers=len(_workers_members(home)),
    )


def start(
    home: Path | None = None,
    port: int = DEFAULT_PORT,
    *,
    timeout: float = 300,
    env: Mapping[str, str] | None = None,
    progress: Callable[[str], None] | None = None,
    workers: int | None = None,
) -> RunningUi:
    """Start scheduler, DAG processor and API server for `home` (default: the project's Airflow
    home) on 127.0.0.1:`port` in the background; return once they are healthy and the DAGs of
    the project's `dags/` folder are registered. Returns the UI already running, if any.

    `env` adds environment variables for the components (e.g. `AIRFLOW__...` settings). With the
    CeleryExecutor (`CREDLINK_EXECUTOR=celery` in the environment or `env`), `workers` Celery
    workers start too (default: `CREDLINK_CELERY_WORKERS`, else 1) and are ready on return.
    Raises `UiError` when the port is taken, the executor or the broker cannot be used, or
    Airflow does not come up within `timeout` seconds (what was started is stopped again).
    """
    home = (home or settings.airflow_home()).resolve()
    say = progress or (lambda _msg: None)
    already = running(home)
    if already is not None:
        return already
    if not port_free(port):
        raise UiError(
            f"port {port} on 127.0.0.1 is in use: stop what listens there, or choose another "
            f"port (`make ui UI_PORT={port + 1}` or `credlink ui start --port {port + 1}`)"
        )
    root = settings.project_root()
    prepare_airflow_home(home, root)  # keeps existing secrets and the password
    full_env = {
        **os.environ,
        "CREDLINK_ROOT": str(root),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW_CONFIG": os.environ.get("AIRFLOW_CONFIG", str(root / "airflow.cfg")),
        **(env or {}),
    }
    try:
        celery = executor_choice(full_env) == "celery"
        full_env.update(executor_env(full_env))
        count = _worker_count(full_env, workers) if celery else 0
    except (ExecutorChoiceError, ValueError) as exc:
        raise UiError(str(exc)) from exc
    if celery and (problem := broker_problem(broker_url(full_env))):
        raise UiError(problem)
    say("starting the metadata DB")
    try:
        url = metadata_db.prepare(home, full_env)
    except metadata_db.MetadataDBError as exc:
        raise UiError(f"the metadata DB did not start: {exc}") from exc
    _migrate_if_missing(url, full_env, say)
    services = AirflowServices(port=port, log_dir=_log_dir(home), env=full_env)
    services.start()
    assert services.pgid is not None
    # Recorded at once, so that `make stop` also ends a start that is still waiting or was
    # interrupted.
    pid_file(home).write_text(f"{services.pgid}\n")
    (home / URL_FILE).write_text(f"{services.base_url}\n")
    deadline = time.monotonic() + timeout
    try:
        say("waiting for the scheduler, DAG processor, triggerer and API server to be healthy")
        services.wait_healthy(timeout=timeout, require=HEALTH_COMPONENTS)
        if celery:
            # Only now: a task taken before the API server answers fails at its first call.
            say(f"starting {count} Celery worker(s) on {broker_url(full_env)}")
            pool = CeleryWorkers(count, _log_dir(home) / "workers", services.env)
            pool.start()
            assert pool.pgid is not None
            (home / WORKERS_FILE).write_text(f"{pool.pgid}\n")
            pool.wait_ready(timeout=max(30.0, deadline - time.monotonic()))
        expected = dag_files(root / "dags")
        say(f"waiting for the DAG processor to register the {len(expected)} DAGs of dags/")
        _wait_for_dags(services.base_url, home, len(expected), deadline)
    except (RuntimeError, OSError) as exc:  # TimeoutError and URLError are OSErrors
        stop(home)
        raise UiError(f"{exc}\n{_log_tails(services.log_dir)}") from exc
    except BaseException:  # interrupted (Ctrl-C): leave nothing running
        stop(home)
        raise
    ui = running(home)
    if ui is None:
        raise UiError(f"Airflow exited right after starting; logs: {services.log_dir}")
    return ui


def stop(home: Path | None = None, timeout: float = 30) -> int:
    """Stop the UI recorded in `home` (every process of its group), then the embedded
    PostgreSQL server of the home if one runs; return how many processes were stopped (0 when
    none was running; the server counts as one)."""
    home = (home or settings.airflow_home()).resolve()
    ui = running(home)
    stopped = 0
    if ui is not None:
        stopped = stop_group(ui.pgid, timeout)
        _forget(home)
    stopped += _stop_workers(home, timeout)
    if metadata_db.EmbeddedPostgres(home).stop():
        stopped += 1
    return stopped


def port_free(port: int) -> bool:
    """Whether nothing listens on 127.0.0.1:`port`."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def dag_files(folder: Path) -> list[Path]:
    """The DAG files of `folder` (one DAG per file in this project)."""
    return sorted(p for p in folder.glob("*.py") if not p.name.startswith("_"))


def api_token(url: str, user: str, password: str) -> str:
    """A bearer token of the REST API (`POST /auth/token`, simple auth manager)."""
    body = json.dumps({"username": user, "password": password}).encode()
    req = urllib.request.Request(
        f"{url}/auth/token", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return str(json.loads(resp.read())["access_token"])


def api_get(url: str, path: str, token: str) -> Any:
    """GET `path` of the REST API (e.g. `/api/v2/dags`) as JSON."""
    req = urllib.request.Request(f"{url}{path}", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def _wait_for_dags(url: str, home: Path, expected: int, deadline: float) -> None:
    # Best effort: a file without a DAG is not worth failing the start for; what was
    # registered (and any import error) is printed by `credlink ui start` anyway.
    token = api_token(url, ADMIN_USER, _password(home))
    while time.monotonic() < deadline:
        seen = int(api_get(url, "/api/v2/dags?limit=1", token)["total_entries"])
        errors = int(api_get(url, "/api/v2/importErrors?limit=1", token)["total_entries"])
        if seen + errors >= expected:
            return
        time.sleep(2)


def _migrate_if_missing(url: str, env: Mapping[str, str], say: Callable[[str], None]) -> None:
    # The project's own metadata DB (embedded PostgreSQL or SQLite) is created here; another
    # database is migrated by its owner.
    if metadata_db.EXTERNAL_ENV in env or metadata_db.migrated(url):
        return
    say("creating the Airflow metadata DB (airflow db migrate)")
    done = subprocess.run(
        [str(VENV_BIN / "airflow"), "db", "migrate"],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=300,
        umask=UMASK,  # the new metadata DB is private (0600)
    )
    if done.returncode != 0:
        raise UiError(f"airflow db migrate failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")


def _password(home: Path) -> str:
    file = home / "simple_auth_manager_passwords.json.generated"
    try:
        return str(json.loads(file.read_text())[ADMIN_USER])
    except (OSError, ValueError, KeyError):
        return f"(see {file})"


def _log_dir(home: Path) -> Path:
    return home / "logs" / "services"


def _log_tails(log_dir: Path, lines: int = 15) -> str:
    parts = []
    for log in sorted(log_dir.glob("*.log")):
        tail = log.read_text(errors="replace").splitlines()[-lines:]
        parts.append(f"--- {log} (last {len(tail)} lines)\n" + "\n".join(tail))
    return "\n".join(parts)


def _is_airflow(pid: int) -> bool:
    try:
        return b"airflow" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _worker_count(env: Mapping[str, str], workers: int | None) -> int:
    if workers is None:
        raw = env.get(WORKERS_ENV, "").strip() or "1"
        try:
            workers = int(raw)
        except ValueError:
            raise ValueError(f"{WORKERS_ENV}={raw!r} is not a number of Celery workers") from None
    if workers < 1:
        raise ValueError(f"the CeleryExecutor needs at least one worker, not {workers}")
    return workers


def _workers_sid(home: Path) -> int | None:
    try:
        return int((home / WORKERS_FILE).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _workers_members(home: Path) -> list[int]:
    """The live processes of the Celery workers recorded in `home` (their session: the workers
    and their task processes); none when the id now belongs to someone else's processes."""
    sid = _workers_sid(home)
    if sid is None:
        return []
    members = session_members(sid)
    if not any(_is_airflow(pid) or _is_celery(pid) for pid in members):
        return []
    return members


def _stop_workers(home: Path, timeout: float) -> int:
    """Stop the Celery workers recorded in `home`: their group (a warm shutdown first, which
    lets running tasks finish), then what is left of their session."""
    sid = _workers_sid(home)
    stopped = 0
    if sid is not None and _workers_members(home):
        stopped = stop_group(sid, timeout)
        stopped += stop_session(sid)
    (home / WORKERS_FILE).unlink(missing_ok=True)
    return stopped


def _is_celery(pid: int) -> bool:
    try:
        return b"celery" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _forget(home: Path) -> None:
    for name in (PID_FILE, URL_FILE):
        (home / name).unlink(missing_ok=True)


def registered(ui: RunningUi) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """What the UI shows through the REST API: the DAGs (id, tags, paused, ...) and the import
    errors of DAG files (filename, stack trace).

    Example: `dags, errors = registered(running(home))`; `[d["dag_id"] for d in dags]`.
    """
    token = api_token(ui.url, ui.user, ui.password)
    dags = api_get(ui.url, "/api/v2/dags?limit=1000&order_by=dag_id", token)["dags"]
    errors = api_get(ui.url, "/api/v2/importErrors?limit=1000", token)["import_errors"]
    return list(dags), list(errors)
