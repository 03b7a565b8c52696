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
the pairs each blocking rule adds from Splink's exact count (``rule_pairs``), the seconds per
subject type from ``linkage.runs``, and the bytes from the files: the agencies' databases, the
lake by layer and the warehouse after publishing. ``--report`` prints the measured tables and
the projection to a national deployment (:func:`projection`, :func:`kinds_projection`,
:func:`rules_projection`) as Markdown.
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


def copy_tree(src: Path, dst: Path) -> None:
    """`src` copied to `dst` (replaced; symbolic links kept), published read-only files too."""
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
    copy_tree(lake, history)
    say(f"{persons:,} persons: pairs the model scores (bare Splink, model-bound records)")
    out["stages"]["bare_model"] = _m(_stage("bare", {**paths, "variant": "model"}, work))
    say(f"{persons:,} persons: the pairs of each blocking rule")
    out["stages"]["rule_pairs"] = _m(_stage("rule_pairs", paths, work))
    for backend in backends:
        copy_tree(history, lake)
        say(f"{persons:,} persons: first linkage run on {backend}")
        first = _stage("link", paths, work, backend)
        say(f"  {first.wall:.1f} s, peak {first.peak_mib:,.0f} MiB")
        links = work / f"links-{backend}.parquet"
        _links(lake, links)
        say(f"{persons:,} persons: the last day, then its linkage run on {backend}")
        out["stages"]["ingest_day"] = _m(_stage("ingest_day", paths, work))
        day = _stage("link_day", paths, work, backend)
        say(f"  {day.wall:.1f} s")
        out["backends"][backend] = {
            "link": _m(first), "link_day": _m(day), "links": str(links),
            "kinds": {"link": _kinds(lake, "bench-history"), "link_day": _kinds(lake, "bench-day")},
        }  # fmt: skip
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


