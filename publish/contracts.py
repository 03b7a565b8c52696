"""The warehouse held to its table contracts (the catalog's, :mod:`etl.catalog`, of the tables
stored in the warehouse: ``schemas/publish/tables/``).

:func:`check_warehouse` holds an open warehouse to all of them: the publish stage calls it
before a new warehouse replaces the old one (a breach fails the run and the old warehouse
stays), and one test calls it on a published warehouse.

Example:
    >>> contracts = warehouse_contracts()
    >>> contracts["publish.restrictions"].key
    ('credit_code', 'memorandum_id', 'measure_id')
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from credlink.etl.catalog import (
    TableContract,
    check_table,
    contracts_in,
    matching,
    table_contracts,
)

__all__ = ["check_warehouse", "warehouse_contract", "warehouse_contracts"]


def warehouse_contracts(directory: Path | None = None) -> dict[str, TableContract]:
    """The contracts of the warehouse's tables (or patterns), by table name: the catalog's, or
    every contract file in `directory` (a folder of its own)."""
    if directory is not None:
        return contracts_in(directory)
    return {n: c for n, c in table_contracts().items() if "warehouse" in c.stored_in}


def warehouse_contract(table: str, directory: Path | None = None) -> TableContract | None:
    """The contract of the warehouse table `table`: its own, else the first matching pattern."""
    return matching(table, warehouse_contracts(directory))


def check_warehouse(con: duckdb.DuckDBPyConnection, directory: Path | None = None) -> list[str]:
    """Every table of the warehouse against its contract (the catalog's, or those in
    `directory`), and every contract (other than a pattern) against a table; returns the
    breaches (empty list: all hold)."""
    tables = [
        f"{s}.{t}"
        for s, t in con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() ORDER BY ALL"
        ).fetchall()
    ]
    problems = []
    for table in tables:
        contract = warehouse_contract(table, directory)
        if contract is None:
            problems.append(f"{table}: no warehouse contract in {directory or 'the catalog'}")
        else:
            problems.extend(check_table(con, table, contract))
    for name in warehouse_contracts(directory):
        if "*" not in name and name not in tables:
            problems.append(f"{name}: contracted but missing")
    return problems
