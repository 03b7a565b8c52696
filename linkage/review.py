"""The clerical review of the review band: what `credlink review` lists, shows and decides.

A review item is a row of ``linkage.review_queue`` (:mod:`linkage.review_queue`) not yet
decided. To look at one, name it by its **item key** (``courts/SXBZXR/7@3f2a9c1e07bd``, see
:mod:`linkage.review_keys`), its record's ``unique_id`` ('courts/SXBZXR/7') or its 1-based
position in :func:`open_items` ('3'). A **decision** names the item by its key only: the key
says what the reviewer was shown, and :func:`linkage.decisions.record_decision` refuses it when
the item has changed since or was decided already; a list number or a record id may point to
another item by the time one decides. A decision is appended to ``linkage.decisions`` and takes
effect on the next linkage run (:func:`linkage.stage.run_linkage`), and on every run after.

Under blind double review (:mod:`linkage.review_policy`, :func:`linkage.decisions.record_round`)
:func:`open_items` for a `reviewer` leaves out the items they decided in an open round and the
disagreements (for a senior reviewer who did not decide in them, only those); no function here
shows one reviewer another's decision, except :func:`disagreement` to a senior reviewer, who
must see both to settle them. :func:`agreement` reports how often the reviewers agreed
(counts, percent agreement and Cohen's kappa). A key of the quality sample's items
(:mod:`linkage.estimated_quality`) is decided by :func:`decide` too.

Example:
    >>> item = find_item(lake, "1")                                        # doctest: +SKIP
    >>> item["item_key"]                                                   # doctest: +SKIP
    'courts/SXBZXR/7@3f2a9c1e07bd'
    >>> decide(lake, item["item_key"], "accept", reviewer="li", decided_at=now)  # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from credlink.etl.catalog import conform
from credlink.etl.lake import Lake
from credlink.linkage.decisions import (
    read_decisions,
    read_rounds,
    record_decision,
    round_state,
    round_states,
)
from credlink.linkage.explain import waterfall_html
from credlink.linkage.model import MODELS_DIR, ModelError, load_model
from credlink.linkage.review_keys import DecisionConflict, ItemChanged, ItemKey
from credlink.linkage.review_policy import ReviewPolicy, load_review_policy
from credlink.linkage.review_queue import read_review_queue
from credlink.linkage.spine import (
    ORGANISATION_COLUMNS,
    PERSON_COLUMNS,
    read_organisation_spine,
    read_person_spine,
)

__all__ = [
    "Agreement",
    "DecisionConflict",
    "ItemChanged",
    "ItemKey",
    "NotAKey",
    "NotASenior",
    "ReviewItemNotFound",
    "agreement",
    "cohen_kappa",
    "comparison_weights",
    "consequences",
    "decide",
    "disagreement",
    "find_item",
    "open_items",
    "side_by_side",
    "waterfall",
]

COLUMNS = {"person": PERSON_COLUMNS, "organisation": ORGANISATION_COLUMNS}


class ReviewItemNotFound(KeyError):
    """No open review item of that name."""


class NotAKey(ValueError):
    """A decision named its item by something other than an item key."""


class NotASenior(PermissionError):
    """Only a senior reviewer of the review policy sees the decisions of a disagreement."""


def _waiting(lake: Lake, reviewer: str | None, policy: ReviewPolicy) -> pl.DataFrame:
    """``unique_id`` of the uncertain items `reviewer` may not decide now: those they decided in
    an open round, and the disagreements (unless a senior reviewer who did not decide them)."""
    states = round_states(read_rounds(lake).filter(pl.col("queue") == "uncertain"))
    if states.is_empty():
        return states.select("unique_id")
    mine = pl.col("reviewers").list.contains(pl.lit(reviewer or "", pl.String))
    senior = reviewer is not None and policy.is_senior(reviewer)
    disagreement = pl.col("status") == "disagreement"
    hidden = ((pl.col("status") == "open") & mine) | (disagreement & (mine | (not senior)))
    return states.filter(hidden).select("unique_id")


def open_items(
    lake: Lake, reviewer: str | None = None, *, policy: ReviewPolicy | None = None
) -> pl.DataFrame:
    """The review queue without the records decided since the last linkage run, each with its
    ``item_key`` (:class:`~linkage.review_keys.ItemKey`).

    Under blind double review, without the items `reviewer` decided in their open round and
    without the disagreements, which a senior reviewer (one who did not decide in them) alone
    sees. The rows say nothing of any decision: a second reviewer cannot tell what the first
    decided, nor whether anyone did.
    """
    queue = read_review_queue(lake)
    if queue.is_empty():
        return queue.with_columns(item_key=pl.lit(None, pl.String))
    items = queue.join(read_decisions(lake).select("unique_id"), on="unique_id", how="anti")
    items = items.join(
        _waiting(lake, reviewer, policy or load_review_policy()), on="unique_id", how="anti"
    ).sort("unique_id")
    keys = [str(ItemKey.of(row)) for row in items.iter_rows(named=True)]
    return items.with_columns(item_key=pl.Series(keys, dtype=pl.String))


def find_item(
    lake: Lake, name: str, reviewer: str | None = None, *, policy: ReviewPolicy | None = None
) -> dict[str, Any]:
    """The open item `name`: an item key, a record's unique id, or a 1-based position in
    :func:`open_items` (to look at; decisions take a key, see :func:`decide`); of `reviewer`'s
    items under double review."""
    items = open_items(lake, reviewer, policy=policy)
    if name.isdigit():
        pos = int(name)
        if not 1 <= pos <= items.height:
            raise ReviewItemNotFound(f"no item {pos}: {items.height} open item(s)")
        return items.row(pos - 1, named=True)
    hit = items.filter((pl.col("unique_id") == name) | (pl.col("item_key") == name))
    if hit.is_empty():
        raise ReviewItemNotFound(f"{name[:200]!r} is not an open review item")
    return hit.row(0, named=True)


def side_by_side(item: dict[str, Any]) -> list[tuple[str, Any, Any, Any]]:
    """(field, record's value, candidate's value, identifier holder's value) for every compared
    field of the item; the holder's is None unless the item is an identifier conflict (a valid
    identifier whose registry holder bears another name), whose holder is shown beside the
    best match on the other fields."""
    record, candidate = json.loads(item["record"]), json.loads(item["candidate"] or "{}")
    holder = json.loads(item.get("conflict_candidate") or "{}")
    fields = [c for c in COLUMNS[item["subject_type"]] if c != "unique_id"]
    return [(f, record.get(f), candidate.get(f), holder.get(f)) for f in fields]


def consequences(warehouse: Path, unique_id: str) -> list[str]:
    """What the item's listing would impose once its link is confirmed: the held measures
    (``memorandum:measure``) of the last published warehouse's ``publish.pending_links``
    (empty when nothing is published or the record is no listing in force)."""
    if not warehouse.is_file():
        return []
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute(
            "SELECT held_measures FROM publish.pending_links WHERE unique_id = ?", [unique_id]
        ).fetchall()
    except duckdb.Error:
        return []
    finally:
        con.close()
    return sorted({m for (held,) in rows for m in held})


def comparison_weights(item: dict[str, Any]) -> list[tuple[str, float | None]]:
    """(comparison, partial match weight) of the item's pair, in model order."""
    return list(json.loads(item["comparison_weights"] or "{}").items())


