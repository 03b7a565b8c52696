"""What the review workbench shows and records, without HTTP: the queue by consequence, one
item in full, who has it open, the decision and its audit line.

Everything reads the lake and the warehouse the command line reads (:mod:`credlink.settings`)
and decides through :func:`linkage.review.decide`, exactly as ``credlink review accept``: the
same validation, the same lock, the same refusals (the item changed, it was decided already).
What the workbench adds lives in the lake's review area, ``<lake>/review/``:

``open_by/<item digest>/<user>.json``  who has an item open (a marker each page view and a
                                      heartbeat of the page renew; older than
                                      :data:`OPEN_FOR` seconds it no longer counts);
``audit.jsonl``                        one JSON line per decision taken in the browser (and each
                                      "not sure"): who, when, the item key, the model version
                                      and the probabilities they were shown, their role; appended
                                      under a lock.

Example:
    >>> items = queue(lake, warehouse, source="courts")                   # doctest: +SKIP
    >>> items[0].held                                                     # doctest: +SKIP
    ['court_defaulters:no_flights']
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from credlink.settings import ACCEPT

if TYPE_CHECKING:
    import polars as pl

    from credlink.etl.lake import Lake

__all__ = [
    "OPEN_FOR",
    "Item",
    "Measure",
    "append_audit",
    "backlog",
    "item_view",
    "mark_open",
    "open_by",
    "queue",
    "read_audit",
]

#: Seconds an "open by" marker counts: a page renews it every OPEN_FOR / 4 s while it is open.
OPEN_FOR = 120.0
#: Probability bands a reviewer filters by: held at an accept-level probability (an identifier
#: conflict, identity evidence short of the policy) or in the review band proper.
BANDS = ("accept", "review")
#: Fields of the side-by-side view that say where a row comes from, not who it is: shown,
#: never marked as agreeing or disagreeing.
NOT_FACTS = frozenset({"source", "table", "record_id"})


@dataclass(frozen=True)
class Measure:
    """A measure a listing would impose once its link is confirmed."""

    memorandum_id: str
    measure_id: str
    text: str | None
    agency: str | None

    @property
    def name(self) -> str:
        return f"{self.memorandum_id}:{self.measure_id}"


@dataclass(frozen=True)
class Item:
    """One open review item as the queue lists it."""

    row: dict[str, Any]
    held: list[Measure] = field(default_factory=list)

    @property
    def key(self) -> str:
        return str(self.row["item_key"])

    @property
    def band(self) -> str:
        """``accept`` when held at an accept-level link probability, else ``review`` (or the
        queue's own ``band`` column, should it carry one)."""
        if self.row.get("band"):
            return str(self.row["band"])
        p = self.row.get("link_probability")
        return "accept" if p is not None and p >= ACCEPT else "review"


def _held_measures(warehouse: Path) -> dict[str, list[Measure]]:
    """Per listing record in ``publish.pending_links``: the measures it holds, with their text
    and enforcing agency (empty before the first publish run)."""
    if not warehouse.is_file():
        return {}
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute(
            """
            SELECT p.unique_id, p.held, x.text, x.enforcing_agency
            FROM (SELECT unique_id, unnest(held_measures) AS held FROM publish.pending_links) p
            LEFT JOIN publish.measures x ON x.memorandum_id || ':' || x.measure_id = p.held
            ORDER BY p.unique_id, p.held
            """
        ).fetchall()
    except duckdb.Error:
        try:
            rows = [
                (uid, held, None, None)
                for uid, measures in con.execute(
                    "SELECT unique_id, held_measures FROM publish.pending_links"
                ).fetchall()
                for held in measures
            ]
        except duckdb.Error:
            return {}
    finally:
        con.close()
    out: dict[str, list[Measure]] = {}
    for uid, held, text, agency in rows:
        memo, _, measure = str(held).partition(":")
        out.setdefault(uid, []).append(Measure(memo, measure, text, agency))
    return out


def queue(
    lake: Lake,
    warehouse: Path,
    *,
    source: str | None = None,
    subject_type: str | None = None,
    band: str | None = None,
    reviewer: str | None = None,
) -> list[Item]:
    """The open items (:func:`linkage.review.open_items`) with what each would impose, ordered
    by consequence: listings that would restrict first (most measures first), then by link
    probability (highest first) and record; filtered by source, subject type and band. Under
    blind double review, `reviewer`'s items only (:func:`linkage.review.open_items`)."""
    from credlink.linkage.review import open_items

    held = _held_measures(warehouse)
    rows = open_items(lake, reviewer).iter_rows(named=True)
    items = [Item(r, held.get(r["unique_id"], [])) for r in rows]
    items = [
        i
        for i in items
        if (not source or i.row["source"] == source)
        and (not subject_type or i.row["subject_type"] == subject_type)
        and (not band or i.band == band)
    ]
    return sorted(
        items,
        key=lambda i: (-len(i.held), -(i.row.get("link_probability") or 0.0), i.row["unique_id"]),
    )


def filter_values(items: Iterable[Item]) -> dict[str, list[str]]:
    """The values the queue's filters offer (those present)."""
    items = list(items)
    return {
        "source": sorted({str(i.row["source"]) for i in items}),
        "subject_type": sorted({str(i.row["subject_type"]) for i in items}),
        "band": [b for b in BANDS if any(i.band == b for i in items)],
    }


@dataclass(frozen=True)
class Fact:
    """One compared field: the record's value, the candidate's, the identifier holder's, and
    whether each agrees with the record's (None: nothing to compare)."""

    field: str
    record: Any
    candidate: Any
    holder: Any
    candidate_agrees: bool | None
    holder_agrees: bool | None


def _agrees(mine: Any, theirs: Any) -> bool | None:
    if mine is None or theirs is None or mine == "" or theirs == "":
        return None
    return bool(mine == theirs)


@dataclass(frozen=True)
class Step:
    """One bar of the waterfall: a comparison's partial match weight and the running total."""

    name: str
    weight: float | None
    before: float
    after: float


def waterfall_steps(item: Mapping[str, Any]) -> list[Step]:
    """Splink's waterfall of the item's pair from its stored weights: the prior (the match
    weight no comparison explains), then each comparison's partial match weight in model order,
    ending at the pair's match weight."""
    from credlink.linkage.review import comparison_weights

    weights = comparison_weights(dict(item))
    total = item.get("match_weight")
    known = sum(w for _, w in weights if w is not None)
    prior = (float(total) - known) if total is not None else 0.0
    steps = [Step("prior (no comparison)", prior, 0.0, prior)]
    running = prior
    for name, w in weights:
        after = running + (w or 0.0)
        steps.append(Step(name, w, running, after))
        running = after
    return steps


def item_view(lake: Lake, warehouse: Path, key: str, reviewer: str | None = None) -> dict[str, Any]:
    """Everything the item page shows for the open item named by `key` (an item key, as the
    queue links to it): the row, the facts side by side, the waterfall, the held measures.

    :class:`linkage.review.ReviewItemNotFound` when no open item has that key (decided by
    someone else since, or changed by a linkage run: its record then has another key).
    """
    from credlink.linkage.review import ReviewItemNotFound, find_item, side_by_side

    row = find_item(lake, key, reviewer)
    if row["item_key"] != key:  # a record id or a number names whatever is there now
        raise ReviewItemNotFound(f"{key[:200]!r} is not the key of an open item")
    facts = [
        Fact(f, mine, cand, holder, _agrees(mine, cand), _agrees(mine, holder))
        if f not in NOT_FACTS
        else Fact(f, mine, cand, holder, None, None)
        for f, mine, cand, holder in side_by_side(row)
    ]
    held = _held_measures(warehouse).get(row["unique_id"], [])
    return {
        "item": Item(row, held),
        "facts": facts,
        "steps": waterfall_steps(row),
    }


# --- who has an item open --------------------------------------------------------------------


def _review_area(lake: Lake) -> Path:
    return lake.root / "review"


def _digest(unique_id: str) -> str:
    return hashlib.sha256(unique_id.encode("utf-8")).hexdigest()[:16]


def _user_file(user: str) -> str:
    return hashlib.sha256(user.encode("utf-8")).hexdigest()[:16] + ".json"


def mark_open(lake: Lake, unique_id: str, user: str, *, now: float | None = None) -> None:
    """Record that `user` has the item of `unique_id` open (now); replaces their marker."""
    folder = _review_area(lake) / "open_by" / _digest(unique_id)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / _user_file(user)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"user": user, "unique_id": unique_id, "at": now or time.time()}))
    tmp.replace(path)


