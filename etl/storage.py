"""Where the lake and the warehouse live: a local folder (the default), or an object store
addressed by URL through fsspec, so that workers on several machines share one lake.

    CREDLINK_LAKE=/srv/credlink/lake          a local folder (unset: ``<data>/lake``)
    CREDLINK_LAKE=s3://credlink-lake/prod     a bucket and prefix of S3 or an S3-compatible
                                              store (MinIO, Ceph RGW ...), through s3fs
    CREDLINK_STORAGE_OPTIONS='{"endpoint_url": "http://minio.internal:9000"}'

A text with a scheme (``s3://``, ``gs://`` ...) is a URL and becomes a
:class:`upath.UPath` (a path object over the fsspec filesystem of its scheme); anything else,
``file://`` URLs included, is a local :class:`pathlib.Path`, exactly as before.

Storage options (how to reach the store), in the order fsspec applies them: the JSON object in
``$CREDLINK_STORAGE_OPTIONS`` (keyword arguments of the scheme's fsspec filesystem, e.g.
s3fs's ``endpoint_url``, ``key``, ``secret``, ``client_kwargs``), then fsspec's own
``FSSPEC_<SCHEME>_<OPTION>`` variables (``FSSPEC_S3_ENDPOINT_URL=...``, read by fsspec
itself), then the store's client library's own chain (for S3 botocore's: ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL``, ``~/.aws``, instance roles). Prefer the last
two for secrets: they are the standard places and keep keys out of the JSON. Directory
listings are never cached (``use_listings_cache=False``): another worker may have written a
partition a moment ago.

What holds where (the guarantees the lake builds on):

- **Local folder**: a partition is written to a temporary file beside it and renamed over it
  (POSIX rename is atomic); locks are ``fcntl`` locks on files in the lake, which serialise
  processes of one machine (not of several: ``flock`` over NFS is not to be trusted).
- **Object store**: there is no rename (it is a copy, then a delete). A partition is written
  as one object in a single request (:func:`put_object`: a PUT, or a multipart upload for
  objects above 100 MB, which becomes visible only when it completes): readers see the old
  object or the new one, never a part of one. S3 has been strongly consistent for reads after
  writes and for listings since December 2020. Two writers of the same partition: the last
  PUT wins, whole. Locks are lock objects created with a conditional write
  (:func:`object_lock`: ``If-None-Match: *``, which S3 has honoured since August 2024), with a
  lease that the holder renews and that another worker may take over once expired, judged on
  the store's clock, never the workers'. A store that ignores conditional writes is detected
  (:func:`check_conditional_writes`) and refused: a lock that does not exclude is worse than
  none.

Example:
    >>> location("/srv/lake")
    PosixPath('/srv/lake')
    >>> location("file:///srv/lake")
    PosixPath('/srv/lake')
    >>> is_url("s3://bucket/lake"), is_url("/srv/lake")
    (True, False)
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    from upath import UPath

log = logging.getLogger(__name__)

#: The lake's location (a folder or a URL); unset: ``<data>/lake``.
LAKE_ENV = "CREDLINK_LAKE"
#: The published warehouse's location (a file or a URL).
WAREHOUSE_ENV = "CREDLINK_WAREHOUSE"
#: A JSON object of fsspec storage options for every URL of the lake and the warehouse.
STORAGE_OPTIONS_ENV = "CREDLINK_STORAGE_OPTIONS"
#: Seconds a lock object stays valid without renewal; its holder renews it every third of it.
LOCK_LEASE_SECONDS = 60.0
#: Overrides :data:`LOCK_LEASE_SECONDS` (seconds, > 0): longer where a worker may stall (long
#: garbage collections, a slow store), shorter to take over a dead worker's lock sooner.
LOCK_LEASE_ENV = "CREDLINK_LOCK_LEASE_SECONDS"

#: A local folder or file, or a path on an object store.
Location: TypeAlias = "Path | UPath"

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


class StorageError(RuntimeError):
    """The storage configuration is wrong, or the store cannot give a guarantee we need."""


class ObjectStoreUnsupported(StorageError):
    """Something that needs a local folder was asked of a lake (or warehouse) on an object
    store; the message names what and why (see docs/storage.md)."""


class LockTimeout(StorageError):
    """Another worker held a lock object for longer than the wait."""


class LockLost(StorageError):
    """The lease of a held lock object was taken over by another worker (the holder stalled
    longer than the lease): what was written under it may have raced with that worker."""


def is_url(text: str | os.PathLike[str]) -> bool:
    """Whether `text` is a URL of a remote store (a scheme other than ``file``)."""
    if not isinstance(text, str):
        return False
    return bool(_URL.match(text)) and not text.lower().startswith("file://")


def storage_options(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The storage options of ``$CREDLINK_STORAGE_OPTIONS`` (a JSON object; empty when unset).

    Example: ``CREDLINK_STORAGE_OPTIONS='{"endpoint_url": "http://127.0.0.1:9000"}'`` ->
    ``{'endpoint_url': 'http://127.0.0.1:9000'}``.
    """
    raw = (os.environ if env is None else env).get(STORAGE_OPTIONS_ENV, "").strip()
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise StorageError(
            f"${STORAGE_OPTIONS_ENV} is not valid JSON ({exc.msg} at character {exc.pos}); "
            'expected an object such as {"endpoint_url": "http://host:9000"}'
        ) from None
    if not isinstance(value, dict):
        raise StorageError(
            f"${STORAGE_OPTIONS_ENV} must be a JSON object of storage options, "
            f"not a {type(value).__name__}"
        )
    return value


