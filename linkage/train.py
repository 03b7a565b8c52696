"""Train a linkage model: u by random sampling, m by EM, saved as a new versioned model file.

Training uses the records the model will actually see: agency records that the deterministic
pass did not link (and that are not passports), against the whole spine. Steps, all on
Splink 5 with DuckDB (or Spark with ``CREDLINK_LINKAGE_BACKEND=spark``, :mod:`linkage.backend`:
the same sample, the same EM, the same file and version):

1. term frequencies of the spine (as in :func:`linkage.engine.link`);
2. u probabilities by random sampling of record-spine pairs (``u_max_pairs``, fixed ``seed``
   from the model's ``credlink`` block: the same data gives the same model);
3. m probabilities by expectation maximisation, one session per ``em_blocking_rules`` entry
   (each session estimates every comparison its blocking rule does not use); then no m below
   ``m_floor``: a level that EM never saw among matches (or put at 1e-70) would otherwise make
   one disagreement veto any link, while a clerk's slip can always happen; likewise no u
   below ``u_floor`` (a level never seen among the sampled non-matches has no u at all).
   Probabilities are rounded to 10 significant digits (DuckDB sums in parallel, so the last
   digits vary) and training runs on one DuckDB thread, so the same data gives the same file;
4. the trained model is written to ``<models_dir>/<subject>-<yyyymmdd>-<hash>.json``, by
   default (here, ``credlink train``, the training DAG and this module's command line) the
   work folder :func:`linkage.model.work_models_dir`, ``<data>/linkage/models/``, which git
   ignores; never the tracked ``linkage/models/`` (refused: it holds only what was promoted).
   The date is the training date given (no wall clock unless none is given) and the hash is
   the first 8 hex digits of SHA-256 over the trained settings: the version names exactly
   these parameters. The ``credlink`` block records the version and what it was trained on.
   A trained file is not used until it is reviewed and promoted (``credlink models promote
   FILE``, :func:`linkage.model.promote`), which copies it into ``linkage/models/`` and records
   it in ``production.json``;
5. charts as self-contained offline HTML (the chart library inlined, no CDN at view time) in
   ``<charts_dir>/<version>/``: ``match_weights.html``, ``m_u_parameters.html``.

:func:`train` works on any two tables and any model (any id column, any subject label);
:func:`train_from_lake` reads the credit-code pipeline's person or organisation tables.

Command line (the demo lake):

    .venv/bin/python -m linkage.train person --lake data/lake --date 2026-01-01
    .venv/bin/python -m linkage.train organisation --lake data/lake --date 2026-01-01
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from credlink.etl.lake import Lake
from credlink.linkage.backend import duckdb_form, open_backend
from credlink.linkage.deterministic import deterministic_pass
from credlink.linkage.engine import prepare_tables, tf_table
from credlink.linkage.model import MODELS_DIR, ModelError, ModelMeta, load_model, work_models_dir
from credlink.linkage.records import read_organisation_records, read_person_records
from credlink.linkage.spine import (
    ORGANISATION_DATASET,
    PERSON_DATASET,
    read_organisation_spine,
    read_person_spine,
)

__all__ = [
    "TrainResult",
    "floor_probabilities",
    "model_version",
    "train",
    "train_from_lake",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainResult:
    """A trained model file and its charts."""

    model_path: Path
    version: str
    charts: dict[str, Path]
    records: int
    spine: int
    seconds: float


def model_version(subject_type: str, settings: dict[str, Any], on: date) -> str:
    """``<subject>-<yyyymmdd>-<8 hex digits of SHA-256 of the settings>``.

    Example: ``model_version('person', {...}, date(2026, 1, 1)) -> 'person-20260101-3f2a9c1e'``.
    """
    digest = hashlib.sha256(
        json.dumps(settings, sort_keys=True, ensure_ascii=False).encode("utf-8")
    ).hexdigest()[:8]
    return f"{subject_type}-{on:%Y%m%d}-{digest}"


def _round(x: float) -> float:
    return float(f"{x:.10g}")


def floor_probabilities(settings: dict[str, Any], m_floor: float, u_floor: float) -> None:
    """In place: every non-null level's m at least `m_floor` and u at least `u_floor` (each
    comparison's m's and u's renormalised to sum to 1), all rounded to 10 significant digits.

    Example: m = (0.999, None, 1e-70) with floor 0.001 -> (0.998004, 0.000998, 0.000998).
    """
    for comp in settings.get("comparisons", []):
        levels = [lv for lv in comp["comparison_levels"] if not lv.get("is_null_level")]
        for key, floor in (("m_probability", m_floor), ("u_probability", u_floor)):
            values = [max(float(lv.get(key) or 0.0), floor) for lv in levels]
            total = sum(values)
            for lv, v in zip(levels, values, strict=True):
                lv[key] = _round(v / total)


def train(
    records: pl.DataFrame,
    spine: pl.DataFrame,
    settings: Path | str,
    *,
    on: date,
    models_dir: Path | None = None,
    charts_dir: Path | None = None,
) -> TrainResult:
    """Train the model in `settings` on `records` (those left for the model) against `spine`.

    Returns the path of the new model file (see the module doc), written to `models_dir`
    (default: the work folder :func:`linkage.model.work_models_dir`), its version and charts.
    Raises :class:`~linkage.model.ModelError` for `models_dir` the tracked production folder
    ``linkage/models/`` (promote a model to put it there).
    """
    from splink import Linker

    t0 = time.perf_counter()
    models_dir = _work_folder(models_dir)
    base = load_model(settings)
    recs, spn = prepare_tables(records, spine, base)
    if recs.is_empty():
        raise ValueError("no records to train on")
    meta = base.meta
    prior = min(meta.linkable_share / spn.height, 0.5)
    splink_settings = base.splink_settings(probability_two_random_records_match=prior)
    charts: dict[str, Any] = {}
    with open_backend(threads=1) as db:
        linker = Linker(
            [db.register(recs, "records"), db.register(spn, "spine")],
            db.settings(splink_settings),
            log_level=logging.WARNING,
        )
        for col in base.tf_columns:
            tf = db.register_lookup(tf_table(spn, col), f"credlink_tf_{col}")
            linker.table_management.register_term_frequency_lookup(tf, col)

        linker.training.estimate_u_using_random_sampling(max_pairs=meta.u_max_pairs, seed=meta.seed)
        for rule in meta.em_blocking_rules:
            linker.training.estimate_parameters_using_expectation_maximisation(db.rule(rule))

        trained = linker.misc.save_model_to_json()
        if db.name != "duckdb":
            # The file is the same whatever the backend: DuckDB SQL, the trained numbers.
            trained = duckdb_form(trained, splink_settings)
        if charts_dir is not None:
            charts = {
                "match_weights": linker.visualisations.match_weights_chart(),
                "m_u_parameters": linker.visualisations.m_u_parameters_chart(),
            }
    trained.pop("linker_uid", None)  # random per linker: not part of the model
    floor_probabilities(trained, meta.m_floor, meta.u_floor)
    trained["probability_two_random_records_match"] = prior
    version = model_version(meta.subject_type, trained, on)
    info = {
        "on": on.isoformat(),
        "from_settings": base.path.name,
        "records": recs.height,
        "spine": spn.height,
    }
    new_meta = ModelMeta(**{**meta.as_dict(), "model_version": version, "trained": info})
    models_dir.mkdir(parents=True, exist_ok=True)
    path = models_dir / f"{version}.json"
    path.write_text(
        json.dumps({"credlink": new_meta.as_dict(), **trained}, indent=2, ensure_ascii=False)
        + "\n",
        encoding="utf-8",
    )
    chart_files: dict[str, Path] = {}
    if charts_dir is not None:
        out = charts_dir / version
        out.mkdir(parents=True, exist_ok=True)
        for name, chart in charts.items():
            chart_files[name] = out / f"{name}.html"
            chart.save(str(chart_files[name]), inline=True)
    seconds = time.perf_counter() - t0
    log.info(
        "trained %s on %d records, spine %d, in %.1f s", version, recs.height, spn.height, seconds
    )
    return TrainResult(path, version, chart_files, recs.height, spn.height, seconds)


def _work_folder(models_dir: Path | None) -> Path:
    """Where a trained model goes: `models_dir`, by default the work folder; never the
    tracked production folder (where only :func:`linkage.model.promote` writes)."""
    out = work_models_dir() if models_dir is None else models_dir
    if out.resolve() == MODELS_DIR.resolve():
        raise ModelError(
            f"{out} holds the promoted production models: train into a work folder (the "
            f"default, {work_models_dir()}) and promote the reviewed file with "
            "`credlink models promote FILE`"
        )
    return out


def train_from_lake(
    subject_type: str,
    lake: Lake,
    *,
    on: date,
    settings: Path | None = None,
    models_dir: Path | None = None,
    charts_dir: Path | None = None,
) -> TrainResult:
    """:func:`train` on the lake's staged records of one subject type, deterministic pass
    removed, with the reviewed settings ``linkage/models/<subject>.json`` by default, into
    `models_dir` (default: the work folder :func:`linkage.model.work_models_dir`); refused
    before anything is read when `models_dir` is the production folder or nothing is staged."""
    models_dir = _work_folder(models_dir)
    dataset = PERSON_DATASET if subject_type == "person" else ORGANISATION_DATASET
    if subject_type in ("person", "organisation") and dataset not in lake.datasets("staging"):
        raise ValueError(
            f"no records to train on: staging.{dataset} is not in {lake.url} (run the ingest)"
        )
    if subject_type == "person":
        records, spine = read_person_records(lake), read_person_spine(lake)
    elif subject_type == "organisation":
        records, spine = read_organisation_records(lake), read_organisation_spine(lake)
    else:
        raise ValueError(f"subject_type must be 'person' or 'organisation', got {subject_type!r}")
    rest = deterministic_pass(records, spine, subject_type).to_model
    return train(
        rest,
        spine,
        settings or MODELS_DIR / f"{subject_type}.json",
        on=on,
        models_dir=models_dir,
        charts_dir=charts_dir,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Train a linkage model (see linkage.train).")
    parser.add_argument("subject_type", choices=["person", "organisation"])
    parser.add_argument("--lake", type=Path, default=Path("data/lake"))
    parser.add_argument("--date", type=date.fromisoformat, default=None,
                        help="training date in the version (default: today)")  # fmt: skip
    parser.add_argument("--settings", type=Path, default=None)
    parser.add_argument("--models-dir", type=Path, default=None,
                        help="where to write the model (default: <data>/linkage/models; "
                        "promote it to use it)")  # fmt: skip
    parser.add_argument("--charts-dir", type=Path, default=Path("data/linkage/charts"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    result = train_from_lake(
        args.subject_type,
        Lake(args.lake),
        on=args.date or date.today(),
        settings=args.settings,
        models_dir=args.models_dir,
        charts_dir=args.charts_dir,
    )
    log.info("model %s, charts %s", result.model_path, sorted(map(str, result.charts.values())))


if __name__ == "__main__":
    main()
