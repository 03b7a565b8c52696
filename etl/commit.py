"""A stage's writes as one unit: a lock, staged files, a commit record, recovery.

A stage that writes several files (publishing: the warehouse, the enforcement extracts, the
checksums, the history and runs; linkage: the link, queue, spine and run tables) must change
them together, or the next run starts from a state no run made. The protocol (write-audit-
publish with a redo record), kept per stage under ``<lake>/<stage>/``:

1. **Lock.** The run holds ``<lake>/<stage>/.<stage>.lock`` (``fcntl.flock``, exclusive) from
   before it reads its inputs until its last write: a second run waits for it
   (:func:`stage_lock`; after `timeout` seconds it fails with :class:`StageLockedError` naming
   the holder), then reads the first run's output. No record is lost.
2. **Recover.** Under the lock, :func:`recover` first completes a commit a killed run left
   (its commit record exists: every file was staged, so the run is redone forward), then
   removes every stray temporary file of the stage (a killed run's staged files).
3. **Stage.** Every new file is written whole under a temporary name beside its final place
   (:func:`temporary`: ``.<name>.<token>.tmp``), synced, checked.
4. **Commit.** One small JSON record, ``<lake>/<stage>/.commit.json``, lists the renames and
   removals (written to a temporary name and renamed: it exists whole or not at all). From
   here on the run has happened.
5. **Apply.** Each operation is idempotent (a rename whose temporary is gone was done); then
   the record is removed. A kill during apply is finished by the next run's recovery.

A kill before (4) leaves only temporaries (removed on the next start): the run did not happen.
A kill after (4) is completed by the next start: the run happened. Either way the next run
equals an uninterrupted one. ``CREDLINK_<STAGE>_CRASH_AFTER=k`` (tests only, e.g.
``CREDLINK_LINKAGE_CRASH_AFTER``) kills the process with SIGKILL right after its k-th write
point (:func:`write_point`).

Local lakes only, for now. The protocol rests on ``fcntl`` locks and atomic renames in one
file system. A lake on an object store (``s3://``; :mod:`credlink.etl.storage`) has neither:
a lock file there excludes nobody, and a "rename" is a copy then a delete, so a commit record
could be applied half. The stages that commit this way (linkage, publishing) therefore refuse
an object-store lake before they read or write anything (:func:`stage_lock`, and
:attr:`credlink.etl.lake.Lake.root`, raise :class:`~credlink.etl.storage.ObjectStoreUnsupported`).
What a shared lake needs instead (docs/storage.md): the lock as a lock object with a lease
(:func:`credlink.etl.storage.object_lock`, S3 conditional writes) or a PostgreSQL advisory
lock on the metadata DB, and the commit as one conditional PUT of a manifest naming the new
objects (readers follow the manifest), so that one request switches the whole run.

Example:
    >>> with stage_lock(lake_root, "linkage", "manual__2025-07-01"):    # doctest: +SKIP
    ...     recover(lake_root, "linkage")
    ...     commit(lake_root, "linkage", "manual__2025-07-01", [Replace(tmp, final)])
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import signal
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

__all__ = [
    "Remove",
    "Replace",
    "StageLockedError",
    "commit",
    "crash_env",
    "fsync_dir",
    "fsync_file",
    "new_token",
    "recover",
    "stage_lock",
    "temporary",
    "write_point",
]

log = logging.getLogger(__name__)

COMMIT_NAME = ".commit.json"
_TMP_SUFFIX = ".tmp"

_points: dict[str, int] = {}


def crash_env(stage: str) -> str:
    """Tests only: the variable that SIGKILLs the process after the stage's k-th write point."""
    return f"CREDLINK_{stage.upper()}_CRASH_AFTER"


def write_point(stage: str, label: str) -> None:
    """Mark a write point of `stage` (a file written, renamed or removed): the fault-injection
    hook."""
    _points[stage] = _points.get(stage, 0) + 1
    crash = os.environ.get(crash_env(stage))
    if crash and int(crash) == _points[stage]:
        log.warning("crash injected after %s write point %d (%s)", stage, _points[stage], label)
        os.kill(os.getpid(), signal.SIGKILL)


class StageLockedError(RuntimeError):
    """Another run of the stage holds its lock and did not finish within the wait."""


def _state_dir(lake_root: Path, stage: str) -> Path:
    if not isinstance(lake_root, Path):
        from credlink.etl.storage import ObjectStoreUnsupported

        raise ObjectStoreUnsupported(
            f"the {stage} stage cannot run on a lake on an object store ({lake_root}) yet: its "
            "commit of several files needs a local lock and atomic renames, which an object "
            "store does not have. Nothing was read or written. Run it on a local lake, or see "
            "docs/storage.md for what a shared lake needs"
        )
    return lake_root / stage


