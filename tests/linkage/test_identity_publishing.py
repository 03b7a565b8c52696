"""From a clerk's slip to the warehouse: hand-made listings linked and published.

A court lists firm A under firm B's valid USCC, and 张三 under his relative's masked number:
neither B, nor B's legal representative, nor the relative is restricted; the listings wait in
``publish.pending_links``. The same listings with the right numbers restrict A, A's legal
representative and 张三.
"""

from __future__ import annotations

from datetime import date

import polars as pl
from identities import (
    conformed,
    legal_entities,
    masked,
    org_listing,
    person_listing,
    population,
    ric,
    uscc,
)

from credlink.linkage.records import organisation_records, person_records
from credlink.linkage.resolve import resolve
from credlink.linkage.spine import organisation_spine, person_spine
from credlink.publish.history import HISTORY_COLUMNS
from credlink.publish.listings import build_listings
from credlink.publish.memoranda import load_memoranda
from credlink.publish.stage import Published, publish_tables

ZHANG_SAN = ric("37082719800512001")
ZHANG_WEIHUA = ric("37082719900101003")  # his relative: same surname, same county
LI_SI = ric("11010519491231002")
PEOPLE = {
    ZHANG_SAN: ("张三", "M", "370827"),
    ZHANG_WEIHUA: ("张伟华", "M", "370827"),
    LI_SI: ("李四", "M", "110105"),
}
A_FIRM = uscc("91", "110105", "60003734")
B_FIRM = uscc("91", "310101", "13579135")
FIRMS = {
    A_FIRM: ("北京华兴科技有限公司", "张三", ZHANG_SAN),
    B_FIRM: ("上海明达贸易有限公司", "李四", LI_SI),
}
CASE = "(2024)鲁0827执24号"
DAY = date(2025, 6, 30)  # after the records were staged (identities.UPDATED)
#: what the defaulter list says beyond the subject: listed 2024-01-10, no fixed term
LISTING = {
    "circumstance": "refuses_able",
    "performance_status": "unperformed",
    "published_on": date(2024, 1, 10),
    "valid_until": None,
    "removed": "no",
    "removed_on": None,
    "removal_reason": None,
}


def _defaulters(org_number: str, person_number: str) -> pl.DataFrame:
    orgs = org_listing("courts", "SXBZXR", [
        {"id": "1", "name": "北京华兴科技有限公司", "number": org_number},
    ])  # fmt: skip
    persons = person_listing("courts", "SXBZXR", [
        {"id": "2", "name": "张三", "number": person_number, "case": CASE, "sex": "M"},
    ])  # fmt: skip
    both = pl.concat([orgs, persons], how="diagonal_relaxed")
    return both.with_columns(
        pl.lit(CASE).alias("AH"),
        *[pl.lit(v).alias(k) for k, v in LISTING.items()],
    )


def _published(org_number: str, person_number: str) -> Published:
    staged = conformed({"courts__SXBZXR": _defaulters(org_number, person_number)})
    registry = legal_entities(FIRMS)
    people = person_spine(population(PEOPLE))
    links = pl.concat(
        [
            resolve(person_records(staged), people, "person").links,
            resolve(organisation_records(staged), organisation_spine(registry),
                    "organisation").links,
        ]
    )  # fmt: skip
    reps = pl.DataFrame(
        {
            "credit_code": [A_FIRM, B_FIRM],
            "legal_rep_code": [ZHANG_SAN, LI_SI],
            "rep_link_method": ["deterministic"] * 2,
            "rep_name_agreement": ["exact"] * 2,
            "rep_evidence": [["citizen_id"]] * 2,
        }
    )
    subjects = pl.DataFrame(
        {
            "credit_code": [*PEOPLE, *FIRMS],
            "subject_type": ["person"] * 3 + ["organisation"] * 2,
            "name": [p[0] for p in PEOPLE.values()] + [f[0] for f in FIRMS.values()],
            "region": ["370827", "370827", "110105", "110105", "310101"],
        }
    )
    return publish_tables(
        build_listings(staged, DAY),
        links,
        load_memoranda(),
        legal_reps=reps,
        registry=subjects,
        history=pl.DataFrame(schema=HISTORY_COLUMNS),
        run_id="r1",
        as_of=DAY,
    )


def test_slips_restrict_nobody_and_wait_for_review() -> None:
    run = _published(org_number=B_FIRM, person_number=masked(ZHANG_WEIHUA))
    restricted = set(run.tables["publish.restrictions"]["credit_code"])
    assert not restricted & {B_FIRM, LI_SI, ZHANG_WEIHUA}
    assert restricted == set()
    pending = run.tables["publish.pending_links"]
    assert set(pending["unique_id"]) == {"courts/SXBZXR/1", "courts/SXBZXR/2"}
    assert (pending["reason"] == "the link awaits a reviewer's decision").all()
    assert pending["held_measures"].list.len().min() > 0  # what accepting would impose
    for agency_table in [t for t in run.tables if t.startswith("enforce.")]:
        assert run.tables[agency_table].is_empty()


def test_the_right_numbers_restrict_the_right_subjects() -> None:
    run = _published(org_number=A_FIRM, person_number=masked(ZHANG_SAN))
    rows = run.tables["publish.restrictions"]
    assert set(rows["credit_code"]) == {A_FIRM, ZHANG_SAN}
    # 张三 is restricted twice over: listed himself, and as A's legal representative
    roles = rows.filter(pl.col("credit_code") == ZHANG_SAN)["roles"].explode().unique()
    assert set(roles) == {"listed", "legal_representative"}
    assert run.tables["publish.pending_links"].is_empty()
