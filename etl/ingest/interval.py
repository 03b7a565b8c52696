"""The interval a run extracts, and how its bounds are written in each source's own format.

A run covers `[start, end)`: records created or updated at or after `start` and before `end`,
by the table's incremental column. The initial load has no start: everything before `end`.
Bounds are timezone-aware; each source compares them in the zone and format it writes.

Example:
    >>> iv = Interval(datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC))
    >>> iv.key
    '20240301T000000Z_20240302T000000Z'
    >>> bound_value(iv.end, "%Y-%m-%d %H:%M:%S", "Asia/Shanghai")
    '2024-03-02 08:00:00'
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

EPOCH_SECONDS = "epoch_seconds"


@dataclass(frozen=True)
class Interval:
    """`[start, end)` in UTC; `start` None for the initial load of all history before `end`."""

    start: datetime | None
    end: datetime

    def __post_init__(self) -> None:
        for b in (self.start, self.end):
            if b is not None and b.tzinfo is None:
                raise ValueError(f"interval bound {b} has no timezone")
        if self.start is not None and self.start >= self.end:
            raise ValueError(f"interval start {self.start} is not before its end {self.end}")

    @property
    def key(self) -> str:
        """The partition name of this interval."""
        lo = "history" if self.start is None else _stamp(self.start)
        return f"{lo}_{_stamp(self.end)}"

    @property
    def is_initial_load(self) -> bool:
        return self.start is None

    def __str__(self) -> str:
        lo = "(all history)" if self.start is None else self.start.isoformat()
        return f"[{lo}, {self.end.isoformat()})"


def _stamp(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def bound_value(t: datetime, fmt: str, timezone: str) -> str | int:
    """`t` written the way the source writes its incremental column, for comparison in SQL.

    Text formats must sort like time (zero-padded, year first); the contract loader checks it.
    """
    if fmt == EPOCH_SECONDS:
        return int(t.timestamp())
    local = t.astimezone(ZoneInfo(timezone))
    if fmt.endswith("%z"):
        # Sources write the offset as '+08:00' (ISO 8601), which strftime's %z does not.
        return local.strftime(fmt[:-2]) + local.strftime("%z")[:3] + ":" + local.strftime("%z")[3:]
    return local.strftime(fmt)
