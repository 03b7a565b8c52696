"""Dates and timestamps of the synthetic world.

Events fall on days of the world's period; records are entered a little later (data-entry lag)
during office hours, and updated when their story moves on (a removal, a payment). Everything is
local time (Asia/Shanghai), as the agencies' systems keep it, stored without a zone unless the
agency's habit says otherwise.

Example:
    >>> rng = np.random.default_rng(1)
    >>> days = random_days(rng, 2, date(2024, 1, 1), date(2024, 12, 31))
    >>> days.dtype
    dtype('<M8[D]')
"""

from __future__ import annotations

from datetime import date

import numpy as np
import numpy.typing as npt

Days = npt.NDArray[np.datetime64]
Stamps = npt.NDArray[np.datetime64]

ONE_DAY = np.timedelta64(1, "D")


def day(d: date) -> np.datetime64:
    """A `date` as a numpy day."""
    return np.datetime64(d.isoformat(), "D")


def random_days(rng: np.random.Generator, n: int, start: date, end: date) -> Days:
    """`n` days drawn uniformly from `start`..`end` inclusive."""
    span = (end - start).days + 1
    return day(start) + rng.integers(0, span, n).astype("timedelta64[D]")


def office_stamps(rng: np.random.Generator, days: Days) -> Stamps:
    """A timestamp during office hours (08:30-18:00) on each day."""
    seconds = rng.integers(8 * 3600 + 1800, 18 * 3600, len(days)).astype("timedelta64[s]")
    return days.astype("datetime64[ms]") + seconds


def entry_stamps(
    rng: np.random.Generator, event_days: Days, max_lag_days: int, end: date
) -> Stamps:
    """When a record of an event on `event_days` was entered: a lag of 0..max_lag days, but
    never after the world's `end` (the world is observed at its end)."""
    lag = rng.integers(0, max_lag_days + 1, len(event_days)).astype("timedelta64[D]")
    entered = np.minimum(event_days + lag, day(end))
    return office_stamps(rng, entered)


def years_between(born: Days, on: Days) -> npt.NDArray[np.int64]:
    """Completed years of age on `on` for people born on `born`."""
    b = born.astype("datetime64[D]").astype(object)
    o = on.astype("datetime64[D]").astype(object)
    return np.fromiter(
        (
            x.year - y.year - ((x.month, x.day) < (y.month, y.day))
            for x, y in zip(o, b, strict=True)
        ),
        dtype=np.int64,
        count=len(b),
    )
