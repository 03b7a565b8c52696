"""`credlink repair` and `credlink objection` on a temporary lake: each command records its
filing in the lake's case store and prints what it recorded and what it does (the repair's
assessment, the objection's status), read from the lake's own listings, publication rules and
links (publish.cases.case_effects)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner, Result

from credlink.cli import app
from credlink.etl.conform.apply import conform_frames
from credlink.etl.lake import Lake
from credlink.publish.cases import read_cases

PERSON = "11010519491231002X"
PERSON_2 = "360426199101010071"
ORG = "91110000600037341L"
REP = "110101198001010013"
BAN = "transport/FlightBan/1"  # PERSON's flight ban: serious, repairable from 2026-05-05
WITHDRAWN = "transport/FlightBan/2"  # PERSON_2's ban the agency withdrew on 2026-03-10
COURT = "courts/SXBZXR/1"  # PERSON's defaulter listing: not repairable
COURT_ORG = "courts/SXBZXR/3"  # ORG's, whose legal representative is REP


def _staged(source: str, table: str, rows: list[dict[str, Any]]) -> pl.DataFrame:
    out = []
    for r in rows:
        row = dict(r)
        out.append({"_source": source, "_table": table, "_record_id": str(row.pop("id")),
                    "_updated_utc": row.pop("updated", datetime(2025, 1, 1, tzinfo=UTC)),
                    "_interval": "all", **row})  # fmt: skip
    return pl.DataFrame(out, infer_schema_length=None)


def _ban(rid: int, **fields: Any) -> dict[str, Any]:
    return {"id": rid, "subject_type": "person", "behaviour": "theft_on_board",
            "published_on": date(2025, 5, 5), "effective_from": date(2025, 5, 14),
            "expires_on": date(2026, 5, 14), "status": "active", **fields}  # fmt: skip


def _court(rid: int, subject_type: str = "person", **fields: Any) -> dict[str, Any]:
    return {"id": rid, "subject_type": subject_type, "subject_name": "张伟",
            "AH": f"(2024)京0105执{rid}号", "circumstance": "refuses_able",
            "performance_status": "unperformed", "published_on": date(2024, 1, 10),
            "valid_until": None, "removed": "no", "removed_on": None, "removal_reason": None,
            **fields}  # fmt: skip


def _link(uid: str, code: str) -> dict[str, Any]:
    source, table, record = uid.split("/")
    return {"unique_id": uid, "source": source, "table": table, "record_id": record,
            "subject_type": "organisation" if code[0] == "9" else "person",
            "credit_code": code, "candidate_code": code, "band": "accept",
            "method": "deterministic", "link_probability": 1.0, "run_id": "test"}  # fmt: skip


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`<tmp>/data/lake` with conformed flight bans and court defaulters, their links and
    ORG's legal representative."""
    monkeypatch.setenv("CREDLINK_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("CREDLINK_WAREHOUSE", str(tmp_path / "data" / "warehouse.duckdb"))
    lake = Lake(tmp_path / "data" / "lake")
    withdrawn = _ban(2, published_on=date(2026, 3, 5), effective_from=date(2026, 3, 14),
                     expires_on=date(2027, 3, 14), status="withdrawn",
                     updated=datetime(2026, 3, 10, 4, tzinfo=UTC))  # fmt: skip
    tables = {
        "transport__FlightBan": _staged("transport", "FlightBan", [_ban(1), withdrawn]),
        "courts__SXBZXR": _staged("courts", "SXBZXR", [
            _court(1), _court(3, "organisation", subject_name="北京某某有限公司")]),
    }  # fmt: skip
    for name, frame in conform_frames(tables).items():
        lake.write("conformed", name, "all", frame)
    links = [_link(BAN, PERSON), _link(WITHDRAWN, PERSON_2), _link(COURT, PERSON),
             _link(COURT_ORG, ORG)]  # fmt: skip
    lake.write_whole("linkage", "record_links", pl.DataFrame(links))
    rep = {"organisation_code": ORG, "unique_id": "legal_entities/legal_entity.legal_rep/1",
           "credit_code": REP, "candidate_code": REP, "band": "accept",
           "method": "deterministic", "link_probability": 1.0, "run_id": "test"}  # fmt: skip
    lake.write_whole("linkage", "legal_representatives", pl.DataFrame([rep]))
    return tmp_path / "data"


def run(*args: str) -> Result:
    result = CliRunner().invoke(app, list(args))
    assert "Traceback" not in result.output, result.output
    return result


def flat(result: Result) -> str:
    """The output on one line (a long line may wrap)."""
    return " ".join(result.output.split())


def test_repair_apply_records_and_prints_its_assessment(data: Path) -> None:
    early = run("repair", "apply", PERSON, "--listing", BAN, "--evidence",
                "fined and apologised to the crew", "--commitment", "--on", "2026-04-02")  # fmt: skip
    assert early.exit_code == 0, early.output
    out = flat(early)
    assert f"recorded R-20260402-1: repair application by {PERSON} for listing {BAN}" in out
    assert "filed 2026-04-02, credit commitment filed" in out
    assert (
        "assessment: refused: the minimum publication period runs until 2026-05-05; may apply "
        "from 2026-05-05"
    ) in out
    bare = run("repair", "apply", PERSON, "--listing", BAN, "--evidence", "fined",
               "--on", "2026-05-06")  # fmt: skip
    assert "assessment: refused: no credit commitment was filed" in flat(bare)
    ok = run("repair", "apply", PERSON, "--listing", BAN, "--evidence", "fined",
             "--commitment", "--on", "2026-05-06")  # fmt: skip
    assert ok.exit_code == 0, ok.output
    assert "recorded R-20260506-2" in flat(ok)
    assert (
        "assessment: eligible: every restriction the listing caused is lifted from 2026-05-06, "
        "in every memorandum, in the next publishing run (repaired)"
    ) in flat(ok)
    cases = read_cases(Lake(data / "lake"))
    assert cases.filings.select("case_id", "commitment").rows() == [
        ("R-20260402-1", True),
        ("R-20260506-1", False),
        ("R-20260506-2", True),
    ]
    listed = run("repair", "list", PERSON, "--on", "2026-06-01")
    assert listed.exit_code == 0, listed.output
    out = flat(listed)
    assert "3 repair case(s) as of 2026-06-01:" in out
    assert (
        f"R-20260402-1: repair application by {PERSON} for listing {BAN}, filed 2026-04-02 "
        "refused: the minimum publication period runs until 2026-05-05"
    ) in out
    assert "R-20260506-2: repair application" in out and "eligible: every restriction" in out
    assert "no repair applications" in run("repair", "list", ORG, "--on", "2026-06-01").output


def test_non_repairable_information_is_refused_with_the_rules_reason(data: Path) -> None:
    result = run("repair", "apply", PERSON, "--listing", COURT, "--evidence", "paid",
                 "--commitment", "--on", "2026-04-02")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "assessment: refused: not repairable: Not repairable by NDRC credit repair" in flat(
        result
    )


def test_a_former_representative_applies(data: Path) -> None:
    """The registry has no terms yet (linkage.legal_representatives without them): the
    representative is taken to be in office and refused, with the reason."""
    result = run("repair", "apply", REP, "--listing", COURT_ORG, "--evidence",
                 "left the company in 2025", "--representative-change", "--on", "2026-04-02")  # fmt: skip
    assert result.exit_code == 0, result.output
    out = flat(result)
    assert f"recorded R-20260402-1: application of a former legal representative by {REP}" in out
    assert f"refused: {REP} is the legal representative of {ORG} in office on 2026-04-02" in out
    stranger = run("repair", "apply", PERSON_2, "--listing", COURT_ORG, "--evidence", "x",
                   "--representative-change", "--on", "2026-04-02")  # fmt: skip
    assert f"{PERSON_2} was never the legal representative of {ORG}" in flat(stranger)


def test_an_objection_is_filed_decided_once_and_not_heard_again(data: Path) -> None:
    filed = run("objection", "file", PERSON, "--listing", COURT, "--reason",
                "the judgment was performed in 2023", "--on", "2026-04-02")  # fmt: skip
    assert filed.exit_code == 0, filed.output
    out = flat(filed)
    assert f"recorded O-20260402-1: objection by {PERSON} to listing {COURT}" in out
    assert "status: open: the restrictions of the listing (every subject) show under_objection" in (
        out
    )
    decided = run("objection", "decide", "O-20260402-1", "--upheld", "--reason",
                  "the court corrected the entry", "--on", "2026-04-09")  # fmt: skip
    assert decided.exit_code == 0, decided.output
    out = flat(decided)
    assert "recorded D-20260409-1: objection O-20260402-1 upheld on 2026-04-09" in out
    assert (
        "status: upheld on 2026-04-09: the listing is withdrawn and never restricts again from "
        "2026-04-09"
    ) in out
    again = run("objection", "decide", "O-20260402-1", "--rejected", "--reason", "no",
                "--on", "2026-04-10")  # fmt: skip
    assert again.exit_code == 1
    assert "decided already: upheld on 2026-04-09 (D-20260409-1)" in flat(again)
    second = run("objection", "file", PERSON, "--listing", COURT, "--link", "--reason",
                 "not me either", "--on", "2026-04-20")  # fmt: skip
    assert second.exit_code == 0, second.output
    assert "status: refused: listing courts/SXBZXR/1 was withdrawn on 2026-04-09" in flat(second)
    nothing = run("objection", "decide", "O-20260420-1", "--rejected", "--reason", "x",
                  "--on", "2026-04-21")  # fmt: skip
    assert nothing.exit_code == 1
    assert "was refused" in flat(nothing) and "nothing to decide" in flat(nothing)
    assert read_cases(Lake(data / "lake")).filings["case_id"].to_list() == [
        "O-20260402-1",
        "D-20260409-1",
        "O-20260420-1",
    ]


def test_a_link_objection_rejected_and_the_list(data: Path) -> None:
    filed = run("objection", "file", PERSON, "--listing", BAN, "--link", "--reason",
                "I was abroad that day", "--on", "2026-04-02")  # fmt: skip
    assert f"to the link of listing {BAN}" in flat(filed)
    assert f"status: open: the restrictions of the listing (the link to {PERSON})" in flat(filed)
    rejected = run("objection", "decide", "O-20260402-1", "--rejected", "--reason",
                   "the boarding pass names him", "--on", "2026-04-05")  # fmt: skip
    assert "status: rejected on 2026-04-05: the restrictions are restored" in flat(rejected)
    listed = run("objection", "list", "--on", "2026-04-10")
    assert listed.exit_code == 0, listed.output
    out = flat(listed)
    assert "2 objection(s) as of 2026-04-10:" in out
    assert (
        f"O-20260402-1: objection by {PERSON}, filed 2026-04-02, to the link of listing {BAN} "
        "reason: I was abroad that day rejected on 2026-04-05: the restrictions are restored "
        "decision D-20260405-1: the boarding pass names him"
    ) in out
    # the agency's own objection window: the ban it withdrew is an objection it upheld
    assert (
        f"flight_ban:{WITHDRAWN}: objection upheld by the listing agency of flight_ban in its "
        f"window, to listing {WITHDRAWN} upheld on 2026-03-10"
    ) in out
    assert "no objections as of 2026-01-01" in run("objection", "list", "--on", "2026-01-01").output


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["objection", "decide", "O-20260402-1", "--reason", "x"], 2, "--upheld or --rejected"),
        (["repair", "apply", "12345", "--listing", BAN, "--evidence", "x"], 2, "not a credit code"),
        (["objection", "file", PERSON, "--listing", BAN, "--reason", "  "], 1, "reason is empty"),
        (
            ["repair", "apply", PERSON, "--listing", BAN, "--evidence", "x", "--on", "2099-01-01"],
            1,
            "after today",
        ),
        (
            [
                "objection",
                "decide",
                "O-20260402-9",
                "--upheld",
                "--reason",
                "x",
                "--on",
                "2026-04-02",
            ],
            1,
            "no objection 'O-20260402-9' is recorded",
        ),
    ],
)
def test_a_refused_command_says_why_and_records_nothing(
    data: Path, args: list[str], code: int, message: str
) -> None:
    result = run(*args)
    assert result.exit_code == code, result.output
    assert message in flat(result)
    assert read_cases(Lake(data / "lake")).filings.is_empty()


