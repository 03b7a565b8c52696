"""Scratch folders of sharded runs: one per run under ``<lake>/work/<kind>/``, outside every
layer of the lake (no catalog view reads them), written one whole file at a time.

A sharded run (:mod:`linkage.shards`, :mod:`publish.shards`) is a plan, shard tasks on any
worker and a merge; what they hand each other lives here. Every file is written under a
temporary name and renamed, so a reader sees it whole or not at all, and a shard's done mark
is written last. The merge removes its run's folder; a plan removes the folders that other
runs left behind (a failed run's) once they are older than :data:`STALE_SECONDS`, so that a
run still going elsewhere keeps its own.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

import polars as pl

from credlink.etl.commit import write_point
from credlink.etl.lake import Lake

#: Scratch folders of other runs older than this (seconds) are removed by the next plan.
STALE_SECONDS = 7 * 24 * 3600.0


def run_folder(lake: Lake, base: Path, run_id: str) -> Path:
    """The scratch folder of run `run_id` under ``<lake>/<base>``: its id made safe for a file
    name, and a hash of it (two ids that make the same safe name stay apart)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", run_id)[:80]
    return lake.root / base / f"{safe}-{hashlib.sha256(run_id.encode()).hexdigest()[:12]}"


def write_parquet(path: Path, frame: pl.DataFrame, *, stage: str | None = None) -> None:
    """`frame` to `path`, whole or not at all (a temporary file renamed); `stage` names the
    fault-injection point passed before the rename (:func:`etl.commit.write_point`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    frame.write_parquet(tmp)
    if stage is not None:
        write_point(stage, f"wrote {path.name}")
    tmp.replace(path)


def write_json(path: Path, doc: dict[str, Any]) -> None:
    """`doc` to `path` as JSON, whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc, indent=1, sort_keys=True), encoding="utf-8")
    tmp.replace(path)


def remove_stale(folder: Path, keep: Path, older_than: float = STALE_SECONDS) -> None:
    """Remove the run folders beside `keep` in `folder` last changed more than `older_than`
    seconds ago."""
    if not folder.is_dir():
        return
    now = time.time()
    for other in folder.iterdir():
        if other != keep and other.is_dir() and now - other.stat().st_mtime > older_than:
            shutil.rmtree(other, ignore_errors=True)
