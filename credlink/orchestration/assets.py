"""The Assets that tie the DAGs together: downstream DAGs are scheduled on data, not on times."""

from __future__ import annotations

from airflow.sdk import Asset


def staging_asset(source: str) -> Asset:
    """Updated each time a source's interval has been staged, e.g. `staging.courts`."""
    return Asset(name=f"staging.{source}", uri=f"credlink://staging/{source}")


#: The sources whose staged data the linkage DAG links (agencies and the two registries).
LINKED_SOURCES = ("courts", "tax", "transport", "food", "population", "legal_entities")


def record_links_asset() -> Asset:
    """Updated each time the linkage stage has replaced `linkage.record_links`."""
    return Asset(name="linkage.record_links", uri="credlink://linkage/record_links")
