"""Hand-made staged listings, links and registry for publish tests, and a publish helper."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

import polars as pl

from credlink.etl.conform.apply import conform_frames
from credlink.publish.listings import build_listings
from credlink.publish.memoranda import Memorandum
from credlink.publish.stage import Published, publish_tables

PERSON = "11010519491231002X"
PERSON_2 = "360426199101010071"
ORG = "91110000600037341L"
REP = "110101198001010013"
UPDATED = datetime(2024, 1, 1, tzinfo=UTC)

REGISTRY = pl.DataFrame(
    {
        "credit_code": [PERSON, PERSON_2, ORG, REP],
        "subject_type": ["person", "person", "organisation", "person"],
        "name": ["张伟", "李娜", "北京某某有限公司", "王强"],
        "region": ["110105", "360426", "110000", "110101"],
    }
)
#: ORG's legal representative REP, linked by a valid citizen ID whose holder bears the name.
LEGAL_REPS = pl.DataFrame(
    {
        "credit_code": [ORG],
        "legal_rep_code": [REP],
        "rep_link_method": ["deterministic"],
        "rep_name_agreement": ["exact"],
        "rep_evidence": [["citizen_id"]],
    }
)


def staged(source: str, table: str, rows: Sequence[Mapping[str, Any]]) -> pl.DataFrame:
    """Staged rows of one table: `id` becomes `_record_id`, `updated` `_updated_utc`."""
    out = []
    for r in rows:
        row = dict(r)
        out.append(
            {
                "_source": source,
                "_table": table,
                "_record_id": str(row.pop("id")),
                "_updated_utc": row.pop("updated", UPDATED),
                **row,
            }
        )
    return pl.DataFrame(out, infer_schema_length=None)


def court(rid: int, subject_type: str = "person", **fields: Any) -> dict[str, Any]:
    """A defaulter listing: published 2024-01-10, no fixed term ('able but refuses')."""
    return {
        "id": rid,
        "subject_type": subject_type,
        "subject_name": "张伟",
        "AH": f"(2024)京0105执{rid}号",
        "circumstance": "refuses_able",
        "performance_status": "unperformed",
        "published_on": date(2024, 1, 10),
        "valid_until": None,
        "removed": "no",
        "removed_on": None,
        "removal_reason": None,
        **fields,
    }


def tax_case(rid: int, **fields: Any) -> dict[str, Any]:
    """One staged row of the tax bureau's major violations (``zdsswfaj``) against ORG: tax
    evasion of 1,200,000 yuan, 20% of the tax due, published 2024-03-01."""
    return {
        "id": rid,
        "subject_type": "organisation",
        "subject_name": "北京某某有限公司",
        "ajbh": f"京税稽罚〔2024〕{rid}号",
        "violation_type": "tax_evasion",
        "sjse": 1_200_000.0,
        "sjbl": 0.2,
        "fpfs": None,
        "published_on": date(2024, 3, 1),
        "removed_on": None,
        "ycyy": None,
        **fields,
    }


def listings(tables: Mapping[str, pl.DataFrame], as_of: date) -> dict[str, pl.DataFrame]:
    """:func:`publish.listings.build_listings` of hand-made staged tables, through the conform
    step (:func:`etl.conform.apply.conform_frames`) as the ingest does."""
    return build_listings(conform_frames(tables), as_of)


def link(
    uid: str,
    code: str,
    band: str = "accept",
    method: str = "deterministic",
    probability: float = 1.0,
    evidence: list[str] | None = None,
) -> dict[str, Any]:
    """One ``linkage.record_links`` row; the code is set in the accept band only. The name
    agrees, and `evidence` (default: the full identifier, ``uscc`` or ``citizen_id``) too."""
    organisation = code[0] == "9"
    return {
        "unique_id": uid,
        "subject_type": "organisation" if organisation else "person",
        "name_agreement": "exact",
        "evidence": evidence
        if evidence is not None
        else ["uscc" if organisation else "citizen_id"],
        "credit_code": code if band == "accept" else None,
        "candidate_code": code,
        "band": band,
        "method": method,
        "link_probability": probability,
        "match_probability": probability,
        "matched_on": "citizen_id" if method == "deterministic" else None,
        "model_version": None if method == "deterministic" else "person-20250101-1",
    }


def links(*rows: dict[str, Any]) -> pl.DataFrame:
    return pl.DataFrame(list(rows), infer_schema_length=None)


def publish(
    tables: Mapping[str, pl.DataFrame],
    record_links: pl.DataFrame,
    memoranda: Sequence[Memorandum],
    as_of: date,
    *,
    history: pl.DataFrame | None = None,
    runs: pl.DataFrame | None = None,
    run_id: str = "r1",
    legal_reps: pl.DataFrame | None = None,
) -> Published:
    """:func:`publish.stage.publish_tables` on hand-made staged tables (conformed first)."""
    from credlink.publish.history import HISTORY_COLUMNS

    return publish_tables(
        listings(tables, as_of),
        record_links,
        memoranda,
        legal_reps=LEGAL_REPS if legal_reps is None else legal_reps,
        registry=REGISTRY,
        history=history if history is not None else pl.DataFrame(schema=HISTORY_COLUMNS),
        run_id=run_id,
        as_of=as_of,
        runs=runs,
    )


def in_force(published: Published, memorandum: str | None = None) -> pl.DataFrame:
    r = published.tables["publish.restrictions"]
    return r if memorandum is None else r.filter(pl.col("memorandum_id") == memorandum)


def tax_grade(rid: int, year: int, xydj: str = "A", **fields: Any) -> dict[str, Any]:
    """One staged row of the yearly tax-credit evaluation (``nsxypj``) of ORG: the tax year
    `year`, evaluated on 1 April of the next year (entered that day)."""
    evaluated = date(year + 1, 4, 1)
    return {
        "id": rid,
        "subject_type": "organisation",
        "subject_name": "北京某某有限公司",
        "nsrid": 1,
        "pjnd": year,
        "xydj": xydj,
        "grade": xydj,
        "pjdf": 95.0 if xydj == "A" else 75.0,
        "evaluated_on": evaluated,
        "updated": datetime(year + 1, 4, 1, 2, tzinfo=UTC),
        **fields,
    }
