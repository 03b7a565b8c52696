"""Shared fixtures: a small generated world, built once per test session.

Before anything imports Airflow, the session gets its own Airflow home (with generated secrets
and a SQLite metadata DB) and its own data folder, both temporary: tests never touch the
developer's `.airflow/` or `data/`.
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
prepare_airflow_home(SESSION_DIR / "airflow", ROOT)

from credlink import paths  # noqa: E402 - after the environment is set
from world.config import WorldConfig  # noqa: E402
from world.generate import WorldSummary, generate_world  # noqa: E402

SMALL_WORLD = {"persons": 5000, "seed": 11, "start": date(2024, 1, 1), "end": date(2025, 6, 30)}


@pytest.fixture(scope="session")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> WorldSummary:
    """A 5,000-person world over 18 months, generated once into a temporary folder."""
    out: Path = tmp_path_factory.mktemp("world")
    return generate_world(WorldConfig(out=out, **SMALL_WORLD))  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """The session's SQLite metadata DB, migrated (in the session's temporary Airflow home)."""
    from credlink.airflow_db import migrate

    migrate()


@pytest.fixture(scope="session")
def dag_world() -> Path:
    """A small world at the default location the DAGs read (`$CREDLINK_DATA/world`)."""
    out = paths.data_dir() / "world"
    cfg = WorldConfig(persons=3000, seed=21, start=date(2024, 1, 1), end=date(2024, 6, 30), out=out)
    generate_world(cfg)
    return out
