"""Where the project and its generated files live.

Everything generated (worlds, staging, warehouse, the Airflow home) sits under folders that git
ignores. The project root is `$CREDLINK_ROOT` when set, else the folder holding this package.

Example:
    >>> project_root() / "data"   # doctest: +SKIP
    PosixPath('/home/me/credlink/data')
"""

from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    """The project root: `$CREDLINK_ROOT`, else the checkout this package was installed from."""
    env = os.environ.get("CREDLINK_ROOT")
    return Path(env).resolve() if env else Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    """Generated data: `$CREDLINK_DATA`, else `<root>/data`."""
    env = os.environ.get("CREDLINK_DATA")
    return Path(env).resolve() if env else project_root() / "data"


def airflow_home() -> Path:
    """The Airflow home: `$AIRFLOW_HOME`, else `<root>/.airflow`."""
    env = os.environ.get("AIRFLOW_HOME")
    return Path(env).resolve() if env else project_root() / ".airflow"


def warehouse_path() -> Path:
    """The published warehouse (one DuckDB file, replaced atomically by each publish run):
    `$CREDLINK_WAREHOUSE`, else `<data>/warehouse/credlink.duckdb`."""
    env = os.environ.get("CREDLINK_WAREHOUSE")
    return Path(env).resolve() if env else data_dir() / "warehouse" / "credlink.duckdb"
