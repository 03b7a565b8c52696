"""Batch validation through Great Expectations: each rule kind rejects exactly its bad rows,
rows stay identified when keys are null or duplicated, batch rules only report, and GX writes
nothing but the Data Docs it is asked for, without the network.

The first test to call `validate` pays for `import great_expectations` (6-8 s, once a session);
each call after that takes a fraction of a second on these small frames.
"""

from __future__ import annotations

import re
import socket
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest

from credlink.etl.validate import ROW_COLUMN, Rule, RuleError, ValidationResult, validate


def run(frame: pl.DataFrame, rules: list[Rule], **kwargs: Any) -> ValidationResult:
    kwargs.setdefault("key_column", "ID")
    return validate(frame, rules, suite_name="test_suite", run_name="test_run", **kwargs)


def failing_keys(result: ValidationResult, rule: str) -> list[Any]:
    return result.row_failures.filter(pl.col("rule") == rule).get_column("ID").to_list()


# One case per rule kind: the column's values, the rule, and the IDs it must reject. Nulls are
# ignored by every kind but not_null (GX's behaviour, documented in etl.validate).
RULE_CASES = {
    "not_null": (["x", None, "y", None, ""], Rule("not_null:V", "not_null", "V"), ["b", "d"]),
    "unique": (["x", "y", "x", None, None], Rule("unique:V", "unique", "V"), ["a", "c"]),
    "in_set": (
        ["1", "2", "3", None, "1"],
        Rule("in_set:V", "in_set", "V", value_set=("1", "2")),
        ["c"],
    ),
    "between": (
        [0.0, -0.5, 10.0, None, 10.01],
        Rule("between:V", "between", "V", min_value=0, max_value=10),
        ["b", "e"],
    ),
    "between_min_only": (
        [5, 4, None, 100, 3],
        Rule("between:V", "between", "V", min_value=4),
        ["e"],
    ),
    "match_regex": (
        ["913100007", "9131X0007", None, "91310000", "a913100007"],
        Rule("match_regex:V", "match_regex", "V", regex=r"^\d{9}$"),
        ["b", "d", "e"],
    ),
}


@pytest.mark.parametrize("case", RULE_CASES, ids=list(RULE_CASES))
def test_each_rule_kind_rejects_exactly_its_bad_rows(case: str) -> None:
    values, rule, bad = RULE_CASES[case]
    frame = pl.DataFrame({"ID": ["a", "b", "c", "d", "e"], "V": values})

    result = run(frame, [rule])

    assert not result.success
    assert result.row_failures.columns == ["ID", "rule"]
    assert failing_keys(result, rule.name) == bad
    assert result.failed_rules.to_list() == [
        [rule.name] if key in bad else [] for key in frame.get_column("ID")
    ]
    assert result.unexpected_counts == {rule.name: len(bad)}
    assert result.statistics == {
        "evaluated_expectations": 1,
        "successful_expectations": 0,
        "unsuccessful_expectations": 1,
    }


def test_clean_rows_pass_every_kind() -> None:
    frame = pl.DataFrame(
        {
            "ID": ["a", "b", "c"],
            "CODE": ["913100007", "913100008", None],
            "STATUS": ["1", "2", None],
            "AMOUNT": [0.0, 99.5, None],
        }
    )
    rules = [
        Rule("not_null:ID", "not_null", "ID"),
        Rule("unique:ID", "unique", "ID"),
        Rule("unique:CODE", "unique", "CODE"),
        Rule("in_set:STATUS", "in_set", "STATUS", value_set=("1", "2")),
        Rule("between:AMOUNT", "between", "AMOUNT", min_value=0, max_value=100),
        Rule("match_regex:CODE", "match_regex", "CODE", regex=r"^\d{9}$"),
    ]

    result = run(frame, rules)

    assert result.success
    assert result.row_failures.is_empty()
    assert result.row_failures.schema == pl.Schema({"ID": pl.String, "rule": pl.String})
    assert result.failed_rules.to_list() == [[], [], []]
    assert result.failed_batch_rules == ()
    assert result.statistics == {
        "evaluated_expectations": 6,
        "successful_expectations": 6,
        "unsuccessful_expectations": 0,
    }


