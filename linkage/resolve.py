"""Resolve agency records to credit codes: deterministic pass, then the model, then bands.

One row per record (:data:`RECORD_LINK_COLUMNS`), the future ``linkage.record_links``:

- records with a valid identifier found in the registry: ``method='deterministic'``,
  band ``accept``, ``matched_on`` the identifier kind (:mod:`linkage.deterministic`);
- records of a class never modelled (passports: foreign nationals, in no registry):
  ``method='none'``, band ``reject``, ``reason`` says why;
- the rest: ``method='probabilistic'``, the best candidate of :func:`linkage.engine.link` and
  its band; ``credit_code`` is set only in the ``accept`` band, ``candidate_code`` in every
  band (what a reviewer would look at).

Then the identity evidence (:mod:`linkage.evidence`) of every link and its candidate:
``name_agreement`` and ``evidence`` (the independent facts that agree). These rules keep
anyone from being linked on someone else's record:

- an **identifier conflict** (a valid identifier whose registry holder bears another name,
  :func:`linkage.deterministic.deterministic_pass`) is never accepted: it is scored with its
  identifier disputed and goes to ``review`` (also when the model found no other candidate),
  ``conflict_code`` naming the identifier's holder beside ``candidate_code``, the best match
  on the other fields;
- an ``accept`` that does not meet the policy's default rule of its subject type (the name
  agrees **and** an independent fact agrees) goes to ``review``; ``reason`` says what is short;
- so does a model's ``accept`` onto an entry with a registry namesake of the same birth date
  (firms: the same name): only the typed number could tell the two apart.

Example:
    >>> res = resolve(records, spine, "person", model_path, accept=0.99, review=0.3)
    ...                                                                  # doctest: +SKIP
    >>> res.links.group_by("method", "band").len()                      # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from credlink.linkage.deterministic import deterministic_pass, namesakes
from credlink.linkage.engine import LinkResult, link
from credlink.linkage.evidence import EvidencePolicy, assess, load_policy, meets, shortfall
from credlink.linkage.model import LinkageModel, current_model_path, load_model
from credlink.settings import ACCEPT, REVIEW

__all__ = ["RECORD_LINK_COLUMNS", "Resolution", "resolve"]

#: One row per source record.
RECORD_LINK_COLUMNS: dict[str, pl.DataType] = {
    "unique_id": pl.String(),
    "source": pl.String(),
    "table": pl.String(),
    "record_id": pl.String(),
    "subject_type": pl.String(),
    "id_class": pl.String(),
    "credit_code": pl.String(),  # the linked code (accept band), else null
    "candidate_code": pl.String(),  # the best candidate in any band, else null
    "band": pl.String(),  # accept / review / reject
    "method": pl.String(),  # deterministic / probabilistic / none
    "matched_on": pl.String(),  # the identifier of a deterministic link
    "match_probability": pl.Float64(),
    "match_weight": pl.Float64(),
    "link_probability": pl.Float64(),
    "model_version": pl.String(),
    "reason": pl.String(),
    "name_agreement": pl.String(),  # linkage.evidence.NAME_AGREEMENT, of the candidate
    "evidence": pl.List(pl.String()),  # independent facts that agree with the candidate
    "conflict_code": pl.String(),  # an identifier conflict: the identifier's registry holder
}

NEVER_REASON = {"passport": "passport: a foreign national, in no registry"}


@dataclass
class Resolution:
    """Every record's link, and the model run behind the probabilistic ones."""

    links: pl.DataFrame
    model_result: LinkResult | None


