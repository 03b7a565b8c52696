"""Prepare the ignored Airflow home: secrets, the admin password and an environment script.

Airflow needs `[api_auth] jwt_secret` and `[api] secret_key` shared by all of its processes, and
`[core] fernet_key` to encrypt connection passwords and variables in its metadata DB (without one
they are stored in plaintext); the repo's `airflow.cfg` reads all three with `*_cmd` options from
files written here, so no secret is ever committed. Existing secrets are kept, so re-running setup
does not log anyone out nor make stored connections unreadable.

The home is private (:func:`secure_home`): the folder and the secrets folder 0700, the secrets,
the password file and the SQLite metadata DB (with its journal files) 0600; the components are
started with umask 077 (:mod:`credlink.orchestration.services`), so what they create is private
too.

`prepare_airflow_home` also writes the metadata DB's URL file that `airflow.cfg` reads (see
:mod:`credlink.metadata_db`; the server itself starts with `make ui`, the demo and the tests).

The executor is chosen here too (:func:`executor_env`, docs/executors.md): `CREDLINK_EXECUTOR`
unset or `local` keeps airflow.cfg's `PreloadingLocalExecutor`; `celery` sets
`AIRFLOW__CORE__EXECUTOR=CeleryExecutor` for every component (and `env.sh` does the same for
commands started by hand), with the broker of `CREDLINK_CELERY_BROKER` (airflow.cfg `[celery]`).

Example:
    >>> prepare_airflow_home(Path("/tmp/x/.airflow"), Path("/tmp/x"))  # doctest: +SKIP
    AirflowHome(home=PosixPath('/tmp/x/.airflow'), password_file=..., env_script=...)
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ADMIN_USER = "admin"

#: Which executor runs the tasks: `local` (default) or `celery` (docs/executors.md).
EXECUTOR_ENV = "CREDLINK_EXECUTOR"
EXECUTORS = ("local", "celery")
#: The Celery broker (read by airflow.cfg's `[celery] broker_url_cmd`) and its default.
BROKER_ENV = "CREDLINK_CELERY_BROKER"
DEFAULT_BROKER = "redis://127.0.0.1:6379/0"
#: Airflow's own setting, which wins over `CREDLINK_EXECUTOR` when set.
AIRFLOW_EXECUTOR_ENV = "AIRFLOW__CORE__EXECUTOR"
CELERY_EXECUTOR = "CeleryExecutor"


class ExecutorChoiceError(ValueError):
    """`CREDLINK_EXECUTOR` names an executor credlink does not configure."""


def executor_choice(env: Mapping[str, str] | None = None) -> str:
    """`local` or `celery`, from `CREDLINK_EXECUTOR` (default `local`); an
    `AIRFLOW__CORE__EXECUTOR` naming the CeleryExecutor counts as `celery`.

    Example:
        >>> executor_choice({"CREDLINK_EXECUTOR": "Celery"})
        'celery'
        >>> executor_choice({})
        'local'
    """
    env = os.environ if env is None else env
    if CELERY_EXECUTOR in env.get(AIRFLOW_EXECUTOR_ENV, ""):
        return "celery"
    chosen = env.get(EXECUTOR_ENV, "").strip().lower() or "local"
    if chosen not in EXECUTORS:
        raise ExecutorChoiceError(
            f"{EXECUTOR_ENV}={chosen!r} is not an executor credlink configures: choose one of "
            f"{', '.join(EXECUTORS)} (docs/executors.md), or set {AIRFLOW_EXECUTOR_ENV} yourself"
        )
    return chosen


def executor_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The Airflow settings that select the chosen executor, to add to the components'
    environment: none for `local` (airflow.cfg's default), `AIRFLOW__CORE__EXECUTOR` for
    `celery`. An `AIRFLOW__CORE__EXECUTOR` already set is kept (Airflow's own precedence).

    Example:
        >>> executor_env({"CREDLINK_EXECUTOR": "celery"})
        {'AIRFLOW__CORE__EXECUTOR': 'CeleryExecutor'}
    """
    env = os.environ if env is None else env
    if executor_choice(env) == "celery" and not env.get(AIRFLOW_EXECUTOR_ENV):
        return {AIRFLOW_EXECUTOR_ENV: CELERY_EXECUTOR}
    return {}


