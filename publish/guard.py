"""The mass-lift guard: a publishing run that would lift too many restrictions at once is held.

A restriction ends only through a valid record that says so; a source that was emptied,
quarantined or re-stamped can look like hundreds of removals at once. So a run that would
**lift** more than `max_share` of the restrictions in force (and at least `min_in_force` are in
force) publishes nothing and fails with :class:`MassLiftHeld`, naming the share, the count and
how to approve. A lift here is an end that the previous state did not already schedule: a
restriction in force whose recorded end (``valid_to``) was open or later than the run's day
(removed, repaired, withdrawn, unlinked, term shortened). An expiry on the recorded day is
not a lift.

Limits: arguments of :func:`publish.stage.run_publish`, else the environment
(``CREDLINK_MASS_LIFT_SHARE``, default 0.2; ``CREDLINK_MASS_LIFT_MIN``, default 50).

Approving a held run: ``run_publish(..., approve_mass_lift=True)``, or record an approval for
the run id (:func:`approve_mass_lift`), then run it again (in Airflow: clear the failed task;
the retry has the same run id). The approval covers at most as many lifts as were held; the
hold and the approval are kept in ``<lake>/publish/held/<run_id>.json`` and
``<lake>/publish/approvals/<run_id>.json``.

Example:
    >>> approve_mass_lift(Lake(Path("data/lake")), "scheduled__2025-07-01", by="operator")
    ...                                                                   # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from credlink.etl.lake import Lake
from credlink.etl.storage import put_object
from credlink.publish.commit import fsync_file, new_token, temporary

if TYPE_CHECKING:
    from credlink.etl.storage import Location

__all__ = [
    "LiftLimits",
    "MassLiftHeld",
    "approve_mass_lift",
    "approved_lifts",
    "check_lifts",
    "early_ends",
    "record_hold",
]

SHARE_ENV = "CREDLINK_MASS_LIFT_SHARE"
MIN_ENV = "CREDLINK_MASS_LIFT_MIN"


@dataclass(frozen=True)
class LiftLimits:
    """Hold a run lifting more than `max_share` of the restrictions in force, when at least
    `min_in_force` are in force."""

    max_share: float = 0.2
    min_in_force: int = 50

    @classmethod
    def from_env(cls) -> LiftLimits:
        return cls(
            max_share=float(os.environ.get(SHARE_ENV, cls.max_share)),
            min_in_force=int(os.environ.get(MIN_ENV, cls.min_in_force)),
        )


class MassLiftHeld(RuntimeError):
    """A publishing run would lift too many restrictions at once; nothing was published."""

    def __init__(self, message: str, *, lifts: int, in_force: int, share: float) -> None:
        super().__init__(message)
        self.lifts = lifts
        self.in_force = in_force
        self.share = share


def early_ends(previous: pl.DataFrame, made: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """The rows of `made` (one run's history rows) that end a restriction in force in
    `previous` (latest state before the run) before its recorded end."""
    in_force = previous.filter(pl.col("status").is_in(["active", "pending"])).select(
        "restriction_id", pl.col("valid_to").alias("_recorded_end")
    )
    ended = made.filter(pl.col("status") == "ended").join(in_force, on="restriction_id")
    return ended.filter(
        pl.col("_recorded_end").is_null() | (pl.col("_recorded_end") > pl.lit(as_of))
    ).drop("_recorded_end")


def _state(lake: Lake, kind: str, run_id: str) -> Location:
    safe = "".join(c if c.isalnum() or c in "-_.+" else "_" for c in run_id)
    return lake.location / "publish" / kind / f"{safe}.json"


def _write_json(path: Location, doc: dict[str, object]) -> None:
    """`doc` as the file `path`, whole or not at all (a temporary file renamed; on an object
    store one PUT)."""
    text = json.dumps(doc, indent=1, default=str)
    if not isinstance(path, Path):
        put_object(path, text.encode())
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary(path, new_token())
    tmp.write_text(text, encoding="utf-8")
    fsync_file(tmp)
    tmp.replace(path)


def record_hold(lake: Lake, run_id: str, held: MassLiftHeld) -> None:
    """Keep the figures of a held run for the operator (and for the approval)."""
    _write_json(
        _state(lake, "held", run_id),
        {
            "run_id": run_id,
            "held_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "lifts": held.lifts,
            "in_force": held.in_force,
            "share": held.share,
            "message": str(held),
        },
    )


def approve_mass_lift(lake: Lake, run_id: str, *, by: str, lifts: int | None = None) -> Location:
    """Record an operator's approval for run `run_id` to lift up to `lifts` restrictions
    (default: as many as its hold recorded). Returns the approval file."""
    if lifts is None:
        held = _state(lake, "held", run_id)
        if not held.exists():
            raise ValueError(f"no held publish run {run_id!r} in {held.parent}: give lifts=")
        lifts = int(json.loads(held.read_text(encoding="utf-8"))["lifts"])
    path = _state(lake, "approvals", run_id)
    _write_json(
        path,
        {
            "run_id": run_id,
            "approved_by": by,
            "approved_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "lifts": lifts,
        },
    )
    return path


def approved_lifts(lake: Lake, run_id: str) -> int | None:
    """How many lifts an operator approved for `run_id` (None: no approval)."""
    path = _state(lake, "approvals", run_id)
    if not path.exists():
        return None
    return int(json.loads(path.read_text(encoding="utf-8"))["lifts"])


def check_lifts(
    previous: pl.DataFrame,
    made: pl.DataFrame,
    *,
    run_id: str,
    as_of: date,
    limits: LiftLimits,
    approved: int | None,
) -> int:
    """Raise :class:`MassLiftHeld` when the run's early ends exceed the limits and no approval
    covers them; returns the number of early ends."""
    in_force = previous.filter(pl.col("status").is_in(["active", "pending"])).height
    lifts = early_ends(previous, made, as_of).height
    share = lifts / in_force if in_force else 0.0
    if in_force < limits.min_in_force or share <= limits.max_share:
        return lifts
    if approved is not None and lifts <= approved:
        return lifts
    why = f" (an approval covers {approved}, fewer than {lifts})" if approved is not None else ""
    raise MassLiftHeld(
        f"publish run {run_id} as of {as_of} is held: it would lift {lifts} of the {in_force} "
        f"restrictions in force ({share:.1%}), more than the mass-lift limit of "
        f"{limits.max_share:.0%} (applied from {limits.min_in_force} in force){why}. Nothing "
        "was published. Check the sources first (an emptied or quarantined source looks like "
        "removals). To approve: publish.guard.approve_mass_lift(lake, "
        f"{run_id!r}, by=...) and run it again (in Airflow: clear the task), or "
        "run_publish(..., approve_mass_lift=True); the limits are CREDLINK_MASS_LIFT_SHARE and "
        "CREDLINK_MASS_LIFT_MIN.",
        lifts=lifts,
        in_force=in_force,
        share=share,
    )
