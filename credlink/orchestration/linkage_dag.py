"""The linkage DAGs: `link_credit_codes` (on staged data) and `train_linkage_models` (manual).

link_credit_codes: link_records (incremental: new and changed records only, unless the
`full` param; deterministic pass, current trained models, reviewer decisions ->
`linkage.record_links`, `linkage.legal_representatives`, `linkage.review_queue`; announces the
`linkage.record_links` Asset) -> publish_linkage (refresh the DuckDB catalog). It is scheduled
on the `staging.<source>` Assets of every linked source, any of them: new staged data of any
source triggers a run.

Sharded (`CREDLINK_LINK_SHARDS` = N > 1, read when the DAG file is parsed; default 1, the
single task above): plan_linkage -> link_shard, mapped over the N shards (Airflow's dynamic
task mapping: N task instances that the executor spreads over its workers) -> merge_linkage
(the one commit; announces the Asset) -> publish_linkage. Same links as one task
(:mod:`linkage.shards`).
"""

from __future__ import annotations

import functools
import operator
from typing import Any
from zoneinfo import ZoneInfo

from airflow.sdk import DAG, Param, get_current_context, task

from credlink.orchestration.assets import LINKED_SOURCES, record_links_asset, staging_asset
from credlink.orchestration.ingest_dag import DEFAULT_ARGS, START, TIMEZONE
from credlink.orchestration.sharding import shard_count
from credlink.settings import ACCEPT, REVIEW


@task
def link_records() -> dict[str, int]:
    from credlink.orchestration import linkage_runtime

    ctx = get_current_context()
    params = ctx["params"]
    logical_date = ctx.get("logical_date") or ctx["dag_run"].run_after
    return linkage_runtime.link(
        run_id=ctx["run_id"],
        logical_date=logical_date,
        accept=float(params["accept"]),
        review=float(params["review"]),
        full=bool(params["full"]),
    )


#: The number of linkage shards (module doc); 1: one task, as without sharding.
SHARDS_ENV = "CREDLINK_LINK_SHARDS"


def link_shards() -> int:
    """`$CREDLINK_LINK_SHARDS` (default 1): how many shards `link_credit_codes` links in."""
    return shard_count(SHARDS_ENV)


def _run_args() -> dict[str, Any]:
    """The run id, logical date and linkage params of the running task's DAG run."""
    ctx = get_current_context()
    params = ctx["params"]
    return {
        "run_id": ctx["run_id"],
        "logical_date": ctx.get("logical_date") or ctx["dag_run"].run_after,
        "accept": float(params["accept"]),
        "review": float(params["review"]),
        "full": bool(params["full"]),
    }


@task
def plan_linkage(shards: int) -> list[int]:
    from credlink.orchestration import linkage_runtime

    return linkage_runtime.plan_shards(**_run_args(), shards=shards)


@task
def link_shard(shard: int) -> dict[str, Any]:
    from credlink.orchestration import linkage_runtime

    return linkage_runtime.link_shard(run_id=get_current_context()["run_id"], shard=shard)


@task
def merge_linkage() -> dict[str, int]:
    from credlink.orchestration import linkage_runtime

    return linkage_runtime.merge_shards(**_run_args())


@task
def publish_linkage() -> str:
    from credlink.orchestration import linkage_runtime

    return linkage_runtime.publish()


@task
def train_model(subject_type: str) -> dict[str, Any]:
    from credlink.orchestration import linkage_runtime

    ctx = get_current_context()
    logical_date = ctx.get("logical_date") or ctx["dag_run"].run_after
    models_dir = str(ctx["params"]["models_dir"] or "")
    # the training date in the version is the run's day where the agencies are
    on = logical_date.astimezone(ZoneInfo(TIMEZONE)).date()
    return linkage_runtime.train(subject_type, on=on, models_dir=models_dir)


def link_dag(dag_id: str, doc_md: str) -> DAG:
    """Build the `link_credit_codes` DAG (see the module doc)."""
    staged = functools.reduce(operator.or_, [staging_asset(s) for s in LINKED_SOURCES])
    with DAG(
        dag_id=dag_id,
        description="Link every staged record to its credit code: deterministic, model, review",
        doc_md=doc_md,
        schedule=staged,
        start_date=START,
        catchup=False,
        max_active_runs=1,  # each run replaces the whole of record_links
        default_args=DEFAULT_ARGS,
        tags=["linkage"],
        params={
            "accept": Param(
                ACCEPT,
                type="number",
                minimum=0,
                maximum=1,
                description="Link probability from which a link is accepted.",
            ),
            "review": Param(
                REVIEW,
                type="number",
                minimum=0,
                maximum=1,
                description="Link probability from which a record goes to review.",
            ),
            "full": Param(
                False,
                type="boolean",
                description="Link every record again (default: only new and changed records, "
                "and those a registry change concerns).",
            ),
        },
    ) as dag:
        shards = link_shards()
        if shards == 1:
            linked = link_records.override(outlets=[record_links_asset()])()
        else:
            planned = plan_linkage(shards)
            resolved = link_shard.expand(shard=planned)
            linked = merge_linkage.override(outlets=[record_links_asset()])()
            resolved >> linked
        linked >> publish_linkage()
    return dag


def train_dag(dag_id: str, doc_md: str) -> DAG:
    """Build the `train_linkage_models` DAG: one training task per subject type, manual."""
    with DAG(
        dag_id=dag_id,
        description="Train new versions of the person and organisation linkage models",
        doc_md=doc_md,
        schedule=None,
        start_date=START,
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["linkage", "training"],
        params={
            "models_dir": Param(
                "",
                type="string",
                description="Where to write the new model files (empty: data/linkage/models, a "
                "work folder; promote a reviewed file with `credlink models promote FILE`).",
            ),
        },
    ) as dag:
        for subject in ("person", "organisation"):
            train_model.override(task_id=f"train_{subject}")(subject)
    return dag
