"""Sharded publishing: a run's subjects published in N separate tasks, then one merge and commit.

A publishing run (:func:`publish.stage.run_publish`) computes every warehouse table in one
process. Sharded, the same run is three steps, each of which can be its own task on any
worker, as :mod:`linkage.shards` does for linkage:

1. :func:`plan` reads the lake as a run does (:func:`publish.stage.read_inputs`), computes
   once what the credit-repair and objection cases do on the day (they may name any listing),
   puts every subject in a shard and writes each shard's part of every input to the run's
   scratch folder (``<lake>/work/publish-shards/<run>/``, outside every layer of the lake),
   with a fingerprint of what it read;
2. :func:`publish_shard` computes every table of the run for its subjects only
   (:func:`publish.stage.publish_tables` on its part, with the plan's case effects) into the
   scratch folder, each file written under a temporary name then renamed, its done mark last;
3. :func:`merge` takes the lake's publishing lock, checks that the lake and the rule files are
   what the plan read and that every shard is done (otherwise it computes the whole run
   itself, with a warning), puts the shards' tables together (ordered by each table's
   contract key) and commits them as an unsharded run commits its own
   (:func:`publish.stage.commit_published`: the mass-lift guard on the whole run, one
   warehouse, extracts, history, runs and basis as one unit). Then the scratch goes.

**Why the shards are exact.** Every table but a few small ones (:data:`GLOBAL_TABLES`, the
same in every shard) is a union of rows that each depend on one subject and what concerns it:
its listing records and links, its history, its carried restrictions, its incentives. Two
subjects are tied where the record of one decides a row of the other: an organisation's
listing binds its legal representative (every term of office), and a record linked to one
code may name another as its candidate. The plan joins such codes into groups (connected
components) and a group goes whole to one shard (by a hash of its smallest code); a listing
record goes with the code of its link (else its candidate), one without either by a hash of
its id. ``tests/publish/test_publish_shards.py`` compares every warehouse table of two
consecutive runs, sharded in three and unsharded.

The ``publish_joint_punishment`` DAG runs the three steps as tasks when
``CREDLINK_PUBLISH_SHARDS`` is more than 1 (:mod:`orchestration.publish_dag`).
``bench/publish_shards.py`` times them against one run: the plan reads the whole lake and the
warehouse build stays in the merge, so at 1,000,000 persons on one machine a sharded run is
not yet faster than one run (docs/scale.md).
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from credlink.etl.lake import Lake, read_parquet_file
from credlink.etl.scratch import (
    fresh_folder,
    read_json,
    remove_stale,
    run_folder,
    write_json,
    write_parquet,
)
from credlink.etl.shard_limit import check_shards
from credlink.etl.storage import remove_folder
from credlink.publish.carry import Carry
from credlink.publish.cases import CaseEffects, Cases, case_effects
from credlink.publish.contracts import warehouse_contract
from credlink.publish.guard import LiftLimits
from credlink.publish.incentives import INCENTIVES_DIR
from credlink.publish.memoranda import MEMORANDA_DIR
from credlink.publish.publication import with_publication
from credlink.publish.stage import (
    Inputs,
    Published,
    _previous_runs,
    commit_published,
    load_rules,
    locked_run,
    read_history,
    read_inputs,
)

if TYPE_CHECKING:
    from credlink.etl.storage import Location

log = logging.getLogger(__name__)

SCRATCH = Path("work") / "publish-shards"
MANIFEST = "manifest.json"
GLOBAL_TABLES = frozenset({"publish.memoranda", "publish.measures", "publish.measures_list",
                           "publish.repairs", "publish.objections", "publish.runs"})  # fmt: skip
_INPUT_LAYERS = ("staging", "conformed", "linkage", "publish", "cases")
_RULES = Path(__file__).resolve().parent.parent / "schemas"
_EFFECTS = ("ends", "open_objections", "repairs", "objections")


class ShardError(RuntimeError):
    """A shard cannot run: no plan for the run, or a shard number outside the plan."""


def scratch_dir(lake: Lake, run_id: str) -> Location:
    """The scratch folder of run `run_id` (:func:`etl.scratch.run_folder`): in the lake, a
    local folder or a prefix of its object store, where every worker reaches it."""
    return run_folder(lake, SCRATCH, run_id)


def fingerprint(lake: Lake, memoranda_dir: Path = MEMORANDA_DIR) -> str:
    """A digest of what a publishing run reads: every data file of the input layers (its path,
    size and modification time; on an object store its key, size and ETag) and the rules."""
    h = hashlib.sha256()
    root = lake.location
    for layer in _INPUT_LAYERS:
        if isinstance(root, Path):
            for path in sorted(
                p for p in (root / layer).rglob("*") if p.is_file() and not p.name.startswith(".")
            ):  # not locks
                st = path.stat()
                h.update(f"{path.relative_to(root)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
            continue
        found: dict[str, dict[str, Any]] = root.fs.find((root / layer).path, detail=True)
        for key in sorted(found):
            if not key.rsplit("/", 1)[-1].startswith("."):  # not locks, nor staged objects
                rel = key.removeprefix(root.path.rstrip("/") + "/")
                h.update(f"{rel}\0{found[key]['size']}\0{found[key].get('ETag')}\n".encode())
    h.update(rules_fingerprint(memoranda_dir).encode())
    return h.hexdigest()


def rules_fingerprint(memoranda_dir: Path = MEMORANDA_DIR) -> str:
    """A digest of the rule files' contents (memoranda, incentives, law, evidence policy) as
    this machine has them: every shard must compute with the plan's rules."""
    h = hashlib.sha256()
    for folder in (memoranda_dir, INCENTIVES_DIR, _RULES):
        for path in sorted(p for p in folder.rglob("*.yaml") if p.is_file()):
            h.update(f"{path.relative_to(folder)}\0".encode())
            h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def _groups(inputs: Inputs) -> pl.DataFrame:
    """Every code the run concerns and its group: the smallest code of its connected
    component in the graph of ties (module doc), found by SciPy's connected components."""
    from scipy.sparse import coo_array
    from scipy.sparse.csgraph import connected_components

    links = inputs.links
    pairs = [inputs.legal_reps.select(pl.col("credit_code").alias("a"),
                                      pl.col("legal_rep_code").alias("b"))]  # fmt: skip
    if {"credit_code", "candidate_code"} <= set(links.columns):
        pairs.append(links.select(pl.col("credit_code").alias("a"),
                                  pl.col("candidate_code").alias("b")))  # fmt: skip
    edges = pl.concat(pairs).drop_nulls().filter(pl.col("a") != pl.col("b")).unique()
    codes = [edges.select(pl.col("a").alias("code")), edges.select(pl.col("b").alias("code"))]
    for frame, column in (
        (links, "credit_code"), (links, "candidate_code"), (inputs.registry, "credit_code"),
        (inputs.history, "credit_code"), (inputs.incentive_history, "credit_code"),
    ):  # fmt: skip
        if column in frame.columns:
            codes.append(frame.select(pl.col(column).cast(pl.String).alias("code")))
    if inputs.carry is not None:
        codes.append(inputs.carry.basis.select(pl.col("credit_code").alias("code")))
    # codes in order, so that a component's smallest index is its smallest code
    every = pl.concat(codes).drop_nulls().unique().sort("code").with_row_index("i")
    ends = (edges.join(every.rename({"code": "a", "i": "ia"}), on="a")
            .join(every.rename({"code": "b", "i": "ib"}), on="b"))  # fmt: skip
    n = every.height
    graph = coo_array(
        (np.ones(ends.height, dtype=np.int8), (ends["ia"].to_numpy(), ends["ib"].to_numpy())),
        shape=(n, n),
    )
    _, component = connected_components(graph, directed=False)
    return every.with_columns(pl.Series("component", component)).select(
        "code", pl.col("code").min().over("component").alias("group")
    )


