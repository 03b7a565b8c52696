"""The figures behind docs/scale.md: time, pairs and bytes per record, per size and backend.

    .venv/bin/python bench/scale.py --sizes 100000 1000000 --backends duckdb spark \\
        --work data/bench-scale --json docs/benchmarks/scale.json
    .venv/bin/python bench/scale.py --report docs/benchmarks/scale.json   # tables + projection

For each size it generates a world and ingests its history (the stages of bench/run.py, each in
a fresh process), then, for each linkage backend (``CREDLINK_LINKAGE_BACKEND``, see
:mod:`linkage.backend`), the first linkage run over every record (``link``) and the daily run
after the world's last day is ingested (``link_day``), with the linkage layer restored before
each backend so that both do the same work; the pairs the model scores come from the bare
Splink stage on the model-bound records (blocking is the backend's, the pairs are the same),
and the bytes from the files: the agencies' databases, the lake by layer and the warehouse
after publishing. ``--report`` prints the measured tables and the projection to a national
deployment (:func:`projection`) as Markdown.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_measure import Measure, run_stage
from bench_report import machine

#: A national deployment (docs/scale.md).
NATIONAL_PERSONS = 1_400_000_000
NATIONAL_ORGANISATIONS = 180_000_000
#: Splink's published figure for Splink 5: 1 billion records, about 10 billion pairs scored in
#: 9 min 18 s on 192 vCPU (Spark).
SPLINK_PAIRS, SPLINK_SECONDS, SPLINK_VCPU = 10_000_000_000, 9 * 60 + 18, 192


def folder_bytes(path: Path) -> int:
    """The bytes of the regular files under `path` (0 when missing)."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _copy(src: Path, dst: Path) -> None:
    if dst.exists():
        for p in dst.rglob("*"):  # published files are read-only
            if not p.is_symlink():
                p.chmod(p.stat().st_mode | 0o200)
        shutil.rmtree(dst)
    if src.exists():
        shutil.copytree(src, dst, symlinks=True)


def _stage(name: str, paths: dict[str, Any], work: Path, backend: str | None = None) -> Measure:
    if backend is None:
        return run_stage(name, paths, work)
    before = os.environ.get("CREDLINK_LINKAGE_BACKEND")
    os.environ["CREDLINK_LINKAGE_BACKEND"] = backend
    try:
        return run_stage(name, paths, work / backend)
    finally:
        if before is None:
            os.environ.pop("CREDLINK_LINKAGE_BACKEND", None)
        else:
            os.environ["CREDLINK_LINKAGE_BACKEND"] = before


def _m(m: Measure) -> dict[str, Any]:
    return {"wall": m.wall, "seconds": m.seconds, "peak_mib": m.peak_mib, "detail": m.detail}


def bench_size(persons: int, backends: Sequence[str], work: Path, say: Any) -> dict[str, Any]:
    """Every measurement of one size (see the module doc)."""
    work = work / f"w{persons}"
    lake, warehouse = work / "lake", work / "warehouse" / "credlink.duckdb"
    paths = {"persons": persons, "world": str(work / "world"), "lake": str(lake),
             "warehouse": str(warehouse)}  # fmt: skip
    out: dict[str, Any] = {"persons": persons, "stages": {}, "backends": {}}
    shutil.rmtree(lake, ignore_errors=True)
    shutil.rmtree(warehouse.parent, ignore_errors=True)
    for name in ("generate", "ingest"):
        say(f"{persons:,} persons: {name}")
        out["stages"][name] = _m(_stage(name, paths, work))
    history = work / "lake-after-history"
    _copy(lake, history)
    say(f"{persons:,} persons: pairs the model scores (bare Splink, model-bound records)")
    out["stages"]["bare_model"] = _m(_stage("bare", {**paths, "variant": "model"}, work))
    for backend in backends:
        _copy(history, lake)
        say(f"{persons:,} persons: first linkage run on {backend}")
        first = _stage("link", paths, work, backend)
        say(f"  {first.wall:.1f} s, peak {first.peak_mib:,.0f} MiB")
        links = work / f"links-{backend}.parquet"
        _links(lake, links)
        say(f"{persons:,} persons: the last day, then its linkage run on {backend}")
        _stage("ingest_day", paths, work)
        day = _stage("link_day", paths, work, backend)
        say(f"  {day.wall:.1f} s")
        out["backends"][backend] = {"link": _m(first), "link_day": _m(day), "links": str(links)}
    if len(backends) > 1:
        out["identical_links"] = _identical([Path(out["backends"][b]["links"]) for b in backends])
    say(f"{persons:,} persons: publish (for the warehouse's size)")
    out["stages"]["publish"] = _m(_stage("publish_day", paths, work))
    out["bytes"] = {
        "agency_databases": folder_bytes(work / "world"),
        **{f"lake_{p.name}": folder_bytes(p) for p in sorted(lake.iterdir()) if p.is_dir()},
        "warehouse": folder_bytes(warehouse.parent),
    }
    shutil.rmtree(history, ignore_errors=True)
    return out


def _links(lake: Path, to: Path) -> None:
    """The record links of the run just made, kept to compare the backends."""
    from credlink.etl.lake import Lake
    from credlink.linkage.tables import read_record_links

    cols = ["unique_id", "credit_code", "band", "method", "model_version"]
    read_record_links(Lake(lake)).select(cols).sort("unique_id").write_parquet(to)


