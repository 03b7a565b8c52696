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

On a lake on an object store (``s3://``; :mod:`credlink.etl.storage`) the same five steps,
with the store's own means instead of a local lock and renames:

- the lock is a **lock object** (:func:`credlink.etl.storage.object_lock`: created with
  ``If-None-Match: *``, a lease renewed by the holder, taken over only after it expired by
  the store's clock) at ``<lake>/<stage>/.<stage>.lock``: it excludes runs on any machine;
- a staged file is an object of its own under the temporary name, written in one PUT;
- the commit record is one PUT, **after the lease was renewed at once**
  (:meth:`~credlink.etl.storage.Lease.confirm`): a run whose lock was taken over while it
  stalled fails with :class:`~credlink.etl.storage.LockLost` before it writes the record, and
  one that passed has a whole lease ahead for that one request; the lease is confirmed again
  before the record is removed, so a holder that stalled while applying never removes a
  record (its own, which the new holder completes, or the new holder's);
- applying a replacement is a server-side copy of the staged object onto the final key (S3
  ``CopyObject``: the final object changes whole, in one request; readers see the old one or
  the new one), then the removal of the staged object. Both are idempotent, as renames are:
  a copy whose staged object is gone was done.

So per object the guarantee is the local one; across the objects of a run, as locally, a
reader that does not hold the stage's lock may see some of a run's tables already replaced
while the commit is applied (a window of a few requests), and every step of a delta table's
commit reads right on its own (:mod:`credlink.linkage.partitions`). The record names the
objects relative to the lake (``linkage/record_links/...``), so that the run that recovers
it reaches them with its own storage options.

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
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, overload

from credlink.etl.storage import LockTimeout, object_lock, put_object

if TYPE_CHECKING:
    from upath import UPath

    from credlink.etl.storage import Lease, Location

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


def _state_dir(lake_root: Location, stage: str) -> Location:
    return lake_root / stage


#: The lock objects this process holds, by the folder of their stage (object-store lakes).
_leases: dict[str, Lease] = {}


@contextmanager
def stage_lock(
    lake_root: Location,
    stage: str,
    run_id: str,
    timeout: float | None = 3600.0,
    error: type[StageLockedError] = StageLockedError,
) -> Iterator[None]:
    """Hold the lock of `stage` in the lake for one run; wait up to `timeout` seconds (None:
    for ever) for another run to finish, then raise `error` (a :class:`StageLockedError`).
    A local ``fcntl`` lock, or a lock object on an object store (module doc)."""
    directory = _state_dir(lake_root, stage)
    if not isinstance(directory, Path):
        with _object_stage_lock(directory, stage, run_id, timeout, error):
            yield
        return
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


@contextmanager
def _object_stage_lock(
    directory: UPath,
    stage: str,
    run_id: str,
    timeout: float | None,
    error: type[StageLockedError],
) -> Iterator[None]:
    lock = directory / f".{stage}.lock"
    with ExitStack() as stack:
        try:
            lease = stack.enter_context(object_lock(lock, f"{stage} run {run_id}", timeout=timeout))
        except LockTimeout as exc:
            raise error(
                f"{stage} run {run_id}: another {stage} run holds the lock object {lock} "
                f"({exc}). Nothing was written; run it again when that run has finished."
            ) from None
        _leases[str(directory)] = lease
        try:
            yield
        finally:
            _leases.pop(str(directory), None)


@overload
def temporary(final: Path, token: str) -> Path: ...
@overload
def temporary(final: UPath, token: str) -> UPath: ...
def temporary(final: Location, token: str) -> Location:
    """The staged name of `final` for one run: ``.<name>.<token>.tmp`` beside it."""
    return final.with_name(f".{final.name}.{token}{_TMP_SUFFIX}")


def new_token() -> str:
    return uuid.uuid4().hex


def fsync_file(path: Location) -> None:
    """Flush a local file to disk (an object on a store is durable once its PUT returned)."""
    if not isinstance(path, Path):
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Location) -> None:
    if not isinstance(path, Path):
        return
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Replace:
    """Rename the staged `tmp` over `final` (a file, or a symlink to a directory)."""

    tmp: Location
    final: Location


@dataclass(frozen=True)
class Remove:
    """Remove `path` (a file or a directory tree; on a store, every object under it) if it
    exists."""

    path: Location


Op = Replace | Remove


def _text(path: Location, lake_root: Location) -> str:
    """How the commit record names `path`: a local path as it is; an object by its key
    relative to the lake (the recovering run reaches it with its own storage options)."""
    if isinstance(path, Path):
        return str(path)
    root = "" if isinstance(lake_root, Path) else str(lake_root.path).rstrip("/") + "/"
    if not root or not str(path.path).startswith(root):
        raise ValueError(f"{path}: a commit on an object store changes only objects of its lake")
    return str(path.path)[len(root) :]


def _location(text: str, lake_root: Location) -> Location:
    return Path(text) if isinstance(lake_root, Path) or text.startswith("/") else lake_root / text


def _record(ops: Sequence[Op], lake_root: Location) -> list[dict[str, str]]:
    out = []
    for op in ops:
        if isinstance(op, Replace):
            out.append({"op": "replace", "tmp": _text(op.tmp, lake_root),
                        "final": _text(op.final, lake_root)})  # fmt: skip
        else:
            out.append({"op": "remove", "path": _text(op.path, lake_root)})
    return out


def _ops(record: list[dict[str, str]], lake_root: Location) -> list[Op]:
    ops: list[Op] = []
    for r in record:
        if r["op"] == "replace":
            ops.append(Replace(_location(r["tmp"], lake_root), _location(r["final"], lake_root)))
        else:
            ops.append(Remove(_location(r["path"], lake_root)))
    return ops


def _apply(op: Op) -> None:
    if isinstance(op, Replace):
        if not isinstance(op.tmp, Path):
            fs = op.tmp.fs
            if fs.exists(op.tmp.path):  # a missing staged object was copied already
                assert not isinstance(op.final, Path), "a staged object replaces an object"
                fs.copy(op.tmp.path, op.final.path)  # server-side, the final object whole
                fs.rm_file(op.tmp.path)
        elif op.tmp.exists() or op.tmp.is_symlink():
            assert isinstance(op.final, Path), "a staged local file replaces a local file"
            op.tmp.replace(op.final)  # atomic rename; a missing tmp was renamed already
            fsync_dir(op.final.parent)
    elif not isinstance(op.path, Path):
        if op.path.fs.exists(op.path.path):
            op.path.fs.rm(op.path.path, recursive=True)
    elif op.path.is_symlink() or op.path.is_file():
        op.path.unlink(missing_ok=True)
        fsync_dir(op.path.parent)
    elif op.path.is_dir():
        shutil.rmtree(op.path, ignore_errors=True)


def commit(lake_root: Location, stage: str, run_id: str, ops: Sequence[Op]) -> None:
    """Commit a run of `stage` whose files are all staged: write the commit record (the point
    after which the run has happened), apply `ops` in order, remove the record."""
    directory = _state_dir(lake_root, stage)
    final = directory / COMMIT_NAME
    doc = {"run_id": run_id, "written": datetime.now(UTC).isoformat(),
           "ops": _record(ops, lake_root)}  # fmt: skip
    if isinstance(directory, Path):
        assert isinstance(final, Path)
        directory.mkdir(parents=True, exist_ok=True)
        tmp = temporary(final, new_token())
        tmp.write_text(json.dumps(doc, indent=1), encoding="utf-8")
        fsync_file(tmp)
        tmp.replace(final)
        fsync_dir(directory)
    else:
        lease = _leases.get(str(directory))
        if lease is None:
            raise RuntimeError(f"{stage} run {run_id}: a commit needs the stage's lock held")
        lease.confirm()  # LockLost if another run took the lock over: nothing is committed
        assert not isinstance(final, Path)
        put_object(final, json.dumps(doc, indent=1).encode())
    write_point(stage, "commit record")
    for op in ops:
        _apply(op)
        write_point(stage, f"applied {op}")
    if not isinstance(directory, Path):
        # A holder whose lock was taken over while it applied (it stalled past its lease)
        # leaves the record alone: the new holder completes it, or removes its own.
        _leases[str(directory)].confirm()
    _remove_record(final)
    write_point(stage, "commit record removed")


def _remove_record(record: Location) -> None:
    if isinstance(record, Path):
        record.unlink()
        fsync_dir(record.parent)
    else:
        record.fs.rm_file(record.path)


def recover(lake_root: Location, stage: str, strays: Sequence[tuple[Path, str]] = ()) -> str | None:
    """Under the lock, at the start of a run: complete a commit a killed run of `stage` left
    (returns its run id), then remove the stage's stray temporaries: in the lake's folder of
    the stage, and those matching each (local folder, glob pattern) of `strays` (e.g. the
    warehouse's). None when no commit was pending."""
    directory = _state_dir(lake_root, stage)
    record = directory / COMMIT_NAME
    done: str | None = None
    if record.exists():
        doc = json.loads(record.read_text(encoding="utf-8"))
        for op in _ops(doc["ops"], lake_root):
            _apply(op)
        _remove_record(record)
        done = str(doc["run_id"])
        log.warning("completed the commit of %s run %s, interrupted by a crash", stage, done)
    if not isinstance(directory, Path):
        fs = directory.fs
        for key in sorted(fs.find(directory.path)):
            name = key.rsplit("/", 1)[-1]
            if name.startswith(".") and name.endswith(_TMP_SUFFIX):
                log.warning("removing a stray temporary object of the %s stage: %s", stage, key)
                fs.rm_file(key)
    found: list[Path] = []
    if isinstance(directory, Path) and directory.exists():
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
