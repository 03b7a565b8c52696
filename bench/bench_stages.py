"""The benchmark's stages: what runs in each fresh child process of bench/run.py.

``bench/run.py stage <name> <args JSON> <result file>`` calls :func:`child_main`, which imports
what the stage needs (:data:`PREIMPORT`, outside the timer), runs ``STAGE_FUNCS[name]`` through
the project's own functions (the ones the DAG tasks call) and writes its time and details as
JSON. The world's dates and the ingest runs' intervals live here too.
"""

from __future__ import annotations

import importlib
import json
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from credlink.settings import day_start

START, END = date(2024, 1, 1), date(2025, 12, 31)
SEED = 7
STAGES = ("generate", "ingest", "link", "publish")
DAY_STAGES = ("ingest_day", "link_day", "publish_day")


#: The ingest DAGs' initial-load run on the day before the world's last day, then the daily run
#: of the last day (CronDataIntervalTimetable: the run of day D covers [D, D+1) China time).
HISTORY_DAY = END - timedelta(days=1)
HISTORY_START, HISTORY_END = day_start(HISTORY_DAY), day_start(END)
DAY_END = day_start(END + timedelta(days=1))


def _ingest(world: Path, lake_root: Path, start: datetime, end: datetime, *, initial: bool,
            run_id: str, sources: Sequence[str] | None = None) -> dict[str, Any]:  # fmt: skip
    """What the ingest DAGs' tasks do for `sources` (default all): check the source's schema,
    ingest every table over the run's intervals, refresh the catalog."""
    from credlink.etl.ingest.run import RunContext, ingest_sources
    from credlink.etl.lake import Lake

    lake = Lake(lake_root)
    ctx = RunContext(run_id=run_id, logical_date=start, docs_root=lake_root / "docs",
                     quarantine_limit=1.0)  # fmt: skip
    return asdict(ingest_sources(world, lake, start, end, initial=initial, ctx=ctx,
                                 sources=sources))  # fmt: skip


def stage_generate(a: dict[str, Any]) -> dict[str, Any]:
    from credlink.world.config import WorldConfig
    from credlink.world.generate import generate_world

    out = Path(a["world"])
    shutil.rmtree(out, ignore_errors=True)
    s = generate_world(WorldConfig(persons=a["persons"], seed=SEED, start=START, end=END, out=out))
    return {"rows": sum(sum(t.values()) for t in s.tables.values()), "truth_rows": s.truth_rows}


def stage_ingest(a: dict[str, Any]) -> dict[str, Any]:
    return _ingest(Path(a["world"]), Path(a["lake"]), HISTORY_START, HISTORY_END, initial=True,
                   run_id="bench-history", sources=a.get("sources"))  # fmt: skip


def stage_ingest_day(a: dict[str, Any]) -> dict[str, Any]:
    return _ingest(Path(a["world"]), Path(a["lake"]), HISTORY_END, DAY_END, initial=False,
                   run_id="bench-day")  # fmt: skip


def _link(a: dict[str, Any], run_id: str, logical_date: datetime) -> dict[str, Any]:
    from credlink.etl.lake import Lake
    from credlink.linkage.stage import run_linkage

    counts = run_linkage(Lake(Path(a["lake"])), run_id=run_id, logical_date=logical_date,
                         full=bool(a.get("full", False)))  # fmt: skip
    return {k: counts.get(k) for k in ("records", "relinked", "kept", "accept", "review")}


def stage_link(a: dict[str, Any]) -> dict[str, Any]:
    return _link(a, "bench-history", HISTORY_END)


def stage_link_day(a: dict[str, Any]) -> dict[str, Any]:
    return _link(a, "bench-day", DAY_END)


def stage_link_full(a: dict[str, Any]) -> dict[str, Any]:
    return _link({**a, "full": True}, "bench-full", DAY_END)


def _publish(a: dict[str, Any], run_id: str, as_of: date) -> dict[str, Any]:
    from credlink.etl.lake import Lake
    from credlink.publish.stage import run_publish

    counts = run_publish(Lake(Path(a["lake"])), Path(a["warehouse"]), run_id, as_of)
    return {k: v for k, v in counts.items() if isinstance(v, int)}


