"""Link a lake's records and print their quality against the world's ground truth.

    .venv/bin/python bench/linkage_quality.py                      # the demo lake and world
    .venv/bin/python bench/linkage_quality.py --lake /tmp/w100k-lake --world /tmp/w100k

Prints, per subject type and source table: precision, recall and F1 of the accept band, link
rate, share in review and the share of registry-absent subjects linked; then who fails (by
identifier class and band), the blocking rules with their exact pair counts, and timings.
Models default to the current trained ones in ``linkage/models/``.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import polars as pl
from rich.console import Console

from credlink.etl.lake import Lake
from credlink.linkage.model import current_model_path
from credlink.linkage.quality import failures, quality_table, read_truth
from credlink.linkage.records import organisation_records, person_records, read_subject_tables
from credlink.linkage.resolve import resolve
from credlink.linkage.spine import read_organisation_spine, read_person_spine
from credlink.settings import ACCEPT, REVIEW

TARGETS = {
    "person": {"precision": 0.999, "recall": 0.99},
    "organisation": {"precision": 0.999, "recall": 0.995},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lake", type=Path, default=Path("data/lake"))
    parser.add_argument("--world", type=Path, default=Path("data/world"))
    parser.add_argument("--person-model", type=Path, default=None)
    parser.add_argument("--organisation-model", type=Path, default=None)
    parser.add_argument("--accept", type=float, default=ACCEPT)
    parser.add_argument("--review", type=float, default=REVIEW)
    parser.add_argument("--save-links", type=Path, default=None, help="write links as Parquet")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    pl.Config.set_tbl_rows(100)
    pl.Config.set_tbl_cols(20)
    pl.Config.set_tbl_width_chars(200)
    pl.Config.set_fmt_str_lengths(90)
    pl.Config.set_float_precision(4)
    pl.Config.set_tbl_hide_dataframe_shape(True)

    lake = Lake(args.lake)
    t = time.perf_counter()
    staged = read_subject_tables(lake)
    inputs = {
        "person": (person_records(staged), read_person_spine(lake), args.person_model),
        "organisation": (
            organisation_records(staged),
            read_organisation_spine(lake),
            args.organisation_model,
        ),
    }
    read_seconds = time.perf_counter() - t
    links, timings, blocking = [], [], []
    for subject, (records, spine, model) in inputs.items():
        model = model or current_model_path(subject)
        t = time.perf_counter()
        res = resolve(records, spine, subject, model, accept=args.accept, review=args.review)
        seconds = time.perf_counter() - t
        links.append(res.links)
        mr = res.model_result
        timings.append(
            {
                "subject_type": subject,
                "records": records.height,
                "spine": spine.height,
                "to_model": mr.best.height if mr else 0,
                "pairs": mr.pairs.height if mr else 0,
                "model": mr.model_version if mr else "-",
                "link_seconds": round(seconds, 2),
                "predict_seconds": round(mr.seconds.get("predict", 0.0), 2) if mr else 0.0,
            }
        )
        if mr is not None:
            blocking.append(mr.blocking.with_columns(pl.lit(subject).alias("subject_type")))
    all_links = pl.concat(links)
    if args.save_links:
        all_links.write_parquet(args.save_links)
    truth = read_truth(args.world)
    out = Console(width=250).out
    out(f"lake {args.lake}, world {args.world}; accept >= {args.accept}, review >= {args.review}")
    out("\nQuality of the accept band (targets: persons precision >= 0.999, recall >= 0.99;")
    out("organisations precision >= 0.999, recall >= 0.995; absent linked <= 0.001;")
    out("review share <= 0.02)")
    unstaged = truth.join(all_links, on="unique_id", how="anti").height
    out(f"({unstaged} truth subject record(s) never reached linkage: quarantined by the ingest)")
    out(str(quality_table(all_links, truth)))
    out("\nWho fails (wrong: accepted onto a wrong code or absent; missed: linkable, not accepted)")
    out(str(failures(all_links, truth).filter(pl.col("records") > 0)))
    out("\nBlocking rules: exact pair counts (new pairs per rule, cumulative)")
    if blocking:
        out(str(pl.concat(blocking).select("subject_type", "rule", "pairs", "cumulative_pairs")))
    out(f"\nTimings (reading the lake: {read_seconds:.1f} s)")
    out(str(pl.DataFrame(timings)))


if __name__ == "__main__":
    main()
