"""The warehouse: every table against its contract; atomic publish with readers holding it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest
import yaml
from handmade import ORG, PERSON, court, link, links, publish, staged

from credlink.publish.contracts import check_warehouse, warehouse_contract, warehouse_contracts
from credlink.publish.memoranda import Memorandum
from credlink.publish.warehouse import WarehouseContractError, write_warehouse


def _hand_made_warehouse(path: Path, memoranda: list[Memorandum]) -> dict[str, pl.DataFrame]:
    tables = {
        "courts__SXBZXR": staged(
            "courts", "SXBZXR", [court(1), court(2, subject_type="organisation"), court(3)]
        ),
        "transport__FlightBan": staged(
            "transport",
            "FlightBan",
            [
                {
                    "id": 1,
                    "subject_type": "person",
                    "behaviour": "theft_on_board",
                    "published_on": date(2024, 5, 5),
                    "effective_from": date(2024, 5, 14),
                    "expires_on": date(2025, 5, 14),
                    "status": "pending",
                }
            ],
        ),
    }
    lk = links(
        link("courts/SXBZXR/1", PERSON),
        link("courts/SXBZXR/2", ORG, method="probabilistic", probability=0.995),
        link("courts/SXBZXR/3", PERSON, band="review", method="probabilistic", probability=0.8),
        link("transport/FlightBan/1", PERSON),
    )
    run = publish(tables, lk, memoranda, date(2024, 5, 10))
    write_warehouse(path, run.tables)
    return run.tables


def test_every_published_table_holds_to_its_contract(
    tmp_path: Path, memoranda: list[Memorandum]
) -> None:
    path = tmp_path / "credlink.duckdb"
    tables = _hand_made_warehouse(path, memoranda)
    con = duckdb.connect(str(path), read_only=True)
    try:
        assert check_warehouse(con) == []
        names = {
            f"{s}.{t}"
            for s, t in con.execute(
                "SELECT schema_name, table_name FROM duckdb_tables()"
            ).fetchall()
        }
        # a pending ban, a review-band listing and a legal representative were all published
        status = dict(
            con.execute("SELECT status, count(*) FROM publish.restrictions GROUP BY 1").fetchall()
        )
        pending = con.execute("SELECT count(*) FROM publish.pending_links").fetchone()
        comment = con.execute(
            "SELECT comment FROM duckdb_tables() WHERE table_name = 'restrictions'"
        ).fetchone()
    finally:
        con.close()
    assert names == set(tables)
    assert {c for c in warehouse_contracts() if "*" not in c} <= names
    assert all(warehouse_contract(n) is not None for n in names)
    assert status["active"] > 0 and status["pending"] == 1
    assert pending == (1,)
    assert comment is not None and comment[0].startswith("one row per subject")


def test_a_contract_breach_fails_and_keeps_the_old_warehouse(
    tmp_path: Path, memoranda: list[Memorandum]
) -> None:
    path = tmp_path / "credlink.duckdb"
    tables = _hand_made_warehouse(path, memoranda)
    before = path.read_bytes()
    broken = dict(tables)
    broken["publish.restrictions"] = tables["publish.restrictions"].with_columns(
        pl.lit("suspended").alias("status")
    )
    with pytest.raises(WarehouseContractError, match=r"publish.restrictions.status: values"):
        write_warehouse(path, broken)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["credlink.duckdb"]  # no temporary left


def _versioned(directory: Path) -> Path:
    """Contracts of two tables that must agree: t.rows has `k` rows, t.version says `k`."""
    contracts = directory / "contracts"
    contracts.mkdir()
    for name, cols in {"t.rows": ["i"], "t.version": ["k"]}.items():
        doc = {
            "table": name,
            "grain": "one row per test row",
            "key": cols,
            "columns": [
                {"name": c, "type": "BIGINT", "not_null": True, "description": c} for c in cols
            ],
        }
        (contracts / f"{name}.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    return contracts


def _version(k: int) -> dict[str, pl.DataFrame]:
    return {
        "t.rows": pl.DataFrame({"i": list(range(k))}, schema={"i": pl.Int64}),
        "t.version": pl.DataFrame({"k": [k]}, schema={"k": pl.Int64}),
    }


def test_a_reader_holding_the_warehouse_blocks_nothing(tmp_path: Path) -> None:
    contracts = _versioned(tmp_path)
    path = tmp_path / "credlink.duckdb"
    write_warehouse(path, _version(1), contracts)
    # Another process holds the file open read-write, as the DuckDB CLI does by default.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import duckdb, sys
                con = duckdb.connect({str(path)!r})
                print(con.execute("SELECT k FROM t.version").fetchone()[0], flush=True)
                sys.stdin.readline()
                print(con.execute("SELECT k, (SELECT count(*) FROM t.rows) FROM t.version").fetchone(), flush=True)
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdin is not None
        assert holder.stdout.readline().strip() == "1"
        write_warehouse(path, _version(2), contracts)  # not blocked by the holder's lock
        con = duckdb.connect(str(path), read_only=True)
        try:
            assert con.execute("SELECT k FROM t.version").fetchone() == (2,)
        finally:
            con.close()
        holder.stdin.write("\n")
        holder.stdin.flush()
        # the holder still reads its complete old version
        assert holder.stdout.readline().strip() == "(1, 1)"
    finally:
        holder.wait(timeout=30)
    assert holder.returncode == 0


def test_readers_see_the_old_or_the_new_warehouse_never_a_mix(tmp_path: Path) -> None:
    contracts = _versioned(tmp_path)
    path = tmp_path / "credlink.duckdb"
    write_warehouse(path, _version(1), contracts)
    reader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import duckdb
                seen = set()
                while True:
                    con = duckdb.connect({str(path)!r}, read_only=True)
                    k, n = con.execute("SELECT k, (SELECT count(*) FROM t.rows) FROM t.version").fetchone()
                    con.close()
                    assert k == n, (k, n)
                    seen.add(k)
                    if k == 30:
                        break
                print(len(seen))
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    for k in range(2, 31):
        write_warehouse(path, _version(k), contracts)
    out, _ = reader.communicate(timeout=60)
    assert reader.returncode == 0
    assert int(out) >= 2  # it read while versions were replaced
