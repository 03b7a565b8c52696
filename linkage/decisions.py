"""The reviewer-decision store: ``linkage.decisions``, and how decisions override links.

Reviewer decisions live in ``linkage.decisions`` (:data:`linkage.tables.DECISION_COLUMNS`, one
row per decision, appended under a file lock by :func:`record_decision`). On every linkage run
(:func:`linkage.stage.run_linkage`) a decided record gets ``method='clerical'`` and the decided
outcome, whatever the model says (:func:`apply_decisions`): accepted onto the candidate a
reviewer accepted (latest decision per candidate, :func:`effective_decisions`), else rejected.
A candidate a reviewer rejected is never linked to that record, and a decided record leaves the
review queue.

Under **blind double review** (``mode: double`` in the review policy,
:mod:`linkage.review_policy`) a reviewer's decision is first a row of ``linkage.review_rounds``
(:func:`record_round`): a *round* of an item settles on two agreeing decisions (both reject,
or both accept the same candidate) of two different reviewers, or, when the two disagree, on
the decision of a senior reviewer who was not one of them. Only a settled round is appended to
``linkage.decisions``, so nothing takes effect on one decision alone: a restriction waits, it
never goes out on one reviewer's word. The reviewers of a round never see each other's
decisions (:func:`linkage.review.open_items` with ``reviewer=``; the refusals here say that an
item waits, never what the other decided). A round keeps the rule it was opened under
(``required``), so changing the policy neither undoes a settled round nor settles an open one.

Example:
    >>> record_decision(lake, "courts/SXBZXR/7", "110101198001010013", "reject",
    ...                 reviewer="li", decided_at=now, seen=key)          # doctest: +SKIP
    >>> apply_decisions(links, read_decisions(lake))                      # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import polars as pl

from credlink.etl.catalog import conform
from credlink.etl.lake import Lake
from credlink.linkage.review_keys import (
    DecisionConflict,
    ItemChanged,
    ItemKey,
    check_lock,
    locked_check_append,
)
from credlink.linkage.review_policy import ReviewPolicy, load_review_policy
from credlink.linkage.review_queue import read_review_queue
from credlink.linkage.tables import (
    DECISION_COLUMNS,
    DECISIONS,
    LAYER,
    REVIEW_ROUNDS,
    REVIEW_ROUNDS_COLUMNS,
)

__all__ = [
    "DECISION_KINDS",
    "RoundState",
    "apply_decisions",
    "effective_decisions",
    "read_decisions",
    "read_rounds",
    "record_decision",
    "record_round",
    "round_state",
    "round_states",
]

DECISION_KINDS = ("accept", "reject")


def read_decisions(lake: Lake) -> pl.DataFrame:
    """Every decision recorded in the lake, in :data:`~linkage.tables.DECISION_COLUMNS`
    (maybe empty)."""
    frame = lake.read(LAYER, DECISIONS)
    if frame.is_empty():
        return pl.DataFrame(schema=DECISION_COLUMNS)
    return conform(frame, DECISION_COLUMNS)


def _queue_check(
    lake: Lake, unique_id: str, candidate_code: str, seen: ItemKey | None
) -> tuple[str | None, str | None, pl.DataFrame]:
    """The checks of a decision against the review queue (see :func:`record_decision`):
    returns the model version and fingerprint the reviewer saw and the record's decisions in
    force; raises :class:`ItemChanged` / ValueError / :class:`DecisionConflict`."""
    queue = read_review_queue(lake)
    items = queue.filter(pl.col("unique_id") == unique_id).to_dicts() if queue.height else []
    earlier = read_decisions(lake).filter(pl.col("unique_id") == unique_id)
    version = fingerprint = None
    if seen is None:
        if items and earlier.is_empty():
            raise ItemChanged(
                f"{unique_id} is in the review queue (item {ItemKey.of(items[0])}): decide it "
                "by its item key, as `credlink review show` prints it"
            )
    else:
        if not items:
            raise ItemChanged(f"{unique_id} is no longer in the review queue")
        item = items[0]
        now = ItemKey.of(item)
        if now != seen:
            raise ItemChanged(
                f"item {seen} changed since it was shown: it is now {now} (candidate "
                f"{item['candidate_code']}, identifier holder {item.get('conflict_code')}, "
                f"model {item['model_version']}); look at it again (`credlink review show "
                f"{now}`)"
            )
        shown = {item["candidate_code"], item.get("conflict_code")} - {None}
        if candidate_code not in shown:
            raise ValueError(
                f"{candidate_code!r} is not a candidate of {unique_id} "
                f"(candidates: {sorted(shown)})"
            )
        version, fingerprint = item["model_version"], now.fingerprint
    if seen is not None and earlier.height:
        last = earlier.sort("decided_at").row(-1, named=True)
        raise DecisionConflict(
            f"{unique_id} was decided already: {last['decision']} {last['candidate_code']} "
            f"by {last['reviewer']} at {last['decided_at']:%Y-%m-%d %H:%M:%S} UTC; "
            "no second decision recorded"
        )
    return version, fingerprint, earlier


def _check_args(decision: str, decided_at: datetime) -> None:
    if decision not in DECISION_KINDS:
        raise ValueError(f"decision must be one of {DECISION_KINDS}, got {decision!r}")
    if decided_at.tzinfo is None:
        raise ValueError("decided_at must be timezone-aware")


def record_decision(
    lake: Lake,
    unique_id: str,
    candidate_code: str,
    decision: str,
    *,
    reviewer: str,
    decided_at: datetime,
    note: str | None = None,
    seen: ItemKey | None = None,
    policy: ReviewPolicy | None = None,
) -> pl.DataFrame:
    """Record one reviewer decision; returns the row recorded.

    `seen` is the key of the review item the reviewer was shown (:mod:`linkage.review_keys`).
    Under a lock, the decision is refused (:class:`~linkage.review_keys.ItemChanged`) unless
    that item is still the record's open item in ``linkage.review_queue`` (same candidate, same
    model version, same fields: same fingerprint) and `candidate_code` is one it showed, and
    refused (:class:`~linkage.review_keys.DecisionConflict`) when the record was decided
    already: two reviewers deciding at once get one decision and one conflict. Without `seen`
    the decision is a correction of a record outside the queue (e.g. rejecting an accepted
    link); a record in the queue is refused then: decide it by its key.

    `policy` (default: :func:`linkage.review_policy.load_review_policy`) says single or double
    review. Single: the decision is appended to ``linkage.decisions`` and that row returned.
    Double: it is a row of the item's round in ``linkage.review_rounds`` (:func:`record_round`,
    that row returned, with its ``role``); once the round settles, its outcome is appended to
    ``linkage.decisions``. A reviewer deciding an item twice in a round, a second decision
    while a round awaits its senior reviewer, or a senior settling a round they decided in, is
    refused with :class:`~linkage.review_keys.DecisionConflict`, whose message never reveals
    another reviewer's decision.

    Example: ``record_decision(lake, 'courts/SXBZXR/7', '110101198001010013', 'reject',
    reviewer='li', decided_at=datetime(2026, 1, 2, 9, tzinfo=UTC), seen=ItemKey.of(row))``.
    """
    _check_args(decision, decided_at)
    if seen is not None and seen.unique_id != unique_id:
        raise ValueError(f"item key {seen} is not of record {unique_id!r}")
    policy = policy or load_review_policy()
    if policy.mode == "double":
        return record_round(
            lake,
            "uncertain",
            unique_id,
            candidate_code,
            decision,
            reviewer=reviewer,
            decided_at=decided_at,
            note=note,
            policy=policy,
            check=lambda: _queue_check(lake, unique_id, candidate_code, seen)[:2],
            settle=True,
        )

    def checked_row() -> pl.DataFrame:
        version, fingerprint, _ = _queue_check(lake, unique_id, candidate_code, seen)
        return pl.DataFrame(
            [[unique_id, candidate_code, decision, reviewer, decided_at, note, version,
              fingerprint]],
            schema=DECISION_COLUMNS,
            orient="row",
        )  # fmt: skip

    return locked_check_append(lake, LAYER, DECISIONS, checked_row)


def read_rounds(lake: Lake) -> pl.DataFrame:
    """Every row of ``linkage.review_rounds``, in :data:`~linkage.tables.REVIEW_ROUNDS_COLUMNS`
    (maybe empty)."""
    frame = lake.read(LAYER, REVIEW_ROUNDS)
    if frame.is_empty():
        return pl.DataFrame(schema=REVIEW_ROUNDS_COLUMNS)
    return conform(frame, REVIEW_ROUNDS_COLUMNS)


Status = Literal["none", "open", "disagreement", "settled"]


@dataclass(frozen=True)
class RoundState:
    """Where the latest round of review of one item stands.

    ``none``: no decision yet; ``open``: fewer decisions than the round requires;
    ``disagreement``: the required decisions disagree, a senior reviewer must settle it;
    ``settled``: agreed (or settled by a senior): `outcome` is (decision, candidate code).
    """

    round: int
    required: int
    status: Status
    #: the reviewers (role reviewer) who decided in the round, in order
    reviewers: tuple[str, ...] = ()
    outcome: tuple[str, str] | None = None
    #: who settled it: the agreeing reviewers, or the senior
    settled_by: tuple[str, ...] = ()


def round_state(rows: Sequence[dict[str, Any]]) -> RoundState:
    """The state of the latest round among `rows` (``linkage.review_rounds`` rows of one item:
    one queue, sample and record).

    >>> r = dict(round=1, required=2, role="reviewer", candidate_code="X")
    >>> round_state([{**r, "reviewer": "li", "decision": "accept"}]).status
    'open'
    >>> round_state([{**r, "reviewer": "li", "decision": "accept"},
    ...              {**r, "reviewer": "wang", "decision": "accept"}]).outcome
    ('accept', 'X')
    """
    if not rows:
        return RoundState(0, 0, "none")
    last = max(int(r["round"]) for r in rows)
    mine = [r for r in rows if int(r["round"]) == last]
    required = int(mine[0]["required"])
    decided = [r for r in mine if r["role"] == "reviewer"]
    reviewers = tuple(r["reviewer"] for r in decided)
    seniors = [r for r in mine if r["role"] == "senior"]
    if seniors:
        s = seniors[-1]
        return RoundState(last, required, "settled", reviewers,
                          (s["decision"], s["candidate_code"]), (s["reviewer"],))  # fmt: skip
    if len(decided) < required:
        return RoundState(last, required, "open", reviewers)
    first = decided[:required]
    # two rejections agree (the record is unlinked either way); acceptances must name one code
    verdicts = {(r["decision"], r["candidate_code"] if r["decision"] == "accept" else None)
                for r in first}  # fmt: skip
    if len(verdicts) == 1:
        return RoundState(last, required, "settled", reviewers,
                          (first[0]["decision"], first[0]["candidate_code"]),
                          tuple(r["reviewer"] for r in first))  # fmt: skip
    return RoundState(last, required, "disagreement", reviewers)


_ITEM = ["queue", "sample_id", "unique_id"]


def round_states(rounds: pl.DataFrame) -> pl.DataFrame:
    """Per item (queue, sample, record) of `rounds`: its latest round's ``round``, ``status``,
    ``decision`` and ``candidate_code`` (when settled) and ``reviewers`` (who decided in it)."""
    schema: dict[str, pl.DataType] = {
        "queue": pl.String(), "sample_id": pl.String(), "unique_id": pl.String(),
        "round": pl.Int64(), "status": pl.String(), "decision": pl.String(),
        "candidate_code": pl.String(), "reviewers": pl.List(pl.String),
    }  # fmt: skip
    if rounds.is_empty():
        return pl.DataFrame(schema=schema)
    out = []
    ordered = rounds.with_row_index("_order").sort("round", "decided_at", "_order")
    for (queue, sample_id, unique_id), rows in ordered.group_by(_ITEM, maintain_order=True):
        state = round_state(rows.to_dicts())
        decision, code = state.outcome or (None, None)
        out.append((queue, sample_id, unique_id, state.round, state.status, decision, code,
                    list(state.reviewers)))  # fmt: skip
    return pl.DataFrame(out, schema=schema, orient="row").sort(_ITEM)


def record_round(
    lake: Lake,
    queue: Literal["uncertain", "sample"],
    unique_id: str,
    candidate_code: str,
    decision: str,
    *,
    reviewer: str,
    decided_at: datetime,
    note: str | None = None,
    policy: ReviewPolicy | None = None,
    sample_id: str | None = None,
    check: Callable[[], tuple[str | None, str | None]] | None = None,
    settle: bool = False,
    reopen: bool = True,
) -> pl.DataFrame:
    """Record a reviewer's decision in the item's round of review (``linkage.review_rounds``);
    returns its row.

    Under the lock of ``linkage.decisions`` (every writer of both tables takes it): `check`
    (if given) validates the item and returns the model version and fingerprint the reviewer
    saw; then the item's latest round decides what the decision is:

    - no round, or a settled one: the first decision of a new round, which requires
      the policy's 1 or 2 agreeing decisions (a settled item with `reopen` False is refused);
    - an open round: one more decision, unless `reviewer` decided in it already;
    - a disagreement: only a senior reviewer of the policy who did not decide in the round may
      decide, and that decision (role ``senior``) settles it.

    With `settle` (the uncertain queue), a round that this decision settles is appended to
    ``linkage.decisions``, which linkage applies on its next run: reviewer ``'li & wang'`` for
    an agreement, the senior's name for a disagreement settled. Refusals are
    :class:`~linkage.review_keys.DecisionConflict` naming the item, the reviewer and the rule,
    and never another reviewer's decision.
    """
    _check_args(decision, decided_at)
    policy = policy or load_review_policy()
    if queue == "sample" and sample_id is None:
        raise ValueError("a decision on the quality sample names its sample_id")
    where = f"{unique_id}" + (f" (sample {sample_id})" if sample_id else "")

    def rows() -> tuple[pl.DataFrame | None, pl.DataFrame]:
        version, fingerprint = check() if check is not None else (None, None)
        rounds = read_rounds(lake)
        mine = rounds.filter(
            (pl.col("queue") == queue)
            & (pl.col("unique_id") == unique_id)
            & (pl.col("sample_id").eq_missing(pl.lit(sample_id, pl.String)))
        ).sort("round", "decided_at")
        state = round_state(mine.to_dicts())
        role, number, required = "reviewer", state.round, state.required
        if state.status == "settled" and settle:
            last = mine.filter(pl.col("round") == state.round).to_dicts()
            at = last[-1]["decided_at"]
            applied = read_decisions(lake).filter(
                (pl.col("unique_id") == unique_id) & (pl.col("decided_at") == at)
            )
            if applied.is_empty():  # settled, but the run that settled it died before recording
                return None, _settled_row(unique_id, state, last)
        if state.status in ("none", "settled"):
            if state.status == "settled" and not reopen:
                raise DecisionConflict(f"{where}: its review has settled; no decision recorded")
            number, required = state.round + 1, policy.required
        elif reviewer in state.reviewers:
            raise DecisionConflict(
                f"{where}: {reviewer} decided it already in this round of review; it waits for "
                + ("another reviewer" if state.status == "open" else "a senior reviewer")
                + "; no second decision recorded"
            )
        elif state.status == "disagreement":
            if not policy.is_senior(reviewer):
                raise DecisionConflict(
                    f"{where}: awaits a senior reviewer (one of {list(policy.seniors)}); "
                    f"{reviewer} does not hold the senior role; no decision recorded"
                )
            role = "senior"
        row = pl.DataFrame(
            [[queue, sample_id, unique_id, number, required, candidate_code, decision,
              reviewer, role, decided_at, note, version, fingerprint]],
            schema=REVIEW_ROUNDS_COLUMNS,
            orient="row",
        )  # fmt: skip
        in_round = [*mine.filter(pl.col("round") == number).to_dicts(), *row.to_dicts()]
        after = round_state(in_round)
        settled = pl.DataFrame(schema=DECISION_COLUMNS)
        if settle and after.status == "settled":
            settled = _settled_row(unique_id, after, in_round)
        return row, settled

    with check_lock(lake, LAYER, DECISIONS):  # as locked_check_append's
        row, settled = rows()
        # the round first: a crash before the settled decision leaves it waiting, never applied
        if row is not None:
            lake.append_locked(LAYER, REVIEW_ROUNDS, row)
        if settled.height:
            lake.append_locked(LAYER, DECISIONS, settled)
    if row is None:
        raise DecisionConflict(
            f"{where}: its review had settled before, but its decision had not been recorded "
            "(the writer stopped in between); it is recorded now; no new decision recorded"
        )
    return row


def _settled_row(
    unique_id: str, state: RoundState, in_round: Sequence[dict[str, Any]]
) -> pl.DataFrame:
    """The ``linkage.decisions`` row of a settled round (`in_round`: its rows, the settling
    one last): reviewer ``'li & wang'`` for an agreement, the senior's name otherwise."""
    assert state.outcome is not None
    last = in_round[-1]
    how = (
        f"senior review: {last['reviewer']} settled a disagreement"
        if last["role"] == "senior"
        else f"double review: {' & '.join(state.settled_by)} agreed"
    )
    notes = [r["note"] for r in in_round if r["note"]]
    return pl.DataFrame(
        [[unique_id, state.outcome[1], state.outcome[0], " & ".join(state.settled_by),
          last["decided_at"], "; ".join([how, *notes]), last["model_version"],
          last["item_fingerprint"]]],
        schema=DECISION_COLUMNS,
        orient="row",
    )  # fmt: skip


