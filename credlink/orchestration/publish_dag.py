"""The publishing DAG: `publish_joint_punishment`, scheduled on the linkage Asset.

publish_restrictions: the memoranda of `schemas/memoranda/` applied to the linked listings ->
restrictions, history, enforcement lists -> the warehouse replaced atomically; announces the
`publish.restrictions` Asset.
"""

from __future__ import annotations

from airflow.sdk import DAG, Asset, Param, get_current_context, task

from credlink.orchestration.assets import record_links_asset
from credlink.orchestration.ingest_dag import DEFAULT_ARGS, START


def restrictions_asset() -> Asset:
    """Updated each time the warehouse has been published."""
    return Asset(name="publish.restrictions", uri="credlink://publish/restrictions")


@task
def publish_restrictions() -> dict[str, int]:
    from credlink.orchestration import publish_runtime

    ctx = get_current_context()
    return publish_runtime.publish(
        run_id=ctx["run_id"],
        # an asset-triggered run's context has no "logical_date" key at all (KeyError)
        logical_date=ctx.get("logical_date"),
        run_after=ctx["dag_run"].run_after,
        approve_mass_lift=bool(ctx["params"]["approve_mass_lift"]),
    )


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
        publish_restrictions.override(outlets=[restrictions_asset()])()
    return dag
