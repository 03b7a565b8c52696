"""Shared fixtures: a small generated world, built once per test session.

Before anything imports Airflow, the session gets its own Airflow home (with generated secrets)
and its own data folder, both temporary: tests never touch the developer's `.airflow/` or
`data/`. Its metadata DB is what `make demo` and `make ui` use: the embedded PostgreSQL server
of `credlink.metadata_db`, started in the session's Airflow home on a free port before anything
imports Airflow (so every engine sees its URL), and stopped when the session ends.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from datetime import date
from pathlib import Path

import pytest

from credlink.airflow_home import prepare_airflow_home
from credlink.metadata_db import EmbeddedPostgres

ROOT = Path(__file__).resolve().parents[1]
SESSION_DIR = Path(tempfile.mkdtemp(prefix="credlink-tests-"))
atexit.register(shutil.rmtree, SESSION_DIR, True)
for _key in [k for k in os.environ if k.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_"))]:
    del os.environ[_key]
os.environ.update(
    {
        "CREDLINK_ROOT": str(ROOT),
        "CREDLINK_DATA": str(SESSION_DIR / "data"),
        "AIRFLOW_HOME": str(SESSION_DIR / "airflow"),
        "AIRFLOW_CONFIG": str(ROOT / "airflow.cfg"),
    }
)
os.environ.pop("CREDLINK_METADATA_DB", None)
prepare_airflow_home(SESSION_DIR / "airflow", ROOT)
METADATA_SERVER = EmbeddedPostgres(SESSION_DIR / "airflow")
METADATA_SERVER.start()
atexit.register(METADATA_SERVER.stop)  # runs before the rmtree above (last in, first out)

from credlink import settings  # noqa: E402 - after the environment is set
from credlink.world.config import WorldConfig  # noqa: E402
from credlink.world.generate import WorldSummary, generate_world  # noqa: E402

SMALL_WORLD = {"persons": 5000, "seed": 11, "start": date(2024, 1, 1), "end": date(2025, 6, 30)}


@pytest.fixture(scope="session")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> WorldSummary:
    """A 5,000-person world over 18 months, generated once into a temporary folder."""
    out: Path = tmp_path_factory.mktemp("world")
    return generate_world(WorldConfig(out=out, **SMALL_WORLD))  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """The session's metadata DB (the embedded PostgreSQL server started above), migrated."""
    from credlink.airflow_db import migrate

    migrate()


@pytest.fixture(scope="session")
def dag_world() -> Path:
    """A small world at the default location the DAGs read (`$CREDLINK_DATA/world`)."""
    out = settings.data_dir() / "world"
    cfg = WorldConfig(persons=3000, seed=21, start=date(2024, 1, 1), end=date(2024, 6, 30), out=out)
    generate_world(cfg)
    return out
