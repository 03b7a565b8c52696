"""
### ingest_transport — stage the transport database, one day at a time

Extracts the rows created or updated in the run's data interval (a day, Asia/Shanghai) from the
transport database (connection `transport_db`, default: the generated world's
`agencies/transport.db`),
standardises them, validates them with Great Expectations, and writes
`staging.transport__<table>` (valid rows) and `quarantine.transport__<table>` (the rest,
with the rules they failed). Counts per table and interval: `ops.ingest_runs` (extracted = staged +
quarantined).

**First run:** trigger with `{"initial_load": true}` to also load all history before the run's
interval. **Re-run / backfill:** a re-run replaces exactly what its interval wrote
(`airflow backfill create --dag-id ingest_transport --from-date ... --to-date ...`).
**When it fails:** the log of the failing task names the source, table, column or rule; the
validation report (Data Docs) of each table is linked from its log.
"""

from credlink.orchestration.ingest_dag import ingest_dag

dag = ingest_dag(
    "ingest_transport", sources=["transport"], doc_md=__doc__, tags=["transport", "agency"]
)
