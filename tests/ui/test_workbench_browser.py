"""The review workbench in a real browser, inside Airflow's own UI.

A published small world with one seeded identifier conflict (:mod:`workbench_seed`: a flight ban
carrying another person's valid ID, held in review with ``aviation_ban_2018:no_flights``
waiting) is served by Airflow's components started the way `make ui` starts them
(``credlink.ui.start``, an Airflow home of this test's own), with the simple auth manager's
users ``admin`` (admin), ``wang`` (op: a reviewer) and ``zhao`` (viewer). Headless Chromium
(Debian's ``chromium``, driven by Playwright; nothing downloaded) logs in as ``wang``, opens the
workbench from the UI's navigation, sees the conflict first in the queue with both records and
the identifier holder, accepts it with the keyboard, and asks for a linkage run now (the DAG
is paused first: the run is created, not executed, so that the next linkage and publish runs
are this test's in-process ones). The decision is in ``linkage.decisions`` by ``wang``; after
the next linkage and publish run the true passenger carries the flight ban and the holder of
the typed number nothing; the subject page, found by the header search, shows it. ``zhao``
sees an item but cannot decide (disabled buttons, and a 403 for a forged form post), and the
platform page with the backlog over the linkage runs and the decisions per day. Screenshots
are saved to ``test-artifacts/workbench/`` (git-ignored); a failing step leaves ``failure.png``.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from headless import chromium, needs_chromium
from playwright.sync_api import BrowserContext, Page, expect
from workbench_seed import MEASURE, Seeded, relink_and_publish, restrictions_on, seed

from credlink import ui
from credlink.orchestration.services import _members, free_port

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "workbench"
USERS = "admin:admin,wang:op,zhao:viewer"
LINK_DAG = "link_credit_codes"

pytestmark = [
    pytest.mark.slow,
    needs_chromium,
]


@pytest.fixture
def screenshots() -> Iterator[list[Path]]:
    """The screenshots of this test, written to test-artifacts/workbench/ (old ones removed)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("*.png"):
        old.unlink()
    saved: list[Path] = []
    yield saved
    for shot in saved:
        assert shot.stat().st_size > 10_000, f"{shot} looks empty"


def _rest(running: ui.RunningUi, method: str, path: str, body: Any = None) -> Any:
    token = ui.api_token(running.url, running.user, running.password)
    req = urllib.request.Request(
        f"{running.url}{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def test_review_workbench_in_headless_chromium(
    airflow_db: None, dag_world: Path, tmp_path: Path, screenshots: list[Path]
) -> None:
    seeded = seed(tmp_path / "data", dag_world)
    assert restrictions_on(seeded, seeded.true_code) == []  # waits for a reviewer
    home = tmp_path / "airflow"
    env = {
        "CREDLINK_DATA": str(seeded.data),
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",  # no scheduled runs of today
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": USERS,
    }
    # two cores shared with other work: Airflow may take minutes to be healthy
    running = ui.start(home, free_port(), env=env, timeout=900)
    pgid = running.pgid
    try:
        passwords = json.loads((home / "simple_auth_manager_passwords.json.generated").read_text())
        assert {"wang", "zhao"} <= set(passwords)
        with chromium() as browser:
            for user, steps in (("wang", _review), ("zhao", _look_only)):
                context = browser.new_context(viewport={"width": 1500, "height": 1100})
                page = context.new_page()
                page.set_default_timeout(60_000)
                try:
                    _login(page, running, user, passwords[user], screenshots)
                    steps(page, context, running, seeded, screenshots)
                except Exception:
                    screenshots.append(ARTIFACTS / f"failure-{user}.png")
                    page.screenshot(path=screenshots[-1])
                    raise
                finally:
                    context.close()
    finally:
        stopped = ui.stop(home)
    assert stopped > 0
    assert not _members(pgid), "processes of the Airflow group left behind"


def _shot(page: Page, shots: list[Path], name: str) -> None:
    shots.append(ARTIFACTS / f"{len(shots) + 1:02d}-{name}.png")
    page.screenshot(path=shots[-1], animations="disabled", full_page=True)


def _login(page: Page, running: ui.RunningUi, user: str, password: str, shots: list[Path]) -> None:
    expect.set_options(timeout=60_000)  # two busy cores
    page.goto(running.url + "/")
    page.wait_for_url("**/auth/login**")
    page.get_by_label("Username").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(running.url + "/")
    page.get_by_text("Welcome", exact=True).wait_for()


def _open_workbench(page: Page) -> Any:
    """Open the workbench from the UI's navigation; returns its iframe."""
    page.get_by_role("link", name="Review workbench").click()
    page.wait_for_url("**/plugin/credlink-review")
    frame = page.frame_locator("iframe")
    frame.get_by_role("heading", name="Review queue").wait_for()
    return frame


