"""Linkage quality against a world's ground truth (evaluation only: linkage never reads truth).

The measures national statistics offices publish for their linkages (the ONS, for Census 2021
to NHS records: precision 99.95%, recall 99.99%), per source table and subject type:

``records``          source records of the group
``linkable``         records whose subject is in a registry (truth has a credit code)
``absent``           records whose subject is in no registry (foreign passport holders,
                     unregistered businesses)
``accepted``         records in the ``accept`` band (deterministic or probabilistic)
``precision``        accepted with the true code / accepted
``recall``           accepted with the true code / linkable
``f1``               harmonic mean of the two
``link_rate``        accepted / records
``review_share``     records in the ``review`` band / records
``absent_linked``    absent records accepted onto some code / absent records

:func:`measure_linkage_quality` measures the lake's last linkage run and stores the tables as
``linkage.quality`` (:func:`quality_table`) and ``linkage.who_fails`` (:func:`who_fails`).

Where no truth exists, precision is estimated from a blind review of a sample of accepted links
(:mod:`linkage.estimated_quality`, ``linkage.estimated_quality``); on our worlds
:func:`estimate_beside_truth` puts each estimate beside the true precision of the same links,
so that the estimate can be checked against the truth.

Example:
    >>> table = quality_table(links, read_truth(Path("data/world")))     # doctest: +SKIP
    >>> measured = measure_linkage_quality(Lake(Path("data/lake")), Path("data/world"))
    ...                                                                   # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from credlink.etl.catalog import columns, conform, write_table
from credlink.etl.lake import Lake
from credlink.etl.reference.divisions import region_names
from credlink.linkage.tables import LAYER, read_record_links

__all__ = [
    "LinkageQuality",
    "estimate_beside_truth",
    "failures",
    "measure_linkage_quality",
    "quality_table",
    "read_truth",
    "who_fails",
]

#: Where :func:`measure_linkage_quality` stores its tables, in the lake's ``linkage`` layer.
QUALITY = "quality"
WHO_FAILS = "who_fails"


def read_truth(world: Path) -> pl.DataFrame:
    """The subjects' truth of a generated world: ``unique_id``, ``true_code``, ``noise``."""
    return (
        pl.read_parquet(world / "truth" / "records.parquet")
        .filter(pl.col("role") == "subject")
        .select(
            pl.concat_str(["source", "source_table", "source_record_id"], separator="/").alias(
                "unique_id"
            ),
            pl.col("true_credit_code").alias("true_code"),
            "noise",
        )
    )


def _scored(links: pl.DataFrame, truth: pl.DataFrame) -> pl.DataFrame:
    joined = links.join(truth, on="unique_id", how="left")
    missing = joined.filter(pl.col("noise").is_null()).height
    if missing:
        raise ValueError(f"{missing} link(s) have no truth row: is this the right world?")
    accepted = pl.col("band") == "accept"
    return joined.with_columns(
        accepted.alias("accepted"),
        (accepted & (pl.col("credit_code") == pl.col("true_code")).fill_null(False)).alias("tp"),
        pl.col("true_code").is_not_null().alias("linkable"),
        (pl.col("band") == "review").alias("in_review"),
    )


def _measures(group: list[str]) -> list[pl.Expr]:
    n, acc, tp = pl.len(), pl.col("accepted").sum(), pl.col("tp").sum()
    linkable = pl.col("linkable").sum()
    absent = (~pl.col("linkable")).sum()
    precision = pl.when(acc > 0).then(tp / acc)
    recall = pl.when(linkable > 0).then(tp / linkable)
    return [
        n.alias("records"),
        linkable.alias("linkable"),
        absent.alias("absent"),
        acc.alias("accepted"),
        precision.alias("precision"),
        recall.alias("recall"),
        pl.when(tp > 0).then(2 * tp / (acc + linkable)).otherwise(0.0).alias("f1"),
        (acc / n).alias("link_rate"),
        (pl.col("in_review").sum() / n).alias("review_share"),
        pl.when(absent > 0)
        .then((pl.col("accepted") & ~pl.col("linkable")).sum() / absent)
        .alias("absent_linked"),
    ]


