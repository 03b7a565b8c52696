"""Which ingest DAG stages which sources, from the source contracts (no Airflow imported).

One DAG per agency, ``ingest_<source>``, and one for the reference registries,
``ingest_registries`` (as the files in ``dags/`` build them with
:func:`credlink.orchestration.ingest_dag.ingest_dag`); an overlay folder's agency
(:func:`credlink.settings.schema_folders`) is one more. For the benchmarks and the demo, which
drive the DAGs by id without parsing them.

Example:
    >>> list(ingest_dag_sources())  # doctest: +NORMALIZE_WHITESPACE
    ['ingest_registries', 'ingest_courts', 'ingest_food', 'ingest_tax', 'ingest_tourism',
     'ingest_transport']
    >>> ingest_dag_sources()["ingest_registries"]
    ['legal_entities', 'population']
"""

from __future__ import annotations

from credlink.etl.conform.mappings import all_source_contracts

__all__ = ["REGISTRIES_DAG", "ingest_dag_sources"]

#: The DAG staging every registry (the code holders, staged first).
REGISTRIES_DAG = "ingest_registries"


def ingest_dag_sources() -> dict[str, list[str]]:
    """DAG id -> the sources it stages: the registries' DAG first, then one per agency."""
    contracts = all_source_contracts()
    registries = sorted(s for s, c in contracts.items() if c.kind == "registry")
    agencies = {f"ingest_{s}": [s] for s, c in contracts.items() if c.kind == "agency"}
    return {REGISTRIES_DAG: registries, **agencies} if registries else agencies