@dataclass(frozen=True)
class AirflowHome:
    """The prepared home and the files in it that users need."""

    home: Path
    password_file: Path
    env_script: Path

    def admin_password(self) -> str:
        """The generated password of the `admin` login."""
        return str(json.loads(self.password_file.read_text())[ADMIN_USER])


def _write_private(path: Path, text: str) -> None:
    """Write `text` to a new file readable by its owner only (0600 from the start)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    tmp.replace(path)


def _write_secret(path: Path, nbytes: int) -> None:
    if path.exists() and path.read_text().strip():
        path.chmod(0o600)
        return
    _write_private(path, secrets.token_urlsafe(nbytes))


def fernet_key() -> str:
    """A new Fernet key: 32 random bytes, URL-safe base64 (what `Fernet.generate_key()` gives)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")


#: The SQLite metadata DB and the files SQLite keeps beside it.
DB_FILES = ("airflow.db", "airflow.db-journal", "airflow.db-wal", "airflow.db-shm")


def secure_home(home: Path) -> None:
    """Make the Airflow home private: `home` and its secrets folder 0700; the secrets, the
    password file and the SQLite metadata DB files 0600 (those that exist).

    One exception: when the embedded PostgreSQL cluster of the home (`postgres/`) belongs to
    another user (credlink runs as root, the server as an unprivileged user, see
    :mod:`credlink.metadata_db`), that user must pass through the home to reach it, so the home
    is 0711 (others may traverse it, not list or read it; every file in it stays private).
    """
    cluster = home / "postgres"
    foreign = cluster.is_dir() and cluster.stat().st_uid != os.geteuid()
    home.chmod(0o711 if foreign else 0o700)
    secret_dir = home / "secrets"
    if secret_dir.is_dir():
        secret_dir.chmod(0o700)
        for f in secret_dir.iterdir():
            if f.is_file():
                f.chmod(0o600)
    for name in (*DB_FILES, "simple_auth_manager_passwords.json.generated", "env.sh"):
        f = home / name
        if f.is_file():
            f.chmod(0o600)


def prepare_airflow_home(home: Path, root: Path) -> AirflowHome:
    """Create `home` with generated secrets, the admin password and `env.sh` for `root`."""
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    secret_dir = home / "secrets"
    secret_dir.mkdir(mode=0o700, exist_ok=True)
    _write_secret(secret_dir / "jwt_secret", 48)
    _write_secret(secret_dir / "api_secret_key", 32)
    fernet = secret_dir / "fernet_key"
    if not (fernet.exists() and fernet.read_text().strip()):
        _write_private(fernet, fernet_key())

    password_file = home / "simple_auth_manager_passwords.json.generated"
    users: dict[str, str] = {}
    if password_file.exists():
        users = json.loads(password_file.read_text() or "{}")
    if ADMIN_USER not in users:
        users[ADMIN_USER] = secrets.token_urlsafe(12)
        _write_private(password_file, json.dumps(users))

    venv_bin = root / ".venv" / "bin"
    env_script = home / "env.sh"
    _write_private(
        env_script,
        "# Generated by `credlink init`: source it to use airflow and credlink in this project.\n"
        f"export CREDLINK_ROOT='{root}'\n"
        f"export AIRFLOW_HOME='{home}'\n"
        f"export AIRFLOW_CONFIG='{root / 'airflow.cfg'}'\n"
        f'export PATH="{venv_bin}:$PATH"\n'
        f"# {EXECUTOR_ENV}=celery selects Airflow's CeleryExecutor (docs/executors.md).\n"
        f'if [ "${{{EXECUTOR_ENV}:-local}}" = celery ] && [ -z "${{{AIRFLOW_EXECUTOR_ENV}:-}}" ]; '
        f"then export {AIRFLOW_EXECUTOR_ENV}={CELERY_EXECUTOR}; fi\n",
    )
    from credlink.metadata_db import init_url

    init_url(home)
    secure_home(home)
    return AirflowHome(home=home, password_file=password_file, env_script=env_script)
