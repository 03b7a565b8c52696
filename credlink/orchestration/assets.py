"""The Assets that tie the DAGs together: downstream DAGs are scheduled on data, not on times."""

from __future__ import annotations

from airflow.sdk import Asset

from credlink.etl.conform.mappings import all_source_contracts


def staging_asset(source: str) -> Asset:
    """Updated each time a source's interval has been staged, e.g. `staging.courts`."""
    return Asset(name=f"staging.{source}", uri=f"credlink://staging/{source}")


#: The sources whose staged data the linkage DAG links: every source contract (the agencies
#: and the two registries; those of an overlay folder too), by name.
LINKED_SOURCES = tuple(all_source_contracts())


def record_links_asset() -> Asset:
    """Updated each time the linkage stage has replaced `linkage.record_links`."""
    return Asset(name="linkage.record_links", uri="credlink://linkage/record_links")