def location(
    value: str | os.PathLike[str] | UPath, options: Mapping[str, Any] | None = None
) -> Location:
    """A local :class:`~pathlib.Path` for a path or ``file://`` URL (given paths unchanged), a
    :class:`upath.UPath` for any other URL, with `options` (default: :func:`storage_options`).
    """
    if isinstance(value, Path):
        return value
    if not isinstance(value, (str, os.PathLike)):
        return value  # a UPath already
    text = os.fspath(value)
    if text.lower().startswith("file://"):
        return Path(unquote(urlsplit(text).path))
    if not is_url(text):
        return Path(text)
    from upath import UPath

    opts = dict(storage_options() if options is None else options)
    protocol = text.split("://", 1)[0].lower()
    if protocol in ("s3", "s3a"):
        # Another worker may have written a partition a moment ago: never list from a cache.
        opts.setdefault("use_listings_cache", False)
    try:
        return UPath(text, **opts)
    except (ImportError, ValueError) as exc:
        raise StorageError(f"{text}: no usable fsspec filesystem for it ({exc})") from exc


def is_local(loc: Location) -> bool:
    """Whether `loc` is a local path (pathlib), not a path on an object store."""
    return isinstance(loc, Path)


def put_object(loc: UPath, data: bytes) -> None:
    """Write `data` as the object at `loc` in one request (the module doc: readers see the old
    object or the new one, never a part)."""
    loc.fs.pipe_file(loc.path, data)


def remove_folder(folder: Location) -> None:
    """Remove `folder` and everything in it, if it exists (on a store: every object under the
    prefix)."""
    if isinstance(folder, Path):
        shutil.rmtree(folder, ignore_errors=True)
    elif folder.fs.exists(folder.path):
        folder.fs.rm(folder.path, recursive=True)


def _client_error(exc: BaseException) -> tuple[str, int]:
    """The S3 error code and HTTP status behind an exception of s3fs (or botocore)."""
    for e in (exc, exc.__cause__, exc.__context__):
        response = getattr(e, "response", None)
        if isinstance(response, dict):
            code = str(response.get("Error", {}).get("Code", ""))
            status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            return code, status
    return "", 0


def _is_precondition(exc: BaseException) -> bool:
    code, status = _client_error(exc)
    return (
        isinstance(exc, FileExistsError)
        or code in ("PreconditionFailed", "ConditionalRequestConflict")
        or status in (409, 412)
    )


