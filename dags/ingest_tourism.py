"""
### ingest_tourism — stage the culture and tourism database, one day at a time

Extracts the rows created or updated in the run's data interval (a day, Asia/Shanghai) from the
culture and tourism administration's records of tourists' seriously uncivilised behaviour
(connection `tourism_db`, default: the generated world's `agencies/tourism.db`), standardises
them, validates them with Great Expectations, and writes `staging.tourism__UNCIVIL_RECORD`
(valid rows) and `quarantine.tourism__UNCIVIL_RECORD` (the rest, with the rules they failed).
Counts per table and interval: `ops.ingest_runs` (extracted = staged + quarantined). Each staged
partition is conformed: `conformed.listings__uncivilised_tourists` is what the memorandum
`tourism_uncivilised_2018` targets.

**First run:** trigger with `{"initial_load": true}` to also load all history before the run's
interval. **Re-run / backfill:** a re-run replaces exactly what its interval wrote
(`airflow backfill create --dag-id ingest_tourism --from-date ... --to-date ...`).
**When it fails:** the log of the failing task names the source, table, column or rule; the
validation report (Data Docs) of each table is linked from its log.
"""

from credlink.orchestration.ingest_dag import ingest_dag

dag = ingest_dag("ingest_tourism", sources=["tourism"], doc_md=__doc__, tags=["tourism", "agency"])
