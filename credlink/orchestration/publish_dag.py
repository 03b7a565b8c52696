"""The publishing DAG: `publish_joint_punishment`, scheduled on the linkage Asset.

publish_restrictions: the memoranda of `schemas/memoranda/` applied to the linked listings ->
restrictions, history, enforcement lists -> the warehouse replaced atomically; announces the
`publish.restrictions` Asset.

Sharded (`CREDLINK_PUBLISH_SHARDS` = N > 1, read when the DAG file is parsed; default 1, the
single task above): plan_publish (the inputs read once, the cases' effects computed once, the
subjects split into N shards) -> publish_shard, mapped over the N shards -> merge_publish (the
lock, the mass-lift guard on the whole run, the one commit; announces the Asset). The same
warehouse as one task (:mod:`publish.shards`).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, Asset, Param, get_current_context, task

from credlink.orchestration.assets import record_links_asset
from credlink.orchestration.ingest_dag import DEFAULT_ARGS, START
from credlink.orchestration.sharding import shard_count

#: The number of publishing shards (module doc); 1: one task, as without sharding.
SHARDS_ENV = "CREDLINK_PUBLISH_SHARDS"


def publish_shards() -> int:
    """`$CREDLINK_PUBLISH_SHARDS` (default 1): how many shards `publish_joint_punishment`
    publishes in."""
    return shard_count(SHARDS_ENV)


def restrictions_asset() -> Asset:
    """Updated each time the warehouse has been published."""
    return Asset(name="publish.restrictions", uri="credlink://publish/restrictions")


def _run_args() -> dict[str, Any]:
    """The run id, logical date and `run_after` of the running task's DAG run."""
    ctx = get_current_context()
    # an asset-triggered run's context has no "logical_date" key at all (KeyError)
    return {"run_id": ctx["run_id"], "logical_date": ctx.get("logical_date"),
            "run_after": ctx["dag_run"].run_after}  # fmt: skip


@task
def publish_restrictions() -> dict[str, int]:
    from credlink.orchestration import publish_runtime

    approve = bool(get_current_context()["params"]["approve_mass_lift"])
    return publish_runtime.publish(**_run_args(), approve_mass_lift=approve)


@task
def plan_publish(shards: int) -> list[int]:
    from credlink.orchestration import publish_runtime

    return publish_runtime.plan_shards(**_run_args(), shards=shards)


@task
def publish_shard(shard: int) -> dict[str, int]:
    from credlink.orchestration import publish_runtime

    return publish_runtime.publish_shard(run_id=get_current_context()["run_id"], shard=shard)


@task
def merge_publish() -> dict[str, int]:
    from credlink.orchestration import publish_runtime

    approve = bool(get_current_context()["params"]["approve_mass_lift"])
    return publish_runtime.merge_shards(**_run_args(), approve_mass_lift=approve)


def publish_dag(dag_id: str, doc_md: str) -> DAG:
    """Build the `publish_joint_punishment` DAG (see the module doc)."""
    with DAG(
        dag_id=dag_id,
        description="Apply the memoranda to linked listings; publish the warehouse atomically",
        doc_md=doc_md,
        schedule=record_links_asset(),
        start_date=START,
        catchup=False,
        max_active_runs=1,  # each run appends to the history the next one compares with
        default_args=DEFAULT_ARGS,
        tags=["publish"],
        params={
            "approve_mass_lift": Param(
                False,
                type="boolean",
                description="An operator's approval for this run to lift more restrictions at "
                "once than the mass-lift guard allows (after checking the sources).",
            ),
        },
    ) as dag:
        shards = publish_shards()
        if shards == 1:
            publish_restrictions.override(outlets=[restrictions_asset()])()
        else:
            done = publish_shard.expand(shard=plan_publish(shards))
            done >> merge_publish.override(outlets=[restrictions_asset()])()
    return dag