def _hash_shard(column: str, shards: int) -> pl.Expr:
    return (pl.col(column).hash(seed=11) % shards).cast(pl.Int32)


def assign(inputs: Inputs, shards: int) -> pl.DataFrame:
    check_shards(shards)
    return _groups(inputs).select("code", _hash_shard("group", shards).alias("shard"))


def _by(frame: pl.DataFrame, column: str, codes: pl.DataFrame, shard: int) -> pl.DataFrame:
    if frame.is_empty() or column not in frame.columns:
        return frame
    mine = codes.filter(pl.col("shard") == shard).select(pl.col("code").alias(column))
    return frame.join(mine, on=column, how="semi", maintain_order="left")


def _records(inputs: Inputs, codes: pl.DataFrame, shards: int) -> pl.DataFrame:
    links = inputs.links
    ids = [links.select(pl.col("unique_id").cast(pl.String))]
    ids += [f.select(pl.col("unique_id").cast(pl.String)) for f in inputs.listings.values()]
    every = pl.concat(ids).unique()
    code = [c for c in ("credit_code", "candidate_code") if c in links.columns]
    linked = links.select(
        pl.col("unique_id").cast(pl.String),
        pl.coalesce(*code).alias("code") if code else pl.lit(None, pl.String).alias("code"),
    ).unique("unique_id", keep="first")
    return (
        every.join(linked, on="unique_id", how="left")
        .join(codes, on="code", how="left")
        .select("unique_id", pl.coalesce("shard", _hash_shard("unique_id", shards)).alias("shard"))
    )


