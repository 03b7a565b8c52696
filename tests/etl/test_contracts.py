"""Source contracts: every file loads, bad files fail clearly, and each contract describes its
generated database exactly (tables, columns, types, nullability, incremental formats)."""

from __future__ import annotations

import copy
import json
import re
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from credlink.etl.contracts import (
    SOURCES_DIR,
    ContractError,
    Incremental,
    SourceContract,
    Table,
    load_source_contract,
    source_contracts,
)
from credlink.world.generate import WorldSummary

EXPECTED_SOURCES = (
    "courts", "food", "legal_entities", "population", "tax", "tourism", "transport",
)  # fmt: skip
#: The naming habit of each agency database (see `naming_style`); food's lower-case English
#: words are joined by underscores (snake_case), and so are tourism's upper-case ones.
AGENCY_NAMING = {
    "courts": "upper-case pinyin abbreviations",
    "tax": "lower-case pinyin abbreviations",
    "transport": "CamelCase English",
    "food": "lower-case English",
    "tourism": "upper-case English",
}
#: Rows of each table whose incremental value is parsed (evenly spread over the table).
SAMPLE = 2000

Mutation = Callable[[dict[str, Any]], object]


# --- helpers ----------------------------------------------------------------------------------


@contextmanager
def open_source(world: Path, contract: SourceContract) -> Iterator[sqlite3.Connection]:
    """The contract's SQLite file in the generated world, read-only."""
    path = world / contract.default_database
    assert path.is_file(), f"{contract.source}: no database at {path}"
    with closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as con:
        yield con


def db_tables(con: sqlite3.Connection) -> list[str]:
    rows = con.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    )
    return sorted(name for (name,) in rows)


def db_columns(con: sqlite3.Connection, table: str) -> list[tuple[str, str, bool]]:
    """(name, type, not null) of each column, in table order."""
    # SQLite reports notnull = 0 for primary-key columns declared without NOT NULL (an INTEGER
    # PRIMARY KEY is the rowid and can never be NULL); a contract declares keys not nullable.
    return [
        (name, decl_type.lower(), bool(notnull) or pk > 0)
        for _, name, decl_type, notnull, _, pk in con.execute(f'PRAGMA table_info("{table}")')
    ]


def db_primary_key(con: sqlite3.Connection, table: str) -> list[str]:
    info = con.execute(f'PRAGMA table_info("{table}")').fetchall()
    return [row[1] for row in sorted(info, key=lambda r: r[5]) if row[5] > 0]


def contract_columns(table: Table) -> list[tuple[str, str, bool]]:
    return [(c.name, c.type.value, not c.nullable) for c in table.columns]