def test_a_filing_records_the_facts_of_its_day_and_is_judged_on_them(data: Path) -> None:
    """The command records the listing's link and obligations as the lake shows them; a later
    linkage run linking the listing to someone else does not undo the accepted repair."""
    ok = run("repair", "apply", PERSON, "--listing", BAN, "--evidence", "fined",
             "--commitment", "--on", "2026-05-06")  # fmt: skip
    assert "assessment: eligible" in flat(ok), ok.output
    lake = Lake(data / "lake")
    (filing,) = read_cases(lake).filings.rows(named=True)
    assert (filing["linked_code"], filing["link_band"], filing["obligations_met"]) == (
        PERSON, "accept", True
    )  # fmt: skip
    relinked = [_link(BAN, PERSON_2), _link(WITHDRAWN, PERSON_2), _link(COURT, PERSON),
                _link(COURT_ORG, ORG)]  # fmt: skip
    lake.write_whole("linkage", "record_links", pl.DataFrame(relinked))
    listed = flat(run("repair", "list", PERSON, "--on", "2026-06-01"))
    assert "R-20260506-1: repair application" in listed and "eligible: every restriction" in listed
    # filed after the relink, the same application is not the applicant's any more
    late = flat(run("repair", "apply", PERSON, "--listing", BAN, "--evidence", "fined",
                    "--commitment", "--on", "2026-05-07"))  # fmt: skip
    assert f"{PERSON} is not the subject of listing {BAN}" in late, late