def close_open(lake: Lake, unique_id: str, user: str) -> None:
    """Remove `user`'s marker of the item (they decided it or left it)."""
    path = _review_area(lake) / "open_by" / _digest(unique_id) / _user_file(user)
    path.unlink(missing_ok=True)


def open_by(
    lake: Lake, unique_ids: Iterable[str], *, now: float | None = None
) -> dict[str, list[str]]:
    """Per record of `unique_ids`: who has its item open (markers younger than
    :data:`OPEN_FOR`), sorted; expired markers are removed."""
    now = now or time.time()
    out: dict[str, list[str]] = {}
    base = _review_area(lake) / "open_by"
    for uid in unique_ids:
        folder = base / _digest(uid)
        if not folder.is_dir():
            continue
        names = []
        for f in folder.glob("*.json"):
            try:
                mark = json.loads(f.read_text())
            except (OSError, ValueError):
                continue
            if now - float(mark.get("at", 0)) > OPEN_FOR:
                f.unlink(missing_ok=True)
            elif mark.get("unique_id") == uid:
                names.append(str(mark["user"]))
        if names:
            out[uid] = sorted(names)
    return out


# --- audit -----------------------------------------------------------------------------------


def append_audit(lake: Lake, entry: Mapping[str, Any]) -> None:
    """Append one audit line (JSON) to ``<lake>/review/audit.jsonl`` under its lock."""
    from credlink.etl.lake import locked

    area = _review_area(lake)
    area.mkdir(parents=True, exist_ok=True)
    line = json.dumps(dict(entry), ensure_ascii=False, sort_keys=True, default=str)
    with locked(area / ".audit.lock"), (area / "audit.jsonl").open("a", encoding="utf-8") as fh:
        fh.write(line + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def read_audit(lake: Lake) -> list[dict[str, Any]]:
    """Every audit line, oldest first (none before the first browser decision)."""
    path = _review_area(lake) / "audit.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def audit_entry(
    item: Mapping[str, Any], *, who: str, role: str | None, action: str, candidate: str | None,
    note: str | None, at: datetime, outcome: str,
) -> dict[str, Any]:  # fmt: skip
    """The audit line of a decision (or "not sure") on `item` as the reviewer was shown it."""
    return {
        "at": at.astimezone(UTC).isoformat(),
        "reviewer": who,
        "role": role,
        "action": action,
        "outcome": outcome,
        "unique_id": item["unique_id"],
        "item_key": item["item_key"],
        "candidate_code": candidate,
        "shown_candidate": item.get("candidate_code"),
        "shown_holder": item.get("conflict_code"),
        "model_version": item.get("model_version"),
        "link_probability": item.get("link_probability"),
        "match_probability": item.get("match_probability"),
        "match_weight": item.get("match_weight"),
        "reason": item.get("reason"),
        "note": note,
        "via": "webui",
    }