def waterfall(
    lake: Lake, item: dict[str, Any], out_dir: Path, models_dir: Path | None = None
) -> Path:
    """The item's waterfall chart (see :mod:`linkage.explain`) in `out_dir`; returns its path.

    The model is the one that scored the item (its ``model_version`` in `models_dir`).
    """
    subject = item["subject_type"]
    model = (models_dir or MODELS_DIR) / f"{item['model_version']}.json"
    if not model.is_file():
        raise ModelError(f"model {item['model_version']} is not in {models_dir or MODELS_DIR}")
    loaded = load_model(model)  # checked like every model file: its SQL stays data
    if loaded.version != item["model_version"]:
        raise ModelError(f"{model} holds model {loaded.version}, not {item['model_version']}")
    raw = pl.DataFrame([{**json.loads(item["record"]), "unique_id": item["unique_id"]}])
    # JSON keeps dates as text: read them back as dates
    raw = raw.with_columns(
        pl.col(c).str.to_date()
        for c, t in COLUMNS[subject].items()
        if t == pl.Date() and raw.schema.get(c) == pl.String()
    )
    record = conform(raw, COLUMNS[subject])
    spine = read_person_spine(lake) if subject == "person" else read_organisation_spine(lake)
    name = item["unique_id"].replace("/", "-")
    return waterfall_html(record, spine, item["candidate_code"], loaded, out_dir / f"{name}.html")


