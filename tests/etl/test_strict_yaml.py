"""Reviewed YAML is read strictly: keys written twice, booleans where numbers are expected and
alias bombs are refused, each naming the file (and the line)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel, ConfigDict

from credlink.etl.contracts import (
    Column,
    ContractError,
    StrictYamlError,
    load_reviewed_yaml,
    strict_yaml_load,
)


class Duration(BaseModel):
    model_config = ConfigDict(extra="forbid")
    years: int
    share: float = 0.5


class Memo(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    duration: Duration
    grave: bool = False


def load(tmp_path: Path, text: str) -> Memo:
    path = tmp_path / "m1.yaml"
    path.write_text(text, encoding="utf-8")
    return load_reviewed_yaml(path, Memo, "memorandum", ContractError, "id")


def test_a_well_formed_file_loads(tmp_path: Path) -> None:
    memo = load(tmp_path, "id: m1\nduration: {years: 3, share: 1}\ngrave: true\n")
    assert memo.duration.years == 3 and memo.grave is True


def test_a_key_written_twice_is_refused_naming_key_and_line(tmp_path: Path) -> None:
    with pytest.raises(ContractError, match=r"m1.yaml.*duplicate key 'years' on line 4"):
        load(tmp_path, "id: m1\nduration:\n  years: 3\n  years: 5\n")
    with pytest.raises(StrictYamlError, match="duplicate key 'a'"):
        strict_yaml_load("a: 1\nb: {c: 2}\na: 3\n", "x.yaml")


@pytest.mark.parametrize("value", ["true", "yes", "on", "false"])
def test_a_boolean_where_a_number_is_expected_is_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(ContractError, match=r"duration.years: a number is expected, got the b"):
        load(tmp_path, f"id: m1\nduration: {{years: {value}}}\n")
    with pytest.raises(ContractError, match=r"duration.share"):
        load(tmp_path, f"id: m1\nduration: {{years: 1, share: {value}}}\n")


def test_an_alias_bomb_is_refused_fast(tmp_path: Path) -> None:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{', '.join(['*' + prev] * 9)}]")
    started = time.perf_counter()
    with pytest.raises(ContractError, match="aliases"):
        load(tmp_path, "id: m1\n" + "\n".join(lines) + "\n")
    assert time.perf_counter() - started < 1.0
    # A few aliases are fine.
    assert strict_yaml_load("a: &x 1\nb: *x\n") == {"a": 1, "b": 1}


def test_strict_yaml_load_stays_safe() -> None:
    with pytest.raises(yaml.YAMLError):
        strict_yaml_load("!!python/object/apply:os.system ['true']\n")


def test_max_length_is_a_strict_positive_integer() -> None:
    assert Column(name="x", type="text").text_limit == 4000
    assert Column(name="x", type="text", pii=True).text_limit == 200
    assert Column(name="x", type="text", identifier=["uscc"]).text_limit == 40
    assert Column(name="x", type="text", max_length=12).text_limit == 12
    for bad in (True, 0, "12"):
        with pytest.raises(ValueError, match="max_length"):
            Column(name="x", type="text", max_length=bad)
