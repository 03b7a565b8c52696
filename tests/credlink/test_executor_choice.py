"""Choosing the executor by configuration (docs/executors.md): `CREDLINK_EXECUTOR`, the
environment script, the broker check and `credlink ui start`'s refusals. Fast: no Airflow
component is started (tests/dags/test_celery_executor.py runs the real workers)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from credlink import ui
from credlink.airflow_home import (
    ExecutorChoiceError,
    executor_choice,
    executor_env,
    prepare_airflow_home,
)
from credlink.orchestration.services import free_port
from credlink.orchestration.workers import CeleryWorkers, broker_problem, broker_url
from credlink.settings import project_root

ROOT = project_root()


def test_local_is_the_default_and_celery_is_chosen_by_name() -> None:
    assert executor_choice({}) == "local"
    assert executor_env({}) == {}
    assert executor_env({"CREDLINK_EXECUTOR": "local"}) == {}
    assert executor_env({"CREDLINK_EXECUTOR": " Celery "}) == {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor"
    }
    # Airflow's own setting wins, and naming the CeleryExecutor there counts as celery
    both = {"CREDLINK_EXECUTOR": "celery", "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor"}
    assert executor_env(both) == {}
    assert executor_choice({"AIRFLOW__CORE__EXECUTOR": "CeleryExecutor"}) == "celery"


def test_an_unknown_executor_is_refused_naming_the_choices() -> None:
    with pytest.raises(ExecutorChoiceError, match=r"CREDLINK_EXECUTOR='kubernetes'.*local, celery"):
        executor_choice({"CREDLINK_EXECUTOR": "kubernetes"})


def test_env_script_selects_celery_for_commands_started_by_hand(tmp_path: Path) -> None:
    home = prepare_airflow_home(tmp_path / "home", ROOT)
    show = f'. "{home.env_script}"; echo "[${{AIRFLOW__CORE__EXECUTOR:-}}]"'
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "CREDLINK_EX"))}

    def executor(**extra: str) -> str:
        run = subprocess.run(["sh", "-c", show], env={**base, **extra}, capture_output=True)
        return run.stdout.decode().strip()

    assert executor() == "[]"
    assert executor(CREDLINK_EXECUTOR="celery") == "[CeleryExecutor]"
    mine = "airflow.executors.local_executor.LocalExecutor"
    assert executor(CREDLINK_EXECUTOR="celery", AIRFLOW__CORE__EXECUTOR=mine) == f"[{mine}]"


def test_broker_url_and_an_unreachable_broker() -> None:
    assert broker_url({}) == "redis://127.0.0.1:6379/0"
    assert broker_url({"CREDLINK_CELERY_BROKER": "redis://h:1/2"}) == "redis://h:1/2"
    port = free_port()  # nothing listens there
    problem = broker_problem(f"redis://127.0.0.1:{port}/0", timeout=1)
    assert problem is not None and f"127.0.0.1:{port}" in problem
    assert "CREDLINK_CELERY_BROKER" in problem
    assert broker_problem("amqp://guest@rabbit//") is None  # not checked: Celery's to report


def test_workers_have_distinct_node_names_and_commands(tmp_path: Path) -> None:
    workers = CeleryWorkers(2, tmp_path, env={}, concurrency=1)
    assert len(set(workers.nodes)) == 2
    assert all(n.startswith(("credlink1@", "credlink2@")) for n in workers.nodes)
    argv = workers.command(workers.nodes[0])
    assert argv[:3] == ["airflow", "celery", "worker"]
    assert "--skip-serve-logs" in argv  # the log server would bind every interface
    assert argv[argv.index("--celery-hostname") + 1] == workers.nodes[0]
    with pytest.raises(ValueError, match="at least one"):
        CeleryWorkers(0, tmp_path)


def test_ui_start_refuses_an_unreachable_broker_before_starting_anything(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {
        "CREDLINK_EXECUTOR": "celery",
        "CREDLINK_CELERY_BROKER": f"redis://127.0.0.1:{free_port()}/0",
    }
    with pytest.raises(ui.UiError, match="does not answer"):
        ui.start(home, port=free_port(), env=env)
    assert not (home / "ui.pid").exists() and not (home / "postgres").exists()
    with pytest.raises(ui.UiError, match="not a number"):
        ui.start(
            home,
            port=free_port(),
            env={"CREDLINK_EXECUTOR": "celery", "CREDLINK_CELERY_WORKERS": "two"},
        )
