"""The national basic list of measures (schemas/law/measures_2024.yaml): every shipped memorandum
measure maps to an entry, a memorandum outside the list is refused naming the file, the measure
and the reason, and every measure gets its legal basis."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
import yaml

from credlink.etl.catalog import check_frame, table_contracts
from credlink.etl.contracts import strict_yaml_load
from credlink.publish.listings import LISTS
from credlink.publish.measures_list import (
    BASIS_KINDS,
    MEASURE_BASIS_COLUMNS,
    MEASURES_LIST_FILE,
    MeasuresListError,
    load_measures_list,
    measure_basis,
    measures_list,
    measures_list_table,
    memorandum_problems,
)
from credlink.publish.memoranda import (
    MEMORANDA_DIR,
    Measure,
    Memorandum,
    MemorandumError,
    Target,
    load_memorandum,
)


def _raw(path: Path) -> dict:
    return strict_yaml_load(path.read_text(encoding="utf-8"), path)


def _write(directory: Path, name: str, doc: dict) -> Path:
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_the_list_has_an_entry_for_every_shipped_measure() -> None:
    """Read from the raw files, so that the check does not rest on the loader under test."""
    listing = load_measures_list()
    assert listing.edition == "2024" and listing.id == "measures_2024"
    used = {
        m.get("list_entry") or m["id"]
        for path in MEMORANDA_DIR.glob("*.yaml")
        if _raw(path).get("kind", "punishment") == "punishment"
        for m in _raw(path)["measures"]
    }
    used.add("no_outbound_tours")  # the tourism memorandum's (tourism_uncivilised_2018)
    assert used <= set(listing.by_id), sorted(used - set(listing.by_id))
    assert {e.legal_basis.kind for e in listing.measures} <= set(BASIS_KINDS)


def test_the_shipped_memoranda_all_map(memoranda: list[Memorandum]) -> None:
    listing = measures_list()
    for memo in memoranda:
        assert memorandum_problems(memo) == [], memo.id
        for m in memo.measures:
            assert m.list_entry is not None and listing.entry(m.list_entry) is not None


def test_measure_basis_gives_every_measure_a_basis(memoranda: list[Memorandum]) -> None:
    basis = measure_basis(memoranda)
    assert basis.schema == pl.Schema(MEASURE_BASIS_COLUMNS)
    punishment = [(memo.id, m.id) for memo in memoranda if memo.kind == "punishment"
                  for m in memo.measures]  # fmt: skip
    assert sorted(basis.select("memorandum_id", "measure_id").rows()) == sorted(punishment)
    assert basis.null_count().sum_horizontal().item() == 0
    assert set(basis["legal_basis_kind"]) <= set(BASIS_KINDS)
    assert set(basis["list_edition"]) == {"2024"}
    row = basis.filter(
        (pl.col("memorandum_id") == "court_defaulters_2016")
        & (pl.col("measure_id") == "no_civil_service")
    ).row(0, named=True)
    assert row["legal_basis_kind"] == "law"
    assert row["legal_basis"].startswith("《中华人民共和国公务员法》第二十六条")
    assert row["implementing_agency"] == "civil_service"


def test_the_list_table_holds_to_its_contract() -> None:
    table = measures_list_table()
    contract = table_contracts()["publish.measures_list"]
    assert check_frame(table, contract) == []
    assert table.height == len(load_measures_list().measures)
    tours = table.filter(pl.col("list_entry") == "no_outbound_tours").row(0, named=True)
    assert tours["target_lists"] == ["uncivilised_tourists"] and not tours["any_list"]
    assert tours["legal_representative"] is False and tours["unconfirmed"]


# --- memoranda outside the list -----------------------------------------------------------


def _rail(d: dict) -> None:
    """The rail ban with a made-up measure."""
    d["measures"][0]["id"] = "no_sleeper"


def _rail_to_organisations(d: dict) -> None:
    """The rail ban applied to listed organisations too: the entry binds persons only."""
    d["targets"][0]["subject_types"] = ["person", "organisation"]
    d["measures"][0]["applies_to"] = ["person", "organisation"]


def _tours_on_rail(d: dict) -> None:
    """The outbound-tour ban triggered by the rail list: the entry allows tourists only."""
    d["measures"][0].update(id="no_outbound_tours", enforcing_agency="tourism")


def _food_supervision_to_representative(d: dict) -> None:
    """Key supervision (organisations only) also applied to persons: it reaches the listed
    organisation's legal representative (the food memorandum extends to them)."""
    (m,) = [m for m in d["measures"] if m["id"] == "key_supervision"]
    m["applies_to"] = ["organisation", "person"]


def _missing_entry(d: dict) -> None:
    d["measures"][0]["list_entry"] = "no_such_entry"


@pytest.mark.parametrize(
    ("base", "mutate", "measure", "words"),
    [
        ("rail_ban_2018", _rail, "no_sleeper", "it is not in the national basic list of measures"),
        (
            "rail_ban_2018",
            _rail_to_organisations,
            "no_rail_tickets",
            "applied to listed organisation subjects of rail_ban, but the entry allows only person",
        ),
        (
            "rail_ban_2018",
            _tours_on_rail,
            "no_outbound_tours",
            "target list 'rail_ban' is not among the entry's lists (uncivilised_tourists)",
        ),
        (
            "food_safety_2016",
            _food_supervision_to_representative,
            "key_supervision",
            "extends to the legal_representative of a listed organisation of "
            "food_serious_violations, which the entry does not allow",
        ),
        (
            "rail_ban_2018",
            _missing_entry,
            "no_rail_tickets",
            "its list_entry 'no_such_entry' is not in the national basic list",
        ),
    ],
)
def test_a_memorandum_outside_the_list_names_file_measure_and_reason(
    tmp_path: Path, base: str, mutate: Callable[[dict], None], measure: str, words: str
) -> None:
    doc = _raw(MEMORANDA_DIR / f"{base}.yaml")
    mutate(doc)
    path = _write(tmp_path, base, doc)
    with pytest.raises(MemorandumError) as err:
        load_memorandum(path)
    message = str(err.value)
    assert str(path) in message, message
    assert f"measure {measure!r}" in message and words in message, message


