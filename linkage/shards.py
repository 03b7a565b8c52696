"""Sharded linkage: a run's records resolved in N separate tasks, then one merge and one commit.

A linkage run (:func:`linkage.stage.run_linkage`) spends nearly all its time resolving records
(the deterministic pass, then Splink's blocking and scoring). Sharded, the same run is three
steps, each its own Airflow task, so that a distributed executor spreads the shards over its
workers:

1. :func:`plan` reads the lake and plans the run as :func:`linkage.stage.prepare_run` does
   (which records each kind links again, the spines updated with the registries' new rows),
   splits the records to link into `shards` parts and writes them, with the spines, to the
   run's scratch folder (``<lake>/work/linkage-shards/<run>/``), outside every layer of the lake;
2. :func:`link_shard` (one task per shard, any worker) resolves its part against the **whole**
   spine and writes its results to the scratch folder, each file under a temporary name then
   renamed (on an object-store lake: one object, one PUT), its done mark last;
3. :func:`merge` runs the linkage stage itself under the lake's linkage lock, with the shards'
   results in place of resolving (:data:`linkage.stage.Resolver`): the plan again, reviewer
   decisions, same-case corroboration, the review queue, the spines, the run record and the
   one atomic commit of every linkage table (:mod:`etl.commit`). Then the scratch goes.

**Why the records are sharded, not the registries.** A shard by the province in the
identifier, records and registry entries alike, is exact only if every blocking rule keeps a
pair inside one province; a rule on the name alone (``l.name = r.name``, which the models
have, for records whose identifier is masked or wrong) pairs a record with namesakes of every
province, so such a shard would miss candidates and pick another best one. Here a shard holds
some of the *records* and links them against the whole spine: term frequencies and the prior
come from the whole spine (:func:`linkage.engine.link`), the deterministic pass and the
namesake and evidence rules read the whole spine, and each record keeps the best of *all*
its candidates. A record's row depends on that record and the spine only, never on the
other records resolved with it (:func:`linkage.stage.resolve_records`), so the union of the
shards' rows is, row for row, what one process computes, whatever the blocking rules.
What needs several records at once (same-case corroboration, reviewer decisions, namesake
relinking, the incremental plan, the queue carried from the previous run) happens once, in
the merge, exactly as in an unsharded run.

**The shard key** (:func:`assign`) only balances the work and keeps it local: the province
(first two digits) of the record's region (persons: the ID's region, else the household's;
organisations: the registering authority's), a province bigger than a shard's share split
by a hash of the record's id, provinces placed largest first on the lightest shard; a record
without a region goes by the hash of its id. Records of one province share most of their
candidates, so a shard's pre-blocked slice of the spine (:func:`linkage.engine.blocked_entries`)
stays small. Any other assignment would give the same links.

**Safety.** Nothing but the merge writes a linkage table: a shard that fails, is killed or is
retried leaves the lake as it was (its files are scratch, renamed into place whole, and a
shard without its done mark counts as absent). The merge trusts a shard's row only when it is
the row the merge itself would compute: same record (its fingerprint), same spine (a digest
of it), same model version, thresholds and evidence policy; every record the shards did not
cover that way (a shard missing, the lake changed since the plan) is resolved in the merge,
with a warning. A sharded run therefore always commits what an unsharded run would.

**Cost.** The plan and the merge each read and plan the whole run (what an unsharded run does
once), and each shard reads the whole spines: sharding pays off when resolving dominates. On
the 1M-person world (a first run, 418,381 records; 2 shared cores, one shard after another):
plan 55 s, shards 154, 128 and 107 s (each about a third of every kind's records), merge 49 s;
``record_links`` equal to the unsharded run's, row for row, nothing linked in the merge.

Example (what the ``link_credit_codes`` DAG runs when ``CREDLINK_LINK_SHARDS`` is 3):
    >>> sizes = plan(lake, run_id="r1", logical_date=day, shards=3)    # doctest: +SKIP
    >>> sizes["person"]                                                 # doctest: +SKIP
    [16062, 15994, 15997]
    >>> for i in range(3):                                              # doctest: +SKIP
    ...     link_shard(lake, run_id="r1", shard=i)
    >>> merge(lake, run_id="r1", logical_date=day)["linked_in_merge"]   # doctest: +SKIP
    0
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import socket
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
from credlink.etl.shard_limit import MAX_SHARDS, check_shards
from credlink.etl.storage import remove_folder
from credlink.linkage.engine import LinkResult
from credlink.linkage.evidence import load_policy, policy_digest
from credlink.linkage.incremental import fingerprints
from credlink.linkage.model import MODELS_DIR, current_model_path, load_model
from credlink.linkage.resolve import RECORD_LINK_COLUMNS, Resolution
from credlink.linkage.stage import (
    KindWork,
    RunShared,
    Thresholds,
    prepare_run,
    resolve_records,
    run_linkage,
)

if TYPE_CHECKING:
    from credlink.etl.storage import Location

__all__ = [
    "MAX_SHARDS",
    "SCRATCH",
    "ShardError",
    "assign",
    "link_shard",
    "merge",
    "plan",
    "scratch_dir",
    "spine_digest",
]

log = logging.getLogger(__name__)

#: The scratch folders of sharded runs, under the lake's root (no layer: no catalog view).
SCRATCH = Path("work") / "linkage-shards"
#: The fault-injection stage of a shard's write points (:func:`etl.commit.write_point`).
SHARD_STAGE = "linkage_shard"
MANIFEST = "manifest.json"


class ShardError(RuntimeError):
    """A shard cannot run: no plan, a shard number outside the plan, or a model, spine or
    evidence policy other than the plan's."""


