"""The README's credit repair and objection example runs, as a user would type it, against a
published small world: the repair lifts every restriction of the listing in the same run, the
objection suspends the defaulter's restrictions, and its rejection restores them."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from credlink.etl.lake import Lake
from credlink.publish.stage import run_publish

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"```bash\n(.*?)```", re.S)
MARK = "tests/publish/test_readme_cases.py"


def readme_case_block() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = [b for b in BLOCK.findall(text) if "credlink repair apply" in b]
    assert len(found) == 1, "the README has one shell block with the repair example"
    assert MARK in text
    return found[0]


@pytest.mark.slow
def test_the_readme_repair_and_objection_example_runs(published_lake: Lake, tmp_path: Path) -> None:
    home = tmp_path / "user"
    data = home / "data"
    shutil.copytree(published_lake.root, data / "lake")
    (home / ".venv").mkdir(parents=True)
    (home / ".venv" / "bin").symlink_to(Path(sys.executable).parent)
    warehouse = data / "warehouse" / "credlink.duckdb"
    last = date(2025, 6, 30)
    run_publish(Lake(data / "lake"), warehouse, run_id="readme-cases-1", as_of=last)

    env = {k: v for k, v in os.environ.items() if k != "CREDLINK_WAREHOUSE"}
    env["CREDLINK_DATA"] = str(data)
    script = "set -euo pipefail\n" + readme_case_block()
    out = subprocess.run(
        ["bash", "-c", script], cwd=home, env=env, capture_output=True, text=True, timeout=900
    )
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    assert "assessment: eligible" in out.stdout, out.stdout[-4000:]

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        repair = con.execute(
            "SELECT case_id, unique_id, applicant_code, outcome FROM publish.repairs "
            "WHERE origin = 'filed'"
        ).fetchall()
        assert len(repair) == 1 and repair[0][3] == "accepted", repair
        case_id, listing, code = repair[0][:3]
        # one repaired, all repaired: nothing that listing caused is in force, for anyone
        left = con.execute(
            "SELECT count(*) FROM publish.restrictions WHERE list_contains(listing_records, ?)",
            [listing],
        ).fetchone()
        assert left == (0,)
        repaired = con.execute(
            "SELECT DISTINCT memorandum_id FROM publish.restriction_history "
            "WHERE change = 'repaired' AND case_id = ?",
            [case_id],
        ).fetchall()
        assert repaired, "the history says repaired, with the application"
        gone = con.execute(
            "SELECT count(*) FROM publish.public_disclosure WHERE unique_id = ?", [listing]
        ).fetchone()
        assert gone == (0,)
        objection = con.execute(
            "SELECT objection_id, objector_code, status FROM publish.objections "
            "WHERE origin = 'filed'"
        ).fetchall()
        assert len(objection) == 1 and objection[0][2] == "rejected", objection
        objection_id, objector = objection[0][:2]
        changes = [
            row[0]
            for row in con.execute(
                "SELECT DISTINCT change FROM publish.restriction_history "
                "WHERE credit_code = ? AND case_id = ? ORDER BY change",
                [objector, objection_id],
            ).fetchall()
        ]
        assert changes == ["objected", "restored"]
        status = con.execute(
            "SELECT DISTINCT status FROM publish.restrictions WHERE credit_code = ?", [objector]
        ).fetchall()
        assert ("under_objection",) not in status and status, status
        rewarded = con.execute(
            "SELECT credit_code FROM publish.incentives ORDER BY credit_code LIMIT 1"
        ).fetchone()
    finally:
        con.close()
    # explain names the law behind each restriction and the listing's publication and repair
    assert "legal basis (" in out.stdout and "national list entry" in out.stdout
    assert "severity serious: published from" in out.stdout
    assert "credit repair: not repairable (" in out.stdout  # the court defaulter's listing
    assert rewarded is not None, "the small world has grade A taxpayers with incentives"
    shown = subprocess.run(
        [str(Path(sys.executable).parent / "credlink"), "explain", rewarded[0]],
        cwd=home, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert "Joint incentives in force:" in shown.stdout, shown.stdout
    # explain showed the repair and the suspension
    assert "repaired" in out.stdout and case_id in out.stdout
    assert "under_objection" in out.stdout
    assert code != objector
