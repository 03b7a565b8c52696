"""An S3-compatible server for tests: moto's, on a free port of 127.0.0.1 (no internet), with
one bucket, and the storage options that reach it (s3fs's ``endpoint_url``, keys)."""

from __future__ import annotations

import logging
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from credlink.etl import storage
from credlink.etl.lake import Lake

BUCKET = "credlink-lake"


@dataclass(frozen=True)
class Store:
    """A running S3-compatible server and the storage options that reach it."""

    endpoint: str
    options: dict[str, Any]

    def lake(self) -> Lake:
        """A fresh lake under a prefix of its own."""
        return Lake(self.url(f"lake-{uuid.uuid4().hex[:8]}"))

    def url(self, prefix: str) -> Any:
        return storage.location(f"s3://{BUCKET}/{prefix}", self.options)

    def keys(self, lake: Lake) -> list[str]:
        """Every object key under the lake, relative to it."""
        base = lake.location.path  # type: ignore[union-attr]
        fs = lake.location.fs  # type: ignore[union-attr]
        return sorted(k.removeprefix(base + "/") for k in fs.find(base))

    def upload(self, folder: Path) -> Lake:
        """A fresh lake holding a copy of the local lake `folder`'s data files (not its catalog,
        nor its lock files: a local lake's ``fcntl`` locks are no lock objects)."""
        lake = self.lake()
        fs = lake.location.fs  # type: ignore[union-attr]
        base = lake.location.path  # type: ignore[union-attr]
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.name != "catalog.duckdb" and not path.name.startswith("."):
                fs.put_file(str(path), f"{base}/{path.relative_to(folder).as_posix()}")
        return lake


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def moto_store() -> Iterator[Store]:
    """moto's S3 server on a free port, with one bucket; stopped when the block ends."""
    import s3fs
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one log line per request
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    options = {"endpoint_url": endpoint, "key": "testing", "secret": "testing"}
    fs = s3fs.S3FileSystem(**options, skip_instance_cache=True, use_listings_cache=False)
    try:
        fs.makedirs(BUCKET, exist_ok=True)  # moto keeps its buckets per process, not per server
        yield Store(endpoint, options)
    finally:
        try:
            fs.rm(BUCKET, recursive=True)  # the next server of the session starts empty
        finally:
            server.stop()
