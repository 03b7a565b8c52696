"""Every SQL block of the README runs, in the DuckDB CLI the setup installs, against a published
warehouse and lake catalog (of the small world), and answers with rows: the docs stay true.

A README SQL block starts with a comment naming the file it is for, as a user would open it:
``-- duckdb -readonly data/warehouse/credlink.duckdb`` or
``-- duckdb -readonly data/lake/catalog.duckdb``. A block that may rightly answer nothing
(an empty review queue) says so with ``-- may be empty``.
"""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from credlink.etl.lake import Lake
from credlink.publish.stage import run_publish

ROOT = Path(__file__).resolve().parents[2]
DUCKDB = Path(sys.executable).parent / "duckdb"
BLOCK = re.compile(r"```sql\n(.*?)```", re.S)
TARGET = re.compile(r"^-- duckdb -readonly (\S+)$", re.M)


def readme_blocks() -> list[str]:
    return BLOCK.findall((ROOT / "README.md").read_text(encoding="utf-8"))


def test_the_readme_has_the_questions_users_ask() -> None:
    blocks = readme_blocks()
    assert len(blocks) >= 5
    for block in blocks:
        assert TARGET.search(block), (
            f"SQL block without a '-- duckdb -readonly FILE' line:\n{block}"
        )


@pytest.fixture(scope="module")
def files(published_lake: Lake, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import shutil

    root = tmp_path_factory.mktemp("readme") / "data"
    shutil.copytree(published_lake.root, root / "lake")
    lake = Lake(root / "lake")
    warehouse = root / "warehouse" / "credlink.duckdb"
    # Two runs, as on the demo's days, so that history and as-of questions have something.
    run_publish(lake, warehouse, run_id="readme-1", as_of=date(2025, 6, 1))
    run_publish(lake, warehouse, run_id="readme-2", as_of=date(2025, 6, 30))
    lake.refresh_catalog()
    return {
        "data/warehouse/credlink.duckdb": warehouse,
        "data/lake/catalog.duckdb": lake.catalog_path,
    }


@pytest.mark.slow
@pytest.mark.parametrize("block", readme_blocks(), ids=lambda b: b.splitlines()[1][:60])
def test_readme_sql_answers(block: str, files: dict[str, Path]) -> None:
    match = TARGET.search(block)
    assert match and match.group(1) in files, f"unknown file in {block!r}"
    out = subprocess.run(
        [str(DUCKDB), "-readonly", "-csv", str(files[match.group(1)]), "-c", block],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0 and not out.stderr.strip(), out.stderr
    rows = list(csv.reader(io.StringIO(out.stdout)))
    assert rows, f"no header: {out.stdout!r}"
    if "-- may be empty" not in block:
        assert len(rows) > 1, f"no rows for:\n{block}"