def _s3(loc: UPath) -> tuple[Any, str, str]:
    """The s3fs filesystem, bucket and key of `loc` (a lock object needs S3's conditional
    writes; other stores are refused by name)."""
    fs = loc.fs
    if type(fs).__name__ != "S3FileSystem":
        raise StorageError(
            f"{loc}: no shared lock for a {loc.protocol}:// store yet (lock objects use S3 "
            "conditional writes); use an S3-compatible store or a local lake (docs/storage.md)"
        )
    bucket, key, _ = fs.split_path(loc.path)
    return fs, bucket, key


_checked: dict[tuple[str, str], bool] = {}
_checked_guard = threading.Lock()


def check_conditional_writes(loc: UPath) -> None:
    """Make sure the store under `loc` honours ``If-None-Match: *`` (once per store and
    bucket): a second conditional create of one key must fail. Raises :class:`StorageError`
    when it does not (an old MinIO or Ceph, a proxy dropping the header)."""
    fs, bucket, _ = _s3(loc)
    endpoint = str(getattr(fs, "endpoint_url", None) or fs.client_kwargs.get("endpoint_url", ""))
    with _checked_guard:
        if _checked.get((endpoint, bucket)):
            return
    probe = f".credlink-conditional-write-probe-{uuid.uuid4().hex}"
    fs.call_s3("put_object", Bucket=bucket, Key=probe, Body=b"1", IfNoneMatch="*")
    try:
        try:
            fs.call_s3("put_object", Bucket=bucket, Key=probe, Body=b"2", IfNoneMatch="*")
        except OSError as exc:
            if not _is_precondition(exc):
                raise
        else:
            raise StorageError(
                f"{loc.protocol}://{bucket} at {endpoint or 'the default endpoint'} ignores "
                "conditional writes (a second PUT with If-None-Match: * succeeded): lock "
                "objects would not exclude each other, so stages that need a lock refuse to "
                "run on this store (docs/storage.md)"
            )
    finally:
        fs.call_s3("delete_object", Bucket=bucket, Key=probe)
    with _checked_guard:
        _checked[(endpoint, bucket)] = True


def _server_now(response: Mapping[str, Any]) -> datetime | None:
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    date = headers.get("date")
    return parsedate_to_datetime(date) if date else None


def lease_seconds(env: Mapping[str, str] | None = None) -> float:
    """The lease of lock objects: ``$CREDLINK_LOCK_LEASE_SECONDS``, else 60 s."""
    text = (os.environ if env is None else env).get(LOCK_LEASE_ENV, "").strip()
    if not text:
        return LOCK_LEASE_SECONDS
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise StorageError(f"{LOCK_LEASE_ENV}={text!r}: not a number of seconds above 0")
    return value