def resolve(
    records: pl.DataFrame,
    spine: pl.DataFrame,
    subject_type: str,
    model: Path | str | LinkageModel | None = None,
    *,
    accept: float = ACCEPT,
    review: float = REVIEW,
    count_blocking_pairs: bool = True,
    policy: EvidencePolicy | None = None,
) -> Resolution:
    """Link every record of one subject type (see the module doc).

    `records` and `spine` are in the columns of :mod:`linkage.spine`; `model` defaults to the
    current trained model of the subject type (:func:`linkage.model.current_model_path`);
    `policy` to the reviewed identity-evidence policy (:func:`linkage.evidence.load_policy`).
    """
    m = (
        model
        if isinstance(model, LinkageModel)
        else load_model(model or current_model_path(subject_type))
    )
    if m.meta.subject_type != subject_type:
        raise ValueError(f"model {m.path.name} is for {m.meta.subject_type}, not {subject_type}")
    policy = policy or load_policy()
    det, rest, never, conflicts = deterministic_pass(records, spine, subject_type, policy)
    meta = records.select("unique_id", "source", "table", "record_id", "id_class")

    parts = [
        det.select(
            "unique_id",
            pl.col("spine_id").alias("credit_code"),
            pl.col("spine_id").alias("candidate_code"),
            pl.lit("accept").alias("band"),
            "method",
            "matched_on",
            "name_agreement",
            "evidence",
        ),
        never.select(
            "unique_id",
            pl.lit("reject").alias("band"),
            pl.lit("none").alias("method"),
            pl.col("id_class").replace_strict(NEVER_REASON, default="never linked").alias("reason"),
        ),
    ]
    result = None
    if not rest.is_empty():
        result = link(
            rest,
            spine,
            m,
            accept=accept,
            review=review,
            count_blocking_pairs=count_blocking_pairs,
        )
        best = assess(result.best, rest, spine, subject_type)
        parts.append(
            best.select(
                "unique_id",
                pl.when(pl.col("band") == "accept").then("spine_id").alias("credit_code"),
                pl.col("spine_id").alias("candidate_code"),
                "band",
                pl.lit("probabilistic").alias("method"),
                "match_probability",
                "match_weight",
                "link_probability",
                pl.lit(result.model_version).alias("model_version"),
                pl.when(pl.col("candidates") == 0).then(pl.lit("no candidate")).alias("reason"),
                pl.when(pl.col("spine_id").is_not_null()).then("name_agreement"),
                pl.when(pl.col("spine_id").is_not_null()).then("evidence"),
            )
        )
    links = (
        pl.concat(parts, how="diagonal_relaxed")
        .join(meta, on="unique_id", how="left")
        .with_columns(pl.lit(subject_type).alias("subject_type"))
    )
    links = _gated(_with_conflicts(links, conflicts), policy, subject_type)
    links = _namesakes_to_review(links, namesakes(spine, subject_type))
    links = links.select(
        [
            (pl.col(c) if c in links.columns else pl.lit(None)).cast(t).alias(c)
            for c, t in RECORD_LINK_COLUMNS.items()
        ]
    ).sort("unique_id")
    return Resolution(links, result)


def _with_conflicts(links: pl.DataFrame, conflicts: pl.DataFrame) -> pl.DataFrame:
    """Identifier conflicts go to review, whatever the model said: the candidate is the best
    match on the other fields, else the identifier's holder."""
    joined = links.join(conflicts, on="unique_id", how="left", maintain_order="left")
    conflict = pl.col("conflict_code").is_not_null()
    why = pl.when(pl.col("conflict_name_agreement") == "namesake").then(
        pl.format(
            "identifier conflict: the {} is held by {}, and the registry holds a namesake of "
            "the same birth date: only the typed number tells them apart",
            "conflict_on",
            "conflict_code",
        )
    ).otherwise(
        pl.format(
            "identifier conflict: the {} is held by {}, whose registry name {} the record's",
            "conflict_on",
            "conflict_code",
            pl.col("conflict_name_agreement").replace(
                {"missing": "cannot be compared with (a name is missing)",
                 "partial": "only partly agrees with", "disagree": "disagrees with"}
            ),
        )
    )  # fmt: skip
    return joined.with_columns(
        pl.when(conflict).then(pl.lit(None)).otherwise("credit_code").alias("credit_code"),
        pl.when(conflict)
        .then(pl.coalesce("candidate_code", "conflict_code"))
        .otherwise("candidate_code")
        .alias("candidate_code"),
        pl.when(conflict).then(pl.lit("review")).otherwise("band").alias("band"),
        pl.when(conflict).then(why).otherwise("reason").alias("reason"),
    ).drop("conflict_on", "conflict_name_agreement")


def _namesakes_to_review(links: pl.DataFrame, twins: pl.DataFrame) -> pl.DataFrame:
    """A model's accept onto an entry that has a registry namesake (same name and birth date;
    firms: the same name) goes to review: only the typed number tells the two apart, and a
    clerk may have typed the other's (a masked number's visible digits included)."""
    hit = (
        (pl.col("band") == "accept")
        & (pl.col("method") == "probabilistic")
        & pl.col("candidate_code").is_in(twins["unique_id"].implode())
    )
    return links.with_columns(
        pl.when(hit).then(pl.lit(None)).otherwise("credit_code").alias("credit_code"),
        pl.when(hit).then(pl.lit("review")).otherwise("band").alias("band"),
        pl.when(hit)
        .then(pl.lit("evidence: the registry holds a namesake of the candidate (same name and "
                     "birth date): only the typed number tells them apart"))
        .otherwise("reason")
        .alias("reason"),
    )  # fmt: skip


def _gated(links: pl.DataFrame, policy: EvidencePolicy, subject_type: str) -> pl.DataFrame:
    """An accept whose evidence falls short of the subject type's default rule goes to review
    (its candidate kept), with the shortfall as its reason."""
    rule = policy.rule(subject_type)
    evidence = pl.col("evidence").fill_null(pl.lit([], pl.List(pl.String)))
    short = (pl.col("band") == "accept") & ~meets(
        rule, pl.col("name_agreement"), evidence, pl.col("method")
    )
    return links.with_columns(
        pl.when(short).then(pl.lit(None)).otherwise("credit_code").alias("credit_code"),
        pl.when(short).then(pl.lit("review")).otherwise("band").alias("band"),
        pl.when(short)
        .then(shortfall(rule, pl.col("name_agreement"), evidence))
        .otherwise("reason")
        .alias("reason"),
    )