# --- the backlog over time --------------------------------------------------------------------


def backlog(lake: Lake) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The review backlog over time: (per linkage run still in the lake's history of
    ``linkage.record_links``: its logical date, run and the records left in the review band;
    per day: the decisions taken, accepted and rejected).

    The runs come from the record-links delta partitions (``etl.lake``): each holds the rows one
    run changed, so replaying them in order gives each run's review band; a compaction folds
    the older runs into its base, which then counts as one (its last run).
    """
    import polars as pl

    from credlink.linkage.decisions import read_decisions

    runs: list[dict[str, Any]] = []
    state: dict[str, bool] = {}
    for part in lake.delta_files("linkage", "record_links"):
        cols: list[str] = [
            c
            for c in ("unique_id", "band", "method", "_delta_deleted")
            if c in pl.read_parquet_schema(part.path)
        ]
        rows = pl.read_parquet(part.path, columns=cols)
        if "_delta_deleted" not in rows.columns:
            rows = rows.with_columns(pl.lit(False).alias("_delta_deleted"))
        in_review = (pl.col("band") == "review") & ~pl.col("_delta_deleted").fill_null(False)
        if "method" in rows.columns:
            in_review = in_review & (pl.col("method") == "probabilistic")
        for uid, flag in rows.select("unique_id", in_review.alias("r")).iter_rows():
            state[uid] = bool(flag)
        overlay = part.meta.get("overlay") or {}
        assert isinstance(overlay, dict)
        runs.append(
            {
                "run_id": overlay.get("run_id"),
                "logical_date": str(overlay.get("logical_date") or "")[:19],
                "in_review": sum(state.values()),
                "partition": part.seq,
            }
        )
    decisions = read_decisions(lake)
    days: list[dict[str, Any]] = []
    if decisions.height:
        per_day = (
            decisions.with_columns(day=pl.col("decided_at").dt.date())
            .group_by("day")
            .agg(
                decided=pl.len(),
                accepted=(pl.col("decision") == "accept").sum(),
                rejected=(pl.col("decision") == "reject").sum(),
                reviewers=pl.col("reviewer").n_unique(),
            )
            .sort("day")
        )
        days = per_day.to_dicts()
    return runs, days


def frame_rows(frame: pl.DataFrame, limit: int = 500) -> tuple[list[str], list[list[Any]]]:
    """A frame's columns and first `limit` rows, for a template table."""
    return frame.columns, [list(r) for r in frame.head(limit).iter_rows()]