def test_rows_are_identified_when_the_key_is_null_or_duplicated() -> None:
    frame = pl.DataFrame(
        {
            "ID": ["k1", None, "k2", "k2", None, "k3"],
            "STATUS": ["1", "9", "1", "9", "1", "1"],
        }
    )
    rules = [
        Rule("not_null:ID", "not_null", "ID"),
        Rule("unique:ID", "unique", "ID"),
        Rule("in_set:STATUS", "in_set", "STATUS", value_set=("1",)),
    ]

    result = run(frame, rules)

    # Positions, not keys, carry the results: the two k2 rows and the two null rows differ.
    assert result.failed_rules.to_list() == [
        [],
        ["not_null:ID", "in_set:STATUS"],
        ["unique:ID"],
        ["unique:ID", "in_set:STATUS"],
        ["not_null:ID"],
        [],
    ]
    assert result.row_failures.rows() == [
        (None, "not_null:ID"),
        (None, "in_set:STATUS"),
        ("k2", "unique:ID"),
        ("k2", "unique:ID"),
        ("k2", "in_set:STATUS"),
        (None, "not_null:ID"),
    ]


def test_several_failed_rules_on_one_row_are_all_listed_in_rule_order() -> None:
    frame = pl.DataFrame(
        {"ID": [1, 2, 3], "CODE": ["bad", "913100007", None], "AGE": [200, 30, -1]}
    )
    rules = [
        Rule("between:AGE", "between", "AGE", min_value=0, max_value=130),
        Rule("not_null:CODE", "not_null", "CODE"),
        Rule("match_regex:CODE", "match_regex", "CODE", regex=r"^\d{9}$"),
    ]

    result = run(frame, rules)

    assert result.failed_rules.to_list() == [
        ["between:AGE", "match_regex:CODE"],
        [],
        ["between:AGE", "not_null:CODE"],
    ]
    assert result.row_failures.schema == pl.Schema({"ID": pl.Int64, "rule": pl.String})
    assert result.row_failures.rows() == [
        (1, "between:AGE"),
        (1, "match_regex:CODE"),
        (3, "between:AGE"),
        (3, "not_null:CODE"),
    ]


def test_batch_rules_report_but_never_quarantine_rows() -> None:
    frame = pl.DataFrame(
        {"ID": ["a", "b", "c", "d"], "PHONE": [None, "1", "2", None], "V": ["x", "x", "y", "z"]}
    )
    rules = [
        # Half the phones are missing: fails a 75% share, passes a 50% one.
        Rule("share:PHONE>=75%", "not_null", "PHONE", scope="batch", mostly=0.75),
        Rule("share:PHONE>=50%", "not_null", "PHONE", scope="batch", mostly=0.5),
        Rule("unique:V", "unique", "V", scope="batch"),
    ]

    result = run(frame, rules)

    assert result.success  # only row rules decide success
    assert result.row_failures.is_empty()
    assert result.failed_rules.to_list() == [[], [], [], []]
    assert result.failed_batch_rules == ("share:PHONE>=75%", "unique:V")
    assert result.unexpected_counts == {
        "share:PHONE>=75%": 2,
        "share:PHONE>=50%": 2,
        "unique:V": 2,
    }
    assert result.statistics == {
        "evaluated_expectations": 3,
        "successful_expectations": 1,
        "unsuccessful_expectations": 2,
    }


def test_batch_and_row_rules_together() -> None:
    frame = pl.DataFrame({"ID": ["a", "b", "c"], "PHONE": [None, "1", None]})
    rules = [
        Rule("not_null:ID", "not_null", "ID"),
        Rule("share:PHONE", "not_null", "PHONE", scope="batch", mostly=0.9),
    ]

    result = run(frame, rules)

    assert result.success
    assert result.failed_batch_rules == ("share:PHONE",)
    assert result.statistics["unsuccessful_expectations"] == 1


