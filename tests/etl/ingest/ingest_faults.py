"""Helpers of the fail-safe and kill-point tests (also imported by their child processes):
a courts database without constraints, edits to it, and one table's ingest."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from credlink.etl.contracts import source_contracts
from credlink.etl.ingest.extract import connect, source_url
from credlink.etl.ingest.interval import Interval
from credlink.etl.ingest.run import RunContext, TableReport, ingest_table
from credlink.etl.lake import Lake

if TYPE_CHECKING:
    from credlink.world.generate import WorldSummary

END = datetime(2025, 7, 1, tzinfo=UTC)  # after the small world's last day
HISTORY = Interval(None, END)
DS = "courts__SXBZXR"


def unconstrained_courts(small_world: WorldSummary, into: Path) -> Path:
    """A copy of the world whose courts list table has lost its constraints (NULLs and any
    type may go anywhere, as in a careless upstream system); returns the world folder."""
    world = into / "world"
    shutil.copytree(small_world.out / "agencies", world / "agencies")
    con = sqlite3.connect(world / "agencies" / "courts.db")
    info = list(con.execute("PRAGMA table_info(SXBZXR)"))
    con.execute("ALTER TABLE SXBZXR RENAME TO SXBZXR_old")
    con.execute("CREATE TABLE SXBZXR (" + ", ".join(f"{r[1]} {r[2]}" for r in info) + ")")
    con.execute("INSERT INTO SXBZXR SELECT * FROM SXBZXR_old")
    con.execute("DROP TABLE SXBZXR_old")
    con.commit()
    con.close()
    return world


def sql(world: Path, statement: str, *params: object) -> None:
    con = sqlite3.connect(world / "agencies" / "courts.db")
    con.execute(statement, params)
    con.commit()
    con.close()


def some_ids(world: Path, n: int) -> list[int]:
    con = sqlite3.connect(world / "agencies" / "courts.db")
    ids = [r[0] for r in con.execute("SELECT SXID FROM SXBZXR ORDER BY SXID LIMIT ?", (n,))]
    con.close()
    return ids


def ingest(
    world: Path,
    lake: Lake,
    interval: Interval = HISTORY,
    run_id: str = "r",
    limit: float = 1.0,
    source: str = "courts",
    table: str = "SXBZXR",
) -> TableReport:
    contract = source_contracts()[source]
    engine = connect(source_url(None, world / contract.default_database), source)
    ctx = RunContext(run_id=run_id, logical_date=END, docs_root=lake.root / "docs",
                     quarantine_limit=limit)  # fmt: skip
    try:
        return ingest_table(contract, contract.table(table), engine, interval, lake, ctx)
    finally:
        engine.dispose()
