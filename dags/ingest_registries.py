"""
### ingest_registries — stage the population and legal-entity registries

The reference registries hold the codes every agency record is linked to: citizen identity
numbers (population registry, Airflow connection `population_registry`) and USCCs with legal
representatives and legacy codes (legal-entity registry, connection `legal_entity_registry`),
with each organisation's legal representatives and their terms of office. Each run stages the
rows created or updated in its data interval; history through `{"initial_load": true}` on the
first run. Output: `staging.population__person`, `staging.legal_entities__legal_entity`,
`staging.legal_entities__legal_representative`, quarantine alongside, counts in
`ops.ingest_runs`.

**When it fails:** the failing task's log names the registry, table, column or rule.
"""

from credlink.orchestration.ingest_dag import ingest_dag

dag = ingest_dag(
    "ingest_registries",
    sources=["population", "legal_entities"],
    doc_md=__doc__,
    tags=["registry"],
)
