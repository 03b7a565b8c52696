"""Evidence from the same case file: a record without an identifying fact of its own, whose
case number it shares with another record of the same agency that is linked on its own.

A court's enforcement case and its listing on the defaulter list carry the same case number
(the conformed ``case_number``, e.g. ``(2024)鲁0827执24号``, from the courts' ``AH``): they are
one case file, about one respondent. When one of them lacks an identifier (a clerk left it empty)
but names the respondent as the other does, and the other is linked on its own evidence (a
valid ID whose holder bears the name, a masked ID's digits), the case number is an independent
identifying fact for the first: ``same_case`` in :data:`linkage.evidence.PERSON_FACTS` and
:data:`~linkage.evidence.ORGANISATION_FACTS`, counted where the identity-evidence policy lists
it.

:func:`corroborate` runs on every linkage run over the whole link table (fresh and kept links
alike), after reviewer decisions: a link accepted on ``same_case`` alone is first set back to
review, then accepted again only if its support still holds, so a support that is lost
(relinked, rejected by a reviewer) takes the corroborated link with it. A link accepted on
``same_case`` never supports another: no chains.

Example: ``courts/ZXAJ/50`` (张三, no ID number, case ``(2024)鲁0827执24号``) is in review with
candidate ``370827198005120014``; ``courts/SXBZXR/12`` (张三, the same case) is linked to that
code on its masked ID -> ``courts/ZXAJ/50`` is accepted, evidence ``['same_case']``.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from credlink.linkage.evidence import Rule, meets, shortfall

__all__ = ["CASE_COLUMN", "SAME_CASE", "case_references", "corroborate"]

SAME_CASE = "same_case"
#: The conformed subject-record column holding a case file's number (schemas/conform/).
CASE_COLUMN = "case_number"
_WHY = "evidence: no independent identifying fact"


def case_references(staged: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    """``unique_id``, ``source`` and ``case`` (normalised: no spaces, ASCII brackets) of every
    record that carries a case number; `staged` is ``{dataset: frame}`` of conformed
    subject-record tables (:func:`linkage.records.read_subject_tables`), every version."""
    parts = []
    for frame in staged.values():
        if frame.is_empty() or CASE_COLUMN not in frame.columns:
            continue
        parts.append(
            frame.select(
                pl.concat_str(["_source", "_table", "_record_id"], separator="/").alias(
                    "unique_id"
                ),
                pl.col("_source").alias("source"),
                pl.col(CASE_COLUMN)
                .str.replace_all(r"\s", "")
                .str.replace_all("（", "(")
                .str.replace_all("）", ")")
                .alias("case"),
            ).filter(pl.col("case").is_not_null() & (pl.col("case") != ""))
        )
    if not parts:
        return pl.DataFrame(schema={"unique_id": pl.String, "source": pl.String,
                                    "case": pl.String})  # fmt: skip
    return pl.concat(parts).unique("unique_id", keep="last")


def corroborate(links: pl.DataFrame, references: pl.DataFrame, rule: Rule) -> pl.DataFrame:
    """`links` (``record_links`` rows of one subject type) with the ``same_case`` evidence
    applied afresh (see the module doc), when `rule` lists it; otherwise unchanged."""
    if SAME_CASE not in rule.any_of or links.is_empty():
        return links
    evidence = pl.col("evidence").fill_null(pl.lit([], pl.List(pl.String)))
    # 1. back to the link's own evidence: a corroboration from an earlier run is undone
    own = evidence.list.set_difference(pl.lit([SAME_CASE], pl.List(pl.String)))
    base = links.with_columns(
        (evidence.list.contains(SAME_CASE) & (pl.col("method") != "clerical")).alias("_was"),
        own.alias("evidence"),
    )
    was = pl.col("_was")
    base = base.with_columns(
        pl.when(was & ~meets(rule, pl.col("name_agreement"), pl.col("evidence"), pl.col("method")))
        .then(pl.lit("review"))
        .otherwise("band")
        .alias("band"),
    )
    base = base.with_columns(
        pl.when(was & (pl.col("band") == "review"))
        .then(pl.lit(None, pl.String))
        .otherwise("credit_code")
        .alias("credit_code"),
        pl.when(was & (pl.col("band") == "review"))
        .then(shortfall(rule, pl.col("name_agreement"), pl.col("evidence")))
        .otherwise("reason")
        .alias("reason"),
    )
    # 2. supports: accepted on their own evidence (or by a reviewer), with a case number
    refs = references.select("unique_id", "source", "case")
    supports = (
        base.filter((pl.col("band") == "accept") & pl.col("credit_code").is_not_null())
        .join(refs, on="unique_id", how="inner")
        .select(
            "source",
            "case",
            pl.col("credit_code").alias("candidate_code"),
            pl.col("unique_id").alias("_support"),
        )
        .unique(["source", "case", "candidate_code"], keep="first")
    )
    # 3. records short of an independent fact, whose name agrees with the candidate
    lacking = (
        (pl.col("band") == "review")
        & (pl.col("method") == "probabilistic")
        & pl.col("reason").str.starts_with(_WHY).fill_null(False)
        & pl.col("name_agreement").is_in(list(rule.name)).fill_null(False)
        & pl.col("conflict_code").is_null()
    )
    joined = base.join(refs.drop("source"), on="unique_id", how="left", maintain_order="left").join(
        supports, on=["source", "case", "candidate_code"], how="left", maintain_order="left"
    )
    up = lacking & pl.col("_support").is_not_null() & (pl.col("_support") != pl.col("unique_id"))
    return joined.with_columns(
        pl.when(up).then(pl.lit("accept")).otherwise("band").alias("band"),
        pl.when(up).then("candidate_code").otherwise("credit_code").alias("credit_code"),
        pl.when(up)
        .then(pl.concat_list(["evidence", pl.lit([SAME_CASE], pl.List(pl.String))]))
        .otherwise("evidence")
        .alias("evidence"),
        pl.when(up)
        .then(pl.format("evidence: the same case number as {}, linked on its own", "_support"))
        .otherwise("reason")
        .alias("reason"),
    ).drop("case", "_support", "_was")
