"""
### publish_joint_punishment — restrictions under the joint-punishment memoranda

Runs whenever the linkage stage has replaced `linkage.record_links` (the `linkage.record_links`
Asset of the `link_credit_codes` DAG). Applies every memorandum of `schemas/memoranda/` (a
reviewed file each: target list and conditions, measures and enforcing agencies, duration,
what lifts it) to the staged listings known on the run's day and their links (the day: the
logical date of a manual or backfill run; for an Asset-triggered run, the last day every list
is staged through). Only
accepted links restrict anyone (deterministic, model above the accept threshold, or a reviewer's
accept); a listing whose link is in review restricts no one and shows in
`publish.pending_links` until decided (`credlink review list`).

Output: the warehouse `data/warehouse/credlink.duckdb` (env `CREDLINK_WAREHOUSE`), replaced
atomically after every table passed its contract in `schemas/publish/tables/`:
`publish.restrictions`, `publish.restriction_history` (every change with this run's id),
`publish.subjects`, `publish.memoranda`, `publish.measures`, `publish.listings`,
`enforce.<agency>`; and the law around them (`docs/law.md`): each restriction's legal basis
(`publish.measures_list`), each listing's severity grade and publication bounds
(`publish.public_disclosure`: what a credit portal shows), the credit repairs and objections
filed with `credlink repair apply` / `credlink objection file` (`publish.repairs`,
`publish.objections`: an accepted repair lifts everything the listing caused in this run, an
open objection suspends: `under_objection`), and the grade A joint incentives
(`publish.incentives`, `incentive.<agency>`). Announces the `publish.restrictions` Asset.
**Re-run:** safe (`airflow dags trigger publish_joint_punishment`): a re-run of the same run
replaces its own history rows. Explain one subject: `credlink explain CODE`.
**Sharded** (`CREDLINK_PUBLISH_SHARDS=N`, N > 1, set where the scheduler and the workers parse
this file): `plan_publish` reads the run's inputs and splits the subjects into N shards (an
organisation with its legal representatives, a record with its candidate), `publish_shard` runs
once per shard (mapped tasks), `merge_publish` takes the lock, applies the mass-lift guard to
the whole run and commits once. Every table is the same as with one task. A failed shard
publishes nothing: clear it; a merge that finds a shard missing, or the lake or the rules
changed since the plan, publishes the whole run itself and logs why.
**When it fails:** a memorandum file that fails validation names the file and the field; a
contract breach lists the table and column, and the previous warehouse stays in place.
`MassLiftHeld`: the run would lift more than 20% of the restrictions in force at once
(`CREDLINK_MASS_LIFT_SHARE`, from `CREDLINK_MASS_LIFT_MIN` = 50 in force); nothing was
published. Check the sources, then trigger the run again with the parameter
`approve_mass_lift` (`airflow dags trigger publish_joint_punishment -c
'{"approve_mass_lift": true}'`, or `credlink publish --approve-mass-lift`), or approve the held
run id (`publish.guard.approve_mass_lift(lake, RUN_ID, by=...)`) and clear the task.
`PublishLockedError`: another publishing run (e.g. `credlink publish`) held the lock too long.
A run killed midway is completed or undone by the next run.
"""

from credlink.orchestration.publish_dag import publish_dag

dag = publish_dag("publish_joint_punishment", doc_md=__doc__)
