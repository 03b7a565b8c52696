"""Table contracts of the warehouse: ``schemas/publish/tables/<schema>.<table>.yaml``.

A contract opens with the grain ("one row per ..."), then the key, every column with its
DuckDB type, whether it may be null, and its accepted values. ``enforce.*`` is one contract for
every per-agency enforcement list. :func:`check_warehouse` holds an open warehouse to all
contracts: the publish stage calls it before a new warehouse replaces the old one (a breach
fails the run and the old warehouse stays), and one test calls it on a published warehouse.

Example:
    >>> contracts = table_contracts()
    >>> contracts["publish.restrictions"].key
    ('credit_code', 'memorandum_id', 'measure_id')
"""

from __future__ import annotations

import fnmatch
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
from pydantic import BaseModel, ConfigDict, Field

from credlink.etl.contracts import SCHEMAS_DIR, load_reviewed_yaml

__all__ = [
    "TABLES_DIR",
    "ColumnContract",
    "TableContract",
    "TableContractError",
    "check_table",
    "check_warehouse",
    "contract_for",
    "table_contracts",
]

TABLES_DIR = SCHEMAS_DIR / "publish" / "tables"


class TableContractError(ValueError):
    """A table contract file is malformed; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnContract(_Strict):
    name: str
    type: str  # as DuckDB names it: VARCHAR, DATE, DOUBLE, BIGINT, INTEGER, BOOLEAN, VARCHAR[]
    description: str
    not_null: bool = False
    accepted_values: tuple[str, ...] | None = None


class TableContract(_Strict):
    table: str  # 'publish.restrictions', or a pattern 'enforce.*'
    grain: str = Field(pattern=r"^one row per ")
    key: tuple[str, ...] = Field(min_length=1)
    description: str = ""
    columns: tuple[ColumnContract, ...] = Field(min_length=1)

    @property
    def file_stem(self) -> str:
        """The contract's file name: the table, a pattern's ``*`` spelled ``all``."""
        return self.table.replace("*", "all")


def _load(path: Path) -> TableContract:
    contract = load_reviewed_yaml(
        path, TableContract, "table contract", TableContractError, "file_stem"
    )
    names = {c.name for c in contract.columns}
    missing = [k for k in contract.key if k not in names]
    if missing:
        raise TableContractError(f"{path}: key columns {missing} are not among the columns")
    return contract


@cache
def table_contracts(directory: Path = TABLES_DIR) -> dict[str, TableContract]:
    """Every table contract, by table name (or pattern)."""
    return {c.table: c for c in (_load(p) for p in sorted(directory.glob("*.yaml")))}


def contract_for(table: str, directory: Path = TABLES_DIR) -> TableContract | None:
    """The contract of `table` ('schema.name'): its own, else the first matching pattern."""
    contracts = table_contracts(directory)
    if table in contracts:
        return contracts[table]
    for pattern, contract in contracts.items():
        if "*" in pattern and fnmatch.fnmatchcase(table, pattern):
            return contract
    return None


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    row = con.execute(sql).fetchone()
    return row[0] if row else None


def check_table(con: duckdb.DuckDBPyConnection, table: str, contract: TableContract) -> list[str]:
    """Breaches of `contract` by `table` in `con`: columns and types, not-null, accepted
    values, key uniqueness (empty list: none)."""
    schema, name = table.split(".", 1)
    q = f'{schema}."{name}"'
    actual = {
        r[0]: r[1]
        for r in con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
            [schema, name],
        ).fetchall()
    }
    expected = {c.name: c.type for c in contract.columns}
    problems = []
    if list(actual) != list(expected):
        problems.append(f"{table}: columns {list(actual)} != contract {list(expected)}")
    for col, typ in expected.items():
        if col in actual and actual[col] != typ:
            problems.append(f"{table}.{col}: type {actual[col]} != contract {typ}")
    for c in contract.columns:
        if c.name not in actual:
            continue
        if c.not_null and (n := _one(con, f'SELECT count(*) FROM {q} WHERE "{c.name}" IS NULL')):
            problems.append(f"{table}.{c.name}: {n} null(s) in a not-null column")
        if c.accepted_values is not None:
            values = ", ".join("'" + v.replace("'", "''") + "'" for v in c.accepted_values)
            bad = con.execute(
                f'SELECT DISTINCT "{c.name}" FROM {q} WHERE "{c.name}" IS NOT NULL '
                f'AND "{c.name}" NOT IN ({values}) LIMIT 5'
            ).fetchall()
            if bad:
                problems.append(f"{table}.{c.name}: values {[b[0] for b in bad]} not accepted")
    if all(k in actual for k in contract.key):
        keys = ", ".join(f'"{k}"' for k in contract.key)
        dup = _one(
            con, f"SELECT count(*) FROM (SELECT {keys} FROM {q} GROUP BY ALL HAVING count(*) > 1)"
        )
        if dup:
            problems.append(f"{table}: {dup} duplicate key(s) on {list(contract.key)}")
    return problems


def check_warehouse(con: duckdb.DuckDBPyConnection, directory: Path = TABLES_DIR) -> list[str]:
    """Every table of the warehouse against its contract, and every contract (other than a
    pattern) against a table; returns the breaches (empty list: all hold)."""
    tables = [
        f"{s}.{t}"
        for s, t in con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() ORDER BY ALL"
        ).fetchall()
    ]
    problems = []
    for table in tables:
        contract = contract_for(table, directory)
        if contract is None:
            problems.append(f"{table}: no contract in {directory}")
        else:
            problems.extend(check_table(con, table, contract))
    for name in table_contracts(directory):
        if "*" not in name and name not in tables:
            problems.append(f"{name}: contracted but missing")
    return problems