def test_an_explicit_list_entry_maps_a_measure_of_another_name(tmp_path: Path) -> None:
    doc = _raw(MEMORANDA_DIR / "rail_ban_2018.yaml")
    doc["measures"][0].update(id="no_sleeper", list_entry="no_rail_tickets")
    memo = load_memorandum(_write(tmp_path, "rail_ban_2018", doc))
    assert memo.measures[0].list_entry == "no_rail_tickets"
    assert measure_basis([memo]).select("measure_id", "list_entry").rows() == [
        ("no_sleeper", "no_rail_tickets")
    ]
    # and by default the entry is the measure's id
    shipped = load_memorandum(MEMORANDA_DIR / "rail_ban_2018.yaml")
    assert shipped.kind == "punishment" and shipped.measures[0].list_entry == "no_rail_tickets"


def test_an_incentive_memorandum_is_not_held_to_the_punishment_list(tmp_path: Path) -> None:
    doc = _raw(MEMORANDA_DIR / "rail_ban_2018.yaml")
    doc["kind"] = "incentive"
    doc["measures"][0]["id"] = "green_channel"
    memo = load_memorandum(_write(tmp_path, "rail_ban_2018", doc))
    assert memo.kind == "incentive" and memorandum_problems(memo) == []
    assert measure_basis([memo]).is_empty()


def test_a_punishment_memorandum_may_not_target_a_red_list(tmp_path: Path) -> None:
    red = sorted(n for n, s in LISTS.items() if getattr(s, "kind", None) == "red")
    if not red:
        pytest.skip("no red list in the catalog")
    doc = _raw(MEMORANDA_DIR / "major_tax_violators_2014.yaml")
    doc["targets"] = [{"list": red[0], "subject_types": ["organisation"]}]
    with pytest.raises(MemorandumError, match=rf"targets.0: '{red[0]}' is a red list"):
        load_memorandum(_write(tmp_path, "major_tax_violators_2014", doc))


def test_target_lists_are_checked_against_the_entry_not_the_catalog() -> None:
    """A list the catalog may not have yet (the tourism mapping) is still a list an entry names."""
    entry = measures_list().entry("no_outbound_tours")
    assert entry is not None
    fields = {"id": "no_outbound_tours", "clause": "1", "text": "t", "category": "travel",
              "enforcing_agency": "tourism", "applies_to": ["person"]}  # fmt: skip
    tours = Measure.model_validate(fields)

    def target(name: str) -> Target:
        return Target.model_construct(
            list=name, subject_types=("person",), when=(), extend_to=(), duration=None
        )

    assert entry.problems(target("uncivilised_tourists"), tours) == []
    assert entry.problems(target("court_defaulters"), tours) == [
        "target list 'court_defaulters' is not among the entry's lists (uncivilised_tourists)"
    ]
    civil = measures_list().entry("no_civil_service")
    assert civil is not None and civil.problems(target("uncivilised_tourists"), tours) == []


# --- the list file itself -----------------------------------------------------------------


def _bad_kind(d: dict) -> None:
    d["measures"][0]["legal_basis"]["kind"] = "departmental_rule"


def _bad_agency(d: dict) -> None:
    d["measures"][0]["implementing_agency"] = "ministry_of_magic"


def _twice(d: dict) -> None:
    d["measures"].append(d["measures"][0])


def _representative_of_organisations(d: dict) -> None:
    d["measures"][0]["targets"] = {"subject_types": ["organisation"], "lists": "any",
                                   "legal_representative": True}  # fmt: skip


def _no_lists(d: dict) -> None:
    d["measures"][0]["targets"]["lists"] = []


@pytest.mark.parametrize(
    ("mutate", "field", "words"),
    [
        (_bad_kind, "measures.0.legal_basis.kind", "'law', 'administrative_regulation' or"),
        (_bad_agency, "measures.0", "unknown implementing_agency 'ministry_of_magic'"),
        (_twice, "(file)", "entry id 'no_flights' used twice"),
        (_representative_of_organisations, "measures.0.targets", "binds no person"),
        (_no_lists, "measures.0.targets", "name at least one list, or write 'any'"),
    ],
)
def test_a_bad_list_names_the_file_and_the_field(
    tmp_path: Path, mutate: Callable[[dict], None], field: str, words: str
) -> None:
    doc = _raw(MEASURES_LIST_FILE)
    mutate(doc)
    path = _write(tmp_path, "measures_2024", doc)
    with pytest.raises(MeasuresListError) as err:
        load_measures_list(path)
    message = str(err.value)
    assert str(path) in message and field in message and words in message, message


def test_the_list_is_read_strictly(tmp_path: Path) -> None:
    text = MEASURES_LIST_FILE.read_text(encoding="utf-8")
    path = tmp_path / "measures_2024.yaml"
    path.write_text(text.replace('edition: "2024"\n', 'edition: "2024"\nedition: "2022"\n'),
                    encoding="utf-8")  # fmt: skip
    with pytest.raises(MeasuresListError, match="duplicate key 'edition'"):
        load_measures_list(path)