def incremental_sample(con: sqlite3.Connection, table: Table) -> list[object]:
    """Up to SAMPLE values of the table's incremental column, spread evenly over its rows."""
    column = table.incremental.column
    values = [v for (v,) in con.execute(f'SELECT "{column}" FROM "{table.name}" ORDER BY rowid')]
    return values[:: max(1, len(values) // SAMPLE)]


def parse_incremental(value: object, incremental: Incremental) -> datetime | None:
    """The instant a stored incremental value stands for (zone-aware), or None if it does not
    follow the declared format: `epoch_seconds` takes integers, a strftime format takes text."""
    if incremental.format == "epoch_seconds":
        if not isinstance(value, int) or isinstance(value, bool):
            return None
        return datetime.fromtimestamp(value, tz=ZoneInfo("UTC"))
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.strptime(value, incremental.format)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=ZoneInfo(incremental.timezone))


def letter_case(column: str) -> str:
    """'upper-case' (ZXFY, CERT_NO), 'CamelCase' (IdNumber), 'lower-case' (nsrsbh, licence_no)
    or 'other'."""
    if re.fullmatch(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*", column):
        return "upper-case"
    if re.fullmatch(r"(?:[A-Z][a-z]+)+", column):
        return "CamelCase"
    if re.fullmatch(r"[a-z]+(?:_[a-z]+)*", column):
        return "lower-case"
    return "other"


def naming_style(columns: list[str]) -> str:
    """The naming habit of a database's column names, e.g. 'lower-case pinyin abbreviations'.

    Pinyin abbreviations are strings of syllable initials, mostly consonants ('nsrsbh'
    纳税人识别号, 'ZXFY' 执行法院): about one letter in ten is a vowel, against four in ten in
    English words ('licence_no', 'PassengerName').
    """
    cases = Counter(letter_case(c) for c in columns)
    if len(cases) != 1:
        return f"mixed {dict(cases)}"
    letters = "".join(columns).replace("_", "").lower()
    vowel_share = sum(ch in "aeiou" for ch in letters) / len(letters)
    language = "pinyin abbreviations" if vowel_share < 0.25 else "English"
    return f"{next(iter(cases))} {language}"


def world_end(world: Path) -> date:
    return date.fromisoformat(json.loads((world / "world.json").read_text(encoding="utf-8"))["end"])


def courts_contract_raw() -> dict[str, Any]:
    raw = yaml.safe_load((SOURCES_DIR / "courts.yaml").read_text(encoding="utf-8"))
    assert isinstance(raw, dict)
    return raw


# --- the contract files -----------------------------------------------------------------------


def test_every_contract_loads_under_its_file_name() -> None:
    contracts = source_contracts()
    assert sorted(contracts) == sorted(EXPECTED_SOURCES)
    for name, contract in contracts.items():
        assert contract.source == name
        assert load_source_contract(SOURCES_DIR / f"{name}.yaml") == contract


def test_agencies_and_registries_are_declared_as_such() -> None:
    contracts = source_contracts()
    for name, contract in contracts.items():
        if name in AGENCY_NAMING:
            assert (contract.kind, contract.default_database) == ("agency", f"agencies/{name}.db")
        else:
            assert contract.kind == "registry"
            assert contract.default_database.startswith("registries/")


def test_subject_id_columns_declare_their_identifiers() -> None:
    """Every subject id column declares which identifiers it holds."""
    for contract in source_contracts().values():
        for table in contract.tables:
            for column in table.subject.id_columns:
                assert table.column(column).identifier, f"{contract.source}.{table.name}.{column}"


def test_naming_style_tells_the_habits_apart() -> None:
    assert naming_style(["AJBS", "BZXRZJHM", "XGSJ"]) == "upper-case pinyin abbreviations"
    assert naming_style(["nsrsbh", "fddbrxm", "modified_ts"]) == "lower-case pinyin abbreviations"
    assert naming_style(["PassengerName", "IdNumber", "UpdatedAt"]) == "CamelCase English"
    assert naming_style(["licence_no", "operator_name", "modified"]) == "lower-case English"
    assert naming_style(["RECORD_ID", "TOURIST_NAME", "UPDATE_TIME"]) == "upper-case English"
    assert naming_style(["licence_no", "IdNumber"]).startswith("mixed")


# --- bad contract files -----------------------------------------------------------------------


def _add_unknown_field(c: dict[str, Any]) -> None:
    c["tables"][0]["columns"][0]["colour"] = "red"


def _wrong_type_value(c: dict[str, Any]) -> None:
    c["tables"][0]["columns"][0]["type"] = "varchar"


def _wrong_kind(c: dict[str, Any]) -> None:
    c["kind"] = "ministry"


def _missing_grain(c: dict[str, Any]) -> None:
    del c["tables"][1]["grain"]


def _undeclared_primary_key(c: dict[str, Any]) -> None:
    c["tables"][0]["primary_key"] = ["NOPE"]


def _undeclared_incremental(c: dict[str, Any]) -> None:
    c["tables"][1]["incremental"]["column"] = "UPDATED"


@pytest.mark.parametrize(
    ("mutate", "fields"),
    [
        pytest.param(_add_unknown_field, ["tables.0.columns.0.colour"], id="unknown field"),
        pytest.param(_wrong_type_value, ["tables.0.columns.0.type"], id="wrong type value"),
        pytest.param(_wrong_kind, ["kind"], id="wrong kind"),
        pytest.param(_missing_grain, ["tables.1.grain", "Field required"], id="missing grain"),
        pytest.param(_undeclared_primary_key, ["tables.0", "ZXAJ", "NOPE"], id="undeclared key"),
        pytest.param(
            _undeclared_incremental, ["tables.1", "SXBZXR", "UPDATED"], id="undeclared incremental"
        ),
    ],
)
def test_a_malformed_contract_names_the_file_and_the_field(
    tmp_path: Path, mutate: Mutation, fields: list[str]
) -> None:
    raw = copy.deepcopy(courts_contract_raw())
    mutate(raw)
    path = tmp_path / "courts.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ContractError) as err:
        load_source_contract(path)
    message = str(err.value)
    assert str(path) in message
    for field in fields:
        assert field in message


def test_a_contract_whose_source_is_not_its_file_name_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "tribunal.yaml"
    path.write_text((SOURCES_DIR / "courts.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(ContractError) as err:
        load_source_contract(path)
    message = str(err.value)
    assert str(path) in message
    assert "source is 'courts'" in message
    assert "'tribunal'" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("- courts\n- tax\n", "a contract is a mapping, got list", id="a list"),
        pytest.param("courts\n", "a contract is a mapping, got str", id="a string"),
        pytest.param("", "a contract is a mapping, got NoneType", id="empty"),
        pytest.param("source: [courts\n", "cannot read contract", id="not YAML"),
    ],
)
def test_a_file_that_is_not_a_mapping_is_refused(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "courts.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ContractError) as err:
        load_source_contract(path)
    assert str(path) in str(err.value)
    assert expected in str(err.value)


def test_loading_a_folder_names_the_bad_file(tmp_path: Path) -> None:
    (tmp_path / "courts.yaml").write_text(
        (SOURCES_DIR / "courts.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    (tmp_path / "tax.yaml").write_text("source: tax\n", encoding="utf-8")
    with pytest.raises(ContractError, match=re.escape(str(tmp_path / "tax.yaml"))):
        source_contracts(tmp_path)


# --- contracts against the generated databases ------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("source", EXPECTED_SOURCES)
def test_database_has_exactly_the_contracts_tables_and_columns(
    small_world: WorldSummary, source: str
) -> None:
    contract = source_contracts()[source]
    with open_source(small_world.out, contract) as con:
        assert db_tables(con) == sorted(t.name for t in contract.tables)
        for table in contract.tables:
            assert db_columns(con, table.name) == contract_columns(table), table.name
            assert db_primary_key(con, table.name) == list(table.primary_key), table.name


@pytest.mark.slow
def test_every_database_of_the_world_has_a_contract(small_world: WorldSummary) -> None:
    out = small_world.out
    databases = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.db"))
    assert databases == sorted(c.default_database for c in source_contracts().values())


@pytest.mark.slow
@pytest.mark.parametrize("source", EXPECTED_SOURCES)
def test_incremental_values_follow_the_declared_format(
    small_world: WorldSummary, source: str
) -> None:
    contract = source_contracts()[source]
    # The world is observed at its end: nothing is stamped later than its last day.
    day_after = world_end(small_world.out) + timedelta(days=1)
    latest = datetime.combine(day_after, datetime.min.time(), tzinfo=ZoneInfo("Asia/Shanghai"))
    earliest = datetime(1990, 1, 1, tzinfo=ZoneInfo("UTC"))
    with open_source(small_world.out, contract) as con:
        for table in contract.tables:
            values = incremental_sample(con, table)
            assert values, f"{table.name} is empty"
            zone = ZoneInfo(table.incremental.timezone)
            for value in values:
                instant = parse_incremental(value, table.incremental)
                assert instant is not None, (
                    f"{table.name}.{table.incremental.column} = {value!r} does not follow "
                    f"{table.incremental.format!r}"
                )
                assert earliest <= instant < latest, (table.name, value)
                # Values written with an offset must carry the declared zone's offset.
                assert instant.utcoffset() == instant.astimezone(zone).utcoffset(), (
                    table.name,
                    value,
                )


@pytest.mark.slow
def test_each_agency_database_has_its_own_conventions(small_world: WorldSummary) -> None:
    """The five agencies differ in column naming and in how they write their timestamps, as real
    agencies do: each contract's habit is visible in its real database and no other's."""
    contracts = source_contracts()
    styles: dict[str, str] = {}
    formats: dict[str, Incremental] = {}
    samples: dict[str, list[object]] = {}
    for agency, expected_style in AGENCY_NAMING.items():
        contract = contracts[agency]
        with open_source(small_world.out, contract) as con:
            names = [name for t in db_tables(con) for name, _, _ in db_columns(con, t)]
            samples[agency] = [v for t in contract.tables for v in incremental_sample(con, t)]
        style = naming_style(names)
        assert style == expected_style, agency
        assert naming_style([c.name for t in contract.tables for c in t.columns]) == style
        styles[agency] = style
        declared = {t.incremental for t in contract.tables}
        assert len(declared) == 1, f"{agency} writes its incremental column in several formats"
        formats[agency] = declared.pop()

    assert len(set(styles.values())) == len(AGENCY_NAMING)
    assert len({f.format for f in formats.values()}) == len(AGENCY_NAMING)
    for agency, values in samples.items():
        for other, incremental in formats.items():
            parsed = [parse_incremental(v, incremental) is not None for v in values]
            if other == agency:
                assert all(parsed), agency
            else:
                assert not any(parsed), f"{agency} values parse with {other}'s format"
