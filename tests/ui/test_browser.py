"""The web UI in a real browser.

Airflow's own components are started the way `make ui` starts them (`credlink.ui.start`), on a
free port, against an Airflow home and a data folder of this test's own (so that no run, asset
event or staged row of it reaches other tests) reading the session's small generated world; one
ingest run goes through the real scheduler. Then headless Chromium (Debian's `chromium` package,
driven by Playwright; no browser is downloaded) logs in as `admin` with the generated password,
sees every DAG of `dags/` (unpaused, with its tags), opens a DAG's runbook, the successful run
and a task's log. Screenshots are saved to `test-artifacts/ui/` (git-ignored) for a human to
look at; a failing step leaves `failure.png` there.
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from headless import chromium, needs_chromium
from playwright.sync_api import Page, expect

from credlink import ui
from credlink.orchestration.services import HEALTH_COMPONENTS, _members, free_port, health

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "ui"
DAG_ID = "ingest_courts"
TASK_ID = "ingest_courts__ZXAJ"  # court cases: the courts table with the most rows
RUN_ID = "ui_test__initial_load"
# Near the end of the test world (2024-01-01 .. 2024-06-30): the initial load stages all history
# before it, so the task log shows real counts.
LOGICAL_DATE = "2024-06-29T00:00:00+08:00"

pytestmark = [
    pytest.mark.slow,
    needs_chromium,
]


def _post(url: str, token: str, body: dict[str, Any]) -> Any:
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def _run_ingest(running: ui.RunningUi, timeout: float = 420) -> dict[str, Any]:
    """Trigger one run of the ingest DAG through the REST API; wait until it ends."""
    token = ui.api_token(running.url, running.user, running.password)
    _post(
        f"{running.url}/api/v2/dags/{DAG_ID}/dagRuns",
        token,
        {"dag_run_id": RUN_ID, "logical_date": LOGICAL_DATE, "conf": {"initial_load": True}},
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run: dict[str, Any] = ui.api_get(
            running.url, f"/api/v2/dags/{DAG_ID}/dagRuns/{RUN_ID}", token
        )
        if run["state"] in ("success", "failed"):
            return run
        time.sleep(3)
    pytest.fail(f"{DAG_ID} run {RUN_ID} not finished after {timeout:.0f}s; logs: {running.log_dir}")


def _processes_of(home: Path) -> list[str]:
    """Live processes (but this one) whose environment points at the Airflow home `home`."""
    marker = f"AIRFLOW_HOME={home}\0".encode()
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        if int(proc.name) == os.getpid():
            continue
        try:
            if marker not in (proc / "environ").read_bytes():
                continue
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if state != "Z":
            found.append(f"{proc.name}: {cmd[:120]}")
    return found


@pytest.fixture
def screenshots() -> Iterator[list[Path]]:
    """The screenshots of this test, written to test-artifacts/ui/ (old ones removed)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("*.png"):
        old.unlink()
    saved: list[Path] = []
    yield saved
    for shot in saved:
        assert shot.stat().st_size > 10_000, f"{shot} looks empty"


def test_web_ui_in_headless_chromium(
    airflow_db: None, dag_world: Path, tmp_path: Path, screenshots: list[Path]
) -> None:
    # The DAGs of the project, parsed here (against the session's metadata DB) as the truth the
    # UI is held to.
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert not bag.import_errors, bag.import_errors
    project_dags = {dag_id: bag.get_dag(dag_id) for dag_id in bag.dag_ids}
    assert DAG_ID in project_dags

    home = tmp_path / "airflow"  # ui.start prepares it: secrets, password, metadata DB
    data = tmp_path / "data"
    data.mkdir()
    (data / "world").symlink_to(dag_world)
    env = {
        "CREDLINK_DATA": str(data),
        # Only the run this test triggers: no scheduled runs of the wall clock's day competing
        # for the two cores.
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
    }
    running = ui.start(home, free_port(), env=env)
    pgid = running.pgid
    try:
        recorded = ui.running(home)  # what `make stop` finds in the home
        assert recorded is not None and (recorded.pgid, recorded.url) == (pgid, running.url)
        assert running.url.startswith("http://127.0.0.1:")
        # The health panel is all green: the metadata DB, scheduler, DAG processor, triggerer.
        answer = health(running.url) or {}
        assert {c: answer.get(c, {}).get("status") for c in HEALTH_COMPONENTS} == dict.fromkeys(
            HEALTH_COMPONENTS, "healthy"
        ), answer
        passwords = json.loads((home / "simple_auth_manager_passwords.json.generated").read_text())
        assert running.password == passwords["admin"]
        run = _run_ingest(running)
        assert run["state"] == "success", f"{run}; task logs under {home / 'logs'}"
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)
            try:
                _browse(page, running, project_dags, screenshots)
            except Exception:
                screenshots.append(ARTIFACTS / "failure.png")
                page.screenshot(path=screenshots[-1])
                raise
    finally:
        stopped = ui.stop(home)
    assert stopped > 0
    assert not _members(pgid), "processes of the Airflow group left behind"
    assert ui.running(home) is None
    assert not (home / ui.PID_FILE).exists()
    assert not _processes_of(home), _processes_of(home)