def decide(
    lake: Lake,
    key: ItemKey | str,
    decision: str,
    *,
    reviewer: str,
    decided_at: datetime,
    note: str | None = None,
    candidate_code: str | None = None,
    policy: ReviewPolicy | None = None,
) -> pl.DataFrame:
    """Record a decision on the item named by `key` (as :func:`open_items` gives it): on its
    candidate, or, for an identifier conflict, on the identifier's holder (`candidate_code` =
    the item's ``conflict_code``); returns the decision row (under double review the round's
    row, :func:`linkage.decisions.record_decision`). A key of the quality sample's current draw
    records a verdict on that link (:func:`linkage.estimated_quality.decide_sample`).

    Refused with :class:`NotAKey` for a list number or a bare record id, with
    :class:`~linkage.review_keys.ItemChanged` when the item changed since it was shown (another
    candidate, another model version, other fields) and with
    :class:`~linkage.review_keys.DecisionConflict` when it was decided already.
    """
    if isinstance(key, str):
        try:
            key = ItemKey.parse(key)
        except ValueError as exc:
            raise NotAKey(
                f"{exc}. A decision names the item by its key, never by a list number or a "
                "record id (they may point to another item by now)"
            ) from exc
    from credlink.linkage.estimated_quality import decide_sample, find_sample_item

    if find_sample_item(lake, str(key)) is not None:
        return decide_sample(lake, key, decision, reviewer=reviewer, decided_at=decided_at,
                             note=note, policy=policy)  # fmt: skip
    code = candidate_code
    if code is None:
        queue = read_review_queue(lake)
        hit = queue.filter(pl.col("unique_id") == key.unique_id) if queue.height else queue
        code = hit["candidate_code"][0] if hit.height else None
        if code is None:
            raise ItemChanged(f"{key.unique_id} is no longer in the review queue")
    return record_decision(
        lake,
        key.unique_id,
        code,
        decision,
        reviewer=reviewer,
        decided_at=decided_at,
        note=note,
        seen=key,
        policy=policy,
    )


def disagreement(
    lake: Lake, unique_id: str, reviewer: str, *, policy: ReviewPolicy | None = None
) -> pl.DataFrame:
    """The decisions of the open disagreement on the uncertain item `unique_id`, for the
    senior reviewer `reviewer` who is to settle it (reviewer, decision, candidate_code, note,
    decided_at); :class:`NotASenior` for anyone else, so that the blind stays blind.
    """
    policy = policy or load_review_policy()
    rows = read_rounds(lake).filter(
        (pl.col("queue") == "uncertain") & (pl.col("unique_id") == unique_id)
    )
    state = round_state(rows.to_dicts())
    if not policy.is_senior(reviewer) or reviewer in state.reviewers:
        raise NotASenior(
            f"{reviewer} may not see the decisions on {unique_id}: only a senior reviewer "
            f"({list(policy.seniors)}) who did not decide it sees a disagreement"
        )
    if state.status != "disagreement":
        return pl.DataFrame(schema={c: rows.schema[c] for c in _SHOWN})
    return rows.filter(pl.col("round") == state.round).sort("decided_at").select(_SHOWN)


