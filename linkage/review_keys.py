"""Stable names of review items, and the locked check-then-append that records a decision.

A list position ('1') names whatever happens to be first when the list is read again: another
item once a colleague has decided the first, or once a linkage run has rebuilt the queue. A
decision therefore names the item by its **key**, ``<unique_id>@<fingerprint>``: the record and
12 hex digits of SHA-256 over what the reviewer was shown (the candidate and an identifier
conflict's holder, the model version, the reason and evidence, and the fields of the record, the
candidate and the holder). The key stays the same across linkage runs while the item does not
change, and changes with any of it.

:func:`locked_check_append` is the primitive :func:`linkage.decisions.record_decision` uses:
under an exclusive file lock of its own it reads the table, lets a check refuse, and appends, so
two reviewers deciding one item at once get one decision and one clear conflict.

Example:
    >>> key = ItemKey.of(queue_row)                                         # doctest: +SKIP
    >>> str(key)                                                            # doctest: +SKIP
    'courts/SXBZXR/7@3f2a9c1e07bd'
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import polars as pl

from credlink.etl.lake import Lake

__all__ = [
    "DecisionConflict",
    "ItemChanged",
    "ItemKey",
    "check_lock",
    "item_fingerprint",
    "locked_check_append",
]

_FIELDS = ("candidate_code", "conflict_code", "model_version", "reason", "name_agreement")
_JSON_FIELDS = ("record", "candidate", "conflict_candidate")
_KEY = re.compile(r"(?P<uid>.+)@(?P<fp>[0-9a-f]{12})")


class ItemChanged(ValueError):
    """The item a reviewer saw is no longer the open item of its record (decision refused)."""


class DecisionConflict(ValueError):
    """The item was decided already (by someone else, or by the same command run again)."""


def _canonical_json(text: object) -> object:
    if not isinstance(text, str) or not text:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def item_fingerprint(row: Mapping[str, Any]) -> str:
    """12 hex digits of SHA-256 over what a review item shows (a ``linkage.review_queue`` row):
    the same item gives the same fingerprint on every run; any change gives another."""
    payload = {
        "unique_id": row.get("unique_id"),
        **{f: row.get(f) for f in _FIELDS},
        "evidence": list(row.get("evidence") or []),
        **{f: _canonical_json(row.get(f)) for f in _JSON_FIELDS},
    }
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True)
class ItemKey:
    """What a reviewer decides on: a record and the fingerprint of the item they were shown."""

    unique_id: str
    fingerprint: str

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> ItemKey:
        """The key of a ``linkage.review_queue`` row."""
        return cls(str(row["unique_id"]), item_fingerprint(row))

    @classmethod
    def parse(cls, text: str) -> ItemKey:
        """``'<unique_id>@<12 hex digits>'`` -> key; ValueError for anything else."""
        hit = _KEY.fullmatch(text.strip())
        if hit is None:
            raise ValueError(
                f"{text[:80]!r} is not an item key (<record>@<12 hex digits>, as "
                "`credlink review list` and `credlink review show` print it)"
            )
        return cls(hit["uid"], hit["fp"])

    def __str__(self) -> str:
        return f"{self.unique_id}@{self.fingerprint}"


def check_lock(lake: Lake, layer: str, dataset: str) -> AbstractContextManager[object]:
    """The exclusive lock of the writers that check `layer`/`dataset` before they append to it:
    a ``.check.lock`` file beside it (a lock object on an object-store lake)."""
    lock = lake.location / layer / dataset / ".check.lock"
    return lake.lock(lock, f"check-then-append {layer}.{dataset}")


def locked_check_append(
    lake: Lake,
    layer: str,
    dataset: str,
    make_rows: Callable[[], pl.DataFrame],
) -> pl.DataFrame:
    """Under an exclusive lock of `layer`/`dataset` (a ``.check.lock`` file beside it), call
    `make_rows`, which reads what it needs (the table itself included) and returns the rows to
    append or raises to refuse; append them with :meth:`etl.lake.Lake.append_locked`. Every
    writer of the table that checks first must go through here. Returns the appended rows."""
    with check_lock(lake, layer, dataset):
        rows = make_rows()
        lake.append_locked(layer, dataset, rows)
    return rows
