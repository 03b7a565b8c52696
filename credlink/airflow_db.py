"""Prepare the Airflow metadata DB (in-process `airflow db migrate`)."""

from __future__ import annotations


def migrate() -> None:
    """Create or upgrade the metadata DB configured in `airflow.cfg` / the environment."""
    from airflow.utils.db import initdb

    initdb()