def _part(inputs: Inputs, codes: pl.DataFrame, records: pl.DataFrame, shard: int) -> Inputs:
    mine = records.filter(pl.col("shard") == shard).select("unique_id")

    def rows(frame: pl.DataFrame) -> pl.DataFrame:
        if frame.is_empty():
            return frame
        return frame.join(mine, on="unique_id", how="semi", maintain_order="left")

    carry = inputs.carry
    if carry is not None:
        carry = Carry(restrictions=_by(carry.restrictions, "credit_code", codes, shard),
                      basis=_by(carry.basis, "credit_code", codes, shard))  # fmt: skip
    return replace(
        inputs,
        listings={name: rows(f) for name, f in inputs.listings.items()},
        links=rows(inputs.links),
        legal_reps=_by(inputs.legal_reps, "credit_code", codes, shard),
        registry=_by(inputs.registry, "credit_code", codes, shard),
        history=_by(inputs.history, "credit_code", codes, shard),
        carry=carry,
        identifiers=rows(inputs.identifiers),
        incentive_history=_by(inputs.incentive_history, "credit_code", codes, shard),
    )


_FRAMES = ("links", "legal_reps", "registry", "history", "identifiers", "incentive_history")


def _save_inputs(folder: Location, part: Inputs) -> None:
    names = []
    for i, (name, frame) in enumerate(part.listings.items()):
        write_parquet(folder / "listings" / f"{i:03d}.parquet", frame)
        names.append(name)
    write_json(folder / "listings.json", {"lists": names})
    for what in _FRAMES:
        write_parquet(folder / f"{what}.parquet", getattr(part, what))
    if part.runs is not None:
        write_parquet(folder / "runs.parquet", part.runs)
    if part.carry is not None:
        write_parquet(folder / "carry_restrictions.parquet", part.carry.restrictions)
        write_parquet(folder / "carry_basis.parquet", part.carry.basis)


def _required(path: Location) -> dict[str, Any]:
    doc = read_json(path)
    if doc is None:
        raise ShardError(f"{path} is missing: the plan or the shard did not finish")
    return doc


def _load_inputs(folder: Location) -> Inputs:
    names = _required(folder / "listings.json")["lists"]
    listings = {n: read_parquet_file(folder / "listings" / f"{i:03d}.parquet")
                for i, n in enumerate(names)}  # fmt: skip
    carry = None
    if (folder / "carry_basis.parquet").is_file():
        carry = Carry(restrictions=read_parquet_file(folder / "carry_restrictions.parquet"),
                      basis=read_parquet_file(folder / "carry_basis.parquet"))  # fmt: skip
    runs = folder / "runs.parquet"
    frames = {w: read_parquet_file(folder / f"{w}.parquet") for w in _FRAMES}
    return Inputs(listings=listings, runs=read_parquet_file(runs) if runs.is_file() else None,
                  carry=carry, cases=Cases(), **frames)  # fmt: skip


def _effects(folder: Location) -> CaseEffects:
    return CaseEffects(**{w: read_parquet_file(folder / "effects" / f"{w}.parquet")
                          for w in _EFFECTS})  # fmt: skip


