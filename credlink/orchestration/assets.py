"""The Assets that tie the DAGs together: downstream DAGs are scheduled on data, not on times."""

from __future__ import annotations

from airflow.sdk import Asset


def staging_asset(source: str) -> Asset:
    """Updated each time a source's interval has been staged, e.g. `staging.courts`."""
    return Asset(name=f"staging.{source}", uri=f"credlink://staging/{source}")
