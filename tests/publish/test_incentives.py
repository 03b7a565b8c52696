"""Joint incentives on hand-made listings: grade A taxpayers receive the incentives of
发改财金〔2016〕1467号, a blacklisted one receives none (and the history says why), the history
across runs, and the red / black separation of the memorandum files."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml
from handmade import LEGAL_REPS, ORG, REGISTRY, link, links, listings, staged, tax_case, tax_grade

from credlink.etl.catalog import check_frame, table_contracts
from credlink.publish.incentives import (
    INCENTIVE_HISTORY_COLUMNS,
    INCENTIVES_DIR,
    IncentiveError,
    IncentiveTables,
    blacklisted_subjects,
    incentive_tables,
    load_incentive,
    load_incentives,
)
from credlink.publish.listings import LISTS
from credlink.publish.memoranda import MEMORANDA_DIR, MemorandumError, load_memorandum

ORG_2 = "91310000MA1FL8KQ3N"
MEMO = "tax_grade_a_2016"
AGENCIES = {"customs", "finance", "financial_regulator", "honours", "market_regulator", "ndrc",
            "tax"}  # fmt: skip


def run(
    grades: list[dict[str, Any]],
    cases: list[dict[str, Any]],
    as_of: date,
    *,
    history: pl.DataFrame | None = None,
    run_id: str = "r1",
    seq: int = 1,
    record_links: pl.DataFrame | None = None,
) -> IncentiveTables:
    tables = {"tax__nsxypj": staged("tax", "nsxypj", grades)}
    if cases:
        tables["tax__zdsswfaj"] = staged("tax", "zdsswfaj", cases)
    found = listings(tables, as_of)
    lk = record_links
    if lk is None:
        lk = links(
            *[link(f"tax/nsxypj/{g['id']}", g.get("code", ORG)) for g in grades],
            *[link(f"tax/zdsswfaj/{c['id']}", ORG) for c in cases],
        )
    return incentive_tables(
        found,
        lk,
        load_incentives(),
        legal_reps=LEGAL_REPS,
        blacklisted=blacklisted_subjects(found, lk, as_of),
        history=history if history is not None else pl.DataFrame(schema=INCENTIVE_HISTORY_COLUMNS),
        run_id=run_id,
        as_of=as_of,
        seq=seq,
        registry=REGISTRY,
    )


def test_the_shipped_incentive_memorandum() -> None:
    (memo,) = load_incentives()
    assert memo.id == MEMO and memo.kind == "incentive"
    assert memo.document_number == "发改财金〔2016〕1467号"
    assert memo.title.startswith("关于对纳税信用A级纳税人实施联合激励措施的合作备忘录")
    assert [t.list for t in memo.targets] == ["tax_grade_a"]
    assert LISTS["tax_grade_a"].kind == "red" and LISTS["major_tax_violators"].kind == "black"
    assert memo.duration.term is not None and memo.duration.term.years == 1
    assert {x.enforcing_agency for x in memo.measures} == AGENCIES
    assert {"tax_service_green_channel", "fewer_inspections", "public_service_priority"} <= {
        x.id for x in memo.measures
    }


def test_a_grade_a_taxpayer_receives_the_incentives_and_a_grade_b_none() -> None:
    out = run([tax_grade(1, 2023), tax_grade(2, 2023, "B", code=ORG_2)], [], date(2024, 6, 30))
    rows = out.incentives
    assert set(rows["credit_code"]) == {ORG}
    assert rows.height == len(load_incentives()[0].measures)
    assert set(rows["status"]) == {"active"}
    first = rows.row(0, named=True)
    assert first["valid_from"] == date(2024, 4, 1) and first["valid_to"] == date(2025, 4, 1)
    assert first["listing_records"] == ["tax/nsxypj/1"]
    assert first["link_methods"] == ["deterministic"] and first["roles"] == ["listed"]
    assert first["incentive_id"] == f"{MEMO}:{first['measure_id']}:{ORG}"
    assert set(out.by_agency) == AGENCIES
    tax = out.by_agency["tax"]
    assert tax["measure_id"].to_list() == ["invoices_on_demand", "tax_service_green_channel"]
    assert tax["name"].to_list() == ["北京某某有限公司"] * 2
    assert set(out.history["change"]) == {"granted"}
    # each table holds to its contract
    contracts = table_contracts()
    for name, frame in out.tables().items():
        contract = contracts.get(name) or contracts["incentive.*"]
        assert check_frame(frame, contract, name) == [], name


def test_a_grade_only_counts_from_its_evaluation_and_for_one_year() -> None:
    before = run([tax_grade(1, 2023)], [], date(2024, 3, 31))
    assert before.incentives.is_empty()  # not evaluated (nor known) yet
    after = run([tax_grade(1, 2023)], [], date(2025, 4, 1))
    assert after.incentives.is_empty()  # a year later, with no new grade A


def test_a_blacklisted_grade_a_taxpayer_receives_none() -> None:
    case = tax_case(7, published_on=date(2024, 3, 1))
    out = run([tax_grade(1, 2023)], [case], date(2024, 6, 30))
    assert out.incentives.is_empty()
    assert all(f.is_empty() for f in out.by_agency.values())
    h = out.history
    assert set(h["change"]) == {"withheld"} and set(h["reason"]) == {"blacklisted"}
    assert set(h["status"]) == {"withheld"} and h.height == len(load_incentives()[0].measures)
    assert out.bound is not None and set(out.bound["end_reason"]) == {"blacklisted"}
    # the next run records nothing more: the history already says why
    again = run([tax_grade(1, 2023)], [case], date(2024, 7, 31), history=h, run_id="r2", seq=2)
    assert again.history.height == h.height


def test_a_link_in_review_makes_no_one_blacklisted() -> None:
    case = tax_case(7, published_on=date(2024, 3, 1))
    lk = links(link("tax/nsxypj/1", ORG), link("tax/zdsswfaj/7", ORG, band="review"))
    out = run([tax_grade(1, 2023)], [case], date(2024, 6, 30), record_links=lk)
    assert set(out.incentives["credit_code"]) == {ORG}


def test_history_across_runs() -> None:
    """Granted on the 2023 grade, extended on the 2024 one, revoked when blacklisted, granted
    again on the 2025 grade once the case is paid and removed; the other firm's expires."""
    g23, g24 = tax_grade(1, 2023), tax_grade(2, 2024)
    other = [tax_grade(3, 2023, code=ORG_2), tax_grade(4, 2024, "B", code=ORG_2)]
    case = tax_case(7, published_on=date(2025, 5, 20), updated=datetime(2025, 5, 20, tzinfo=UTC))
    paid = {**case, "removed_on": date(2026, 1, 10), "ycyy": "已缴清税款、滞纳金和罚款",
            "updated": datetime(2026, 1, 10, tzinfo=UTC)}  # fmt: skip
    steps = [
        (date(2024, 6, 30), [g23, other[0]], []),
        (date(2025, 4, 10), [g23, g24, *other], []),
        (date(2025, 6, 1), [g23, g24, *other], [case]),
        (date(2026, 4, 10), [g23, g24, tax_grade(5, 2025), *other], [paid]),
    ]
    history = None
    for seq, (day, grades, cases) in enumerate(steps, start=1):
        out = run(grades, cases, day, history=history, run_id=f"r{seq}", seq=seq)
        history = out.history
    assert history is not None
    one = history.filter(pl.col("incentive_id") == f"{MEMO}:tax_service_green_channel:{ORG}")
    assert one.select("run_id", "change", "status", "valid_from", "valid_to", "reason").rows() == [
        ("r1", "granted", "active", date(2024, 4, 1), date(2025, 4, 1), None),
        ("r2", "extended", "active", date(2025, 4, 1), date(2026, 4, 1), None),
        ("r3", "revoked", "ended", date(2025, 4, 1), date(2025, 6, 1), "blacklisted"),
        ("r4", "granted", "active", date(2026, 4, 1), date(2027, 4, 1), None),
    ]
    assert one["listing_records"].to_list()[-1] == ["tax/nsxypj/5"]
    theirs = history.filter(pl.col("incentive_id") == f"{MEMO}:tax_service_green_channel:{ORG_2}")
    assert theirs.select("run_id", "change", "valid_to", "reason").rows() == [
        ("r1", "granted", date(2025, 4, 1), None),
        ("r2", "expired", date(2025, 4, 1), "expired"),
    ]
    # a re-run of the last run replaces its rows
    rerun = run(steps[-1][1], steps[-1][2], steps[-1][0], history=history, run_id="r4", seq=4)
    assert rerun.history.sort("seq", "incentive_id").equals(history.sort("seq", "incentive_id"))