def scratch_dir(lake: Lake, run_id: str) -> Location:
    """The scratch folder of run `run_id` (:func:`etl.scratch.run_folder`): in the lake, a
    local folder or a prefix of its object store, where every worker reaches it."""
    return run_folder(lake, SCRATCH, run_id)


def spine_digest(frame: pl.DataFrame) -> str:
    """A digest of `frame`'s schema and rows, in order: equal digests, the same spine."""
    h = hashlib.blake2b(digest_size=16)
    h.update(str(list(frame.schema.items())).encode())
    for seed in (0, 1):
        h.update(frame.hash_rows(seed=seed).to_numpy().tobytes())
    return f"{frame.height}-{h.hexdigest()}"


def _province(records: pl.DataFrame, subject: str) -> pl.Expr:
    """The province (two digits) of each record's region, null when it has none."""
    cols = ["id_region", "household_region"] if subject == "person" else ["region"]
    present = [pl.col(c) for c in cols if c in records.columns]
    region = pl.coalesce(present) if present else pl.lit(None, pl.String)
    head = region.cast(pl.String).str.slice(0, 2)
    return pl.when(head.str.contains(r"^[1-9]\d$")).then(head).otherwise(None)


def assign(records: pl.DataFrame, shards: int, subject: str) -> pl.Series:
    """The shard (0 .. `shards` - 1) of each record of `records`, in their order (module doc:
    by province, balanced; by a hash of the id without one)."""
    check_shards(shards)
    if records.is_empty():
        return pl.Series("shard", [], pl.Int32)
    share = math.ceil(records.height / shards)
    keyed = records.select(
        _province(records, subject).alias("province"),
        (pl.col("unique_id").hash(seed=7) % (2**31)).cast(pl.Int64).alias("h"),
    )
    sizes = keyed.filter(pl.col("province").is_not_null()).group_by("province").len()
    parts = sizes.with_columns(
        pl.max_horizontal(pl.lit(1), (pl.col("len") / share).ceil()).cast(pl.Int64).alias("parts")
    )
    keyed = keyed.join(parts.select("province", "parts"), on="province", how="left",
                       maintain_order="left")  # fmt: skip
    keyed = keyed.with_columns(
        pl.when(pl.col("province").is_null())
        .then(pl.lit(None, pl.String))
        .otherwise(pl.format("{}/{}", "province", pl.col("h") % pl.col("parts")))
        .alias("unit")
    )
    # Largest unit first onto the lightest shard (ties: the lower shard, the lower unit).
    units = (
        keyed.filter(pl.col("unit").is_not_null())
        .group_by("unit")
        .len()
        .sort(["len", "unit"], descending=[True, False])
    )
    load = [0] * shards
    placed: dict[str, int] = {}
    for unit, n in units.iter_rows():
        i = min(range(shards), key=lambda k: (load[k], k))
        placed[unit] = i
        load[i] += n
    return keyed.select(
        pl.when(pl.col("unit").is_null())
        .then(pl.col("h") % shards)
        .otherwise(pl.col("unit").replace_strict(placed, default=0, return_dtype=pl.Int64))
        .cast(pl.Int32)
        .alias("shard")
    ).to_series()


