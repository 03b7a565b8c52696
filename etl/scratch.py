"""Scratch folders of sharded runs: one per run under ``<lake>/work/<kind>/``, outside every
layer of the lake (no catalog view reads them), written one whole file at a time.

A sharded run (:mod:`linkage.shards`, :mod:`publish.shards`) is a plan, shard tasks on any
worker and a merge; what they hand each other lives here. Every file is written under a
temporary name and renamed (on a lake on an object store, as one object in one PUT), so a
reader sees it whole or not at all, and a shard's done mark is written last. The merge
removes its run's folder; a plan removes the folders that other runs left behind (a failed
run's) once they are older than :data:`STALE_SECONDS`, so that a run still going elsewhere
keeps its own.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from credlink.etl.commit import write_point
from credlink.etl.lake import Lake, write_staged
from credlink.etl.storage import put_object, remove_folder

if TYPE_CHECKING:
    from credlink.etl.storage import Location

#: Scratch folders of other runs older than this (seconds) are removed by the next plan.
STALE_SECONDS = 7 * 24 * 3600.0


def folder_name(run_id: str) -> str:
    """The name of run `run_id`'s scratch folder: its id made safe for a file name, and a hash
    of it (two ids that make the same safe name stay apart)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", run_id)[:80]
    return f"{safe}-{hashlib.sha256(run_id.encode()).hexdigest()[:12]}"


def run_folder(lake: Lake, base: Path, run_id: str) -> Location:
    """The scratch folder of run `run_id` under ``<lake>/<base>`` (:func:`folder_name`): a
    local folder, or a prefix of the lake's object store."""
    return lake.location / base.as_posix() / folder_name(run_id)


def fresh_folder(folder: Location) -> None:
    """Empty `folder` (a retried plan starts afresh): removed, then made again."""
    remove_folder(folder)
    if isinstance(folder, Path):
        folder.mkdir(parents=True)


def write_parquet(path: Location, frame: pl.DataFrame, *, stage: str | None = None) -> None:
    """`frame` to `path`, whole or not at all (a temporary file renamed; on a store one PUT);
    `stage` names the fault-injection point passed before the rename or the PUT
    (:func:`etl.commit.write_point`)."""
    if not isinstance(path, Path):
        if stage is not None:
            write_point(stage, f"wrote {path.name}")
        write_staged(path, frame)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    frame.write_parquet(tmp)
    if stage is not None:
        write_point(stage, f"wrote {path.name}")
    tmp.replace(path)


def write_json(path: Location, doc: dict[str, Any]) -> None:
    """`doc` to `path` as JSON, whole or not at all."""
    text = json.dumps(doc, indent=1, sort_keys=True)
    if not isinstance(path, Path):
        put_object(path, text.encode())
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def read_json(path: Location) -> dict[str, Any] | None:
    """The JSON document at `path`, or None when there is none."""
    if not path.is_file():
        return None
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return doc


def remove_stale(folder: Location, keep: Location, older_than: float = STALE_SECONDS) -> None:
    """Remove the run folders beside `keep` in `folder` last changed more than `older_than`
    seconds ago (on a store: whose newest object is that old)."""
    now = time.time()
    if not isinstance(folder, Path):
        fs = folder.fs
        found: dict[str, dict[str, Any]] = fs.find(folder.path, detail=True)
        newest: dict[str, float] = {}
        for key, info in found.items():
            run = key.removeprefix(folder.path.rstrip("/") + "/").split("/", 1)[0]
            stamp = info["LastModified"].timestamp()
            newest[run] = max(newest.get(run, 0.0), stamp)
        for run, stamp in newest.items():
            if run != keep.name and now - stamp > older_than:
                fs.rm(f"{folder.path.rstrip('/')}/{run}", recursive=True)
        return
    if not folder.is_dir():
        return
    for other in folder.iterdir():
        if other != keep and other.is_dir() and now - other.stat().st_mtime > older_than:
            shutil.rmtree(other, ignore_errors=True)