def _doc(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _write(directory: Path, doc: dict[str, Any]) -> Path:
    path = directory / f"{doc['id']}.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def test_an_incentive_memorandum_on_a_black_list_is_refused(tmp_path: Path) -> None:
    doc = _doc(INCENTIVES_DIR / f"{MEMO}.yaml")
    doc.update(id="black_incentive", targets=[{"list": "major_tax_violators"}])
    with pytest.raises(IncentiveError) as err:
        load_incentive(_write(tmp_path, doc))
    message = str(err.value)
    assert "black_incentive.yaml" in message and "targets.0.list" in message
    assert "'major_tax_violators' is a black list" in message


def test_a_punishment_file_among_the_incentives_is_refused(tmp_path: Path) -> None:
    doc = _doc(MEMORANDA_DIR / "major_tax_violators_2014.yaml")
    doc.update(id="not_an_incentive")
    _write(tmp_path, doc)
    with pytest.raises(IncentiveError) as err:
        load_incentives(tmp_path)
    assert "kind: 'punishment'" in str(err.value) and "is a black list" in str(err.value)


def test_a_punishment_memorandum_on_the_red_list_is_refused(tmp_path: Path) -> None:
    """publish/memoranda.py refuses it (a punishment memorandum targets black lists only)."""
    doc = _doc(MEMORANDA_DIR / "major_tax_violators_2014.yaml")
    doc.update(id="punish_grade_a", targets=[{"list": "tax_grade_a",
                                              "subject_types": ["organisation"]}])  # fmt: skip
    with pytest.raises(MemorandumError) as err:
        load_memorandum(_write(tmp_path, doc))
    assert "tax_grade_a" in str(err.value) and "red" in str(err.value)
