"""The workbench's endpoints inside Airflow's own API app, called as a plain HTTP client would.

Airflow's API app is built in-process (``airflow.api_fastapi.app.create_app``: the plugin found
through its entry point and mounted at ``/credlink``, the simple auth manager with three users:
``admin`` (admin), ``wang`` (op: a reviewer) and ``zhao`` (viewer)), and called through
Starlette's TestClient with the tokens ``POST /auth/token`` gives. The data is a real published
small world with one seeded identifier conflict (``tests/ui/workbench_seed.py``): the endpoints
refuse a request without an identity (401) and a viewer's decision (403), record a reviewer's
decision in ``linkage.decisions`` with what they were shown, give one decision and one 409 to
two reviewers deciding one item at once, and find a subject by code and by name.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from starlette.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ui"))  # the shared seed
from workbench_seed import MEASURE, Seeded, relink_and_publish, restrictions_on, seed

pytestmark = pytest.mark.slow

USERS = "admin:admin,wang:op,zhao:viewer"


@pytest.fixture(scope="module")
def seeded(dag_world: Path, tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    return seed(tmp_path_factory.mktemp("webui-api") / "data", dag_world)


@pytest.fixture(scope="module")
def client(airflow_db: None, seeded: Seeded) -> Iterator[TestClient]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", USERS)
        mp.setenv("CREDLINK_DATA", str(seeded.data))
        mp.delenv("CREDLINK_WAREHOUSE", raising=False)
        from airflow.api_fastapi.app import create_app, purge_cached_app

        purge_cached_app()
        app = create_app(apps="core")
        with TestClient(app, base_url="http://127.0.0.1:8080") as tc:
            yield tc
        purge_cached_app()


def token(client: TestClient, user: str) -> str:
    passwords = json.loads(
        (
            Path(os.environ["AIRFLOW_HOME"]) / "simple_auth_manager_passwords.json.generated"
        ).read_text()
    )
    got = client.post("/auth/token", json={"username": user, "password": passwords[user]})
    assert got.status_code in (200, 201), got.text
    return str(got.json()["access_token"])


def bearer(client: TestClient, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(client, user)}", "Accept": "application/json"}


def items(client: TestClient, user: str = "zhao") -> list[dict[str, Any]]:
    got = client.get("/credlink/api/items", headers=bearer(client, user))
    assert got.status_code == 200, got.text
    return list(got.json()["items"])


def conflict_key(client: TestClient, seeded: Seeded) -> str:
    (hit,) = [i for i in items(client) if i["unique_id"] == seeded.unique_id]
    return str(hit["item_key"])


def credlink_routes(client: TestClient) -> list[tuple[str, str]]:
    """(method, path) of every endpoint of the mounted credlink app."""
    from credlink.webui.app import app

    return sorted(
        (method, route.path) for route in app.routes if isinstance(route, APIRoute)
        for method in route.methods
    )  # fmt: skip


def test_no_identity_is_refused_everywhere(client: TestClient, seeded: Seeded) -> None:
    routes = credlink_routes(client)
    assert len(routes) >= 10, routes
    for method, path in routes:
        url = "/credlink" + path.replace("{code}", seeded.true_code)
        for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Cookie": "_token=forged"}):
            got = client.request(method, url, headers=headers, follow_redirects=False)
            assert got.status_code == 401, (method, url, headers, got.status_code, got.text)
            assert "log in" in got.json()["detail"]
    # a browser gets a page saying so
    page = client.get("/credlink/review", headers={"Accept": "text/html"})
    assert page.status_code == 401 and "not logged in to Airflow" in page.text


def test_a_viewer_sees_but_cannot_decide(client: TestClient, seeded: Seeded) -> None:
    key = conflict_key(client, seeded)
    viewer = bearer(client, "zhao")
    page = client.get("/credlink/review/item", params={"key": key}, headers=viewer)
    assert page.status_code == 200
    assert seeded.passenger in page.text and seeded.holder_name in page.text
    assert "may look but not decide" in page.text
    refused = client.post("/credlink/review/decide", headers=viewer,
                          data={"key": key, "action": "accept"})  # fmt: skip
    assert refused.status_code == 403, refused.text
    assert "reviewer role" in refused.json()["detail"]
    assert client.post("/credlink/review/apply", headers=viewer).status_code == 403
    # a reviewer's browser made to post from another site is refused too
    forged = client.post("/credlink/review/decide", data={"key": key, "action": "accept"},
                         headers={**bearer(client, "wang"), "Origin": "http://evil.example"})  # fmt: skip
    assert forged.status_code == 403 and "another site" in forged.json()["detail"]
    from credlink.etl.lake import Lake
    from credlink.linkage.decisions import read_decisions

    assert seeded.unique_id not in read_decisions(Lake(seeded.lake))["unique_id"].to_list()


def test_the_queue_puts_what_would_restrict_first(client: TestClient, seeded: Seeded) -> None:
    listed = items(client)
    assert listed[0]["unique_id"] == seeded.unique_id, listed[:3]
    assert listed[0]["would_impose"] == [MEASURE]
    assert all(not i["would_impose"] for i in listed[1:])
    only = client.get("/credlink/api/items", params={"source": "tax"},
                      headers=bearer(client, "zhao")).json()["items"]  # fmt: skip
    assert only and {i["source"] for i in only} == {"tax"}


def test_two_reviewers_at_once_give_one_decision_and_one_conflict(
    client: TestClient, seeded: Seeded
) -> None:
    from credlink.etl.lake import Lake
    from credlink.linkage.decisions import read_decisions
    from credlink.webui.workbench import read_audit

    (item,) = [i for i in items(client) if i["unique_id"] == seeded.unique_id]
    key = item["item_key"]
    assert (item["candidate_code"], item["conflict_code"]) == (seeded.true_code,
                                                               seeded.holder_code)  # fmt: skip
    heads = {who: bearer(client, who) for who in ("wang", "admin")}
    # wang opens it: admin's page says so
    client.get("/credlink/review/item", params={"key": key}, headers=heads["wang"])
    seen = client.get("/credlink/review/item", params={"key": key}, headers=heads["admin"])
    assert "Also open by: wang" in seen.text
    go = threading.Barrier(2)
    answers: dict[str, Any] = {}

    def decide(who: str, action: str) -> None:
        go.wait()
        answers[who] = client.post(
            "/credlink/review/decide",
            headers=heads[who],
            data={"key": key, "action": action, "candidate": seeded.true_code,
                  "note": f"{who}: same passenger, the clerk typed another number"},
        )  # fmt: skip

    threads = [threading.Thread(target=decide, args=a) for a in (("wang", "accept"),
                                                                 ("admin", "reject"))]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    codes = sorted(a.status_code for a in answers.values())
    assert codes == [200, 409], {w: (a.status_code, a.text) for w, a in answers.items()}
    winner = next(w for w, a in answers.items() if a.status_code == 200)
    loser = next(w for w, a in answers.items() if a.status_code == 409)
    assert "decided already" in answers[loser].json()["detail"]
    assert f"by {winner}" in answers[loser].json()["detail"]
    decisions = read_decisions(Lake(seeded.lake))
    mine = decisions.filter(decisions["unique_id"] == seeded.unique_id)
    assert mine.height == 1
    row = mine.row(0, named=True)
    assert row["reviewer"] == winner and row["candidate_code"] == seeded.true_code
    assert row["item_fingerprint"] == key.split("@")[1]
    assert row["model_version"] == item["model_version"] and row["model_version"]
    audit = [a for a in read_audit(Lake(seeded.lake)) if a["unique_id"] == seeded.unique_id]
    assert [a["reviewer"] for a in audit] == [winner]
    assert audit[0]["link_probability"] == pytest.approx(item["link_probability"])
    assert audit[0]["model_version"] == row["model_version"] and audit[0]["item_key"] == key
    # the item left the queue; the decision restricts the true passenger on the next run only
    assert seeded.unique_id not in [i["unique_id"] for i in items(client)]
    if row["decision"] == "accept":
        assert restrictions_on(seeded, seeded.true_code) == []
        relink_and_publish(seeded, "api")
        ((memo, measure, records),) = restrictions_on(seeded, seeded.true_code)
        assert f"{memo}:{measure}" == MEASURE and seeded.unique_id in records
    assert restrictions_on(seeded, seeded.holder_code) == []  # never on the holder


def test_subject_search_by_code_and_name(client: TestClient, seeded: Seeded) -> None:
    import duckdb

    con = duckdb.connect(str(seeded.warehouse), read_only=True)
    try:
        code, name, active = con.execute(
            "SELECT credit_code, name, active_restrictions FROM publish.subjects "
            "WHERE active_restrictions > 0 AND name IS NOT NULL ORDER BY credit_code LIMIT 1"
        ).fetchone()
        (measure,) = con.execute(
            "SELECT min(measure_id) FROM publish.restrictions WHERE credit_code = ?", [code]
        ).fetchone()
    finally:
        con.close()
    viewer = bearer(client, "zhao")
    viewer["Accept"] = "text/html"
    by_code = client.get("/credlink/platform/search", params={"q": code.lower()}, headers=viewer,
                         follow_redirects=False)  # fmt: skip
    assert by_code.status_code == 303
    assert by_code.headers["location"].endswith(f"/credlink/platform/subject/{code}")
    page = client.get(by_code.headers["location"], headers=viewer)
    assert page.status_code == 200
    assert f"{active} restriction(s) in force" in page.text and measure in page.text
    assert "Restrictions in force" in page.text
    by_name = client.get("/credlink/platform/search", params={"q": name}, headers=viewer)
    assert by_name.status_code == 200 and code in by_name.text
    bad = client.get("/credlink/platform/subject/DROP%20TABLE", headers=viewer)
    assert bad.status_code == 400 and "is not a credit code" in bad.text
    quality = client.get("/credlink/platform", headers=viewer)
    assert quality.status_code == 200 and "Review backlog" in quality.text
    assert quality.text.count("Not measured: run") == 3  # says how to get them
    # what `credlink quality` stores, measured against the world's truth, is shown
    from credlink.etl.lake import Lake
    from credlink.linkage.quality import measure_linkage_quality
    from credlink.publish.quality import measure_restriction_quality

    lake = Lake(seeded.lake)
    linkage = measure_linkage_quality(lake, seeded.data / "world")
    assert linkage is not None
    measure_restriction_quality(seeded.warehouse, lake, seeded.data / "world")
    measured = client.get("/credlink/platform", headers=viewer)
    assert "Not measured" not in measured.text
    for table in ("linkage-quality", "restriction-quality", "who-fails-to-link"):
        assert f'data-testid="{table}"' in measured.text
    assert "FlightBan" in measured.text and "aviation_ban_2018" in measured.text


def test_under_blind_double_review_one_decision_waits_for_a_second_reviewer(
    client: TestClient, seeded: Seeded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from credlink.etl.lake import Lake
    from credlink.linkage.decisions import read_decisions

    policy = tmp_path / "review_policy.yaml"
    policy.write_text(
        "policy: review_policy\nversion: 1\nmode: double\nseniors: [li]\n"
        "sample: {size: 20, allocation: proportional, min_per_stratum: 2, confidence: 0.95}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("CREDLINK_REVIEW_POLICY", str(policy))
    lake = Lake(seeded.lake)
    item = next(i for i in items(client, "wang") if i["unique_id"] != seeded.unique_id)
    key, uid = item["item_key"], item["unique_id"]

    def decide(who: str) -> Any:
        return client.post("/credlink/review/decide", headers=bearer(client, who),
                           data={"key": key, "action": "reject"})  # fmt: skip

    first = decide("wang")
    assert first.status_code == 200, first.text
    assert "once the review round is settled" in first.json()["message"]
    assert uid not in read_decisions(lake)["unique_id"].to_list()  # nothing takes effect yet
    # blind: wang no longer sees it, admin sees it with nothing of wang's decision
    assert uid not in [i["unique_id"] for i in items(client, "wang")]
    assert uid in [i["unique_id"] for i in items(client, "admin")]
    page = client.get("/credlink/review/item", params={"key": key}, headers=bearer(client, "admin"))
    assert page.status_code == 200
    assert "by wang" not in page.text and "open by: wang" not in page.text.lower()
    second = decide("admin")
    assert second.status_code == 200, second.text
    settled = read_decisions(lake).filter(read_decisions(lake)["unique_id"] == uid)
    assert settled.height == 1 and settled["decision"].to_list() == ["reject"]
