"""Terminal output: agency text is escaped, markup in data prints literally, codes are checked
before any lookup (a 100,000-character code is refused at once)."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from rich.console import Console
from typer.testing import CliRunner

import credlink.publish.explain
from credlink import cli, reports
from credlink.cli import app
from credlink.publish.explain import (
    CodeShapeError,
    CreditRecord,
    check_code_shape,
    format_credit_record,
    printable,
)

EVIL = "\x1b]0;pwned\x07\x1b[2J\x1b[31m[red]Z[/red]\x9b\x85\u2028\u202e\n"
ESCAPED = "\\x1b]0;pwned\\x07\\x1b[2J\\x1b[31m[red]Z[/red]\\x9b\\x85\\u2028\\u202e\\x0a"
RAW = ("\x1b", "\x07", "\x9b", "\x85", "\u2028", "\u202e")
CODE = "11010519491231002X"


def test_printable_escapes_controls_and_keeps_text() -> None:
    assert printable(EVIL) == ESCAPED
    assert printable("张三 O'Brien [bold]") == "张三 O'Brien [bold]"
    assert printable(None) == "None"


def test_code_shape() -> None:
    assert check_code_shape(" 11010519491231002x ") == CODE
    assert check_code_shape("91110108MA01ABCD2X") == "91110108MA01ABCD2X"
    for bad in ("", "123", "91110108MA01ABCD2O", "1101051949123100ZX", CODE + "0", EVIL):
        with pytest.raises(CodeShapeError, match="is not a credit code"):
            check_code_shape(bad)
    with pytest.raises(CodeShapeError) as err:
        check_code_shape("\x1b[2J" + "9" * 100_000)
    assert "\x1b" not in str(err.value) and len(str(err.value)) < 400


def _record() -> CreditRecord:
    subject = pl.DataFrame(
        [{"credit_code": CODE, "subject_type": "person", "name": EVIL, "region": "110105",
          "active_restrictions": 1, "pending_restrictions": 0}]
    )  # fmt: skip
    restrictions = pl.DataFrame(
        [{"status": "active", "measure": EVIL, "enforcing_agency": "caac",
          "valid_from": date(2025, 1, 1), "valid_to": None, "memorandum_id": "m1",
          "document_number": EVIL, "clause": "1", "via_codes": [], "roles": ["listed"],
          "listing_records": [EVIL]}]
    )  # fmt: skip
    listings = pl.DataFrame(
        [{"unique_id": "courts/SXBZXR/1", "list_id": "courts_defaulters", "reference": EVIL,
          "listed_on": date(2025, 1, 1), "effective_from": date(2025, 1, 1), "ends_on": None,
          "removed_on": None, "removal_reason": None, "outcome": "restricted",
          "link_probability": 0.99, "link_band": "accept", "link_method": "probabilistic",
          "matched_on": None, "model_version": "person-x", "credit_code": CODE,
          "candidate_code": CODE, "name_agreement": "exact", "evidence": [EVIL]}]
    )  # fmt: skip
    history = pl.DataFrame(
        [{"as_of": date(2025, 1, 1), "run_id": EVIL, "memorandum_id": "m1", "measure_id": "x",
          "change": "imposed", "reason": EVIL, "status": "active", "valid_from": date(2025, 1, 1),
          "valid_to": None}]
    )  # fmt: skip
    return CreditRecord(CODE, subject, restrictions, history, listings)


def test_explain_output_is_escaped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = format_credit_record(_record())
    assert not any(c in text for c in RAW)
    assert text.count(ESCAPED) >= 8
    # through the command: the same, and rich markup in the data printed as written
    warehouse = tmp_path / "warehouse" / "credlink.duckdb"
    warehouse.parent.mkdir()
    warehouse.touch()
    monkeypatch.setattr(cli.settings, "warehouse_path", lambda: warehouse)
    monkeypatch.setattr(credlink.publish.explain, "credit_record", lambda path, code: _record())
    result = CliRunner().invoke(app, ["explain", CODE.lower()])
    assert result.exit_code == 0, result.output
    assert not any(c in result.output for c in RAW)
    assert "[red]Z[/red]" in result.output


def test_explain_refuses_a_huge_code_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_lookup(*args: object) -> None:
        raise AssertionError("looked up before the code was checked")

    monkeypatch.setattr(credlink.publish.explain, "credit_record", no_lookup)
    started = time.perf_counter()
    result = CliRunner().invoke(app, ["explain", "9" * 100_000])
    assert time.perf_counter() - started < 5
    assert result.exit_code == 2
    assert "is not a credit code" in result.output and "100,000 characters" in result.output
    assert len(result.output) < 1000


def test_quality_table_cells_are_literal() -> None:
    console = Console(width=200, record=True, force_terminal=True)
    cell = reports.cell(EVIL)
    console.print(cell)
    out = console.export_text()
    assert "[red]Z[/red]" in out and "\\x1b]0;pwned" in out
    assert not any(c in out for c in RAW)
    assert str(reports.cell(1234)) == "1,234" and str(reports.cell(None)) == "-"
