"""The benchmark harness: how cost grows with the world, stage by stage, against bare Splink.

    .venv/bin/python bench/run.py                                  # 10k, 100k, 1M persons
    .venv/bin/python bench/run.py --sizes 10000 100000 --reps 3 --markdown docs/benchmarks.md
    make bench                                                     # the same, BENCH_ARGS=...

For each size it generates a world (2024-01-01 .. 2025-12-31) and runs the pipeline through the
project's own functions, the ones the DAG tasks call, each stage in a fresh process (so a
stage's peak memory is its own, as an Airflow task's is):

``generate``  :func:`world.generate.generate_world`
``ingest``    the initial load of every table of every source contract, as the ingest DAGs' first
              run does (all history before the world's last day, then the day before it;
              :func:`etl.ingest.run.intervals_for_run` / :func:`etl.ingest.run.ingest_table`),
              then the DuckDB catalog (the DAGs' ``publish_<source>`` task)
``link``      :func:`linkage.stage.run_linkage` (the first run: every record is linked)
``publish``   :func:`publish.stage.run_publish` (skipped, with the reason, when not importable)

End to end is the sum of the stages' process wall times (imports included; an Airflow task pays
them too); its peak is the largest stage peak. Then, per phase:

``incremental``  (``--incremental-sizes``) one day after the history: the ingest of the world's
                 last day, the daily (incremental) linkage run and publish; the linkage layer,
                 the lake's publishing state and the warehouse are restored before each
                 repetition so that each one does the same work (a day after the history's).
``bare``         (``--bare-sizes``) the linkage stage in full mode against a minimal Splink
                 script on the same tables (records and spines from :mod:`linkage.records` /
                 :mod:`linkage.spine`, the legal representatives of the registry), the same
                 model JSON, prior and term-frequency tables, DuckDB's default threads on both
                 sides; alternated within each repetition. Two bare variants: every record
                 (``bare_all``) and only the records the stage gives the model after its
                 deterministic pass (``bare_model``, the pass itself untimed);
                 ``--bare-variants`` picks them (bare Splink on every record of a 1M-person
                 world needs more than 20 GiB).
``airflow``      (``--airflow-size``) the same initial-load ingest through ``airflow dags test``
                 of each ingest DAG vs the direct function calls, one process per DAG on both
                 sides, in a throwaway Airflow home.

``--phases`` picks the phases (without ``stages``, the lake of an earlier run in ``--work`` is
used). A stage is killed when the machine's available memory falls below
:data:`bench_measure.MIN_AVAILABLE_MIB` (the machine is shared); a failed publish or bare run is
reported and the run goes on. A stage is repeated (``--reps``) when its first run took less than
``--repeat-under`` seconds and the median is reported. Wall time is measured around the
function call in the child (``seconds``) and around the whole child process (``wall``); peak
memory is the largest of the child's maximum RSS (``wait4``, including its own children) and
the sampled RSS of its process tree (psutil, every 0.1 s). Results go to JSON (``--json``)
and, with ``--markdown``, between the markers of a Markdown file (created when missing).

This file is the entry point (the options, the phases per size, the Airflow comparison); beside
it :mod:`bench_stages` holds the stages run in the child processes (``run.py stage <name> ...``),
:mod:`bench_measure` the measuring of those processes and the repetitions, and
:mod:`bench_report` the machine's description and the Markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# The sibling modules, also when this file is loaded by path (tests/bench) rather than run.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_measure import ROOT, Measure, Stat, measure_process, repeated, run_stage
from bench_report import BEGIN_MARK as BEGIN_MARK
from bench_report import END_MARK as END_MARK
from bench_report import machine, write_markdown
from bench_stages import DAY_STAGES, END, STAGES, child_main

from credlink.orchestration.sources import ingest_dag_sources

PHASES = ("stages", "incremental", "bare")
#: The ingest DAGs and their sources, from the source contracts (by DAG id).
INGEST_DAGS = dict(sorted(ingest_dag_sources().items()))


def publish_available() -> str | None:
    """None if the publishing stage can run, else why not."""
    try:
        from credlink.publish.stage import run_publish  # noqa: F401
    except Exception as e:  # an unfinished module may fail in any way
        return f"publish.stage.run_publish not importable: {type(e).__name__}: {e}"
    return None


def bench_size(persons: int, opts: argparse.Namespace, say: Callable[[str], None],
               out: dict[str, Any], save: Callable[[], None]) -> None:  # fmt: skip
    """Every phase for one size, into `out` (saved after each phase)."""
    work = opts.work / f"w{persons}"
    paths = {"persons": persons, "world": str(work / "world"), "lake": str(work / "lake"),
             "warehouse": str(work / "warehouse" / "credlink.duckdb")}  # fmt: skip
    out.update({"persons": persons, "stages": {}, "incremental": None, "bare": None})
    no_publish = publish_available()
    out["publish_skipped"] = no_publish
    for name in STAGES if "stages" in opts.phases else ():
        if name == "publish" and no_publish:
            continue
        if name == "generate":
            shutil.rmtree(work / "lake", ignore_errors=True)
            shutil.rmtree(work / "warehouse", ignore_errors=True)
        say(f"{persons:,} persons: {name}")
        try:
            stat = repeated(lambda n=name: run_stage(n, paths, work), opts.reps, opts.repeat_under)
        except RuntimeError as e:  # publish/ is being built: report, go on
            if name != "publish":
                raise
            out["publish_skipped"] = f"publish failed: {e}"
            say(f"  {e}")
            continue
        out["stages"][name] = stat.as_dict()
        say(f"  {stat.wall:.1f} s, peak {stat.peak_mib:,.0f} MiB")
    stages = out["stages"].values()
    if stages:
        out["end_to_end"] = {"wall": sum(s["wall"] for s in stages),
                             "seconds": sum(s["seconds"] for s in stages),
                             "peak_mib": max(s["peak_mib"] for s in stages)}  # fmt: skip
        save()

    if persons in opts.incremental_sizes and "incremental" in opts.phases:
        lake = work / "lake"
        # The state after the history that the day's stages change: the linkage layer, the
        # publishing state of the lake (history, runs, restriction basis) and the warehouse.
        kept = {lake / "linkage": work / "linkage-before-day",
                lake / "publish": work / "publish-before-day",
                work / "warehouse": work / "warehouse-before-day"}  # fmt: skip
        for live, saved in kept.items():
            shutil.rmtree(saved, ignore_errors=True)
            if live.exists():
                shutil.copytree(live, saved, symlinks=True)

        def restore() -> None:
            for live, saved in kept.items():
                if saved.exists():
                    if live.exists():
                        for p in live.rglob("*"):  # published files are read-only
                            if not p.is_symlink():
                                p.chmod(p.stat().st_mode | 0o200)
                    shutil.rmtree(live, ignore_errors=True)
                    shutil.copytree(saved, live, symlinks=True)

        runs: dict[str, list[Measure]] = {n: [] for n in DAY_STAGES}
        for i in range(opts.reps):
            restore()
            say(f"{persons:,} persons: one day, repetition {i + 1}")
            for name in DAY_STAGES:
                if name == "publish_day" and no_publish:
                    continue
                try:
                    runs[name].append(run_stage(name, paths, work))
                except RuntimeError as e:  # publish/ is being built: report, go on
                    if name != "publish_day":
                        raise
                    out["publish_day_error"] = str(e)
        day = {n: Stat(r).as_dict() for n, r in runs.items() if r}
        totals = [sum(r[i].wall for r in runs.values() if len(r) > i) for i in range(opts.reps)]
        inner = [sum(r[i].seconds for r in runs.values() if len(r) > i) for i in range(opts.reps)]
        out["incremental"] = {"stages": day, "wall": statistics.median(totals),
                              "seconds": statistics.median(inner),
                              "peak_mib": max(d["peak_mib"] for d in day.values())}  # fmt: skip
        say(f"  one day: {out['incremental']['wall']:.1f} s")
        save()

    if persons in opts.bare_sizes and "bare" in opts.phases:
        seq: dict[str, list[Measure]] = {"stage_full": [], "bare_all": [], "bare_model": []}
        errors: dict[str, str] = {}
        for i in range(opts.reps):
            if i and min(r[0].wall for r in seq.values() if r) >= opts.repeat_under:
                break
            order = ["stage_full", "bare_all", "bare_model"]
            if i % 2:
                order.reverse()
            say(f"{persons:,} persons: linkage vs bare Splink, repetition {i + 1}")
            for name in order:
                if name == "stage_full":
                    seq[name].append(run_stage("link_full", paths, work))
                elif name not in errors and name.removeprefix("bare_") in opts.bare_variants:
                    variant = name.removeprefix("bare_")
                    try:
                        seq[name].append(run_stage("bare", {**paths, "variant": variant}, work))
                    except RuntimeError as e:  # e.g. the memory guard: report it, go on
                        errors[name] = str(e)
                        say(f"  {name} failed: {e}")
        bare: dict[str, Any] = {n: Stat(r).as_dict() for n, r in seq.items() if r}
        bare["errors"] = errors
        for variant in ("all", "model"):  # the bare script's timed part: read + Splink
            if not seq[f"bare_{variant}"]:
                bare[f"ratio_{variant}"] = None
                continue
            timed = [m.detail["read_s"] + m.detail["splink_s"] for m in seq[f"bare_{variant}"]]
            bare[f"bare_{variant}"]["timed"] = statistics.median(timed)
            bare[f"ratio_{variant}"] = bare["stage_full"]["seconds"] / statistics.median(timed)
        out["bare"] = bare
        say(f"  stage / bare Splink: {bare['ratio_all']} (all records), "
            f"{bare['ratio_model']} (model-bound records)")  # fmt: skip
        save()


def bench_airflow(persons: int, opts: argparse.Namespace, say: Callable[[str], None]) -> dict:
    """The initial-load ingest through `airflow dags test` vs the direct calls, per DAG."""
    work = opts.work / "airflow"
    world = opts.work / f"w{persons}" / "world"
    if not (world / "world.json").exists():
        say(f"{persons:,} persons: generate (for the Airflow comparison)")
        run_stage("generate", {"persons": persons, "world": str(world)}, opts.work / f"w{persons}")
    home, data = work / "home", work / "data"
    shutil.rmtree(work, ignore_errors=True)
    data.mkdir(parents=True)
    (data / "world").symlink_to(world)
    env = {**os.environ, "CREDLINK_ROOT": str(ROOT), "CREDLINK_DATA": str(data),
           "AIRFLOW_HOME": str(home), "AIRFLOW_CONFIG": str(ROOT / "airflow.cfg"),
           "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ.get('PATH', '')}"}  # fmt: skip
    env = {k: v for k, v in env.items() if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_"))}
    from credlink.airflow_home import prepare_airflow_home

    prepare_airflow_home(home, ROOT)
    say("Airflow: migrating a throwaway metadata DB")
    measure_process([sys.executable, "-c", "from credlink.airflow_db import migrate; migrate()"],
                    work / "logs" / "setup.log", env=env)  # fmt: skip
    measure_process([str(ROOT / ".venv" / "bin" / "airflow"), "dags", "reserialize"],
                    work / "logs" / "setup.log", env=env)  # fmt: skip
    date_arg = END + timedelta(days=1)  # a manual run covers the day that ended at its date
    direct_lake = work / "direct-lake"
    out: dict[str, Any] = {"persons": persons, "dags": {}}
    for i in range(opts.airflow_reps):
        shutil.rmtree(data / "lake", ignore_errors=True)
        shutil.rmtree(direct_lake, ignore_errors=True)
        for dag_id, sources in INGEST_DAGS.items():
            say(f"Airflow: {dag_id}, repetition {i + 1}")
            via = measure_process(
                [str(ROOT / ".venv" / "bin" / "airflow"), "dags", "test", dag_id,
                 date_arg.isoformat(), "-c", json.dumps({"initial_load": True,
                                                         "quarantine_limit": 1.0})],
                work / "logs" / f"{dag_id}.log", env=env,
            )  # fmt: skip
            direct = run_stage("ingest_direct", {"world": str(world), "lake": str(direct_lake),
                               "sources": sources}, work)  # fmt: skip
            d = out["dags"].setdefault(dag_id, {"airflow": [], "direct": []})
            d["airflow"].append(asdict(via))
            d["direct"].append(asdict(direct))
    for d in out["dags"].values():
        for k in ("airflow", "direct"):
            d[f"{k}_wall"] = statistics.median(m["wall"] for m in d[k])
            d[f"{k}_peak_mib"] = max(m["peak_mib"] for m in d[k])
    out["airflow_wall"] = sum(d["airflow_wall"] for d in out["dags"].values())
    out["direct_wall"] = sum(d["direct_wall"] for d in out["dags"].values())
    out["same_rows"] = _ingest_totals(data / "lake") == _ingest_totals(direct_lake)
    out["rows"] = _ingest_totals(direct_lake)
    say(f"  Airflow {out['airflow_wall']:.1f} s vs direct {out['direct_wall']:.1f} s")
    return out


def _ingest_totals(lake_root: Path) -> dict[str, int]:
    import polars as pl

    from credlink.etl.lake import Lake

    runs = Lake(lake_root).read_runs()
    if runs.is_empty():
        return {}
    row = runs.select(pl.col("extracted", "staged", "quarantined").sum()).row(0, named=True)
    return {k: int(v) for k, v in row.items()}


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000, 1_000_000])
    p.add_argument("--reps", type=int, default=3)
    p.add_argument(
        "--repeat-under",
        type=float,
        default=30.0,
        help="repeat a stage whose first run took less than this (seconds)",
    )
    p.add_argument(
        "--phases",
        nargs="+",
        choices=PHASES,
        default=list(PHASES),
        help="what to run per size; without 'stages' the lake of an earlier run in --work is used",
    )
    p.add_argument("--bare-variants", nargs="*", choices=("all", "model"), default=["all", "model"])
    p.add_argument("--incremental-sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    p.add_argument("--bare-sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    p.add_argument("--airflow-size", type=int, default=10_000, help="0: skip")
    p.add_argument("--airflow-reps", type=int, default=1)
    p.add_argument("--work", type=Path, default=Path("/tmp/credlink-bench"))
    p.add_argument("--json", type=Path, default=None, help="default: <work>/results.json")
    p.add_argument(
        "--markdown",
        type=Path,
        default=None,
        help="write the tables between the markers of this file",
    )
    p.add_argument(
        "--merge",
        type=Path,
        nargs="*",
        default=[],
        help="results JSON of earlier runs to put in the Markdown before this one",
    )
    p.add_argument("--report-only", action="store_true",
                   help="only write the Markdown from --merge files")  # fmt: skip
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, Any] | None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["stage"]:
        child_main(argv[1], argv[2], Path(argv[3]))
        return None
    opts = parse_args(argv)
    earlier = [json.loads(p.read_text()) for p in opts.merge]
    if opts.report_only:
        if opts.markdown:
            write_markdown(opts.markdown, earlier)
        return None
    opts.work = opts.work.resolve()
    opts.work.mkdir(parents=True, exist_ok=True)

    def say(msg: str) -> None:
        print(f"{datetime.now(UTC):%H:%M:%S} {msg}", flush=True)  # noqa: T201

    res: dict[str, Any] = {
        "command": "bench/run.py " + shlex.join(argv),
        "started": f"{datetime.now(UTC):%Y-%m-%d %H:%M}",
        "machine": machine(),
        "reps": opts.reps,
        "repeat_under": opts.repeat_under,
        "sizes": [],
        "airflow": None,
    }
    json_path = opts.json or opts.work / "results.json"

    def save() -> None:
        res["finished"] = f"{datetime.now(UTC):%Y-%m-%d %H:%M}"
        res["loadavg_end"] = os.getloadavg()
        json_path.write_text(json.dumps(res, indent=1, default=str))
        if opts.markdown:
            write_markdown(opts.markdown, [*earlier, res])

    for persons in opts.sizes:
        res["sizes"].append({})
        bench_size(persons, opts, say, res["sizes"][-1], save)
    if opts.airflow_size:
        res["airflow"] = bench_airflow(opts.airflow_size, opts, say)
    save()
    say(f"results: {json_path}")
    return res


if __name__ == "__main__":
    main()
