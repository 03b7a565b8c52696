"""Incremental linking: which records a run must (re)link, and which links it may keep.

A daily run should cost what the day's records cost, not what the registries cost. Each run
stores, beside every record's link, a fingerprint of the record's linkage fields
(``record_fingerprint`` in ``linkage.record_links``), and the kept spines hold a fingerprint
of every entry (:mod:`linkage.spine_store`). The next run compares and links only
(:func:`plan`):

- **new** records (no link yet) and **changed** records (their fingerprint differs);
- records whose candidate or linked spine entry **changed or left** the spine;
- when the spine gained or changed entries, records **not accepted** by the model
  (review and reject bands): a new registry entry may be the one they were missing.

Every other record keeps its link, with the run that computed it (``linked_run_id``).
Reviewer decisions are applied to every row on every run, kept or relinked.

A run links everything again (``mode='full'``, :func:`full_reason`) when there is no previous
run to build on, when the model version of the subject type or the thresholds changed, when
the fingerprint scheme changed (it is Polars' row hash, stable within one Polars version:
an upgrade costs one full run), or when asked to (``full=True``).

Example:
    >>> p = plan(records_fp, previous_links, spine.changed, spine.replaced)  # doctest: +SKIP
    >>> p.relink.height, p.reasons                                     # doctest: +SKIP
    (42, {'new': 40, 'changed': 1, 'spine_changed': 1, 'not_accepted': 0})
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

__all__ = [
    "FINGERPRINT_SCHEME",
    "Plan",
    "fingerprints",
    "full_reason",
    "plan",
]

#: Fingerprints are Polars row hashes with a fixed seed: equal within one Polars version.
FINGERPRINT_SCHEME = f"polars-{pl.__version__}-hash-seed-0"


def fingerprints(frame: pl.DataFrame, key: str = "unique_id") -> pl.DataFrame:
    """`key` and a ``fingerprint`` (UInt64) of every other column of each row.

    Two rows with the same values have the same fingerprint (within one Polars version,
    :data:`FINGERPRINT_SCHEME`); a change in any column changes it.
    """
    rest = [c for c in frame.columns if c != key]
    if frame.is_empty() or not rest:
        return pl.DataFrame(schema={key: pl.String(), "fingerprint": pl.UInt64()})
    return frame.select(key, pl.struct(rest).hash(seed=0).alias("fingerprint"))


@dataclass
class Plan:
    """What one subject type's run links again (`relink`: ``unique_id``) and keeps (`keep`)."""

    relink: pl.DataFrame
    keep: pl.DataFrame
    reasons: dict[str, int] = field(default_factory=dict)


def full_reason(
    previous_run: dict[str, object] | None,
    *,
    model_version: str,
    accept: float,
    review: float,
    has_previous_links: bool,
    full: bool = False,
    evidence_policy: str | None = None,
) -> str | None:
    """Why this subject type must be linked in full, or None when an incremental run will do.

    `previous_run` is the subject type's last row of ``linkage.runs`` (as a dict) or None.
    """
    if full:
        return "asked for a full run"
    if previous_run is None or not has_previous_links:
        return "no previous run"
    if previous_run.get("fingerprint_scheme") != FINGERPRINT_SCHEME:
        return f"fingerprint scheme changed (was {previous_run.get('fingerprint_scheme')})"
    if (previous_run.get("accept"), previous_run.get("review")) != (accept, review):
        return (
            f"thresholds changed (were accept {previous_run.get('accept')}, "
            f"review {previous_run.get('review')})"
        )
    if evidence_policy is not None and previous_run.get("evidence_policy") != evidence_policy:
        return (
            f"identity-evidence policy changed (was {previous_run.get('evidence_policy')}, "
            f"now {evidence_policy})"
        )
    previous_model = previous_run.get("model_version")
    if previous_model != model_version:
        return f"model changed (was {previous_model}, now {model_version})"
    return None


def plan(
    records_fp: pl.DataFrame,
    previous_links: pl.DataFrame,
    spine_changed: pl.DataFrame,
    spine_replaced: pl.DataFrame,
) -> Plan:
    """Split one subject type's records into those to link again and those to keep.

    `records_fp` comes from :func:`fingerprints` of this run's records; `previous_links` are
    the previous ``linkage.record_links`` rows of the subject type (with
    ``record_fingerprint``); `spine_changed` holds the fingerprints of the spine entries new or
    changed since the last run and `spine_replaced` those of the entries they replace or
    remove (:class:`linkage.spine_store.SpineUpdate`; the whole spine, before and after, works
    too).
    Records gone from staging are in neither part. See the module doc for the rules.
    """
    prev = previous_links.select(
        "unique_id",
        "record_fingerprint",
        "candidate_code",
        "credit_code",
        "band",
        "method",
    )
    joined = records_fp.join(prev, on="unique_id", how="left")
    spine_moved = (
        pl.concat(
            [
                spine_changed.join(
                    spine_replaced, on=["unique_id", "fingerprint"], how="anti"
                ).select("unique_id"),
                spine_replaced.join(spine_changed, on="unique_id", how="anti").select("unique_id"),
            ]
        )
        .unique()
        .get_column("unique_id")
    )
    spine_grew = not spine_moved.is_empty()
    new = pl.col("record_fingerprint").is_null()
    changed = ~new & (pl.col("record_fingerprint") != pl.col("fingerprint"))
    moved = pl.col("candidate_code").is_in(spine_moved.implode()) | pl.col("credit_code").is_in(
        spine_moved.implode()
    )
    not_accepted = (
        pl.lit(spine_grew) & (pl.col("method") == "probabilistic") & (pl.col("band") != "accept")
    )
    reason = (
        pl.when(new)
        .then(pl.lit("new"))
        .when(changed)
        .then(pl.lit("changed"))
        .when(moved.fill_null(False))
        .then(pl.lit("spine_changed"))
        .when(not_accepted.fill_null(False))
        .then(pl.lit("not_accepted"))
    )
    tagged = joined.with_columns(reason.alias("_reason"))
    relink = tagged.filter(pl.col("_reason").is_not_null())
    counts = dict.fromkeys(("new", "changed", "spine_changed", "not_accepted"), 0)
    counts.update({str(k): int(v) for k, v in relink["_reason"].value_counts().iter_rows()})
    return Plan(
        relink=relink.select("unique_id"),
        keep=tagged.filter(pl.col("_reason").is_null()).select("unique_id"),
        reasons=counts,
    )
