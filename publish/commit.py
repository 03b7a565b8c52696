"""Publishing's writes as one unit: the lake's stage protocol (:mod:`etl.commit`) for the
``publish`` stage.

A publishing run (:func:`publish.stage.run_publish`) writes several files: the warehouse, the
per-agency enforcement extracts, the checksum file, and the restriction history and runs kept
in the lake. They change together: the run holds ``<lake>/publish/.publish.lock``, stages every
file under a temporary name, writes one commit record (``<lake>/publish/.commit.json``) and
then renames; a run killed at any point is completed or undone by the next start
(:func:`recover`). On a lake on an object store the lock is a lock object and the renames
are server-side copies (:mod:`etl.commit`); the warehouse and its extracts stay local files
(``CREDLINK_WAREHOUSE``), committed in the same record. ``CREDLINK_PUBLISH_CRASH_AFTER=k``
(tests only) kills the process with SIGKILL right after its k-th write point
(:func:`write_point`).

Example:
    >>> with publish_lock(lake_root, "manual__2025-07-01"):          # doctest: +SKIP
    ...     recover(lake_root, [(warehouse_dir, ".credlink.duckdb.*.tmp*")])
    ...     commit(lake_root, "manual__2025-07-01", [Replace(tmp, final)])
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from credlink.etl import commit as _unit
from credlink.etl.commit import (
    Op,
    Remove,
    Replace,
    StageLockedError,
    fsync_dir,
    fsync_file,
    new_token,
    temporary,
)

if TYPE_CHECKING:
    from credlink.etl.storage import Location

__all__ = [
    "CRASH_ENV",
    "PublishLockedError",
    "Remove",
    "Replace",
    "commit",
    "fsync_dir",
    "fsync_file",
    "new_token",
    "publish_lock",
    "recover",
    "temporary",
    "write_point",
]

STAGE = "publish"
#: Tests only: SIGKILL the process right after its k-th write point.
CRASH_ENV = _unit.crash_env(STAGE)


class PublishLockedError(StageLockedError):
    """Another publishing run holds the lock and did not finish within the wait."""


def write_point(label: str) -> None:
    """Mark a write point of publishing: the fault-injection hook."""
    _unit.write_point(STAGE, label)


@contextmanager
def publish_lock(
    lake_root: Location, run_id: str, timeout: float | None = 3600.0
) -> Iterator[None]:
    """Hold the publishing lock of the lake for one run; wait up to `timeout` seconds
    (None: for ever) for another run to finish, then raise :class:`PublishLockedError`."""
    with _unit.stage_lock(lake_root, STAGE, run_id, timeout, error=PublishLockedError):
        yield


def commit(lake_root: Location, run_id: str, ops: Sequence[Op]) -> None:
    """Commit a publishing run whose files are all staged (see :func:`etl.commit.commit`)."""
    _unit.commit(lake_root, STAGE, run_id, ops)


def recover(lake_root: Location, strays: Sequence[tuple[Path, str]] = ()) -> str | None:
    """Complete a commit a killed publishing run left and remove stray temporaries of
    publishing (see :func:`etl.commit.recover`); returns the completed run id or None."""
    return _unit.recover(lake_root, STAGE, strays)
