"""The memoranda files: what they say, validation errors, and adding one as a new file."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
import yaml
from handmade import PERSON, in_force, link, links, publish, staged

from credlink.publish.listings import LISTS
from credlink.publish.memoranda import MEMORANDA_DIR, Memorandum, MemorandumError, load_memoranda


def test_the_shipped_memoranda(memoranda: list[Memorandum]) -> None:
    by_id = {m.id: m for m in memoranda}
    assert set(by_id) == {
        "court_defaulters_2016",
        "major_tax_violators_2014",
        "food_safety_2016",
        "aviation_ban_2018",
        "rail_ban_2018",
        "cross_list_transport_2018",
        "tourism_uncivilised_2018",
    }
    court = by_id["court_defaulters_2016"]
    assert court.document_number == "发改财金〔2016〕141号" and court.signatory_count == 44
    assert len(court.measures) >= 10
    assert len({x.enforcing_agency for x in court.measures}) >= 6
    assert {"consumption"} <= {x.category for x in court.measures}
    assert court.targets[0].extend_to == ("legal_representative",)
    aviation = by_id["aviation_ban_2018"]
    behaviours = aviation.targets[0].when[0]["behaviour"].in_
    assert behaviours is not None and set(behaviours) == set(
        LISTS["flight_ban"].fields["behaviour"].values
    )
    assert len(behaviours) == 9
    assert aviation.duration.term is not None and aviation.duration.term.years == 1
    rail = by_id["rail_ban_2018"]
    assert rail.duration.term is not None and rail.duration.term.days == 180
    assert "fare_paid" in rail.lifted_by
    tax = by_id["major_tax_violators_2014"]
    assert tax.duration.term is not None and tax.duration.term.years == 3
    assert "tax_paid" in tax.lifted_by
    assert "tax_credit_grade_d" in {x.id for x in tax.measures}
    cross = by_id["cross_list_transport_2018"]
    assert {t.list for t in cross.targets} == {"court_defaulters", "major_tax_violators"}
    tourists = by_id["tourism_uncivilised_2018"]
    assert [m.id for m in tourists.measures] == [
        "no_outbound_tours",
        "no_honours",
        "no_civil_service",
    ]
    assert tourists.targets[0].list == "uncivilised_tourists"
    assert tourists.duration.ends == "listing"  # the record's own term, 1 to 5 years


def _write(directory: Path, name: str, doc: dict) -> Path:
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def _base() -> dict:
    return yaml.safe_load((MEMORANDA_DIR / "rail_ban_2018.yaml").read_text(encoding="utf-8"))


def _bad_list(d: dict) -> None:
    d["targets"][0]["list"] = "courts.NOSUCH"


def _bad_field(d: dict) -> None:
    d["targets"][0]["when"][0] = {"colour": {"in": ["red"]}}


def _bad_code(d: dict) -> None:
    d["targets"][0]["when"][0] = {"behaviour": {"in": ["juggling"]}}


def _bad_duration(d: dict) -> None:
    d["duration"]["term"] = {"days": -5}


def _no_term(d: dict) -> None:
    d["duration"] = {"starts": "effective_from", "ends": "term"}


def _no_agency(d: dict) -> None:
    del d["measures"][0]["enforcing_agency"]


def _unknown_agency(d: dict) -> None:
    d["measures"][0]["enforcing_agency"] = "ministry_of_magic"


def _unknown_key(d: dict) -> None:
    d["penalty"] = "severe"


def _bad_reason(d: dict) -> None:
    d["lifted_by"] = ["apologised"]


@pytest.mark.parametrize(
    ("mutate", "field", "words"),
    [
        (_bad_list, "targets.0", "unknown source list 'courts.NOSUCH'"),
        (_bad_field, "targets.0", "no field 'colour'"),
        (_bad_code, "targets.0", "unknown codes ['juggling']"),
        (_bad_duration, "duration.term.days", "greater than 0"),
        (_no_term, "duration", "needs a term"),
        (_no_agency, "measures.0.enforcing_agency", "Field required"),
        (_unknown_agency, "measures.0", "unknown enforcing_agency 'ministry_of_magic'"),
        (_unknown_key, "penalty", "Extra inputs are not permitted"),
        (_bad_reason, "lifted_by", "unknown removal reasons ['apologised']"),
    ],
)
def test_a_bad_memorandum_names_the_file_and_the_field(
    tmp_path: Path, mutate, field: str, words: str
) -> None:  # type: ignore[no-untyped-def]
    doc = _base()
    mutate(doc)
    path = _write(tmp_path, doc["id"], doc)
    with pytest.raises(MemorandumError) as err:
        load_memoranda(tmp_path)
    message = str(err.value)
    assert str(path) in message
    assert field in message and words in message, message


def test_adding_a_memorandum_is_adding_a_file(tmp_path: Path) -> None:
    """A new file, no code: its restrictions appear on the next run."""
    shutil.copytree(MEMORANDA_DIR, tmp_path, dirs_exist_ok=True)
    doc = {
        "id": "sleeper_ban_2026",
        "title": "hypothetical: no sleeper berths for fare dodgers",
        "document_number": "测试〔2026〕1号",
        "issued_on": date(2026, 1, 1),
        "signatories": ["国家铁路局"],
        "basis": "a test memorandum",
        "targets": [
            {
                "list": "rail_ban",
                "subject_types": ["person"],
                "when": [{"behaviour": {"in": ["fare_dodging"]}, "fare_owed_yuan": {"min": 100}}],
            }
        ],
        "duration": {"starts": "effective_from", "ends": "term", "term": {"days": 90}},
        "lifted_by": ["fare_paid"],
        "measures": [
            {
                "id": "no_sleeper",
                # a narrower form of an entry of the national list of measures
                "list_entry": "no_rail_tickets",
                "clause": "art. 1",
                "text": "no sleeper berths",
                "enforcing_agency": "china_railway",
                "category": "transport",
                "applies_to": ["person"],
            }
        ],
    }
    _write(tmp_path, doc["id"], doc)  # type: ignore[arg-type]
    memoranda = load_memoranda(tmp_path)
    row = {
        "id": 1,
        "subject_type": "person",
        "behaviour": "fare_dodging",
        "fare_owed_yuan": 300.0,
        "published_on": date(2026, 2, 5),
        "effective_from": date(2026, 2, 14),
        "status": "active",
    }
    tables = {"transport__RailBan": staged("transport", "RailBan", [row])}
    run = publish(tables, links(link("transport/RailBan/1", PERSON)), memoranda, date(2026, 3, 1))
    new = in_force(run, "sleeper_ban_2026")
    assert new.select("credit_code", "measure_id", "valid_to").rows() == [
        (PERSON, "no_sleeper", date(2026, 5, 15))
    ]
    assert "sleeper_ban_2026" in set(run.tables["publish.memoranda"]["memorandum_id"])
