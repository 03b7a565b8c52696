"""The benchmark harness at its smallest (one small world, one repetition), so it does not rot.

Not the benchmark: `make bench` (bench/run.py) measures 10k, 100k and 1M persons.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _harness() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_harness_smallest_size(tmp_path: Path) -> None:
    bench = _harness()
    md = tmp_path / "benchmarks.md"
    md.write_text("# Benchmarks\n\nHand-written text.\n")
    res = bench.main(
        ["--sizes", "1000", "--reps", "1", "--incremental-sizes", "1000", "--bare-sizes", "1000",
         "--airflow-size", "0", "--work", str(tmp_path / "work"), "--markdown", str(md)]
    )  # fmt: skip

    assert res["machine"]["cores"] > 0 and res["machine"]["versions"]["splink"]
    (size,) = res["sizes"]
    assert size["persons"] == 1000
    expected = {"generate", "ingest", "link", "publish"}
    if size["publish_skipped"]:  # publish/ not importable (yet): said why
        expected.discard("publish")
    assert set(size["stages"]) == expected
    for stat in [*size["stages"].values(), *size["incremental"]["stages"].values()]:
        assert stat["reps"] == 1
        assert stat["wall"] >= stat["seconds"] > 0
        assert stat["peak_mib"] > 0
    assert size["stages"]["ingest"]["runs"][0]["detail"]["staged"] > 0
    assert size["end_to_end"]["wall"] > 0 and size["end_to_end"]["peak_mib"] > 0
    assert size["incremental"]["wall"] > 0
    bare = size["bare"]
    assert bare["stage_full"]["seconds"] > 0 and bare["ratio_all"] > 0 and bare["ratio_model"] > 0
    assert bare["bare_all"]["runs"][0]["detail"]["pairs"] > 0

    text = md.read_text()
    assert text.startswith("# Benchmarks\n\nHand-written text.\n")  # kept outside the markers
    assert bench.BEGIN_MARK in text and bench.END_MARK in text
    assert "| 1,000 |" in text and "bare Splink" in text
    assert (tmp_path / "work" / "results.json").exists()