def _identical(files: Sequence[Path]) -> bool:
    import polars as pl

    frames = [pl.read_parquet(f) for f in files]
    return all(f.equals(frames[0]) for f in frames[1:])


def projection(results: dict[str, Any]) -> str:
    """The measured figures and the projection to a national deployment, as Markdown.

    Per record: the first run's linkage time (core-seconds: wall time x the machine's cores),
    the model's pairs and the bytes. Growth between the two largest sizes gives the exponent of
    each (a figure per record that does not grow has exponent 0; pairs per record grow with the
    population when blocks such as a common name and a birth year grow with it), and the
    projection carries it to 1.4 billion persons."""
    cores = int(results["machine"]["cores"])
    sizes = sorted(results["sizes"], key=lambda s: s["persons"])
    lines = [
        "| persons | backend | records | first run | core-s / 1k records | daily run |"
        " pairs | pairs / record | peak |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    per: dict[str, list[tuple[int, float, float, float]]] = {}
    for s in sizes:
        bare = s["stages"]["bare_model"]["detail"]
        for b, r in s["backends"].items():
            records = int(r["link"]["detail"]["records"])
            core_s = r["link"]["seconds"] * cores
            pairs = int(bare["pairs"])
            per.setdefault(b, []).append((s["persons"], records, core_s, pairs))
            lines.append(
                f"| {s['persons']:,} | {b} | {records:,} | {r['link']['seconds']:.1f} s | "
                f"{1000 * core_s / records:.2f} | {r['link_day']['seconds']:.1f} s | {pairs:,} | "
                f"{pairs / int(bare['records']):.1f} | {r['link']['peak_mib'] / 1024:.2f} GiB |"
            )
    lines += ["", "| persons | " + " | ".join(sizes[0]["bytes"]) + " | per person |",
              "|---:|" + "---:|" * (len(sizes[0]["bytes"]) + 1)]  # fmt: skip
    for s in sizes:
        total = sum(s["bytes"].values())
        cells = " | ".join(f"{v / 2**20:,.0f} MiB" for v in s["bytes"].values())
        lines.append(f"| {s['persons']:,} | {cells} | {total / s['persons']:,.0f} B |")
    if len(sizes) < 2:
        return "\n".join(lines)
    lines += ["", "| backend | time exponent | pairs exponent | 1.4 bn persons: records | "
              "core-hours | pairs | on 192 vCPU |",
              "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    scale = NATIONAL_PERSONS / sizes[-1]["persons"]
    for b, rows in per.items():
        (n1, r1, c1, p1), (n2, r2, c2, p2) = rows[-2], rows[-1]
        step = math.log(n2 / n1)
        t_exp = math.log((c2 / r2) / (c1 / r1)) / step
        p_exp = math.log((p2 / r2) / (p1 / r1)) / step
        records = r2 * scale
        core_s = c2 / r2 * scale**t_exp * records
        pairs = p2 / r2 * scale**p_exp * records
        lines.append(
            f"| {b} | {t_exp:.2f} | {p_exp:.2f} | {records:,.0f} | {core_s / 3600:,.0f} | "
            f"{pairs:,.0f} | {core_s / SPLINK_VCPU / 3600:.1f} h |"
        )
    splink = SPLINK_PAIRS / (SPLINK_SECONDS * SPLINK_VCPU)
    lines += ["", f"Splink's published figure: {splink:,.0f} pairs per vCPU-second."]
    for b, rows in per.items():
        _, _, c, p = rows[-1]
        lines.append(f"Measured here, {b}, largest size: {p / c:,.0f} pairs per core-second "
                     "(the whole first run, not Splink alone).")  # fmt: skip
    return "\n".join(lines)


def merge(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Several runs of this script as one: the sizes by persons, their backends by name (a
    later file's figures win); the first file's machine."""
    sizes: dict[int, dict[str, Any]] = {}
    for r in results:
        for s in r["sizes"]:
            into = sizes.setdefault(s["persons"], {**s, "backends": {}})
            into["backends"].update(s["backends"])
    return {**results[0], "sizes": list(sizes.values())}


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    p.add_argument("--backends", nargs="*", default=["duckdb", "spark"])
    p.add_argument("--work", type=Path, default=Path("data/bench-scale"))
    p.add_argument("--json", type=Path, default=None, help="default: <work>/scale.json")
    p.add_argument("--report", type=Path, nargs="*", default=None,
                   help="print the tables of these JSON files (merged: sizes by persons, "
                   "backends by name)")  # fmt: skip
    opts = p.parse_args(argv)
    if opts.report:
        print(projection(merge([json.loads(f.read_text()) for f in opts.report])))  # noqa: T201
        return
    work = opts.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    out = opts.json or work / "scale.json"

    def say(msg: str) -> None:
        print(f"{datetime.now(UTC):%H:%M:%S} {msg}", flush=True)  # noqa: T201

    res: dict[str, Any] = {"command": "bench/scale.py " + " ".join(sys.argv[1:]),
                           "started": f"{datetime.now(UTC):%Y-%m-%d %H:%M}",
                           "machine": machine(), "sizes": []}  # fmt: skip
    for persons in opts.sizes:
        res["sizes"].append(bench_size(persons, opts.backends, work, say))
        res["finished"] = f"{datetime.now(UTC):%Y-%m-%d %H:%M}"
        res["loadavg_end"] = os.getloadavg()
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(res, indent=1, default=str))
    say(f"results: {out}")
    print(projection(merge([res])))  # noqa: T201


if __name__ == "__main__":
    main()