@contextmanager
def object_lock(
    loc: UPath,
    holder: str,
    *,
    timeout: float | None = 3600.0,
    lease: float | None = None,
    poll: float = 0.2,
) -> Iterator[Lease]:
    """Hold the lock object `loc` on an S3-compatible store for the block: other workers (any
    machine) wait, for up to `timeout` seconds (None: for ever; then :class:`LockTimeout`
    naming the holder). Yields the :class:`Lease`, whose :meth:`~Lease.confirm` renews it at
    once (a commit's last check that the lock is still this holder's).

    Taken by creating the object with ``If-None-Match: *`` (exactly one creator succeeds). The
    body names the holder; a thread renews it every ``lease / 3`` seconds with ``If-Match``
    on its ETag. A lock whose object the store last modified more than `lease` seconds ago
    (by the store's own clock: its ``Date`` header against ``Last-Modified``) belongs to a
    worker that died: a waiter takes it over with ``If-Match`` on the ETag it saw (exactly one
    waiter wins). A holder whose lease was taken over (it stalled for longer than the lease)
    learns it when it renews or leaves the block, and raises :class:`LockLost`.

    `lease`: its seconds (None: :func:`lease_seconds`).

    Example:
        >>> with object_lock(UPath("s3://lake/prod/.catalog.lock"), "run r1"):  # doctest: +SKIP
        ...     ...
    """
    check_conditional_writes(loc)
    lease = lease_seconds() if lease is None else lease
    fs, bucket, key = _s3(loc)
    me = f"{holder}, host {socket.gethostname()}, pid {os.getpid()}, token {uuid.uuid4().hex}"
    body = json.dumps({"holder": me}).encode()
    start = time.monotonic()
    etag = ""
    warned = False
    while True:
        try:
            etag = fs.call_s3("put_object", Bucket=bucket, Key=key, Body=body, IfNoneMatch="*")[
                "ETag"
            ]
            break
        except OSError as exc:
            if not _is_precondition(exc):
                raise
        try:
            head = fs.call_s3("head_object", Bucket=bucket, Key=key)
        except FileNotFoundError:
            continue  # released between our two requests: try again at once
        now = _server_now(head)
        age = (now - head["LastModified"]).total_seconds() if now else 0.0
        if age > lease:
            try:
                etag = fs.call_s3(
                    "put_object", Bucket=bucket, Key=key, Body=body, IfMatch=head["ETag"]
                )["ETag"]
                log.warning("took over the lock %s, expired %.0f s ago", loc, age - lease)
                break
            except (OSError, FileNotFoundError) as exc:
                if not (_is_precondition(exc) or isinstance(exc, FileNotFoundError)):
                    raise
                continue  # another waiter took it over first
        waited = time.monotonic() - start
        if timeout is not None and waited >= timeout:
            raise LockTimeout(
                f"{holder}: {loc} is held by {_holder(fs, loc)}; waited {waited:.0f} s"
            )
        if not warned:
            log.warning("%s waits for the lock %s held by %s", holder, loc, _holder(fs, loc))
            warned = True
        time.sleep(poll)

    held = Lease(loc, holder, fs, bucket, key, body, etag)
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(lease / 3):
            try:
                held.confirm()
            except LockLost:  # recorded in the lease, raised in the holder when it leaves
                return

    heart = threading.Thread(target=renew, name=f"lease {key}", daemon=True)
    heart.start()
    try:
        yield held
    finally:
        stop.set()
        heart.join()
        held.release()
    held.raise_if_lost()


class Lease:
    """A lock object held (:func:`object_lock`): its ETag, renewed with ``If-Match``."""

    def __init__(
        self, loc: UPath, holder: str, fs: Any, bucket: str, key: str, body: bytes, etag: str
    ) -> None:
        self.loc, self.holder = loc, holder
        self._fs, self._bucket, self._key, self._body = fs, bucket, key, body
        self._etag, self._lost = etag, ""
        self._guard = threading.Lock()  # the renewing thread and confirm() never race

    def confirm(self) -> None:
        """Renew the lease now (``If-Match`` on the ETag held): returns only if the lock is
        still this holder's, with a full lease ahead; else :class:`LockLost`."""
        with self._guard:
            if not self._lost:
                try:
                    self._etag = self._fs.call_s3(
                        "put_object", Bucket=self._bucket, Key=self._key, Body=self._body,
                        IfMatch=self._etag,
                    )["ETag"]  # fmt: skip
                except Exception as exc:
                    self._lost = f"{exc.__class__.__name__}: {exc}"
        self.raise_if_lost()

    def release(self) -> None:
        with self._guard:
            if not self._lost:
                try:
                    self._fs.call_s3(
                        "delete_object", Bucket=self._bucket, Key=self._key, IfMatch=self._etag
                    )
                except OSError as exc:
                    self._lost = f"{exc.__class__.__name__}: {exc}"

    def raise_if_lost(self) -> None:
        if self._lost:
            raise LockLost(
                f"{self.holder}: the lock {self.loc} was lost while held ({self._lost}): "
                "another worker took it over after its lease expired; check what this run wrote"
            )


def _holder(fs: Any, loc: UPath) -> str:
    try:
        doc = json.loads(fs.cat_file(loc.path))
        return str(doc.get("holder", "unknown"))
    except (OSError, ValueError):
        return "unknown (the lock object is gone or unreadable)"