def test_empty_frame_is_a_success() -> None:
    frame = pl.DataFrame(schema={"ID": pl.String, "V": pl.Float64, "S": pl.String})
    rules = [
        Rule("not_null:ID", "not_null", "ID"),
        Rule("unique:ID", "unique", "ID"),
        Rule("between:V", "between", "V", min_value=0, max_value=1),
        Rule("in_set:S", "in_set", "S", value_set=("a",)),
        Rule("match_regex:S", "match_regex", "S", regex="^a$"),
        Rule("share:S", "not_null", "S", scope="batch", mostly=0.5),
    ]

    result = run(frame, rules)

    assert result.success
    assert result.row_failures.schema == pl.Schema({"ID": pl.String, "rule": pl.String})
    assert result.row_failures.is_empty()
    assert result.failed_rules.len() == 0
    assert result.failed_rules.dtype == pl.List(pl.String)
    assert result.statistics["evaluated_expectations"] == 6
    assert result.statistics["unsuccessful_expectations"] == 0


def test_no_rules_is_a_success() -> None:
    result = run(pl.DataFrame({"ID": ["a", "b"]}), [])
    assert result.success
    assert result.failed_rules.to_list() == [[], []]
    assert result.statistics["evaluated_expectations"] == 0


def test_between_on_dates_and_datetimes_takes_iso_bounds() -> None:
    frame = pl.DataFrame(
        {
            "ID": ["a", "b", "c", "d"],
            "DAY": [date(2023, 12, 31), date(2024, 6, 1), None, date(2025, 1, 1)],
            "AT": [datetime(2024, 1, 1, 7), datetime(2024, 1, 1, 8), None, datetime(2024, 1, 2)],
            "N": pl.Series([1, 50, None, 200], dtype=pl.Int32),
        }
    )
    rules = [
        Rule("between:DAY", "between", "DAY", min_value="2024-01-01", max_value="2024-12-31"),
        Rule("between:AT", "between", "AT", min_value="2024-01-01T08:00:00"),
        Rule("between:N", "between", "N", min_value=0, max_value=100),
    ]

    result = run(frame, rules)

    assert result.failed_rules.to_list() == [
        ["between:DAY", "between:AT"],
        [],
        [],
        ["between:DAY", "between:N"],
    ]


def test_the_input_frame_is_not_changed() -> None:
    frame = pl.DataFrame({"ID": ["a", "a"], "V": [1.0, None]})
    before = frame.clone()
    run(frame, [Rule("unique:ID", "unique", "ID"), Rule("between:V", "between", "V", min_value=0)])
    assert frame.equals(before)
    assert frame.columns == ["ID", "V"]


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (Rule("x", "not_null", "NOPE"), "column 'NOPE' is not in the frame"),
        (Rule("x", "between", "S", min_value=0), "between needs a numeric, date or datetime"),
        (Rule("x", "between", "N", min_value="2024-01-01"), "between needs numeric bounds"),
        (Rule("x", "between", "D", max_value=3), "between needs ISO date strings"),
        (Rule("x", "between", "D", max_value="soon"), "not an ISO date"),
        (Rule("x", "match_regex", "N", regex=r"\d"), "match_regex needs a text column"),
    ],
)
def test_rules_that_do_not_fit_the_frame_are_refused(rule: Rule, message: str) -> None:
    frame = pl.DataFrame({"ID": ["a"], "S": ["s"], "N": [1], "D": [date(2024, 1, 1)]})
    with pytest.raises(RuleError, match=re.escape(message)):
        run(frame, [rule])