def _review(
    page: Page, context: BrowserContext, running: ui.RunningUi, seeded: Seeded, shots: list[Path]
) -> None:
    from credlink.etl.lake import Lake
    from credlink.linkage.decisions import read_decisions

    frame = _open_workbench(page)
    expect(frame.get_by_test_id("who")).to_contain_text("wang (op) · reviewer")
    first = frame.get_by_test_id("queue").get_by_role("row").nth(1)
    expect(first).to_contain_text(seeded.unique_id)  # what would restrict comes first
    expect(first).to_contain_text(MEASURE)
    _shot(page, shots, "queue")

    first.get_by_role("link", name=seeded.unique_id).click()
    frame.get_by_test_id("item-title").wait_for()
    table = frame.get_by_test_id("side-by-side")
    for text in (seeded.passenger, seeded.holder_name, f"candidate {seeded.true_code}",
                 f"identifier holder {seeded.holder_code}"):  # fmt: skip
        expect(table).to_contain_text(text)
    # the typed number is the holder's: it agrees with the holder, disagrees with the candidate
    number = table.locator('tr[data-field="citizen_id"]')
    expect(number.locator("td.disagree")).to_have_text(seeded.true_code)
    expect(number.locator("td.agree")).to_have_text(seeded.holder_code)
    expect(frame.get_by_test_id("consequences")).to_contain_text(
        f"would impose on {seeded.true_code}"
    )
    expect(frame.get_by_test_id("waterfall")).to_contain_text("prior")
    key = frame.get_by_test_id("item-key").inner_text()
    frame.get_by_label("Note").fill("same passenger: the clerk typed another person's number")
    _shot(page, shots, "item")
    frame.get_by_test_id("item-title").click()  # focus out of the note: shortcuts apply
    page.keyboard.press("a")
    frame.get_by_test_id("flash").wait_for()
    expect(frame.get_by_test_id("flash")).to_contain_text(f"accepted {seeded.unique_id}")
    _shot(page, shots, "accepted")

    decisions = read_decisions(Lake(seeded.lake))
    (row,) = decisions.filter(decisions["unique_id"] == seeded.unique_id).iter_rows(named=True)
    assert (row["decision"], row["candidate_code"], row["reviewer"]) == (
        "accept", seeded.true_code, "wang")  # fmt: skip
    assert row["item_fingerprint"] == key.split("@")[1] and row["model_version"]
    assert "typed another" in row["note"]

    # apply now: the DAG is paused first, so the run is created and waits (module doc)
    _rest(running, "PATCH", f"/api/v2/dags/{LINK_DAG}", {"is_paused": True})
    frame.get_by_role("link", name="Review queue").click()
    frame.get_by_test_id("apply-now").click()
    expect(frame.get_by_test_id("message")).to_contain_text("is queued")
    runs = _rest(running, "GET", f"/api/v2/dags/{LINK_DAG}/dagRuns")["dag_runs"]
    assert any("review workbench, wang" in (r.get("note") or "") for r in runs), runs
    _shot(page, shots, "apply-now")

    relink_and_publish(seeded, "after-review")  # the next runs, in-process
    ((memo, measure, records),) = restrictions_on(seeded, seeded.true_code)
    assert f"{memo}:{measure}" == MEASURE and seeded.unique_id in records
    assert restrictions_on(seeded, seeded.holder_code) == []

    search = frame.get_by_role("search").first
    search.get_by_role("textbox").fill(seeded.true_code)
    search.get_by_role("button").click()
    expect(frame.get_by_test_id("subject-title")).to_contain_text(seeded.true_code)
    expect(frame.get_by_test_id("subject-summary")).to_contain_text("1 restriction(s) in force")
    expect(frame.get_by_test_id("restrictions-in-force")).to_contain_text("no_flights")
    expect(frame.get_by_test_id("explain")).to_contain_text(seeded.unique_id)
    _shot(page, shots, "subject")


def _look_only(
    page: Page, context: BrowserContext, running: ui.RunningUi, seeded: Seeded, shots: list[Path]
) -> None:
    frame = _open_workbench(page)
    expect(frame.get_by_test_id("who")).to_contain_text("may look, not decide")
    expect(frame.get_by_test_id("apply-now")).to_have_count(0)
    frame.get_by_test_id("queue").get_by_role("row").nth(1).get_by_role("link").click()
    expect(frame.get_by_test_id("no-role")).to_contain_text("may look but not decide")
    expect(frame.get_by_role("button", name="Accept")).to_be_disabled()
    key = frame.get_by_test_id("item-key").inner_text()
    _shot(page, shots, "viewer-item")
    # the same form posted anyway, with zhao's session cookie: refused by the server
    forged = context.request.post(
        f"{running.url}/credlink/review/decide",
        form={"key": key, "action": "accept"},
        headers={"Accept": "application/json"},
    )
    assert forged.status == 403, forged.text()
    assert "reviewer role" in forged.json()["detail"]
    from credlink.etl.lake import Lake
    from credlink.linkage.decisions import read_decisions

    assert key.split("@")[0] not in read_decisions(Lake(seeded.lake))["unique_id"].to_list()

    # the platform pages, from the UI's navigation: the backlog over the runs and the decisions
    page.get_by_role("link", name="Linkage and subjects").click()
    page.wait_for_url("**/plugin/credlink-platform")
    frame = page.frame_locator("iframe")
    expect(frame.get_by_test_id("backlog-runs")).to_contain_text("link-seed")
    expect(frame.get_by_test_id("backlog-days")).to_be_visible()
    expect(frame.get_by_text("Not measured: run credlink quality").first).to_be_visible()
    _shot(page, shots, "platform")