def _browse(page: Page, running: ui.RunningUi, dags: dict[str, Any], shots: list[Path]) -> None:
    def shot(name: str) -> None:
        shots.append(ARTIFACTS / f"{len(shots) + 1:02d}-{name}.png")
        page.screenshot(path=shots[-1], animations="disabled")  # dialogs fully faded in

    expect.set_options(timeout=60_000)  # two busy cores: the UI can take a while to answer
    # Log in: the UI sends an anonymous visitor to the simple auth manager's login page.
    page.goto(running.url + "/")
    page.wait_for_url("**/auth/login**")
    page.get_by_label("Username").fill(running.user)
    page.get_by_label("Password").fill(running.password)
    shot("login")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(running.url + "/")
    page.get_by_text("Welcome", exact=True).wait_for()
    page.get_by_text("Active Dags", exact=True).wait_for()  # the stats have loaded
    page.get_by_text("Dag Processor", exact=True).wait_for()  # and the health panel
    page.get_by_text("Triggerer", exact=True).wait_for()
    shot("home")

    # Every DAG of dags/ is listed, unpaused, with its tags (table view: all on one screen).
    page.get_by_test_id("nav-dags-link").click()
    page.get_by_role("button", name="Show table view").click()
    table = page.get_by_test_id("table-list")
    for dag_id, dag in sorted(dags.items()):
        row = table.get_by_role("row").filter(has=page.get_by_role("link", name=dag_id, exact=True))
        expect(row.get_by_test_id("toggle-pause")).to_have_attribute("data-state", "checked")
        for tag in dag.tags:
            expect(row.get_by_test_id("table-cell-tags")).to_contain_text(tag)
    page.get_by_text(f"{len(dags)} Dags", exact=True).wait_for()
    shot("dags")

    # The DAG's runbook (doc_md) shows in the UI.
    table.get_by_role("link", name=DAG_ID, exact=True).click()
    page.wait_for_url(f"**/dags/{DAG_ID}")
    page.get_by_role("button", name="Dag Docs").click()
    docs = page.get_by_role("dialog")
    heading = next(
        line.lstrip("#").strip() for line in dags[DAG_ID].doc_md.splitlines() if line.strip()
    )
    docs.get_by_text(heading).wait_for()
    shot("dag-docs")
    page.keyboard.press("Escape")
    docs.wait_for(state="hidden")

    # The successful run, from the DAG's list of runs.
    page.get_by_role("link", name="Runs", exact=True).click()
    page.get_by_role("link", name=RUN_ID, exact=True).click()
    page.wait_for_url(f"**/dags/{DAG_ID}/runs/{RUN_ID}")
    expect(page.get_by_test_id("header-card").get_by_test_id("state-badge")).to_have_text("Success")
    tasks = page.get_by_test_id("table-list")
    for task_id in dags[DAG_ID].task_ids:
        expect(tasks.get_by_role("link", name=task_id, exact=True)).to_be_visible()
    states = tasks.get_by_test_id("table-cell-state")
    expect(states).to_have_text(["Success"] * len(dags[DAG_ID].task_ids))
    shot("run")

    # The log of one ingest task of that run: what it extracted, staged and quarantined.
    tasks.get_by_role("link", name=TASK_ID, exact=True).click()
    page.wait_for_url(f"**/dags/{DAG_ID}/runs/{RUN_ID}/tasks/{TASK_ID}")
    log = page.get_by_test_id("virtualized-list")
    log.get_by_text("Done. Returned value was").wait_for()
    text = log.inner_text()
    counts = re.findall(r"extracted (\d+), staged (\d+), quarantined (\d+)", text)
    assert len(counts) == 2, text[-2000:]  # the history before the interval, then the day
    assert sum(int(extracted) for extracted, _, _ in counts) > 0, counts
    expect(page.get_by_test_id("header-card").get_by_test_id("state-badge")).to_have_text("Success")
    shot("task-log")
