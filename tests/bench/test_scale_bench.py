"""bench/scale.py at its smallest (two small worlds, DuckDB only) and bench/blocking_national.py
on them, so the figures behind docs/scale.md can be measured again.

Not the measurement: docs/scale.md has the commands at 100,000 and 1,000,000 persons.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _module(name: str) -> ModuleType:
    sys.path.insert(0, str(ROOT / "bench"))
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_scale_figures_and_projection_at_two_small_sizes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scale = _module("scale")
    out = tmp_path / "scale.json"
    scale.main(["--sizes", "1000", "2000", "--backends", "duckdb", "--work", str(tmp_path),
                "--json", str(out)])  # fmt: skip
    res = json.loads(out.read_text())
    assert [s["persons"] for s in res["sizes"]] == [1000, 2000]
    for size in res["sizes"]:
        run = size["backends"]["duckdb"]
        assert run["link"]["detail"]["records"] > 0
        for kinds in run["kinds"].values():
            assert set(kinds) == {"person", "organisation", "legal_representative"}
            assert all(k["seconds"] > 0 and k["records"] > 0 for k in kinds.values())
        rules = size["stages"]["rule_pairs"]["detail"]
        pairs = {k: v for k, v in rules.items() if not k.endswith((":records", ":spine"))}
        assert len(pairs) == 13, "six person rules and seven organisation rules"
        assert sum(pairs.values()) > 0
        assert rules["person:spine"] == pytest.approx(size["persons"], rel=0.01)
        assert size["bytes"]["lake_staging"] > 0 and size["bytes"]["warehouse"] > 0
    printed = capsys.readouterr().out
    assert "| person | all rules |" in printed and "national core-hours (linear)" in printed
    assert "scoring them at Splink's rate on 192 vCPU" in printed

    blocking = _module("blocking_national")
    worlds = [tmp_path / f"w{n}" for n in (1000, 2000)]
    blocking.main([a for w in worlds for a in ("--world", str(w / "world"), "--lake",
                                               str(w / "lake"))])  # fmt: skip
    table = capsys.readouterr().out.splitlines()
    current = next(line for line in table if line.startswith("| current"))
    cells = [c.strip() for c in current.strip("|").split("|")]
    recall = float(cells[2].split(", ")[2])
    assert 0.9 <= recall <= 1.0, "the production rules pair nearly every model record rightly"
    assert any(line.startswith("| without surname + birth year") for line in table)