def stage_publish(a: dict[str, Any]) -> dict[str, Any]:
    return _publish(a, "bench-history", HISTORY_DAY)


def stage_publish_day(a: dict[str, Any]) -> dict[str, Any]:
    return _publish(a, "bench-day", END)


def stage_bare(a: dict[str, Any]) -> dict[str, Any]:
    """A minimal Splink script: the same tables, model JSON, prior and term frequencies as the
    linkage stage, scored by ``Linker.inference.predict``; nothing written."""
    import polars as pl
    from splink import DuckDBAPI, Linker

    from credlink.etl.lake import Lake
    from credlink.linkage.deterministic import deterministic_pass
    from credlink.linkage.model import current_model_path, load_model
    from credlink.linkage.records import read_organisation_records, read_person_records
    from credlink.linkage.representatives import TERMS_DATASET, representative_records
    from credlink.linkage.spine import (
        ORGANISATION_DATASET,
        read_organisation_spine,
        read_person_spine,
    )

    lake = Lake(Path(a["lake"]))
    model_bound = a["variant"] == "model"
    t0 = time.perf_counter()
    persons = read_person_spine(lake)
    inputs = [
        ("person", read_person_records(lake), persons),
        ("organisation", read_organisation_records(lake), read_organisation_spine(lake)),
        (
            "person",
            representative_records(
                lake.read("staging", ORGANISATION_DATASET), lake.read("staging", TERMS_DATASET)
            ),
            persons,
        ),
    ]
    seconds = {"read": time.perf_counter() - t0, "prep": 0.0, "splink": 0.0}
    records_in = pairs = 0
    threads = None
    for subject, records, spine in inputs:
        if model_bound:  # what the stage gives the model: untimed
            t = time.perf_counter()
            records = deterministic_pass(records, spine, subject).to_model
            seconds["prep"] += time.perf_counter() - t
        t = time.perf_counter()
        model = load_model(current_model_path(subject))
        cols = model.required_columns()
        schema = {c: spine.schema[c] if spine.schema[c] != pl.Null else records.schema[c]
                  for c in cols}  # fmt: skip
        db = DuckDBAPI()
        threads = db.duckdb_con.sql("SELECT current_setting('threads')").fetchone()
        linker = Linker(
            [db.register(records.select(cols).cast(schema).to_arrow(), dataset_display_name="r"),
             db.register(spine.select(cols).cast(schema).to_arrow(), dataset_display_name="s")],
            model.splink_settings(
                probability_two_random_records_match=min(
                    model.meta.linkable_share / spine.height, 0.5),
                retain_intermediate_calculation_columns=True,
            ),
        )  # fmt: skip
        for col in model.tf_columns:  # term frequencies from the spine, as the stage does
            tf = spine.select(col).drop_nulls().group_by(col).len()
            tf = tf.select(col, (pl.col("len") / max(tf["len"].sum(), 1)).alias(f"tf_{col}"))
            tf_sdf = db.register(tf.to_arrow(), table_name=f"bare_tf_{col}")
            linker.table_management.register_term_frequency_lookup(tf_sdf, col)
        predictions = linker.inference.predict(warning_mode="never")
        # The pairs with what the stage keeps of them (ids, probability, weights), as Arrow;
        # every column (as_pyarrow_table) took over 20 GiB at 1M persons.
        mw = [f'"mw_{c["output_column_name"]}"' for c in model.settings["comparisons"]]
        scored = db.duckdb_con.sql(
            "SELECT source_dataset_l, unique_id_l, unique_id_r, match_probability, "
            f"match_weight, {', '.join(mw)} FROM {predictions.physical_name}"
        ).to_arrow_table()
        seconds["splink"] += time.perf_counter() - t
        records_in += records.height
        pairs += scored.num_rows
    return {"records": records_in, "pairs": pairs, "duckdb_threads": threads and threads[0],
            "read_s": seconds["read"], "prep_s": seconds["prep"],
            "splink_s": seconds["splink"]}  # fmt: skip