def plan(
    lake: Lake, *, run_id: str, as_of: date, shards: int, memoranda_dir: Path = MEMORANDA_DIR
) -> list[int]:
    check_shards(shards)
    started = time.perf_counter()
    load_rules(memoranda_dir)
    folder = scratch_dir(lake, run_id)
    fresh_folder(folder)
    remove_stale(folder.parent, folder)
    seen = fingerprint(lake, memoranda_dir)
    inputs = read_inputs(lake, as_of)
    inputs = replace(inputs, runs=_previous_runs(inputs.history, inputs.runs))
    listings = with_publication(inputs.listings, as_of, None)
    effects = case_effects(listings, inputs.links, inputs.legal_reps, inputs.cases, as_of)
    for what in _EFFECTS:
        write_parquet(folder / "effects" / f"{what}.parquet", getattr(effects, what))
    codes = assign(inputs, shards)
    records = _records(inputs, codes, shards)
    sizes = []
    for i in range(shards):
        _save_inputs(folder / f"shard-{i:04d}" / "in", _part(inputs, codes, records, i))
        sizes.append(records.filter(pl.col("shard") == i).height)
    write_json(folder / MANIFEST, {
        "run_id": run_id, "as_of": as_of.isoformat(), "shards": shards, "fingerprint": seen,
        "rules": rules_fingerprint(memoranda_dir),
        "memoranda_dir": str(memoranda_dir), "sizes": sizes,
        "plan_seconds": round(time.perf_counter() - started, 3),
    })  # fmt: skip
    return sizes


def _manifest(lake: Lake, run_id: str) -> dict[str, Any] | None:
    doc = read_json(scratch_dir(lake, run_id) / MANIFEST)
    return doc if doc is not None and doc.get("run_id") == run_id else None


def planned_day(lake: Lake, run_id: str) -> date | None:
    """The day run `run_id` was planned to publish as of (None: no plan)."""
    doc = _manifest(lake, run_id)
    return date.fromisoformat(doc["as_of"]) if doc else None


def _out(folder: Location, shard: int) -> Location:
    return folder / f"shard-{shard:04d}" / "out"


def _table_file(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name) + ".parquet"


def publish_shard(lake: Lake, *, run_id: str, shard: int) -> dict[str, int]:
    doc = _manifest(lake, run_id)
    if doc is None:
        raise ShardError(f"publish run {run_id!r} has no plan: run the plan task first")
    if not 0 <= shard < doc["shards"]:
        raise ShardError(f"publish run {run_id!r} has shards 0 .. {doc['shards'] - 1}, not {shard}")
    started = time.perf_counter()
    folder = scratch_dir(lake, run_id)
    out = _out(folder, shard)
    (out / "done.json").unlink(missing_ok=True)
    if rules_fingerprint(Path(doc["memoranda_dir"])) != doc["rules"]:
        raise ShardError(
            f"publish run {run_id!r}, shard {shard}: the rule files on this worker "
            "(memoranda, incentives, law, evidence policy) are not the plan's"
        )
    memoranda, policy = load_rules(Path(doc["memoranda_dir"]))
    part = _load_inputs(folder / f"shard-{shard:04d}" / "in")
    published = part.tables(memoranda, run_id=run_id, as_of=date.fromisoformat(doc["as_of"]),
                            policy=policy, effects=_effects(folder))  # fmt: skip
    names = sorted(published.tables)
    for name in names:
        write_parquet(out / "tables" / _table_file(name), published.tables[name])
    write_parquet(out / "history.parquet", published.history)
    if published.basis is not None:
        write_parquet(out / "basis.parquet", published.basis)
    if published.incentive_history is not None:
        write_parquet(out / "incentive_history.parquet", published.incentive_history)
    mine = published.history.filter(pl.col("run_id") == run_id).height
    counts = {"shard": shard, "restrictions": published.tables["publish.restrictions"].height,
              "changes": mine, "recomputed": published.recomputed}  # fmt: skip
    seconds = round(time.perf_counter() - started, 3)
    mark = {"fingerprint": doc["fingerprint"], "tables": names, **counts, "seconds": seconds}
    write_json(out / "done.json", mark)
    return counts