def quality_table(links: pl.DataFrame, truth: pl.DataFrame) -> pl.DataFrame:
    """Quality per subject type and source table, per subject type and source, and per
    subject type overall (``source``/``table`` = 'all'); `links` as from
    :func:`linkage.resolve.resolve`, `truth` as from :func:`read_truth`."""
    s = _scored(links, truth)
    by_table = s.group_by("subject_type", "source", "table").agg(_measures([]))
    by_source = (
        s.group_by("subject_type", "source")
        .agg(_measures([]))
        .with_columns(pl.lit("all").alias("table"))
    )
    overall = (
        s.group_by("subject_type")
        .agg(_measures([]))
        .with_columns(pl.lit("all").alias("source"), pl.lit("all").alias("table"))
    )
    cols = ["subject_type", "source", "table"]
    out = pl.concat(
        [by_table, by_source.select(by_table.columns), overall.select(by_table.columns)]
    )
    return (
        out.with_columns(
            (pl.col("source") == "all").alias("_o1"), (pl.col("table") == "all").alias("_o2")
        )
        .sort(["subject_type", "_o1", "source", "_o2", "table"])
        .select(*cols, pl.exclude([*cols, "_o1", "_o2"]))
    )


def failures(links: pl.DataFrame, truth: pl.DataFrame) -> pl.DataFrame:
    """Who fails: per subject type, identifier class and band, the records accepted wrongly
    (``wrong``), linkable but not accepted (``missed``) and absent but accepted
    (``absent_linked``)."""
    s = _scored(links, truth)
    return (
        s.with_columns(
            (pl.col("accepted") & ~pl.col("tp")).alias("wrong"),
            (pl.col("linkable") & ~pl.col("accepted")).alias("missed"),
            (pl.col("accepted") & ~pl.col("linkable")).alias("absent_linked"),
        )
        .group_by("subject_type", "id_class", "method", "band")
        .agg(
            pl.len().alias("records"),
            pl.col("wrong").sum(),
            pl.col("missed").sum(),
            pl.col("absent_linked").sum(),
        )
        .sort("subject_type", "id_class", "method", "band")
    )


#: Age bands of persons in the breakdown of who fails to link (years, at the reference year).
AGE_BANDS: tuple[tuple[int, int, str], ...] = (
    (0, 29, "<30"), (30, 44, "30-44"), (45, 59, "45-59"), (60, 200, "60+"),
)  # fmt: skip


def who_fails(links: pl.DataFrame, truth: pl.DataFrame, reference_year: int) -> pl.DataFrame:
    """Recall of linkable records broken down as statistics offices report who fails to link:
    persons by province, age band (at `reference_year`) and sex, organisations by province and
    entity type, all read from the true code (a citizen ID or USCC carries them).

    Columns: subject_type, dimension, value, linkable, linked (accepted with the true code),
    recall, in_review, missed (linkable, not accepted).

    >>> who_fails(links, read_truth(Path("data/world")), 2025)  # doctest: +SKIP
    """
    s = _scored(links, truth).filter(pl.col("linkable"))
    code = pl.col("true_code")
    provinces = {
        p: region_names([p + "0000"])[0][0] or p
        for p in pl.concat([s["true_code"].str.slice(0, 2), s["true_code"].str.slice(2, 2)])
        .unique()
        .to_list()
        if p is not None
    }
    person_province = code.str.slice(0, 2)
    org_province = code.str.slice(2, 2)
    age = pl.lit(reference_year) - code.str.slice(6, 4).cast(pl.Int32, strict=False)
    band = pl.lit(None, dtype=pl.String)
    for lo, hi, label in reversed(AGE_BANDS):
        band = pl.when(age.is_between(lo, hi)).then(pl.lit(label)).otherwise(band)
    sex_digit = code.str.slice(16, 1).cast(pl.Int32, strict=False)
    dims = {
        "person": {
            "province": person_province.replace_strict(provinces, default=person_province),
            "age_band": band,
            "sex": pl.when(sex_digit % 2 == 1).then(pl.lit("M")).otherwise(pl.lit("F")),
        },
        "organisation": {
            "province": org_province.replace_strict(provinces, default=org_province),
            "entity_type": code.str.slice(0, 2),
        },
    }
    parts = []
    for subject_type, by in dims.items():
        sub = s.filter(pl.col("subject_type") == subject_type)
        if sub.is_empty():
            continue
        for dimension, expr in by.items():
            parts.append(
                sub.group_by(expr.alias("value"))
                .agg(
                    pl.len().alias("linkable"),
                    pl.col("tp").sum().alias("linked"),
                    pl.col("in_review").sum().alias("in_review"),
                    (~pl.col("accepted")).sum().alias("missed"),
                )
                .with_columns(
                    pl.lit(subject_type).alias("subject_type"),
                    pl.lit(dimension).alias("dimension"),
                    (pl.col("linked") / pl.col("linkable")).alias("recall"),
                )
            )
    if not parts:
        return pl.DataFrame()
    return (
        pl.concat(parts)
        .select(
            "subject_type",
            "dimension",
            "value",
            "linkable",
            "linked",
            "recall",
            "in_review",
            "missed",
        )
        .sort("subject_type", "dimension", "recall", "value")
    )


