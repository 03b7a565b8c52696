"""Linkage quality without ground truth: a blind review of a random sample of accepted links.

National statistics offices cannot measure precision against a truth they do not have; they
put a random sample of the links they accepted to clerical review and estimate precision from
the verdicts, with a confidence interval. So does this module:

1. :func:`draw_sample` draws a seeded, reproducible sample of the **accepted** links of the
   last linkage run (``linkage.record_links``), stratified by source, subject type and method
   (deterministic / probabilistic / clerical), allocated over the strata as the review policy
   says (:class:`linkage.review_policy.SamplePolicy`: proportional to each stratum's accepted
   links, or equal, with a minimum per stratum). Which links a seed draws depends only on the
   seed and the records' ids (the links of a stratum ranked by SHA-256 of seed and id), not on
   the order of the table nor on a library's random generator. The draw is stored in
   ``linkage.review_sample``.
2. Its items form a **sample queue**, apart from the uncertain-candidate queue: the reviewer
   sees the record and the linked registry entry (:func:`sample_items`), never the model's
   probability, the method, nor that the link was accepted, and says whether they are the
   same subject (``accept``) or not (``reject``) with the normal review commands or
   :func:`decide_sample`. The verdicts are rounds of review
   (:func:`linkage.decisions.record_round`): under blind double review a verdict counts once two
   reviewers agree or a senior settles a disagreement. A verdict measures; it does not change
   the link (a link the sample finds wrong is listed by ``credlink review sample estimate``,
   and is corrected like any accepted link).
3. :func:`estimate_quality` estimates precision per stratum from the settled verdicts with a
   **Wilson score interval** (:func:`wilson_interval`), and per subject type and overall by
   weighting the strata by their numbers of accepted links, with a Wilson interval on Kish's
   effective sample size; :func:`measure_estimated_quality` stores it as
   ``linkage.estimated_quality``, which ``credlink quality`` shows beside the truth-based
   figures of :mod:`linkage.quality` where a world's truth exists
   (:func:`linkage.quality.estimate_beside_truth`).

Example:
    >>> low, high = wilson_interval(95, 100, 0.95)
    >>> round(low, 4), round(high, 4)
    (0.8882, 0.9785)
    >>> allocate({"a": 900, "b": 90, "c": 10}, 100, "proportional", 5)
    {'a': 90, 'b': 9, 'c': 5}
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from datetime import datetime
from statistics import NormalDist
from typing import Any, Literal

import polars as pl

from credlink.etl.catalog import conform, write_table
from credlink.etl.lake import Lake
from credlink.linkage.decisions import read_rounds, record_round, round_states
from credlink.linkage.records import organisation_records, person_records, read_subject_tables
from credlink.linkage.review_keys import ItemChanged, ItemKey, check_lock
from credlink.linkage.review_policy import ReviewPolicy, load_review_policy
from credlink.linkage.spine import (
    ORGANISATION_COLUMNS,
    PERSON_COLUMNS,
    read_organisation_spine,
    read_person_spine,
)
from credlink.linkage.tables import (
    DECISIONS,
    ESTIMATED_QUALITY,
    ESTIMATED_QUALITY_COLUMNS,
    LAYER,
    REVIEW_SAMPLE,
    REVIEW_SAMPLE_COLUMNS,
    read_record_links,
)

__all__ = [
    "METHODS",
    "STRATUM",
    "allocate",
    "current_sample",
    "decide_sample",
    "draw_sample",
    "estimate_quality",
    "find_sample_item",
    "found_wrong",
    "measure_estimated_quality",
    "read_sample",
    "sample_items",
    "stratified_sample",
    "wilson_interval",
]

#: The strata of the sample: a link's source, subject type and method.
STRATUM = ["source", "subject_type", "method"]
#: The methods of accepted links that are sampled.
METHODS = ("deterministic", "probabilistic", "clerical")
_COLUMNS = {"person": PERSON_COLUMNS, "organisation": ORGANISATION_COLUMNS}


def wilson_interval(successes: int, n: float, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of a proportion: `successes` of `n` trials (`n` may be an
    effective sample size, not a whole number), at `confidence`.

    Unlike the normal ("Wald") interval it stays inside [0, 1] and does not shrink to a point
    when every verdict is alike: 10 of 10 correct gives (0.7225, 1.0) at 95%.

    >>> [round(x, 4) for x in wilson_interval(10, 10)]
    [0.7225, 1.0]
    """
    if n <= 0:
        raise ValueError(f"a Wilson interval needs n > 0 trials, got {n}")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be between 0 and n={n}, got {successes}")
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    p = successes / n
    z2n = z * z / n
    centre = (p + z2n / 2) / (1 + z2n)
    half = z / (1 + z2n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    # at p = 0 or 1 a bound is exactly 0 or 1 (rounding would put it just inside)
    low = 0.0 if successes <= 0 else max(0.0, centre - half)
    high = 1.0 if math.isclose(successes, n, rel_tol=1e-12) else min(1.0, centre + half)
    return low, high


def allocate(
    populations: Mapping[Any, int],
    size: int,
    allocation: Literal["proportional", "equal"] = "proportional",
    min_per_stratum: int = 0,
) -> dict[Any, int]:
    """How many of each stratum to draw: `size` shared out proportionally to the strata's
    populations (largest remainders) or equally, then raised to `min_per_stratum`, and never
    more than a stratum holds (so the total may differ from `size`).

    >>> allocate({"a": 50, "b": 50}, 10, "equal", 0)
    {'a': 5, 'b': 5}
    """
    strata = sorted(populations, key=str)
    total = sum(populations.values())
    if size < 1:
        raise ValueError(f"a sample has at least one link, got size {size}")
    if not strata or total == 0:
        return {}
    if allocation == "proportional":
        shares = {s: size * populations[s] / total for s in strata}
    else:
        shares = {s: size / len(strata) for s in strata}
    counts = {s: math.floor(shares[s]) for s in strata}
    left = size - sum(counts.values())
    for s in sorted(strata, key=lambda s: (-(shares[s] - counts[s]), str(s)))[: max(left, 0)]:
        counts[s] += 1
    return {s: min(populations[s], max(counts[s], min_per_stratum)) for s in strata}


def _rank(seed: int, unique_id: str) -> str:
    return hashlib.sha256(f"{seed}:{unique_id}".encode()).hexdigest()


def stratified_sample(
    accepted: pl.DataFrame,
    size: int,
    seed: int,
    allocation: Literal["proportional", "equal"] = "proportional",
    min_per_stratum: int = 0,
) -> pl.DataFrame:
    """The links of `accepted` (with ``unique_id`` and the :data:`STRATUM` columns) drawn by
    :func:`allocate`; in each stratum those ranked first by SHA-256 of `seed` and their id.
    Adds ``stratum_population`` and ``stratum_sampled``."""
    if accepted.is_empty():
        raise ValueError("no accepted link to sample: run linkage first (`credlink link`)")
    pops = {
        tuple(k): int(v)
        for *k, v in accepted.group_by(STRATUM).len().iter_rows()  # (source, type, method, n)
    }
    counts = allocate(pops, size, allocation, min_per_stratum)
    ranked = accepted.with_columns(
        pl.col("unique_id").map_elements(lambda u: _rank(seed, u), return_dtype=pl.String)
        .alias("_rank")
    )  # fmt: skip
    sizes = pl.DataFrame(
        [(*k, pops[k], n) for k, n in counts.items()],
        schema={**{c: pl.String for c in STRATUM}, "stratum_population": pl.Int64,
                "stratum_sampled": pl.Int64},
        orient="row",
    )  # fmt: skip
    return (
        ranked.join(sizes, on=STRATUM)
        .sort(*STRATUM, "_rank")
        .filter(pl.int_range(pl.len()).over(STRATUM) < pl.col("stratum_sampled"))
        .drop("_rank")
        .sort("unique_id")
    )


def _fingerprint(sample_id: str, row: Mapping[str, Any]) -> str:
    payload = [sample_id, row["unique_id"], row["credit_code"], row["record"], row["entry"]]
    text = json.dumps(payload, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def _as_json(frame: pl.DataFrame, key: str, name: str, fields: list[str]) -> pl.DataFrame:
    keep = [c for c in fields if c in frame.columns and c != key]
    return frame.select(key, pl.struct(keep).struct.json_encode().alias(name))


def _shown(lake: Lake, drawn: pl.DataFrame) -> pl.DataFrame:
    """`drawn` with ``record`` and ``entry``: the fields the reviewer compares (JSON)."""
    staged = read_subject_tables(lake)
    parts = []
    for subject, records_of, spine_of in (
        ("person", person_records, read_person_spine),
        ("organisation", organisation_records, read_organisation_spine),
    ):
        mine = drawn.filter(pl.col("subject_type") == subject)
        if mine.is_empty():
            continue
        fields = [c for c in _COLUMNS[subject] if c != "unique_id"]
        records = records_of(staged).join(mine.select("unique_id"), on="unique_id", how="semi")
        spine = spine_of(lake).join(
            mine.select(pl.col("credit_code").alias("unique_id")), on="unique_id", how="semi"
        )
        parts.append(
            mine.join(
                _as_json(records, "unique_id", "record", fields), on="unique_id", how="left"
            ).join(
                _as_json(spine, "unique_id", "entry", fields)
                .rename({"unique_id": "credit_code"})
                .unique("credit_code"),
                on="credit_code",
                how="left",
            )
        )
    return pl.concat(parts, how="vertical_relaxed")


def read_sample(lake: Lake) -> pl.DataFrame:
    """Every draw of ``linkage.review_sample`` (maybe empty)."""
    frame = lake.read(LAYER, REVIEW_SAMPLE)
    return conform(frame, REVIEW_SAMPLE_COLUMNS)


def current_sample(lake: Lake) -> pl.DataFrame:
    """The latest draw of ``linkage.review_sample`` (the one under review; maybe empty)."""
    sample = read_sample(lake)
    if sample.is_empty():
        return sample
    latest = sample.sort("drawn_at")["sample_id"][-1]
    return sample.filter(pl.col("sample_id") == latest).sort("unique_id")


def draw_sample(
    lake: Lake,
    *,
    seed: int,
    drawn_at: datetime,
    size: int | None = None,
    policy: ReviewPolicy | None = None,
) -> pl.DataFrame:
    """Draw a blind quality sample of the accepted links of the lake's last linkage run and
    store it in ``linkage.review_sample`` as the draw under review; returns its rows.

    `size` defaults to the policy's; the allocation and the minimum per stratum are the
    policy's. The same seed, size and linkage run draw the same links: drawing again returns
    the stored draw (and makes it the one under review).

    Example: ``draw_sample(lake, seed=7, size=200, drawn_at=now)``.
    """
    if drawn_at.tzinfo is None:
        raise ValueError("drawn_at must be timezone-aware")
    sample_policy = (policy or load_review_policy()).sample
    size = size or sample_policy.size
    links = read_record_links(lake)
    accepted = links.filter((pl.col("band") == "accept") & pl.col("method").is_in(METHODS))
    if accepted.is_empty():
        raise ValueError(f"{lake.url}: no accepted link to sample: run linkage first")
    run_id = str(accepted["run_id"].max())
    sample_id = f"S-{seed}-{size}-{run_id}"
    drawn = stratified_sample(
        accepted.select("unique_id", *STRATUM, "credit_code"),
        size,
        seed,
        sample_policy.allocation,
        sample_policy.min_per_stratum,
    )
    shown = _shown(lake, drawn)
    rows = shown.with_columns(
        pl.lit(sample_id).alias("sample_id"),
        pl.lit(seed, pl.Int64).alias("seed"),
        pl.lit(drawn_at).alias("drawn_at"),
        pl.lit(run_id).alias("links_run_id"),
    )
    rows = rows.with_columns(
        pl.Series(
            "item_fingerprint", [_fingerprint(sample_id, r) for r in rows.iter_rows(named=True)]
        )
    )
    rows = conform(rows, REVIEW_SAMPLE_COLUMNS).sort("unique_id")
    with check_lock(lake, LAYER, DECISIONS):
        stored = read_sample(lake)
        before = stored.filter(pl.col("sample_id") == sample_id)
        if before.height:  # drawn already: the same links; it becomes the draw under review
            rows = before.with_columns(pl.lit(drawn_at).alias("drawn_at"))
            stored = stored.filter(pl.col("sample_id") != sample_id)
        write_table(lake, f"{LAYER}.{REVIEW_SAMPLE}", pl.concat([stored, rows]))
    return rows.sort("unique_id")


def _settled(lake: Lake, sample_id: str) -> pl.DataFrame:
    states = round_states(
        read_rounds(lake).filter((pl.col("queue") == "sample") & (pl.col("sample_id") == sample_id))
    )
    return states


def sample_items(
    lake: Lake, reviewer: str | None = None, *, policy: ReviewPolicy | None = None
) -> pl.DataFrame:
    """The open items of the sample under review, as a reviewer sees them: ``item_key``,
    ``unique_id``, ``subject_type``, ``source``, ``record`` and ``entry`` (JSON). Nothing says
    how the link was made, its probability, that it was accepted, nor any reviewer's verdict.

    Left out: the settled items, and under double review those `reviewer` judged in their
    open round and the disagreements (shown only to a senior reviewer who did not judge them).
    """
    policy = policy or load_review_policy()
    sample = current_sample(lake)
    cols = ["item_key", "unique_id", "subject_type", "source", "record", "entry"]
    if sample.is_empty():
        return pl.DataFrame(schema={c: pl.String for c in cols})
    states = _settled(lake, sample["sample_id"][0])
    mine = pl.col("reviewers").list.contains(pl.lit(reviewer or "", pl.String))
    senior = reviewer is not None and policy.is_senior(reviewer)
    hidden = (
        (pl.col("status") == "settled")
        | ((pl.col("status") == "open") & mine)
        | ((pl.col("status") == "disagreement") & (mine | (not senior)))
    )
    return (
        sample.join(states.filter(hidden).select("unique_id"), on="unique_id", how="anti")
        .with_columns(
            pl.concat_str(["unique_id", "item_fingerprint"], separator="@").alias("item_key")
        )
        .select(cols)
        .sort("unique_id")
    )


def find_sample_item(lake: Lake, name: str) -> dict[str, Any] | None:
    """The item of the sample under review named by its key (or record id, or 1-based
    position among the sample's items), with the link's credit code; None when `name` names
    none."""
    sample = current_sample(lake)
    if sample.is_empty():
        return None
    sample = sample.with_columns(
        pl.concat_str(["unique_id", "item_fingerprint"], separator="@").alias("item_key")
    )
    if name.isdigit():
        pos = int(name)
        return sample.row(pos - 1, named=True) if 1 <= pos <= sample.height else None
    hit = sample.filter((pl.col("item_key") == name) | (pl.col("unique_id") == name))
    return hit.row(0, named=True) if hit.height else None


def decide_sample(
    lake: Lake,
    key: ItemKey | str,
    decision: str,
    *,
    reviewer: str,
    decided_at: datetime,
    note: str | None = None,
    policy: ReviewPolicy | None = None,
) -> pl.DataFrame:
    """Record a verdict on the sample item `key`: ``accept`` (the record and the entry are the
    same subject) or ``reject`` (they are not); returns its ``linkage.review_rounds`` row.

    Refused (:class:`~linkage.review_keys.ItemChanged`) when the key is not of the draw under
    review, and (:class:`~linkage.review_keys.DecisionConflict`) when the item has settled, or
    as :func:`linkage.decisions.record_round` refuses.
    """
    key = ItemKey.parse(key) if isinstance(key, str) else key

    def check() -> tuple[str | None, str | None]:
        item = find_sample_item(lake, str(key))
        if item is None or item["item_key"] != str(key):
            raise ItemChanged(
                f"{key} is not an item of the quality sample under review "
                "(`credlink review sample list`)"
            )
        return None, key.fingerprint

    item = find_sample_item(lake, str(key))
    if item is None:
        raise ItemChanged(f"{key} is not an item of the quality sample under review")
    return record_round(
        lake,
        "sample",
        key.unique_id,
        item["credit_code"],
        decision,
        reviewer=reviewer,
        decided_at=decided_at,
        note=note,
        policy=policy,
        sample_id=item["sample_id"],
        check=check,
        reopen=False,
    )


def _row(
    keys: tuple[str, str, str], strata: list[dict[str, Any]], confidence: float
) -> dict[str, Any]:
    """One row of the estimate over `strata` (one stratum, or several weighted by population)."""
    population = sum(s["population"] for s in strata)
    covered = [s for s in strata if s["decided"] > 0]
    row: dict[str, Any] = dict(zip(["subject_type", "source", "method"], keys, strict=True))
    row.update(
        population=population,
        sampled=sum(s["sampled"] for s in strata),
        decided=sum(s["decided"] for s in strata),
        correct=sum(s["correct"] for s in strata),
        precision=None,
        ci_low=None,
        ci_high=None,
        confidence=confidence,
        covered=None,
    )
    if not covered:
        return row
    weight = sum(s["population"] for s in covered)
    row["covered"] = weight / population if population else None
    shares = [(s["population"] / weight, s) for s in covered]
    p = sum(w * s["correct"] / s["decided"] for w, s in shares)
    # Kish's effective sample size of the weighted estimate: n itself for one stratum
    n_eff = 1.0 / sum(w * w / s["decided"] for w, s in shares)
    low, high = wilson_interval(p * n_eff, n_eff, confidence)
    row.update(precision=p, ci_low=low, ci_high=high)
    return row


def estimate_quality(
    sample: pl.DataFrame,
    verdicts: pl.DataFrame,
    *,
    confidence: float,
    estimated_at: datetime,
) -> pl.DataFrame:
    """Estimated precision of one draw (:data:`~linkage.tables.ESTIMATED_QUALITY_COLUMNS`).

    `sample`: the draw's ``linkage.review_sample`` rows; `verdicts`: per sampled record its
    settled ``decision`` (accept: the link is right), as :func:`linkage.decisions.round_states`
    gives them (unsettled ones are left out). Per stratum: correct / decided with a Wilson
    interval; per subject type and overall (``'all'``): the strata's precisions weighted by
    their populations (the strata without a settled verdict left out, ``covered`` says how
    much of the population is in), with a Wilson interval on Kish's effective sample size
    ``1 / sum(w_h^2 / n_h)``.
    """
    if sample.is_empty():
        return pl.DataFrame(schema=ESTIMATED_QUALITY_COLUMNS)
    if sample["sample_id"].n_unique() != 1:
        raise ValueError("estimate_quality takes the rows of one draw")
    sample_id = sample["sample_id"][0]
    settled = verdicts.filter(pl.col("status") == "settled").select("unique_id", "decision")
    per = (
        sample.join(settled, on="unique_id", how="left")
        .group_by(STRATUM)
        .agg(
            pl.col("stratum_population").first().alias("population"),
            pl.len().alias("sampled"),
            pl.col("decision").is_not_null().sum().alias("decided"),
            (pl.col("decision") == "accept").sum().alias("correct"),
        )
        .sort("subject_type", "source", "method")
    )
    strata = per.to_dicts()
    rows = [_row((s["subject_type"], s["source"], s["method"]), [s], confidence) for s in strata]
    for subject in sorted({s["subject_type"] for s in strata}):
        mine = [s for s in strata if s["subject_type"] == subject]
        rows.append(_row((subject, "all", "all"), mine, confidence))
    rows.append(_row(("all", "all", "all"), strata, confidence))
    out = pl.DataFrame(rows).with_columns(
        pl.lit(sample_id).alias("sample_id"), pl.lit(estimated_at).alias("estimated_at")
    )
    return conform(out, ESTIMATED_QUALITY_COLUMNS)


def measure_estimated_quality(
    lake: Lake, *, estimated_at: datetime, policy: ReviewPolicy | None = None
) -> pl.DataFrame | None:
    """Estimate the precision of the draw under review from its settled verdicts and store it
    as ``linkage.estimated_quality`` (whole, held to its contract); None, storing nothing,
    before the first draw. Refresh the lake's catalog after to see it in DuckDB."""
    policy = policy or load_review_policy()
    sample = current_sample(lake)
    if sample.is_empty():
        return None
    verdicts = _settled(lake, sample["sample_id"][0])
    table = estimate_quality(
        sample, verdicts, confidence=policy.sample.confidence, estimated_at=estimated_at
    )
    write_table(lake, f"{LAYER}.{ESTIMATED_QUALITY}", table)
    return table


def found_wrong(lake: Lake) -> pl.DataFrame:
    """The links of the draw under review whose settled verdict is ``reject`` (the record and
    the entry are not the same subject): ``unique_id``, ``credit_code``, ``source``,
    ``subject_type``, ``method``. A verdict does not unlink them: correct them as any accepted
    link (a reviewer's rejection, :func:`linkage.decisions.record_decision`)."""
    sample = current_sample(lake)
    cols = ["unique_id", "credit_code", *STRATUM]
    if sample.is_empty():
        return pl.DataFrame(schema={c: pl.String for c in cols})
    states = _settled(lake, sample["sample_id"][0])
    wrong = states.filter((pl.col("status") == "settled") & (pl.col("decision") == "reject"))
    return sample.join(wrong.select("unique_id"), on="unique_id", how="semi").select(cols)