@contextmanager
def stage_lock(
    lake_root: Path,
    stage: str,
    run_id: str,
    timeout: float | None = 3600.0,
    error: type[StageLockedError] = StageLockedError,
) -> Iterator[None]:
    """Hold the lock of `stage` in the lake for one run; wait up to `timeout` seconds (None:
    for ever) for another run to finish, then raise `error` (a :class:`StageLockedError`)."""
    directory = _state_dir(lake_root, stage)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f".{stage}.lock"
    with path.open("a+") as fh:
        start = time.monotonic()
        warned = False
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                fh.seek(0)
                holder = fh.read().strip() or "unknown run"
                waited = time.monotonic() - start
                if timeout is not None and waited >= timeout:
                    raise error(
                        f"{stage} run {run_id}: another {stage} run holds {path} "
                        f"({holder}); waited {waited:.0f} s. Nothing was written; run it "
                        "again when that run has finished."
                    ) from None
                if not warned:
                    log.warning("%s run %s waits for the lock held by %s", stage, run_id, holder)
                    warned = True
                time.sleep(0.1)
        try:
            fh.seek(0)
            fh.truncate()
            since = datetime.now(UTC).isoformat(timespec="seconds")
            fh.write(f"run {run_id}, pid {os.getpid()}, since {since}\n")
            fh.flush()
            yield
        finally:
            fh.seek(0)
            fh.truncate()
            fh.flush()
            fcntl.flock(fh, fcntl.LOCK_UN)


def temporary(final: Path, token: str) -> Path:
    """The staged name of `final` for one run: ``.<name>.<token>.tmp`` beside it."""
    return final.with_name(f".{final.name}.{token}{_TMP_SUFFIX}")


def new_token() -> str:
    return uuid.uuid4().hex


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Replace:
    """Rename the staged `tmp` over `final` (a file, or a symlink to a directory)."""

    tmp: Path
    final: Path


@dataclass(frozen=True)
class Remove:
    """Remove `path` (a file or a directory tree) if it exists."""

    path: Path


Op = Replace | Remove


def _record(ops: Sequence[Op]) -> list[dict[str, str]]:
    out = []
    for op in ops:
        if isinstance(op, Replace):
            out.append({"op": "replace", "tmp": str(op.tmp), "final": str(op.final)})
        else:
            out.append({"op": "remove", "path": str(op.path)})
    return out


def _ops(record: list[dict[str, str]]) -> list[Op]:
    ops: list[Op] = []
    for r in record:
        if r["op"] == "replace":
            ops.append(Replace(Path(r["tmp"]), Path(r["final"])))
        else:
            ops.append(Remove(Path(r["path"])))
    return ops


def _apply(op: Op) -> None:
    if isinstance(op, Replace):
        if op.tmp.exists() or op.tmp.is_symlink():
            op.tmp.replace(op.final)  # atomic rename; a missing tmp was renamed already
            fsync_dir(op.final.parent)
    elif op.path.is_symlink() or op.path.is_file():
        op.path.unlink(missing_ok=True)
        fsync_dir(op.path.parent)
    elif op.path.is_dir():
        shutil.rmtree(op.path, ignore_errors=True)


def commit(lake_root: Path, stage: str, run_id: str, ops: Sequence[Op]) -> None:
    """Commit a run of `stage` whose files are all staged: write the commit record (the point
    after which the run has happened), apply `ops` in order, remove the record."""
    directory = _state_dir(lake_root, stage)
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / COMMIT_NAME
    tmp = temporary(final, new_token())
    doc = {"run_id": run_id, "written": datetime.now(UTC).isoformat(), "ops": _record(ops)}
    tmp.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    fsync_file(tmp)
    tmp.replace(final)
    fsync_dir(directory)
    write_point(stage, "commit record")
    for op in ops:
        _apply(op)
        write_point(stage, f"applied {op}")
    final.unlink()
    fsync_dir(directory)
    write_point(stage, "commit record removed")


def recover(lake_root: Path, stage: str, strays: Sequence[tuple[Path, str]] = ()) -> str | None:
    """Under the lock, at the start of a run: complete a commit a killed run of `stage` left
    (returns its run id), then remove the stage's stray temporaries: in the lake's folder of
    the stage, and those matching each (folder, glob pattern) of `strays` (e.g. the
    warehouse's). None when no commit was pending."""
    directory = _state_dir(lake_root, stage)
    record = directory / COMMIT_NAME
    done: str | None = None
    if record.exists():
        doc = json.loads(record.read_text(encoding="utf-8"))
        for op in _ops(doc["ops"]):
            _apply(op)
        record.unlink()
        fsync_dir(directory)
        done = str(doc["run_id"])
        log.warning("completed the commit of %s run %s, interrupted by a crash", stage, done)
    found: list[Path] = []
    if directory.exists():
        found += list(directory.rglob(f".*{_TMP_SUFFIX}"))
    for folder, pattern in strays:
        if folder.exists():
            found += list(folder.glob(pattern))
    for p in sorted(set(found)):
        log.warning("removing a stray temporary file of the %s stage: %s", stage, p)
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
    return done
