"""etl.standardise.vocabularies: the reviewed vocabulary files, their loader and the mapping.

Coverage: every raw value the generator can write (its constant tables) and every raw value
present in a generated world maps to a code."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import polars as pl
import pytest

from credlink.etl.contracts import source_contracts
from credlink.etl.standardise.vocabularies import (
    VOCABULARIES_DIR,
    Vocabulary,
    VocabularyError,
    load_vocabulary,
    map_values,
    vocabulary_names,
)
from credlink.world.agencies import courts, food, tax, tourism, transport
from credlink.world.generate import WorldSummary

EXPECTED = {
    "court_case_status",
    "defaulter_circumstance",
    "flight_behaviour",
    "food_dynamic_grade",
    "food_face",
    "food_violation",
    "id_type",
    "listing_removal_reason",
    "performance_status",
    "rail_behaviour",
    "sex",
    "tax_grade",
    "tax_violation_type",
    "taxpayer_status",
    "tourism_behaviour",
    "tourism_cert_type",
    "tourism_gravity",
    "tourism_record_status",
    "transport_status",
    "yes_no",
}


def test_the_vocabularies_are_all_there_and_valid() -> None:
    assert set(vocabulary_names()) == EXPECTED
    for name in vocabulary_names():
        vocabulary = load_vocabulary(name)
        assert isinstance(vocabulary, Vocabulary)
        assert vocabulary.vocabulary == name
        assert len(set(vocabulary.codes)) == len(vocabulary.codes)
        assert vocabulary.title and vocabulary.columns, name
        assert all(e.label for e in vocabulary.entries), name


def test_the_columns_a_vocabulary_names_exist_in_the_source_contracts() -> None:
    contracts = source_contracts()
    for name in vocabulary_names():
        for ref in load_vocabulary(name).columns:
            source, table, column = ref.split(".")
            assert column in {c.name for c in contracts[source].table(table).columns}, ref


def test_map_values() -> None:
    s = pl.Series("XB", ["男", "女", "M", "F", "？", None, " 男 ", "男性"])
    out = map_values(s, "sex")
    assert out.name == "XB"
    assert out.to_list() == ["M", "F", "M", "F", None, None, "M", None]
    assert map_values(pl.Series(["是", "否", "Y", "N", "y"]), "yes_no").to_list() == [
        "yes",
        "no",
        "yes",
        "no",
        None,  # codes are case-sensitive, as the sources write them
    ]
    # A text written with full-width punctuation maps like the source's own spelling.
    assert (
        map_values(
            pl.Series(["堵塞、强占、冲击值机柜台、安检通道、登机口(通道)"]), "flight_behaviour"
        ).item()
        == "storming_counters_gates"
    )


def test_codes_labels_and_attributes() -> None:
    circumstance = load_vocabulary("defaulter_circumstance")
    assert circumstance.codes == (
        "refuses_able",
        "obstructs",
        "evades",
        "property_report",
        "consumption_order",
        "settlement",
    )
    terms = circumstance.attribute("fixed_term_years")
    assert terms["refuses_able"] is None
    assert {terms[c] for c in circumstance.codes if c != "refuses_able"} == {2}
    assert load_vocabulary("rail_behaviour").attribute("ban_days")["fare_dodging"] is None
    assert set(load_vocabulary("flight_behaviour").attribute("ban_days").values()) == {365}
    assert load_vocabulary("tax_grade").codes == ("A", "B", "M", "C", "D")
    evasion = load_vocabulary("tax_violation_type").entries[0]
    assert evasion.code == "tax_evasion"
    assert evasion.attributes == {"min_tax_yuan": 1_000_000, "min_share_of_tax_due": 0.10}
    assert load_vocabulary("sex").labels["F"].startswith("女")


GENERATOR_VALUES = {
    "defaulter_circumstance": [c[0] for c in courts.CIRCUMSTANCES],
    "tax_violation_type": [v[0] for v in tax.VIOLATIONS] + [v[1] for v in tax.VIOLATIONS],
    "tax_grade": list(tax.GRADES),
    "flight_behaviour": [b[0] for b in transport.FLIGHT_BEHAVIOURS]
    + [b[1] for b in transport.FLIGHT_BEHAVIOURS],
    "rail_behaviour": [b[0] for b in transport.RAIL_BEHAVIOURS]
    + [b[1] for b in transport.RAIL_BEHAVIOURS],
    "food_violation": [v[0] for v in food.VIOLATIONS] + [v[1] for v in food.VIOLATIONS],
    "tourism_behaviour": [b[0] for b in tourism.BEHAVIOURS] + [b[1] for b in tourism.BEHAVIOURS],
    "tourism_gravity": sorted(set(tourism.GRAVITY.values())),
    "tourism_cert_type": [tourism.CERT_CITIZEN, tourism.CERT_PASSPORT],
}


@pytest.mark.parametrize("name", sorted(GENERATOR_VALUES))
def test_every_value_of_the_generators_tables_maps(name: str) -> None:
    raw = pl.Series(GENERATOR_VALUES[name])
    codes = map_values(raw, name)
    assert codes.null_count() == 0, raw.filter(codes.is_null()).to_list()
    # Codes and texts of one act agree.
    if name in ("tax_violation_type", "flight_behaviour", "rail_behaviour", "food_violation",
                "tourism_behaviour"):  # fmt: skip
        half = len(raw) // 2
        assert codes[:half].to_list() == codes[half:].to_list()
    assert set(codes) == set(load_vocabulary(name).codes)


# --- the loader's errors ------------------------------------------------------------------------


def _write(directory: Path, name: str, body: str) -> None:
    (directory / f"{name}.yaml").write_text(body, encoding="utf-8")


def test_duplicate_raw_value_names_file_and_entry(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "dup_raw",
        "vocabulary: dup_raw\ntitle: t\nentries:\n"
        "  - {code: a, label: A, raw: [x]}\n"
        "  - {code: b, label: B, raw: [y, x]}\n",
    )
    with pytest.raises(VocabularyError) as err:
        load_vocabulary("dup_raw", tmp_path)
    message = str(err.value)
    assert str(tmp_path / "dup_raw.yaml") in message
    assert "entries.1 (code 'b')" in message and "'x' already maps to 'a'" in message


def test_raw_values_are_compared_after_normalisation(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "dup_width",
        "vocabulary: dup_width\ntitle: t\nentries:\n"
        "  - {code: a, label: A, raw: [Ａ]}\n"
        "  - {code: b, label: B, raw: [' A']}\n",
    )
    with pytest.raises(VocabularyError, match=re.escape("entries.1 (code 'b')")):
        load_vocabulary("dup_width", tmp_path)


def test_duplicate_code_names_file_and_entry(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "dup_code",
        "vocabulary: dup_code\ntitle: t\nentries:\n"
        "  - {code: a, label: A, raw: [x]}\n"
        "  - {code: a, label: B, raw: [y]}\n",
    )
    with pytest.raises(VocabularyError, match=r"dup_code\.yaml(.|\n)*entries\.1 \(code 'a'\)"):
        load_vocabulary("dup_code", tmp_path)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("vocabulary: other\ntitle: t\nentries: [{code: a, label: A, raw: [x]}]\n", "file name"),
        ("vocabulary: bad\ntitle: t\nentries: []\n", "entries"),
        ("vocabulary: bad\ntitle: t\nentries: [{code: a, label: A, raw: []}]\n", "entries.0.raw"),
        (
            "vocabulary: bad\ntitle: t\nentries: [{code: a b, label: A, raw: [x]}]\n",
            "entries.0.code",
        ),
        (
            "vocabulary: bad\ntitle: t\nentries: [{code: a, label: A, raw: [x], x: 1}]\n",
            "entries.0.x",
        ),
        (
            "vocabulary: bad\ntitle: t\ncolumns: [courts.XB]\nentries: [{code: a, label: A, raw: [x]}]\n",
            "source.table.column",
        ),
        ("- just\n- a list\n", "a mapping"),
        ("vocabulary: [unclosed\n", "cannot read"),
    ],
)
def test_malformed_files_are_reported(tmp_path: Path, body: str, fragment: str) -> None:
    name = "other_name" if "file name" in fragment else "bad"
    _write(tmp_path, name, body)
    with pytest.raises(VocabularyError) as err:
        load_vocabulary(name, tmp_path)
    assert str(tmp_path / f"{name}.yaml") in str(err.value)
    assert fragment in str(err.value)


def test_unknown_vocabulary(tmp_path: Path) -> None:
    with pytest.raises(VocabularyError, match="no vocabulary 'nope'"):
        load_vocabulary("nope")
    with pytest.raises(VocabularyError, match=r"known: none"):
        load_vocabulary("nope", tmp_path)
    with pytest.raises(VocabularyError):
        map_values(pl.Series(["x"]), "nope")
    assert VOCABULARIES_DIR.name == "vocabularies"


# --- coverage on a generated world --------------------------------------------------------------


def _distinct(world: Path, source: str, table: str, column: str) -> list[object]:
    database = world / source_contracts()[source].default_database
    with sqlite3.connect(database) as con:
        rows = con.execute(f'SELECT DISTINCT "{column}" FROM "{table}"').fetchall()
    return [r[0] for r in rows if r[0] is not None]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_raw_value_of_a_generated_world_maps(small_world: WorldSummary, name: str) -> None:
    vocabulary = load_vocabulary(name)
    seen = 0
    for ref in vocabulary.columns:
        source, table, column = ref.split(".")
        raw = _distinct(small_world.out, source, table, column)
        codes = map_values(pl.Series(raw, dtype=pl.String), name)
        unmapped = [v for v, c in zip(raw, codes.to_list(), strict=True) if c is None]
        assert not unmapped, f"{ref}: {unmapped}"
        seen += len(raw)
    assert seen > 0
