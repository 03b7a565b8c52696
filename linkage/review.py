"""The clerical review of the review band: what `credlink review` lists, shows and decides.

A review item is a row of ``linkage.review_queue`` (:mod:`linkage.review_queue`) not yet
decided. To look at one, name it by its **item key** (``courts/SXBZXR/7@3f2a9c1e07bd``, see
:mod:`linkage.review_keys`), its record's ``unique_id`` ('courts/SXBZXR/7') or its 1-based
position in :func:`open_items` ('3'). A **decision** names the item by its key only: the key
says what the reviewer was shown, and :func:`linkage.decisions.record_decision` refuses it when
the item has changed since or was decided already; a list number or a record id may point to
another item by the time one decides. A decision is appended to ``linkage.decisions`` and takes
effect on the next linkage run (:func:`linkage.stage.run_linkage`), and on every run after.

Example:
    >>> item = find_item(lake, "1")                                        # doctest: +SKIP
    >>> item["item_key"]                                                   # doctest: +SKIP
    'courts/SXBZXR/7@3f2a9c1e07bd'
    >>> decide(lake, item["item_key"], "accept", reviewer="li", decided_at=now)  # doctest: +SKIP
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from credlink.etl.catalog import conform
from credlink.etl.lake import Lake
from credlink.linkage.decisions import read_decisions, record_decision
from credlink.linkage.explain import waterfall_html
from credlink.linkage.model import MODELS_DIR, ModelError, load_model
from credlink.linkage.review_keys import DecisionConflict, ItemChanged, ItemKey
from credlink.linkage.review_queue import read_review_queue
from credlink.linkage.spine import (
    ORGANISATION_COLUMNS,
    PERSON_COLUMNS,
    read_organisation_spine,
    read_person_spine,
)

__all__ = [
    "DecisionConflict",
    "ItemChanged",
    "ItemKey",
    "NotAKey",
    "ReviewItemNotFound",
    "comparison_weights",
    "consequences",
    "decide",
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


def open_items(lake: Lake) -> pl.DataFrame:
    """The review queue without the records decided since the last linkage run, each with its
    ``item_key`` (:class:`~linkage.review_keys.ItemKey`)."""
    queue = read_review_queue(lake)
    if queue.is_empty():
        return queue.with_columns(item_key=pl.lit(None, pl.String))
    items = queue.join(read_decisions(lake).select("unique_id"), on="unique_id", how="anti").sort(
        "unique_id"
    )
    keys = [str(ItemKey.of(row)) for row in items.iter_rows(named=True)]
    return items.with_columns(item_key=pl.Series(keys, dtype=pl.String))


def find_item(lake: Lake, name: str) -> dict[str, Any]:
    """The open item `name`: an item key, a record's unique id, or a 1-based position in
    :func:`open_items` (to look at; decisions take a key, see :func:`decide`)."""
    items = open_items(lake)
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
) -> pl.DataFrame:
    """Record a decision on the item named by `key` (as :func:`open_items` gives it): on its
    candidate, or, for an identifier conflict, on the identifier's holder (`candidate_code` =
    the item's ``conflict_code``); returns the decision row.

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
    )
