"""Blind double review: two agreeing decisions take effect, one never does, a senior settles a
disagreement, the second reviewer does not see the first's decision; agreement and kappa.

Hand-made review queues (no Splink): fast.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from credlink.cli import app
from credlink.etl.lake import Lake
from credlink.linkage.decisions import (
    apply_decisions,
    read_decisions,
    read_rounds,
    record_decision,
)
from credlink.linkage.review import (
    DecisionConflict,
    NotASenior,
    agreement,
    cohen_kappa,
    decide,
    disagreement,
    find_item,
    open_items,
)
from credlink.linkage.review_policy import ReviewPolicy, ReviewPolicyError, load_review_policy
from credlink.linkage.tables import REVIEW_QUEUE_COLUMNS, REVIEW_ROUNDS_COLUMNS

DAY = datetime(2026, 1, 2, 9, tzinfo=UTC)
DOUBLE = ReviewPolicy(mode="double", seniors=("zhao",))
A, B, C = "courts/SXBZXR/1", "courts/SXBZXR/2", "courts/SXBZXR/3"


def item(uid: str, candidate: str, conflict: str | None = None) -> dict[str, Any]:
    return {
        "unique_id": uid, "subject_type": "person", "source": "courts", "table": "SXBZXR",
        "record_id": uid.rsplit("/", 1)[1], "candidate_code": candidate,
        "link_probability": 0.9, "match_probability": 0.9, "match_weight": 3.2,
        "model_version": "person-20261201-7b4d7475",
        "reason": "link probability in the review band", "name_agreement": "exact",
        "evidence": ["birth_date"], "conflict_code": conflict,
        "record": json.dumps({"name": "张三", "birth_ymd": "1980-01-01"}, ensure_ascii=False),
        "candidate": json.dumps({"name": "张三", "birth_ymd": "1980-01-01"}, ensure_ascii=False),
        "conflict_candidate": None, "comparison_weights": json.dumps({"name": 4.1}),
        "run_id": "r1",
    }  # fmt: skip


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    lake = Lake(tmp_path / "lake")
    rows = [item(A, "X"), item(B, "Y"), item(C, "Z", conflict="H")]
    lake.write_whole("linkage", "review_queue", pl.DataFrame(rows, schema=REVIEW_QUEUE_COLUMNS))
    return lake


def links() -> pl.DataFrame:
    """The record_links rows of the queued records: in review, restricting nobody."""
    return pl.DataFrame(
        [(u, None, c, "review", "probabilistic", None, None) for u, c in ((A, "X"), (B, "Y"),
                                                                         (C, "Z"))],
        schema=["unique_id", "credit_code", "candidate_code", "band", "method", "matched_on",
                "reason"],
        orient="row",
    )  # fmt: skip


def key_of(lake: Lake, uid: str, reviewer: str | None = None) -> str:
    items = open_items(lake, reviewer, policy=DOUBLE)
    return str(items.filter(pl.col("unique_id") == uid)["item_key"][0])


def effective(lake: Lake) -> dict[str, tuple[str | None, str]]:
    out = apply_decisions(links(), read_decisions(lake))
    return {r["unique_id"]: (r["credit_code"], r["band"]) for r in out.iter_rows(named=True)}


def test_two_agreeing_decisions_take_effect_one_does_not(lake: Lake) -> None:
    key = key_of(lake, A)
    decide(lake, key, "accept", reviewer="li", decided_at=DAY, policy=DOUBLE, note="same")
    # One decision: nothing takes effect, the record still restricts nobody.
    assert read_decisions(lake).is_empty()
    assert effective(lake)[A] == (None, "review")
    assert read_rounds(lake).schema == pl.Schema(REVIEW_ROUNDS_COLUMNS)
    # The same reviewer cannot make it two.
    with pytest.raises(DecisionConflict, match="li decided it already") as refused:
        decide(lake, key, "accept", reviewer="li", decided_at=DAY, policy=DOUBLE)
    assert "accept" not in str(refused.value)
    decide(lake, key, "accept", reviewer="wang", decided_at=DAY + timedelta(hours=1),
           policy=DOUBLE)  # fmt: skip
    settled = read_decisions(lake)
    assert settled.select("unique_id", "candidate_code", "decision", "reviewer").rows() == [
        (A, "X", "accept", "li & wang")
    ]
    assert "double review: li & wang agreed" in settled["note"][0] and "same" in settled["note"][0]
    assert effective(lake)[A] == ("X", "accept")
    assert A not in set(open_items(lake, "zhou", policy=DOUBLE)["unique_id"])
    with pytest.raises(DecisionConflict, match="decided already"):
        decide(lake, key, "reject", reviewer="zhou", decided_at=DAY, policy=DOUBLE)
    # Two rejections of the conflict's two codes agree: the record is unlinked either way.
    ck = key_of(lake, C)
    decide(lake, ck, "reject", reviewer="li", decided_at=DAY, policy=DOUBLE)
    decide(lake, ck, "reject", reviewer="wang", decided_at=DAY, policy=DOUBLE, candidate_code="H")
    assert effective(lake)[C] == (None, "reject")


def test_a_disagreement_goes_to_a_senior_who_settles_it(lake: Lake) -> None:
    key = key_of(lake, B)
    decide(lake, key, "accept", reviewer="li", decided_at=DAY, policy=DOUBLE)
    decide(lake, key, "reject", reviewer="wang", decided_at=DAY, policy=DOUBLE)
    assert read_decisions(lake).is_empty() and effective(lake)[B] == (None, "review")
    # Out of the reviewers' lists, into the senior's.
    assert B not in set(open_items(lake, "zhou", policy=DOUBLE)["unique_id"])
    assert B not in set(open_items(lake, policy=DOUBLE)["unique_id"])
    assert B in set(open_items(lake, "zhao", policy=DOUBLE)["unique_id"])
    with pytest.raises(DecisionConflict, match="awaits a senior reviewer") as refused:
        decide(lake, key, "accept", reviewer="zhou", decided_at=DAY, policy=DOUBLE)
    assert "reject" not in str(refused.value)
    # Only the senior sees both decisions.
    with pytest.raises(NotASenior):
        disagreement(lake, B, "li", policy=DOUBLE)
    seen = disagreement(lake, B, "zhao", policy=DOUBLE)
    assert sorted(seen.select("reviewer", "decision").rows()) == [
        ("li", "accept"),
        ("wang", "reject"),
    ]
    # A senior who decided in the round may not settle it.
    senior_too = ReviewPolicy(mode="double", seniors=("zhao", "li"))
    with pytest.raises(DecisionConflict, match="li decided it already"):
        decide(lake, key, "accept", reviewer="li", decided_at=DAY, policy=senior_too)
    decide(lake, key, "reject", reviewer="zhao", decided_at=DAY, policy=DOUBLE, note="other")
    assert read_decisions(lake)["reviewer"].to_list() == ["zhao"]
    assert effective(lake)[B] == (None, "reject")
    roles = read_rounds(lake).select("reviewer", "role").rows()
    assert roles == [("li", "reviewer"), ("wang", "reviewer"), ("zhao", "senior")]


def test_the_second_reviewer_does_not_see_the_first_decision(lake: Lake) -> None:
    before = open_items(lake, "wang", policy=DOUBLE)
    decide(lake, key_of(lake, A), "reject", reviewer="qianqian", decided_at=DAY, policy=DOUBLE,
           note="looks like another person")  # fmt: skip
    # qianqian no longer sees it; wang sees exactly what wang saw before anyone decided.
    assert A not in set(open_items(lake, "qianqian", policy=DOUBLE)["unique_id"])
    after = open_items(lake, "wang", policy=DOUBLE)
    assert after.equals(before)
    shown = find_item(lake, A, "wang", policy=DOUBLE)
    assert shown == before.filter(pl.col("unique_id") == A).row(0, named=True)
    assert not any("reject" in str(v) or "another person" in str(v) for v in shown.values())
    # The command line under the same policy: wang's list and show say nothing of li's decision.
    cli = _cli(lake)
    listed = cli("review", "list", "--reviewer", "wang")
    shown_cli = cli("review", "show", A, "--reviewer", "wang")
    for out in (listed, shown_cli):
        assert A in out and "qianqian" not in out
        assert "reject" not in out.replace("(or reject)", "") and "another person" not in out
    assert A not in cli("review", "list", "--reviewer", "qianqian")


_POLICY_TEXT = """policy: review_policy
version: 1
mode: double
seniors: [zhao]
sample: {size: 20, allocation: proportional, min_per_stratum: 2, confidence: 0.95}
"""


def _cli(lake: Lake) -> Any:
    """A runner of `credlink` on `lake` (its parent is $CREDLINK_DATA) under double review."""
    policy = lake.root.parent / "review_policy.yaml"
    policy.write_text(_POLICY_TEXT, encoding="utf-8")
    env = {"CREDLINK_DATA": str(lake.root.parent), "CREDLINK_REVIEW_POLICY": str(policy),
           "COLUMNS": "200"}  # fmt: skip

    def run(*args: str) -> str:
        result = CliRunner().invoke(app, list(args), env=env)
        assert result.exit_code == 0, (args, result.output, result.exception)
        return result.output

    return run


def test_the_command_line_follows_the_policy(lake: Lake) -> None:
    cli = _cli(lake)
    key = key_of(lake, A)
    first = cli("review", "accept", key, "--reviewer", "li")
    assert "waits" in first and "takes effect on the next" not in first
    assert read_decisions(lake).is_empty()
    second = cli("review", "accept", key, "--reviewer", "wang")
    assert "waits" in second  # nothing said about whether the two agreed
    assert read_decisions(lake)["reviewer"].to_list() == ["li & wang"]
    report = cli("review", "agreement")
    assert "1 item(s) decided by two reviewers" in report and "100.0%" in report


def test_single_review_is_the_default_and_unchanged(lake: Lake) -> None:
    assert load_review_policy().mode == "single"
    key = key_of(lake, A)
    decide(lake, key, "accept", reviewer="li", decided_at=DAY)
    assert read_decisions(lake)["reviewer"].to_list() == ["li"]
    assert read_rounds(lake).is_empty()
    with pytest.raises(DecisionConflict, match="decided already: accept X by li"):
        decide(lake, key, "reject", reviewer="wang", decided_at=DAY)


def test_a_correction_outside_the_queue_needs_two_reviewers_too(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    accepted = links().with_columns(
        pl.lit("accept").alias("band"), pl.col("candidate_code").alias("credit_code")
    )
    record_decision(lake, A, "X", "reject", reviewer="li", decided_at=DAY, policy=DOUBLE)
    out = apply_decisions(accepted, read_decisions(lake))
    assert out.filter(pl.col("unique_id") == A)["band"][0] == "accept"  # nothing yet
    record_decision(lake, A, "X", "reject", reviewer="wang", decided_at=DAY, policy=DOUBLE)
    out = apply_decisions(accepted, read_decisions(lake))
    assert out.filter(pl.col("unique_id") == A)["band"][0] == "reject"


def test_the_policy_file_is_read_strictly(tmp_path: Path) -> None:
    path = tmp_path / "review_policy.yaml"
    path.write_text(_POLICY_TEXT, encoding="utf-8")
    assert load_review_policy(path).required == 2
    path.write_text(_POLICY_TEXT.replace("seniors: [zhao]", "seniors: []"), encoding="utf-8")
    with pytest.raises(ReviewPolicyError, match="needs at least one senior"):
        load_review_policy(path)
    path.write_text(_POLICY_TEXT + "mode: single\n", encoding="utf-8")
    with pytest.raises(ReviewPolicyError, match="duplicate key 'mode'"):
        load_review_policy(path)  # a key written twice
    path.write_text(_POLICY_TEXT.replace("mode: double", "mode: triple"), encoding="utf-8")
    with pytest.raises(ReviewPolicyError, match="mode"):
        load_review_policy(path)


def test_kappa_on_a_hand_made_table() -> None:
    # 50 items: both accept 20, A accept/B reject 5, A reject/B accept 10, both reject 15.
    # p_o = 35/50 = 0.70; p_e = 0.5*0.6 + 0.5*0.4 = 0.50; kappa = 0.2/0.5 = 0.4
    assert cohen_kappa([[20, 5], [10, 15]]) == pytest.approx(0.4)
    assert cohen_kappa([[10, 0], [0, 10]]) == pytest.approx(1.0)
    assert cohen_kappa([[0, 5], [5, 0]]) == pytest.approx(-1.0)
    assert cohen_kappa([[7, 0], [0, 0]]) is None  # one category: chance agreement is 1
    with pytest.raises(ValueError, match="square"):
        cohen_kappa([[1, 2], [3]])
    # The same table as review rounds: the first two reviewers of each item.
    rows = []
    cells = {("accept", "accept"): 20, ("accept", "reject"): 5, ("reject", "accept"): 10,
             ("reject", "reject"): 15}  # fmt: skip
    n = 0
    for (first, second), count in cells.items():
        for _ in range(count):
            n += 1
            for i, (who, decision) in enumerate((("li", first), ("wang", second))):
                rows.append(("uncertain", None, f"courts/T/{n}", 1, 2, "X", decision, who,
                             "reviewer", DAY + timedelta(minutes=i), None, None, None))  # fmt: skip
    rounds = pl.DataFrame(rows, schema=REVIEW_ROUNDS_COLUMNS, orient="row")
    got = agreement(rounds, "uncertain")
    assert (got.pairs, got.agreed, got.different_candidates) == (50, 35, 0)
    assert got.percent_agreement == pytest.approx(0.70)
    assert got.kappa == pytest.approx(0.4)
    assert got.table.rows() == [("accept", 20, 5), ("reject", 10, 15)]


def test_a_settled_round_whose_decision_was_lost_is_recorded_not_redone(lake: Lake) -> None:
    """The writer of an agreeing second decision stopped after the round's row and before the
    settled decision (the round is written first: until then nothing takes effect)."""
    key = key_of(lake, A)
    decide(lake, key, "accept", reviewer="li", decided_at=DAY, policy=DOUBLE)
    decide(lake, key, "accept", reviewer="wang", decided_at=DAY + timedelta(hours=1),
           policy=DOUBLE)  # fmt: skip
    lake.write_whole("linkage", "decisions", read_decisions(lake).head(0))  # the lost write
    assert effective(lake)[A] == (None, "review")  # fail safe: it waits
    with pytest.raises(DecisionConflict, match="recorded now"):
        decide(lake, key, "reject", reviewer="zhou", decided_at=DAY + timedelta(hours=2),
               policy=DOUBLE)  # fmt: skip
    assert read_decisions(lake)["reviewer"].to_list() == ["li & wang"]
    assert read_decisions(lake)["decided_at"].to_list() == [DAY + timedelta(hours=1)]
    assert effective(lake)[A] == ("X", "accept")
    assert read_rounds(lake)["reviewer"].to_list() == ["li", "wang"]  # zhou's not recorded