def estimate_beside_truth(
    estimated: pl.DataFrame, links: pl.DataFrame, truth: pl.DataFrame
) -> pl.DataFrame:
    """``linkage.estimated_quality`` rows with the true precision of the same accepted links
    (``true_precision``: accepted with the true code / accepted, over the stratum's
    ``subject_type``, ``source`` and ``method``, ``'all'`` rolling up) and ``inside``: whether
    the estimate's interval holds it (null without an estimate). `links`: the
    ``linkage.record_links`` rows the sample was drawn from; `truth` as from :func:`read_truth`.

    Example: ``estimate_beside_truth(lake.read('linkage', 'estimated_quality'),
    read_record_links(lake), read_truth(Path('data/world')))``.
    """
    if estimated.is_empty():
        return estimated.with_columns(
            pl.lit(None, pl.Float64).alias("true_precision"),
            pl.lit(None, pl.Boolean).alias("inside"),
        )
    s = _scored(links.filter(pl.col("band") == "accept"), truth)
    dims = ["subject_type", "source", "method"]
    parts = []
    for rolled in ([], ["source", "method"], dims):
        kept = [d for d in dims if d not in rolled]
        frame = (
            s.group_by(kept).agg((pl.col("tp").sum() / pl.len()).alias("true_precision"))
            if kept
            else s.select((pl.col("tp").sum() / pl.len()).alias("true_precision"))
        )
        parts.append(
            frame.with_columns([pl.lit("all").alias(d) for d in rolled]).select(
                *dims, "true_precision"
            )
        )
    true = pl.concat(parts)
    out = estimated.join(true, on=dims, how="left", maintain_order="left")
    return out.with_columns(
        pl.when(pl.col("ci_low").is_not_null())
        .then(
            (pl.col("ci_low") <= pl.col("true_precision"))
            & (pl.col("true_precision") <= pl.col("ci_high"))
        )
        .alias("inside")
    )


@dataclass(frozen=True)
class LinkageQuality:
    """The lake's last linkage run against a world's truth."""

    #: ``linkage.quality`` (:func:`quality_table`)
    quality: pl.DataFrame
    #: ``linkage.who_fails`` (:func:`who_fails`; empty when no record is of a registry subject)
    who_fails: pl.DataFrame
    #: the year ages are counted at: that of the run's logical date
    reference_year: int


def measure_linkage_quality(lake: Lake, world: Path) -> LinkageQuality | None:
    """Measure ``linkage.record_links`` of the lake against the truth of `world` and store the
    tables (``linkage.quality``, ``linkage.who_fails``, whole); None, storing nothing, before
    the first linkage run. Refresh the lake's catalog after to see them in DuckDB."""
    links = read_record_links(lake)
    if links.is_empty():
        return None
    truth = read_truth(world)
    quality = quality_table(links, truth)
    reference_year = links["logical_date"].max().year  # type: ignore[union-attr]
    fails = who_fails(links, truth, reference_year)
    if fails.is_empty():  # no record of a registry subject: the table, without rows
        fails = conform(fails, columns(f"{LAYER}.{WHO_FAILS}"))
    write_table(lake, f"{LAYER}.{QUALITY}", quality)  # each held to its contract first
    write_table(lake, f"{LAYER}.{WHO_FAILS}", fails)
    return LinkageQuality(quality, fails, reference_year)
