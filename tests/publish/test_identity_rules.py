"""Memoranda that demand more identity evidence for a grave measure (pure: hand-made rows).

The tax memorandum's exit restriction binds a person only on a full citizen ID whose holder
bears the name, or on a reviewer's decision (``schemas/linkage/identity_evidence.yaml``); its
other measures bind on any accepted link. What waits shows in ``publish.pending_links``.
"""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from handmade import (
    LEGAL_REPS,
    ORG,
    PERSON,
    REGISTRY,
    REP,
    court,
    in_force,
    link,
    links,
    publish,
    staged,
    tax_case,
)

from credlink.etl.conform.apply import conform_frames
from credlink.linkage.evidence import EvidencePolicy, MemorandumRule, Rule, load_policy
from credlink.publish.history import HISTORY_COLUMNS
from credlink.publish.listings import build_listings
from credlink.publish.memoranda import Memorandum, MemorandumError
from credlink.publish.rules import check_policy
from credlink.publish.stage import publish_tables


def _reps(method: str, evidence: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "credit_code": [ORG],
            "legal_rep_code": [REP],
            "rep_link_method": [method],
            "rep_name_agreement": ["exact"],
            "rep_evidence": [evidence],
        }
    )


TABLES = {"tax__zdsswfaj": staged("tax", "zdsswfaj", [tax_case(1)])}
DAY = date(2024, 6, 1)


@pytest.mark.parametrize(
    ("method", "evidence", "stopped_at_the_border"),
    [
        ("deterministic", ["citizen_id"], True),  # a valid ID whose holder bears the name
        ("probabilistic", ["masked_id"], False),  # a masked ID: not enough for exit control
        ("probabilistic", ["citizen_id_typo"], False),  # a mistyped ID: not enough either
        ("clerical", [], True),  # a reviewer confirmed the representative
    ],
)
def test_exit_control_needs_a_full_id_or_a_reviewer(
    memoranda: list[Memorandum], method: str, evidence: list[str], stopped_at_the_border: bool
) -> None:
    run = publish(TABLES, links(link("tax/zdsswfaj/1", ORG)), memoranda, DAY,
                  legal_reps=_reps(method, evidence))  # fmt: skip
    rep = in_force(run, "major_tax_violators_2014").filter(pl.col("credit_code") == REP)
    assert ("exit_restriction" in rep["measure_id"].to_list()) is stopped_at_the_border
    # the representative's other measure binds on any accepted link
    assert "no_senior_management" in rep["measure_id"].to_list()
    pending = run.tables["publish.pending_links"]
    if stopped_at_the_border:
        assert pending.is_empty()
    else:
        assert pending["unique_id"].to_list() == ["tax/zdsswfaj/1"]
        assert pending["held_measures"].to_list() == [["major_tax_violators_2014:exit_restriction"]]
        assert "legal representative's link lacks the evidence" in pending["reason"].item()


def test_a_listed_person_is_held_to_the_rule_of_their_own_link(
    memoranda: list[Memorandum],
) -> None:
    """The policy rule applies to the listed subject's link as well (here: a stricter copy of
    the policy for the court memorandum's flight ban)."""
    strict = with_rules(
        load_policy(),
        MemorandumRule(
            memorandum="court_defaulters_2016",
            measures=("no_flights",),
            why="test",
            person=Rule(any_of=("citizen_id", "reviewer")),
        ),
    )
    tables = {"courts__SXBZXR": staged("courts", "SXBZXR", [court(1)])}
    masked_link = links(link("courts/SXBZXR/1", PERSON, method="probabilistic",
                             evidence=["masked_id"]))  # fmt: skip
    run = publish_tables(
        build_listings(conform_frames(tables), DAY),
        masked_link,
        memoranda,
        legal_reps=LEGAL_REPS,
        registry=REGISTRY,
        history=pl.DataFrame(schema=HISTORY_COLUMNS),
        run_id="r1",
        as_of=DAY,
        policy=strict,
    )
    court_rows = in_force(run, "court_defaulters_2016")
    assert "no_flights" not in court_rows["measure_id"].to_list()
    assert "no_star_hotels" in court_rows["measure_id"].to_list()
    held = run.tables["publish.pending_links"]
    assert held["held_measures"].to_list() == [["court_defaulters_2016:no_flights"]]


def with_rules(policy: EvidencePolicy, *rules: MemorandumRule) -> EvidencePolicy:
    """`policy` with these memorandum rules instead of its own."""
    return policy.model_copy(update={"memoranda": rules})


def test_the_policy_names_only_memoranda_and_measures_that_exist(
    memoranda: list[Memorandum],
) -> None:
    policy = load_policy()
    check_policy(policy, memoranda)  # the shipped policy is consistent
    rule = Rule(any_of=("citizen_id",))
    for bad, match in (
        (MemorandumRule(memorandum="no_such_memo", why="x", person=rule), "unknown memorandum"),
        (
            MemorandumRule(memorandum="major_tax_violators_2014", measures=("no_such",),
                           why="x", person=rule),
            "has no measure",
        ),
    ):  # fmt: skip
        with pytest.raises(MemorandumError, match=match):
            check_policy(with_rules(policy, bad), memoranda)