_SHOWN = ["reviewer", "decision", "candidate_code", "note", "decided_at"]


@dataclass(frozen=True)
class Agreement:
    """How often two reviewers of an item agreed (the first two decisions of each round that
    has two): see :func:`agreement`."""

    #: rounds with two reviewers' decisions
    pairs: int
    #: of them, the same decision on the same candidate
    agreed: int
    #: both accepted, but different candidates (an identifier conflict's holder and the
    #: candidate): a disagreement for the settlement, an agreement on 'accept' for kappa
    different_candidates: int
    #: agreed / pairs (None without pairs)
    percent_agreement: float | None
    #: Cohen's kappa of the first reviewer's decision against the second's (None when
    #: undefined: no pairs, or every decision the same)
    kappa: float | None
    #: counts: first reviewer's decision (row) x second's (column), ``accept`` / ``reject``
    table: pl.DataFrame


def cohen_kappa(table: Sequence[Sequence[int]]) -> float | None:
    """Cohen's kappa of a square table of counts (rater A's category by row, rater B's by
    column): (observed agreement - chance agreement) / (1 - chance agreement), chance from the
    two raters' margins; None when chance agreement is 1 (both raters used one category).

    >>> round(cohen_kappa([[20, 5], [10, 15]]), 4)
    0.4
    """
    n = sum(sum(row) for row in table)
    k = len(table)
    if n == 0 or any(len(row) != k for row in table):
        if n and any(len(row) != k for row in table):
            raise ValueError(f"a kappa table is square: got rows of {[len(r) for r in table]}")
        return None
    observed = sum(table[i][i] for i in range(k)) / n
    rows = [sum(table[i]) / n for i in range(k)]
    cols = [sum(table[i][j] for i in range(k)) / n for j in range(k)]
    chance = sum(r * c for r, c in zip(rows, cols, strict=True))
    if chance >= 1.0:
        return None
    return (observed - chance) / (1.0 - chance)


def agreement(
    rounds: pl.DataFrame, queue: str | None = None, sample_id: str | None = None
) -> Agreement:
    """Agreement between the reviewers of `rounds` (``linkage.review_rounds``; of one `queue`
    and sample when given): over every round with two reviewers' decisions, the first two as
    rater A and rater B. Counts, percent agreement (same decision, same candidate) and Cohen's
    kappa over the decisions (accept / reject).

    Example: ``agreement(read_rounds(lake), "uncertain").kappa``.
    """
    if queue is not None:
        rounds = rounds.filter(pl.col("queue") == queue)
    if sample_id is not None:
        rounds = rounds.filter(pl.col("sample_id") == sample_id)
    pairs = (
        rounds.filter(pl.col("role") == "reviewer")
        .with_row_index("_order")
        .sort("decided_at", "_order")
        .group_by("queue", "sample_id", "unique_id", "round", maintain_order=True)
        .agg(pl.col("decision").head(2), pl.col("candidate_code").head(2))
        .filter(pl.col("decision").list.len() == 2)
    )
    kinds = ["accept", "reject"]
    counts = [[0, 0], [0, 0]]
    agreed = different = 0
    for decisions, codes in pairs.select("decision", "candidate_code").iter_rows():
        counts[kinds.index(decisions[0])][kinds.index(decisions[1])] += 1
        same = decisions[0] == decisions[1]
        if same and (decisions[0] == "reject" or codes[0] == codes[1]):
            agreed += 1
        elif same:
            different += 1
    table = pl.DataFrame(
        {"first": kinds, "second_accept": [r[0] for r in counts],
         "second_reject": [r[1] for r in counts]}
    )  # fmt: skip
    n = pairs.height
    return Agreement(n, agreed, different, agreed / n if n else None, cohen_kappa(counts), table)