def effective_decisions(decisions: pl.DataFrame) -> pl.DataFrame:
    """Per decided record: ``unique_id``, ``decision``, ``candidate_code``.

    The latest decision on each (record, candidate) counts. A record with an accepted candidate
    is accepted onto it (the latest accepted, if several), else it is rejected.
    """
    latest = (
        decisions.with_row_index("_order")
        .sort("decided_at", "_order")
        .unique(["unique_id", "candidate_code"], keep="last", maintain_order=True)
    )
    accepted = latest.filter(pl.col("decision") == "accept")
    rejected = latest.join(accepted.select("unique_id"), on="unique_id", how="anti")
    return (
        pl.concat([accepted, rejected])
        .sort("decided_at", "_order")
        .unique("unique_id", keep="last", maintain_order=True)
        .select("unique_id", "decision", "candidate_code")
    )


def apply_decisions(links: pl.DataFrame, decisions: pl.DataFrame) -> pl.DataFrame:
    """`links` (``record_links`` rows) with every decided record's outcome set by its decision:
    ``method='clerical'``; accepted -> band accept on the decided code; rejected -> band reject,
    no credit code."""
    eff = effective_decisions(decisions).rename(
        {"decision": "_decision", "candidate_code": "_decided_code"}
    )
    joined = links.join(eff, on="unique_id", how="left", maintain_order="left")
    decided = pl.col("_decision").is_not_null()
    accepted = pl.col("_decision") == "accept"
    return joined.with_columns(
        pl.when(decided)
        .then(pl.when(accepted).then("_decided_code"))
        .otherwise("credit_code")
        .alias("credit_code"),
        pl.when(decided).then("_decided_code").otherwise("candidate_code").alias("candidate_code"),
        pl.when(decided)
        .then(pl.when(accepted).then(pl.lit("accept")).otherwise(pl.lit("reject")))
        .otherwise("band")
        .alias("band"),
        pl.when(decided).then(pl.lit("clerical")).otherwise("method").alias("method"),
        pl.when(decided).then(pl.lit(None)).otherwise("matched_on").alias("matched_on"),
        # the evidence was of the candidate: it no longer describes another decided code
        *[
            pl.when(decided & (pl.col("_decided_code") != pl.col("candidate_code")).fill_null(True))
            .then(pl.lit(None))
            .otherwise(c)
            .alias(c)
            for c in ("name_agreement", "evidence")
            if c in links.columns
        ],
        pl.when(decided)
        .then(pl.format("reviewer decision: {}", "_decision"))
        .otherwise("reason")
        .alias("reason"),
    ).drop("_decision", "_decided_code")