def _write(path: Location, frame: pl.DataFrame) -> None:
    write_parquet(path, frame, stage=SHARD_STAGE)


def _input(folder: Location, kind: str, shard: int) -> Location:
    return folder / "input" / kind / f"shard-{shard:04d}.parquet"


def _output(folder: Location, kind: str, shard: int, what: str) -> Location:
    return folder / "output" / kind / f"shard-{shard:04d}.{what}.parquet"


def _done(folder: Location, shard: int) -> Location:
    return folder / "output" / f"shard-{shard:04d}.done.json"


def _spine_file(folder: Location, subject: str) -> Location:
    return folder / "spine" / f"{subject}.parquet"


def plan(
    lake: Lake,
    *,
    run_id: str,
    logical_date: datetime,
    shards: int,
    models_dir: Path | None = None,
    thresholds: Thresholds | None = None,
    full: bool = False,
) -> dict[str, list[int]]:
    """Plan run `run_id` in `shards` shards (module doc, step 1): the records each kind links
    again split by :func:`assign`, and the spines, written to the run's scratch folder (a
    retried plan starts it afresh). Writes no lake table. Returns each kind's shard sizes."""
    check_shards(shards)
    started = time.perf_counter()
    folder = scratch_dir(lake, run_id)
    fresh_folder(folder)
    remove_stale(folder.parent, folder)
    prep = prepare_run(lake, run_id, logical_date, models_dir, thresholds, full)
    digests = {}
    for subject, update in prep.spines.items():
        _write(_spine_file(folder, subject), update.columns)
        digests[subject] = spine_digest(update.columns)
    sizes: dict[str, list[int]] = {}
    kinds: dict[str, dict[str, Any]] = {}
    for work in prep.works:
        shard = assign(work.to_link, shards, work.subject)
        parts = work.to_link.with_columns(shard.alias("_shard"))
        sizes[work.kind] = []
        for i in range(shards):
            part = parts.filter(pl.col("_shard") == i).drop("_shard")
            _write(_input(folder, work.kind, i), part)
            sizes[work.kind].append(part.height)
        kinds[work.kind] = {
            "subject": work.subject,
            "model_version": work.model.version,
            "spine_digest": digests[work.subject],
            "sizes": sizes[work.kind],
        }
    th = prep.run.th
    write_json(folder / MANIFEST, {
        "run_id": run_id, "shards": shards, "kinds": kinds, "accept": th.accept,
        "review": th.review, "policy_digest": prep.run.policy_digest, "full": full,
        "models_dir": str(models_dir) if models_dir else None,
        "plan_seconds": round(time.perf_counter() - started, 3),
    })  # fmt: skip
    log.info("linkage run %s planned in %d shards: %s (%.1f s)", run_id, shards, sizes,
             time.perf_counter() - started)  # fmt: skip
    return sizes


def _manifest(folder: Location, run_id: str) -> dict[str, Any] | None:
    path = folder / MANIFEST
    doc = read_json(path)
    if doc is None:
        return None
    if doc.get("run_id") != run_id:
        raise ShardError(f"{path}: the plan of run {doc.get('run_id')!r}, not of {run_id!r}")
    return doc