def _kinds(lake: Path, run_id: str) -> dict[str, dict[str, Any]]:
    """Per subject type, what the linkage run `run_id` did (``linkage.runs``): its records, the
    spine's entries, the records linked again and the seconds."""
    from credlink.etl.catalog import read_table
    from credlink.etl.lake import Lake

    runs = read_table(Lake(lake), "linkage.runs").filter(run_id=run_id)
    cols = ["records", "spine_entries", "relinked", "seconds"]
    return {r["subject_type"]: {c: r[c] for c in cols} for r in runs.iter_rows(named=True)}


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
    # The time per record measured here falls with size (fixed costs), while the pairs per
    # record grow with the population: the national time is the pairs' (scored at Splink's
    # published rate on 192 vCPU), not this machine's time per record carried forward.
    splink_rate = SPLINK_PAIRS / (SPLINK_SECONDS * SPLINK_VCPU)
    lines += ["", "| backend | time exponent | pairs exponent | 1.4 bn persons: records | "
              "pairs | scoring them at Splink's rate on 192 vCPU |",
              "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    scale = NATIONAL_PERSONS / sizes[-1]["persons"]
    for b, rows in per.items():
        (n1, r1, c1, p1), (n2, r2, c2, p2) = rows[-2], rows[-1]
        step = math.log(n2 / n1)
        t_exp = math.log((c2 / r2) / (c1 / r1)) / step
        p_exp = math.log((p2 / r2) / (p1 / r1)) / step
        records = r2 * scale
        pairs = p2 / r2 * scale**p_exp * records
        hours = pairs / splink_rate / SPLINK_VCPU / 3600
        lines.append(
            f"| {b} | {t_exp:.2f} | {p_exp:.2f} | {records:,.0f} | {pairs:,.0f} | {hours:,.1f} h |"
        )
    lines += ["", *kinds_projection(sizes, cores), "", *rules_projection(sizes)]
    splink = SPLINK_PAIRS / (SPLINK_SECONDS * SPLINK_VCPU)
    lines += ["", f"Splink's published figure: {splink:,.0f} pairs per vCPU-second."]
    for b, rows in per.items():
        _, _, c, p = rows[-1]
        lines.append(f"Measured here, {b}, largest size: {p / c:,.0f} pairs per core-second "
                     "(the whole first run, not Splink alone).")  # fmt: skip
    return "\n".join(lines)


#: The subjects whose number a subject type's work follows: a person's records and spine grow
#: with the persons; an organisation's records and its legal representatives' terms with the
#: organisations.
KIND_BASIS = {"person": "persons", "organisation": "organisations",
              "legal_representative": "organisations"}  # fmt: skip


def kinds_projection(sizes: Sequence[dict[str, Any]], cores: int) -> list[str]:
    """Per backend and subject type (``linkage.runs``): the measured seconds of the first and the
    daily run at each size, and both carried to 1.4 billion persons and 180 million
    organisations from the two largest sizes, in two ways: linear (a fixed cost plus a cost per
    subject, the fit of the two points) and by the power law of the two points (the exponent
    of the seconds in the number of subjects). Core-hours are seconds x the machine's cores."""
    with_kinds = [s for s in sizes if all("kinds" in r for r in s["backends"].values())]
    if len(with_kinds) < 2:
        return []
    national = {"persons": NATIONAL_PERSONS, "organisations": NATIONAL_ORGANISATIONS}
    lines = ["| backend | subject type | run | " + " | ".join(
                 f"{s['persons']:,}: records, s" for s in with_kinds) +
             " | fixed s | s per 1M subjects | exponent | national core-h (linear) |"
             " national core-h (power) |",
             "|---|---|---|" + "---:|" * (len(with_kinds) + 5)]  # fmt: skip
    totals: dict[tuple[str, str], list[float]] = {}
    for backend in with_kinds[-1]["backends"]:
        for run in ("link", "link_day"):
            for kind, basis in KIND_BASIS.items():
                pts = []
                for s in with_kinds:
                    kinds = s["backends"][backend]["kinds"][run]
                    orgs = s["backends"][backend]["kinds"]["link"]["organisation"]["spine_entries"]
                    n = s["persons"] if basis == "persons" else orgs
                    k = kinds.get(kind, {"records": 0, "seconds": 0.0})
                    pts.append((n, int(k["records"]), float(k["seconds"])))
                (n1, _, t1), (n2, _, t2) = pts[-2], pts[-1]
                per = (t2 - t1) / (n2 - n1)
                fixed = t1 - per * n1
                big = national[basis]
                linear = fixed + per * big
                exp_ = math.log(t2 / t1) / math.log(n2 / n1) if t1 > 0 and t2 > 0 else 0.0
                power = t2 * (big / n2) ** exp_
                tot = totals.setdefault((backend, run), [0.0, 0.0])
                tot[0] += linear * cores / 3600
                tot[1] += power * cores / 3600
                cells = " | ".join(f"{r:,}, {t:.1f}" for _, r, t in pts)
                lines.append(
                    f"| {backend} | {kind} | {'first' if run == 'link' else 'daily'} | {cells} | "
                    f"{fixed:.1f} | {per * 1e6:.1f} | {exp_:.2f} | {linear * cores / 3600:,.0f} |"
                    f" {power * cores / 3600:,.0f} |"
                )
    lines += ["", "| backend | run | national core-hours (linear) | national core-hours (power) |"
              " on 192 vCPU (linear / power; the pairs' growth past 1M not included) |",
              "|---|---|---:|---:|---:|"]  # fmt: skip
    for (backend, run), (lin, pow_) in totals.items():
        name = "first" if run == "link" else "daily"
        lines.append(
            f"| {backend} | {name} | {lin:,.0f} | {pow_:,.0f} | "
            f"{lin / SPLINK_VCPU:.1f} / {pow_ / SPLINK_VCPU:.1f} |"
        )
    return lines


def rules_projection(sizes: Sequence[dict[str, Any]]) -> list[str]:
    """The pairs each blocking rule adds at each size (``rule_pairs``), the exponent of their
    growth in the number of subjects between the two largest sizes, and the pairs at 1.4
    billion persons and 180 million organisations by that exponent."""
    with_rules = [s for s in sizes if "rule_pairs" in s["stages"]]
    if len(with_rules) < 2:
        return []
    lines = ["| subject type | blocking rule | " + " | ".join(
                 f"pairs at {s['persons']:,}" for s in with_rules) +
             " | exponent | pairs nationally |",
             "|---|---|" + "---:|" * (len(with_rules) + 2)]  # fmt: skip
    national = {"person": NATIONAL_PERSONS, "organisation": NATIONAL_ORGANISATIONS}
    total: dict[str, float] = {}
    first = with_rules[-1]["stages"]["rule_pairs"]["detail"]
    for key in first:
        subject, _, rule = key.partition(":")
        if rule in ("records", "spine"):
            continue
        pts = [(s["stages"]["rule_pairs"]["detail"][f"{subject}:spine"],
                s["stages"]["rule_pairs"]["detail"].get(key, 0)) for s in with_rules]  # fmt: skip
        (n1, p1), (n2, p2) = pts[-2], pts[-1]
        cells = " | ".join(f"{p:,}" for _, p in pts)
        if p1 == 0 or p2 == 0:  # no growth to measure: left out of the total
            lines.append(f"| {subject} | `{rule.partition(':')[2]}` | {cells} | n/a | n/a |")
            continue
        exp_ = math.log(p2 / p1) / math.log(n2 / n1)
        nat = p2 * (national[subject] / n2) ** exp_
        total[subject] = total.get(subject, 0.0) + nat
        lines.append(f"| {subject} | `{rule.partition(':')[2]}` | {cells} | {exp_:.2f} | "
                     f"{nat:,.0f} |")  # fmt: skip
    for subject, n in total.items():
        blanks = " | " * (len(with_rules) + 1)
        lines.append(f"| {subject} | all rules{blanks}{n:,.0f} |")
    return lines


def merge(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Several runs of this script as one: the sizes by persons, their stages and backends by
    name, their bytes (a later file's figures win); the first file's machine."""
    sizes: dict[int, dict[str, Any]] = {}
    for r in results:
        for s in r["sizes"]:
            into = sizes.setdefault(s["persons"], {**s, "stages": {}, "backends": {}})
            into["stages"].update(s["stages"])
            into["backends"].update(s["backends"])
            into["bytes"] = s["bytes"]
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
