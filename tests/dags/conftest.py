"""Fixtures for DAG tests: a migrated Airflow metadata DB and a world where the DAGs look."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from credlink import paths
from world.config import WorldConfig
from world.generate import generate_world

ROOT = Path(__file__).resolve().parents[2]


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


@pytest.fixture(scope="session")
def dagbag(airflow_db: None):  # type: ignore[no-untyped-def]
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags"))