def link_shard(lake: Lake, *, run_id: str, shard: int) -> dict[str, Any]:
    """Resolve shard `shard` of run `run_id` against the whole spines (module doc, step 2)
    and write its results to the scratch folder, the done mark last; returns the mark (per
    kind: records, seconds). Writes no lake table; a retry writes the same files again.

    Raises :class:`ShardError` without a plan, for a shard outside it, or when this worker's
    models, evidence policy or the plan's spines are not the plan's."""
    started = time.perf_counter()
    folder = scratch_dir(lake, run_id)
    manifest = _manifest(folder, run_id)
    where = f"linkage run {run_id!r}, shard {shard}"
    if manifest is None:
        raise ShardError(f"{where}: no plan at {folder / MANIFEST}: the plan task runs first")
    if not 0 <= shard < manifest["shards"]:
        raise ShardError(f"{where}: the plan has shards 0 .. {manifest['shards'] - 1}")
    if policy_digest() != manifest["policy_digest"]:
        raise ShardError(f"{where}: this worker's identity-evidence policy is not the plan's "
                         f"({policy_digest()} != {manifest['policy_digest']})")  # fmt: skip
    th = Thresholds(accept=manifest["accept"], review=manifest["review"])
    policy = load_policy()
    models_dir = Path(manifest["models_dir"]) if manifest["models_dir"] else MODELS_DIR
    spines: dict[str, pl.DataFrame] = {}
    done: dict[str, Any] = {"run_id": run_id, "shard": shard, "host": socket.gethostname(),
                            "pid": os.getpid(), "kinds": {}}  # fmt: skip
    for kind, spec in manifest["kinds"].items():
        t = time.perf_counter()
        subject = spec["subject"]
        records = read_parquet_file(_input(folder, kind, shard))
        model = load_model(current_model_path(subject, models_dir))
        if model.version != spec["model_version"]:
            raise ShardError(f"{where}: the current {subject} model is {model.version}, "
                             f"the plan's {spec['model_version']}: deploy one version")  # fmt: skip
        modelled = False
        if not records.is_empty():
            if subject not in spines:
                spines[subject] = read_parquet_file(_spine_file(folder, subject))
                if spine_digest(spines[subject]) != spec["spine_digest"]:
                    raise ShardError(f"{where}: the {subject} spine file is not the plan's")
            res = resolve_records(records, spines[subject], subject, model, th, policy)
            links = res.links.join(
                fingerprints(records).rename({"fingerprint": "record_fingerprint"}),
                on="unique_id",
                how="left",
            )
            _write(_output(folder, kind, shard, "links"), links)
            if res.model_result is not None:
                modelled = True
                # what the review queue reads: the weights of each record's best candidate
                best = links.select("unique_id", pl.col("candidate_code").alias("spine_id"))
                pairs = res.model_result.pairs.join(best, on=["unique_id", "spine_id"],
                                                    how="semi")  # fmt: skip
                _write(_output(folder, kind, shard, "pairs"), pairs)
        done["kinds"][kind] = {"records": records.height, "modelled": modelled,
                               "seconds": round(time.perf_counter() - t, 3)}  # fmt: skip
    done["seconds"] = round(time.perf_counter() - started, 3)
    write_json(_done(folder, shard), done)
    log.info("%s: %s", where, done)
    return done


