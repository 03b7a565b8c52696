"""
### link_credit_codes — resolve every staged record to its unified social credit code

Runs whenever any source has staged new data (the `staging.<source>` Assets of courts, tax,
transport, food and both registries). Person records are linked to the population registry,
organisation records to the legal-entity registry: first deterministically (a valid identifier
found in the registry), then with the current trained Splink model of `linkage/models/`
(its version is recorded on every link). Bands by link probability (params `accept`,
`review`): **accept** (linked), **review** (a person decides: `credlink review list`),
**reject** (unlinked, kept visible). Reviewer decisions (`linkage.decisions`) win on every run.

**Incremental:** a run links only records that are new or changed since the last run, those
whose registry entry changed, and (when the registries gained entries) those not accepted;
every other link is kept with the run that made it (`linked_run_id`). A new model version or
new thresholds mean a full run; so does the param `full`. `linkage.runs` says, per run and
kind, full or incremental and why, how many records were linked again and how long it took.

Output (replaced whole, atomically): `linkage.record_links` (one row per source record),
`linkage.legal_representatives` (each organisation's legal representative linked to the
population registry) and `linkage.review_queue`; announces the `linkage.record_links` Asset;
then refreshes the DuckDB catalog. **Re-run:** safe at any time (`airflow dags trigger
link_credit_codes`; `-c '{"full": true}'` to link everything again).
**Sharded** (`CREDLINK_LINK_SHARDS=N`, N > 1, set where the scheduler and the workers parse
this file): `plan_linkage` splits the records to link into N shards, `link_shard` runs once per
shard (mapped tasks, spread over the executor's workers; each links its records against the
whole registries), `merge_linkage` commits everything once. The links are the same as with one
task. A failed or retried shard changes nothing in the lake: clear it and the merge runs when
every shard has succeeded. Default 1: the single `link_records` task.
**When it fails:** a model naming a column the data lacks fails before any work, with the
column named; retrain with the `train_linkage_models` DAG.
"""

from credlink.orchestration.linkage_dag import link_dag

dag = link_dag("link_credit_codes", doc_md=__doc__)
