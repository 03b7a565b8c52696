"""Review decisions name a stable item key and are refused when the item changed or was decided.

Hand-made review queues (no Splink): fast.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from credlink.cli import app
from credlink.etl.lake import Lake
from credlink.linkage.decisions import apply_decisions, read_decisions, record_decision
from credlink.linkage.review import (
    DecisionConflict,
    ItemChanged,
    ItemKey,
    NotAKey,
    decide,
    open_items,
)
from credlink.linkage.tables import DECISION_COLUMNS, REVIEW_QUEUE_COLUMNS

ROOT = Path(__file__).resolve().parents[2]
DAY = datetime(2026, 1, 2, 9, tzinfo=UTC)
EVIL = "\x1b]0;pwned\x07\x1b[2J\x9b31m[red]Z[/red]\u202e"


def item(uid: str, candidate: str, *, model: str = "person-20261201-7b4d7475",
         name: str = "张三", conflict: str | None = None, run: str = "r1") -> dict[str, Any]:  # fmt: skip
    return {
        "unique_id": uid,
        "subject_type": "person",
        "source": uid.split("/")[0],
        "table": uid.split("/")[1],
        "record_id": uid.split("/")[2],
        "candidate_code": candidate,
        "link_probability": 0.9,
        "match_probability": 0.9,
        "match_weight": 3.2,
        "model_version": model,
        "reason": "link probability in the review band",
        "name_agreement": "exact",
        "evidence": ["birth_date"],
        "conflict_code": conflict,
        "record": json.dumps({"name": name, "birth_ymd": "1980-01-01"}, ensure_ascii=False),
        "candidate": json.dumps({"name": "张三", "birth_ymd": "1980-01-01"}, ensure_ascii=False),
        "conflict_candidate": None,
        "comparison_weights": json.dumps({"name": 4.1, "id_digits": None}),
        "run_id": run,
    }


def write_queue(lake: Lake, rows: list[dict[str, Any]]) -> None:
    frame = pl.DataFrame(rows, schema=REVIEW_QUEUE_COLUMNS)
    lake.write_whole("linkage", "review_queue", frame)


A, B = "courts/SXBZXR/1", "courts/SXBZXR/2"


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    lake = Lake(tmp_path / "lake")
    write_queue(lake, [item(A, "CODE-A"), item(B, "CODE-B")])
    return lake


def keys(lake: Lake) -> dict[str, str]:
    return dict(open_items(lake).select("unique_id", "item_key").iter_rows())


def test_a_key_is_stable_across_runs_and_changes_with_the_item(lake: Lake) -> None:
    first = keys(lake)
    assert first[A].startswith(f"{A}@") and len(first[A]) == len(A) + 13
    write_queue(lake, [item(A, "CODE-A", run="r2"), item(B, "CODE-B", run="r2")])
    assert keys(lake) == first  # a new run, the same items: the same keys
    for changed in (
        item(A, "CODE-OTHER"),
        item(A, "CODE-A", model="person-20270101-00c0ffee"),
        item(A, "CODE-A", name="张山"),
        item(A, "CODE-A", conflict="CODE-HOLDER"),
    ):
        write_queue(lake, [changed])
        assert keys(lake)[A] != first[A]


def test_repeated_accept_decides_once(lake: Lake) -> None:
    key = keys(lake)[A]
    decide(lake, key, "accept", reviewer="li", decided_at=DAY)
    with pytest.raises(DecisionConflict, match=r"decided already: accept CODE-A by li"):
        decide(lake, key, "accept", reviewer="li", decided_at=DAY)
    with pytest.raises(DecisionConflict, match="decided already"):
        decide(lake, key, "reject", reviewer="wang", decided_at=DAY)
    got = read_decisions(lake)
    assert got.height == 1
    row = got.row(0, named=True)
    assert (row["unique_id"], row["candidate_code"], row["model_version"]) == (
        A,
        "CODE-A",
        "person-20261201-7b4d7475",
    )
    assert row["item_fingerprint"] == key.split("@")[1]
    # B is still open and still has its own key: nothing decided it.
    assert set(keys(lake)) == {B}


def test_a_key_shown_before_the_queue_changed_is_refused(lake: Lake) -> None:
    key = keys(lake)[A]
    # a linkage run in between: another candidate, then another model version
    write_queue(lake, [item(A, "CODE-OTHER"), item(B, "CODE-B")])
    with pytest.raises(ItemChanged, match=r"changed since it was shown.*candidate CODE-OTHER"):
        decide(lake, key, "accept", reviewer="li", decided_at=DAY)
    write_queue(lake, [item(A, "CODE-A", model="person-20270101-00c0ffee")])
    with pytest.raises(ItemChanged, match="model person-20270101-00c0ffee"):
        decide(lake, key, "accept", reviewer="li", decided_at=DAY)
    write_queue(lake, [item(B, "CODE-B")])
    with pytest.raises(ItemChanged, match="no longer in the review queue"):
        decide(lake, key, "accept", reviewer="li", decided_at=DAY)
    assert read_decisions(lake).is_empty()


def test_numbers_and_record_ids_do_not_decide(lake: Lake) -> None:
    for name in ("1", A, f"{A}@123"):
        with pytest.raises(NotAKey, match="never by a list number"):
            decide(lake, name, "accept", reviewer="li", decided_at=DAY)
    # the API without a key refuses a record that is in the queue
    with pytest.raises(ItemChanged, match="decide it by its item key"):
        record_decision(lake, A, "CODE-A", "accept", reviewer="li", decided_at=DAY)
    # a candidate the item never showed is refused
    with pytest.raises(ValueError, match="not a candidate"):
        decide(lake, keys(lake)[A], "accept", reviewer="li", decided_at=DAY,
               candidate_code="SOMEONE-ELSE")  # fmt: skip
    assert read_decisions(lake).is_empty()


CHILD = """
import sys, time
from datetime import UTC, datetime
from pathlib import Path
from credlink.etl.lake import Lake
from credlink.linkage.review import DecisionConflict, decide
root, key, who, go = sys.argv[1:]
while not Path(go).exists():
    time.sleep(0.005)