def model_inputs(
    lake_dir: Path, subjects: Sequence[str] = ("person", "organisation")
) -> list[tuple[str, Any, Any]]:
    """Per subject type, the records the model gets (those the deterministic pass leaves, as
    the linkage stage gives them) and the spine, from the lake at `lake_dir`."""
    from credlink.etl.lake import Lake
    from credlink.linkage.deterministic import deterministic_pass
    from credlink.linkage.records import read_organisation_records, read_person_records
    from credlink.linkage.spine import read_organisation_spine, read_person_spine

    lake = Lake(lake_dir)
    read = {"person": (read_person_records, read_person_spine),
            "organisation": (read_organisation_records, read_organisation_spine)}  # fmt: skip
    out = []
    for subject in subjects:
        records, spine = read[subject][0](lake), read[subject][1](lake)
        out.append((subject, deterministic_pass(records, spine, subject).to_model, spine))
    return out


def stage_rule_pairs(a: dict[str, Any]) -> dict[str, Any]:
    """The pairs each blocking rule of the production models adds (Splink's exact count,
    marginal: pairs no earlier rule found), on the records the model gets, per subject type;
    nothing scored. What grows with the population (docs/scale.md)."""
    from splink import Linker

    from credlink.linkage.backend import DuckDBBackend
    from credlink.linkage.engine import prepare_tables
    from credlink.linkage.model import current_model_path, load_model

    out: dict[str, Any] = {}
    for subject, records, spine in model_inputs(Path(a["lake"])):
        model = load_model(current_model_path(subject))
        recs, spn = prepare_tables(records, spine, model)
        db = DuckDBBackend()
        settings = model.splink_settings(probability_two_random_records_match=0.5)
        linker = Linker([db.register(recs, "r"), db.register(spn, "s")], settings)
        counts = linker.blocking_analysis.count_comparisons_from_blocking_rules(
            record_sample_proportion=1.0
        )
        for i, c in enumerate(counts):
            out[f"{subject}:{i}:{c['blocking_rule']}"] = int(c["marginal_comparison_count"])
        out[f"{subject}:records"] = records.height
        out[f"{subject}:spine"] = spine.height
    return out


def stage_ingest_direct(a: dict[str, Any]) -> dict[str, Any]:
    """The ingest DAG run of `sources` with `{"initial_load": true}`, by direct calls."""
    return _ingest(Path(a["world"]), Path(a["lake"]), HISTORY_END, DAY_END, initial=True,
                   run_id="bench-direct", sources=a["sources"])  # fmt: skip


STAGE_FUNCS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "generate": stage_generate,
    "ingest": stage_ingest,
    "link": stage_link,
    "publish": stage_publish,
    "ingest_day": stage_ingest_day,
    "link_day": stage_link_day,
    "publish_day": stage_publish_day,
    "link_full": stage_link_full,
    "bare": stage_bare,
    "rule_pairs": stage_rule_pairs,
    "ingest_direct": stage_ingest_direct,
}


#: What each stage imports before its timer starts (heavy libraries and the stage's modules).
PREIMPORT: dict[str, tuple[str, ...]] = {
    "generate": ("world.generate",),
    **dict.fromkeys(
        ("ingest", "ingest_day", "ingest_direct"),
        ("great_expectations", "etl.ingest.run", "etl.ingest.extract"),
    ),
    **dict.fromkeys(("link", "link_day", "link_full"), ("splink", "linkage.stage")),
    **dict.fromkeys(("publish", "publish_day"), ("publish.stage",)),
    "bare": ("splink", "linkage.records", "linkage.spine", "linkage.deterministic"),
}


def child_main(name: str, args_json: str, result: Path) -> None:
    """Run one stage in this (fresh) process and write its result as JSON."""
    import logging

    logging.basicConfig(level=logging.WARNING)
    a = json.loads(args_json)
    for module in PREIMPORT.get(name, ()):  # imports are in the process wall time, not here
        importlib.import_module(module)
    t = time.perf_counter()
    detail = STAGE_FUNCS[name](a)
    seconds = time.perf_counter() - t
    result.write_text(json.dumps({"seconds": seconds, "detail": detail}, default=str))