def test_bad_inputs_are_refused() -> None:
    frame = pl.DataFrame({"ID": ["a"], "V": ["v"]})
    same_name = [Rule("r", "not_null", "ID"), Rule("r", "not_null", "V")]
    with pytest.raises(RuleError, match="repeated"):
        run(frame, same_name)
    with pytest.raises(RuleError, match="key column 'KEY'"):
        run(frame, [], key_column="KEY")
    with pytest.raises(RuleError, match="reserved"):
        run(frame.with_columns(pl.lit(1).alias(ROW_COLUMN)), [])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "in_set"}, "non-empty value_set"),
        ({"kind": "between"}, "min_value, max_value or both"),
        ({"kind": "match_regex"}, "needs a regex"),
        ({"kind": "match_regex", "regex": "("}, "does not compile"),
        ({"kind": "not_null", "mostly": 0.9}, "mostly is for batch rules"),
        ({"kind": "not_null", "mostly": 1.5, "scope": "batch"}, "mostly must be in"),
    ],
)
def test_malformed_rules_fail_at_construction(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(RuleError, match=re.escape(message)):
        Rule(name="r", column="V", **kwargs)


def test_a_rule_gx_cannot_evaluate_raises_instead_of_passing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GX catches a metric's exception and reports it per metric with an empty result; that
    # must not read as "no unexpected rows". GX's pandas in_set metric calls Series.isin.
    def broken_isin(self: pd.Series, values: object) -> pd.Series:
        raise RuntimeError("isin is broken")

    monkeypatch.setattr(pd.Series, "isin", broken_isin)
    frame = pl.DataFrame({"ID": ["a", "b"], "V": ["x", "y"]})
    with pytest.raises(RuleError, match=r"in_set:V.*GX could not evaluate it: isin is broken"):
        run(frame, [Rule("in_set:V", "in_set", "V", value_set=("x",))])


def test_data_docs_are_written_for_the_run(tmp_path: Path) -> None:
    docs_dir = tmp_path / "docs" / "run-2025-01-01"
    frame = pl.DataFrame({"ID": ["a", "b"], "V": ["1", "9"]})

    result = run(
        frame,
        [Rule("in_set:V", "in_set", "V", value_set=("1",))],
        docs_dir=docs_dir,
        run_time=datetime(2025, 1, 1),
    )

    assert result.docs_index == docs_dir / "index.html"
    index = result.docs_index.read_text(encoding="utf-8")
    assert index.lstrip().lower().startswith("<!doctype html>")
    assert "test_suite" in index
    pages = list((docs_dir / "validations" / "test_suite" / "test_run").rglob("*.html"))
    assert len(pages) == 1
    assert "20250101T000000" in pages[0].parent.name
    assert "Unsuccessful Expectations" in pages[0].read_text(encoding="utf-8")
    assert "in_set:V" in (docs_dir / "expectations" / "test_suite.html").read_text("utf-8")


def test_without_docs_dir_there_are_no_docs() -> None:
    assert run(pl.DataFrame({"ID": ["a"]}), []).docs_index is None


def test_nothing_is_written_to_cwd_or_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cwd, home, docs_dir = tmp_path / "cwd", tmp_path / "home", tmp_path / "docs"
    cwd.mkdir()
    home.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("HOME", str(home))
    frame = pl.DataFrame({"ID": ["a", None], "V": ["1", "2"]})
    rules = [
        Rule("not_null:ID", "not_null", "ID"),
        Rule("in_set:V", "in_set", "V", value_set=("1",)),
    ]

    run(frame, rules)
    run(frame, rules, docs_dir=docs_dir)

    assert list(cwd.iterdir()) == []
    assert list(home.iterdir()) == []
    assert (docs_dir / "index.html").is_file()


def test_no_network_access_and_no_progress_bars(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    frame = pl.DataFrame({"ID": [str(i) for i in range(100)], "V": ["1"] * 100})

    result = run(frame, [Rule("unique:ID", "unique", "ID")], docs_dir=tmp_path / "docs")

    assert result.success
    captured = capfd.readouterr()
    assert "Calculating Metrics" not in captured.err + captured.out


def _synthetic_batch(rows: int, seed: int = 7) -> tuple[pl.DataFrame, list[Rule]]:
    """`rows` rows of 13 columns with a few percent of bad values, and 20 rules on them."""
    rng = np.random.default_rng(seed)
    keys = np.array([f"ID{i:08d}" for i in range(rows)], dtype=object)
    keys[rng.choice(rows, rows // 100, replace=False)] = None
    keys[rng.choice(rows, rows // 200, replace=False)] = "ID00000001"
    columns: dict[str, Any] = {"ID": keys.tolist()}
    rules = [Rule("not_null:ID", "not_null", "ID"), Rule("unique:ID", "unique", "ID")]
    for j in range(4):
        amount = rng.integers(-5, 105, rows).astype(float)
        amount[rng.random(rows) < 0.02] = np.nan
        columns[f"AMOUNT{j}"] = amount
        columns[f"STATUS{j}"] = rng.choice(["1", "2", "3", "X"], rows, p=[0.33, 0.33, 0.33, 0.01])
        codes = rng.integers(0, 999_999, rows)
        columns[f"CODE{j}"] = [f"{c:06d}" if c % 97 else f"{c}z" for c in codes]
        rules += [
            Rule(f"between:AMOUNT{j}", "between", f"AMOUNT{j}", min_value=0, max_value=100),
            Rule(f"in_set:STATUS{j}", "in_set", f"STATUS{j}", value_set=("1", "2", "3")),
            Rule(f"match_regex:CODE{j}", "match_regex", f"CODE{j}", regex=r"^\d{6}$"),
        ]
    rules += [
        Rule("not_null:AMOUNT0", "not_null", "AMOUNT0"),
        Rule("share:AMOUNT1", "not_null", "AMOUNT1", scope="batch", mostly=0.99),
        Rule("unique:CODE0", "unique", "CODE0", scope="batch"),
        Rule("not_null:STATUS0", "not_null", "STATUS0"),
        Rule("not_null:CODE0", "not_null", "CODE0"),
        Rule("in_set:STATUS1:batch", "in_set", "STATUS1", value_set=("1", "2"), scope="batch"),
    ]
    frame = pl.DataFrame(columns).with_columns(pl.col("^AMOUNT.*$").fill_nan(None))
    return frame, rules


@pytest.mark.slow
def test_200k_rows_by_20_rules_is_complete_and_fast(tmp_path: Path) -> None:
    frame, rules = _synthetic_batch(200_000)
    assert len(rules) == 20

    started = time.perf_counter()
    result = run(frame, rules)
    elapsed = time.perf_counter() - started

    # GX reports every failing row, not a sample: cross-check the counts in Polars.
    expected = {
        "not_null:ID": frame.get_column("ID").null_count(),
        "unique:ID": frame.filter(pl.col("ID").is_duplicated() & pl.col("ID").is_not_null()).height,
        "between:AMOUNT2": frame.filter(~pl.col("AMOUNT2").is_between(0, 100)).height,
        "in_set:STATUS3": frame.filter(pl.col("STATUS3") == "X").height,
        "match_regex:CODE1": frame.filter(~pl.col("CODE1").str.contains(r"^\d{6}$")).height,
    }
    counts = result.row_failures.get_column("rule").value_counts()
    for rule, count in expected.items():
        assert count > 200  # more than GX's 200-record cap on unexpected rows
        assert counts.filter(pl.col("rule") == rule).get_column("count").item() == count
    assert result.failed_rules.list.len().sum() == result.row_failures.height
    assert result.failed_batch_rules == ("share:AMOUNT1", "unique:CODE0", "in_set:STATUS1:batch")
    assert result.statistics["evaluated_expectations"] == 20
    assert elapsed < 30, f"validate took {elapsed:.1f} s on 200k rows"