try:
    decide(Lake(Path(root)), key, "accept", reviewer=who, decided_at=datetime.now(UTC))
except DecisionConflict as exc:
    print("CONFLICT", exc)
    sys.exit(3)
print("DECIDED")
"""


def test_two_reviewers_at_once_get_one_decision_and_one_conflict(
    lake: Lake, tmp_path: Path
) -> None:
    key = keys(lake)[A]
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(lake.root), key, who, str(go)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for who in ("li", "wang")
    ]
    time.sleep(1.5)  # both imported and waiting
    go.touch()
    results = [p.communicate(timeout=60) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 3], results
    assert any("decided already" in out for out, _ in results)
    assert read_decisions(lake).height == 1


def test_decisions_recorded_before_review_keys_still_count(lake: Lake) -> None:
    old = pl.DataFrame(
        [[A, "CODE-A", "accept", "li", DAY, "same person"]],
        schema={k: v for k, v in DECISION_COLUMNS.items() if k not in ("model_version",
                                                                      "item_fingerprint")},
        orient="row",
    )  # fmt: skip
    lake.write_whole("linkage", "decisions", old)
    got = read_decisions(lake)
    assert got.schema == pl.Schema(DECISION_COLUMNS)
    assert got["model_version"].to_list() == [None]
    links = pl.DataFrame(
        {"unique_id": [A], "credit_code": [None], "candidate_code": ["CODE-A"],
         "band": ["review"], "method": ["probabilistic"], "matched_on": [None], "reason": [None]},
        schema_overrides={"credit_code": pl.String, "matched_on": pl.String, "reason": pl.String},
    )  # fmt: skip
    assert apply_decisions(links, got)["credit_code"].to_list() == ["CODE-A"]
    assert set(keys(lake)) == {B}  # decided: off the list
    with pytest.raises(DecisionConflict):  # and a key shown before cannot decide it again
        decide(lake, ItemKey.of(item(A, "CODE-A")), "reject", reviewer="wang", decided_at=DAY)


def test_cli_decides_by_key_and_shows_agency_text_escaped(
    lake: Lake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_queue(lake, [item(A, "CODE-A", name=EVIL), item(B, "CODE-B")])
    monkeypatch.setenv("CREDLINK_DATA", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "220")
    runner = CliRunner()
    listed = runner.invoke(app, ["review", "list"])
    assert listed.exit_code == 0, listed.output
    key = keys(lake)[A]
    assert key in listed.output
    shown = runner.invoke(app, ["review", "show", "1", "--out", str(tmp_path / "charts")])
    assert shown.exit_code == 0, shown.output
    assert f"item key: {key}" in shown.output and f"review accept {key}" in shown.output
    # escape sequences from agency text never reach the terminal; markup prints as written
    for raw in ("\x1b", "\x07", "\x9b", "\u202e"):
        assert raw not in shown.output and raw not in listed.output
    assert "\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m[red]Z[/red]\\u202e" in shown.output
    by_number = runner.invoke(app, ["review", "accept", "1", "--reviewer", "li"])
    assert by_number.exit_code == 1 and "never by a list number" in by_number.output
    ok = runner.invoke(app, ["review", "accept", key, "--reviewer", "li"])
    assert ok.exit_code == 0, ok.output
    again = runner.invoke(app, ["review", "accept", key, "--reviewer", "li"])
    assert again.exit_code == 1 and "decided already" in again.output
    assert read_decisions(lake).height == 1