@dataclass
class _ShardResults:
    """The shards' results of one run as a :data:`linkage.stage.Resolver` for the merge."""

    folder: Location
    manifest: dict[str, Any] | None
    #: records resolved in the merge itself, per kind (not covered by a shard)
    inline: dict[str, int] = field(default_factory=dict)
    marks: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = self.manifest["shards"] if self.manifest else 0
        for i in range(n):
            mark = _done(self.folder, i)
            doc = read_json(mark)
            if doc is not None:
                self.marks.append(doc)
            else:
                log.warning("linkage shard %d has no results (%s): its records are linked in "
                            "the merge", i, mark)  # fmt: skip

    def _why_not(self, work: KindWork, run: RunShared) -> str | None:
        """Why the shards' results of `work`'s kind cannot be used at all, or None."""
        if self.manifest is None:
            return "no plan"
        spec = self.manifest["kinds"].get(work.kind)
        if spec is None:
            return f"the plan has no {work.kind} records"
        checks = {
            "model version": (spec["model_version"], work.model.version),
            "accept threshold": (self.manifest["accept"], run.th.accept),
            "review threshold": (self.manifest["review"], run.th.review),
            "evidence policy": (self.manifest["policy_digest"], run.policy_digest),
            "spine": (spec["spine_digest"], spine_digest(work.spine.columns)),
        }
        for what, (planned, now) in checks.items():
            if planned != now:
                return f"the {what} changed since the plan ({planned} -> {now})"
        return None

    def __call__(self, work: KindWork, run: RunShared) -> tuple[Resolution | None, float]:
        if work.to_link.is_empty():
            return None, 0.0
        why = self._why_not(work, run)
        links: list[pl.DataFrame] = []
        pairs: list[pl.DataFrame] = []
        modelled, elsewhere = False, 0.0
        if why is None:
            for mark in self.marks:
                got = mark["kinds"].get(work.kind)
                path = _output(self.folder, work.kind, mark["shard"], "links")
                if not got or not path.is_file():
                    continue
                links.append(read_parquet_file(path))
                if got["modelled"]:
                    modelled = True
                    pairs.append(read_parquet_file(_output(self.folder, work.kind, mark["shard"],
                                                      "pairs")))  # fmt: skip
                elsewhere += float(got["seconds"])
        else:
            log.warning("linkage %s: the shards' results are not used (%s): linked in the merge",
                        work.kind, why)  # fmt: skip
        mine = work.records_fp.rename({"fingerprint": "record_fingerprint"}).join(
            work.plan.relink, on="unique_id", how="semi"
        )
        usable = (
            pl.concat(links, how="vertical_relaxed").join(
                mine, on=["unique_id", "record_fingerprint"], how="semi"
            )
            if links
            else pl.DataFrame(schema={**RECORD_LINK_COLUMNS, "record_fingerprint": pl.UInt64})
        )
        rest = work.to_link.join(usable.select("unique_id"), on="unique_id", how="anti")
        parts = [usable.drop("record_fingerprint")]
        if not rest.is_empty():
            log.warning("linkage %s: %d of %d records not covered by a shard: linked in the "
                        "merge", work.kind, rest.height, work.to_link.height)  # fmt: skip
            res = resolve_records(rest, work.spine.columns, work.subject, work.model, run.th,
                                  run.policy)  # fmt: skip
            parts.append(res.links)
            if res.model_result is not None:
                modelled = True
                pairs.append(res.model_result.pairs)
        self.inline[work.kind] = rest.height
        fresh = pl.concat(parts, how="vertical_relaxed").sort("unique_id")
        if fresh.height != work.to_link.height:  # a record twice: never commit that
            raise ShardError(f"linkage {work.kind}: {fresh.height} links for "
                             f"{work.to_link.height} records")  # fmt: skip
        model_result = None
        if modelled:
            every = pl.concat(pairs, how="vertical_relaxed").join(
                usable.select("unique_id").vstack(rest.select("unique_id")), on="unique_id",
                how="semi",
            )  # fmt: skip
            model_result = LinkResult(every, pl.DataFrame(), pl.DataFrame(), work.model.version)
        return Resolution(fresh, model_result), elsewhere


def merge(
    lake: Lake,
    *,
    run_id: str,
    logical_date: datetime,
    models_dir: Path | None = None,
    thresholds: Thresholds | None = None,
    full: bool = False,
    lock_timeout: float | None = 3600.0,
) -> dict[str, int]:
    """Commit run `run_id` from its shards' results (module doc, step 3): the linkage stage
    (:func:`linkage.stage.run_linkage`, under its lock, one commit) with the shards' rows in
    place of resolving; the scratch folder is removed after the commit. Returns the run's
    counts, and ``shards`` and ``linked_in_merge`` (records no shard covered)."""
    folder = scratch_dir(lake, run_id)
    manifest = _manifest(folder, run_id)
    if manifest is None:
        log.warning("linkage run %s: no shard plan at %s: every record is linked in the merge",
                    run_id, folder)  # fmt: skip
    results = _ShardResults(folder, manifest)
    counts = run_linkage(lake, run_id=run_id, logical_date=logical_date, models_dir=models_dir,
                         thresholds=thresholds, full=full, lock_timeout=lock_timeout,
                         resolver=results)  # fmt: skip
    remove_folder(folder)
    out = dict(counts)
    out["shards"] = manifest["shards"] if manifest else 0
    out["linked_in_merge"] = sum(results.inline.values())
    log.info("linkage run %s merged from %d shards (%s): %d records linked in the merge",
             run_id, out["shards"], [m["seconds"] for m in results.marks],
             out["linked_in_merge"])  # fmt: skip
    return out