def _sorted(name: str, frame: pl.DataFrame) -> pl.DataFrame:
    contract = warehouse_contract(name)
    key = [c for c in (contract.key if contract is not None else []) if c in frame.columns]
    return frame.sort(key or frame.columns[:1], nulls_last=False, maintain_order=True)


def _gathered(folder: Location, shards: int, run_id: str) -> Published:
    done = [_required(_out(folder, i) / "done.json") for i in range(shards)]
    tables: dict[str, pl.DataFrame] = {}
    for name in done[0]["tables"]:
        if name in GLOBAL_TABLES:
            tables[name] = read_parquet_file(_out(folder, 0) / "tables" / _table_file(name))
            continue
        frames = [read_parquet_file(_out(folder, i) / "tables" / _table_file(name))
                  for i in range(shards)]  # fmt: skip
        tables[name] = _sorted(name, pl.concat(frames, how="vertical_relaxed"))
    changes = sum(int(d["changes"]) for d in done)
    runs = tables["publish.runs"]
    runs = runs.with_columns(
        pl.when(pl.col("run_id") == run_id).then(pl.lit(changes)).otherwise(pl.col("changes"))
        .cast(runs["changes"].dtype).alias("changes")
    )  # fmt: skip
    tables["publish.runs"] = runs

    def whole(file: str, *by: str) -> pl.DataFrame | None:
        paths = [_out(folder, i) / file for i in range(shards)]
        if not all(p.is_file() for p in paths):
            return None
        frame = pl.concat([read_parquet_file(p) for p in paths], how="vertical_relaxed")
        return frame.sort(list(by), nulls_last=False, maintain_order=True) if by else frame

    history = whole("history.parquet", "seq", "restriction_id")
    assert history is not None
    tables["publish.restriction_history"] = history
    rewards = None
    if (_out(folder, 0) / "incentive_history.parquet").is_file():
        rewards = tables["publish.incentive_history"]
    return Published(tables=tables, history=history, runs=runs,
                     basis=whole("basis.parquet", "credit_code", "restriction_id"),
                     recomputed=sum(int(d["recomputed"]) for d in done),
                     incentive_history=rewards)  # fmt: skip


def _missing(folder: Location, doc: dict[str, Any]) -> list[int]:
    missing = []
    for i in range(int(doc["shards"])):
        mark = read_json(_out(folder, i) / "done.json")
        if mark is None or mark["fingerprint"] != doc["fingerprint"]:
            missing.append(i)
    return missing


def merge(
    lake: Lake,
    warehouse_path: Path,
    *,
    run_id: str,
    as_of: date | None = None,
    approve_mass_lift: bool = False,
    lift_limits: LiftLimits | None = None,
    lock_timeout: float | None = 3600.0,
) -> dict[str, int]:
    folder = scratch_dir(lake, run_id)
    doc = _manifest(lake, run_id)
    day = date.fromisoformat(doc["as_of"]) if doc else as_of
    if day is None:
        raise ShardError(f"publish run {run_id!r} has no plan and no day to publish")
    memoranda_dir = Path(doc["memoranda_dir"]) if doc else MEMORANDA_DIR
    memoranda, policy = load_rules(memoranda_dir)
    with locked_run(lake, warehouse_path, run_id, lock_timeout):
        why = None
        if doc is None:
            why = "no plan"
        elif missing := _missing(folder, doc):
            why = f"shards {missing} have not finished"
        elif fingerprint(lake, memoranda_dir) != doc["fingerprint"]:
            why = "the lake or the rules changed since the plan"
        if doc is not None and why is None:
            history = read_history(lake)
            published = _gathered(folder, int(doc["shards"]), run_id)
        else:
            log.warning("publish run %s: %s; the merge publishes the whole run", run_id, why)
            inputs = read_inputs(lake, day)
            history = inputs.history
            published = inputs.tables(memoranda, run_id=run_id, as_of=day, policy=policy)
        commit_published(lake, warehouse_path, published, history, run_id=run_id, as_of=day,
                         approve_mass_lift=approve_mass_lift, lift_limits=lift_limits)  # fmt: skip
    remove_folder(folder)
    return {**published.counts(), "published_in_merge": int(why is not None)}
