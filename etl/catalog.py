"""The catalog of table contracts: one reviewed file per table of every layer.

Every table the pipeline writes, in the lake (``linkage.*``, ``publish.*``, ``ops.*``) or in the
warehouse (``publish.*``, ``enforce.*``), has a contract file
``schemas/<layer>/tables/<schema>.<table>.yaml``. A contract opens with the table's grain ("one
row per ..."), then its key, every column with its DuckDB type, whether it may be null and its
accepted values, and where the table is stored (``stored_in``: the lake, the warehouse or both).
``enforce.*`` is one contract for every per-agency enforcement list. The staged and quarantined
tables (``staging.<source>__<table>``) are described by their source contracts
(``schemas/sources/``, :mod:`etl.contracts`).

One function conforms a frame to a contract (:func:`conform`: exactly its columns, in order,
with its types, missing ones null); one holds a table to it (:func:`check_table` in DuckDB,
:func:`check_frame` for a Polars frame); the lake reads and writes by contract name
(:meth:`etl.lake.Lake.read_table`, :meth:`etl.lake.Lake.write_table`).

Example:
    >>> contract = table_contracts()["publish.restrictions"]
    >>> contract.key
    ('credit_code', 'memorandum_id', 'measure_id')
    >>> conform(pl.DataFrame({"run_id": ["r1"]}), table_contracts()["publish.runs"]).columns
    ['run_id', 'as_of', 'seq', 'changes', 'warehouse_sha256']
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any, Literal

import duckdb
import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from credlink.etl.contracts import load_reviewed_yaml
from credlink.etl.lake import OPS_RUNS, Lake, Location
from credlink.settings import SCHEMAS_DIR

__all__ = [
    "ColumnContract",
    "TableContract",
    "TableContractError",
    "check_frame",
    "check_table",
    "columns",
    "conform",
    "contract_for",
    "contract_of",
    "contracts_in",
    "duckdb_type",
    "lake_contract",
    "matching",
    "polars_type",
    "read_table",
    "table_contracts",
    "write_table",
]


class TableContractError(ValueError):
    """A table contract file is malformed, or a table breaks its contract; the message names
    the file or the table, and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


#: DuckDB type names of the contracts and the Polars types a frame of the table holds.
_POLARS_TYPES: dict[str, pl.DataType] = {
    "VARCHAR": pl.String(),
    "DATE": pl.Date(),
    "DOUBLE": pl.Float64(),
    "BIGINT": pl.Int64(),
    "INTEGER": pl.Int32(),
    "SMALLINT": pl.Int16(),
    "UINTEGER": pl.UInt32(),
    "UBIGINT": pl.UInt64(),
    "BOOLEAN": pl.Boolean(),
    "TIMESTAMP WITH TIME ZONE": pl.Datetime("us", "UTC"),
}


def polars_type(duckdb_type: str) -> pl.DataType:
    """The Polars type of a contract's DuckDB type (``VARCHAR[]`` is a list of strings).

    Example: ``polars_type("VARCHAR[]")`` -> ``List(String)``.
    """
    if duckdb_type.endswith("[]"):
        return pl.List(polars_type(duckdb_type[:-2]))
    try:
        return _POLARS_TYPES[duckdb_type]
    except KeyError:
        raise TableContractError(
            f"type {duckdb_type!r} is not one of {sorted(_POLARS_TYPES)} (or such a type + [])"
        ) from None


def duckdb_type(dtype: pl.DataType) -> str:
    """The DuckDB type name of a Polars type (the inverse of :func:`polars_type`)."""
    if isinstance(dtype, pl.List):
        inner = dtype.inner
        return duckdb_type(inner() if isinstance(inner, type) else inner) + "[]"
    for name, known in _POLARS_TYPES.items():
        if dtype == known:
            return name
    raise TableContractError(f"Polars type {dtype} has no contract type")


class ColumnContract(_Strict):
    name: str
    type: str  # as DuckDB names it: VARCHAR, DATE, DOUBLE, BIGINT, ..., VARCHAR[]
    description: str
    not_null: bool = False
    accepted_values: tuple[str, ...] | None = None


class TableContract(_Strict):
    table: str  # 'publish.restrictions', or a pattern 'enforce.*'
    grain: str = Field(pattern=r"^one row per ")
    key: tuple[str, ...] = Field(min_length=1)
    description: str = ""
    #: where the table lives: the lake (a Parquet dataset ``<schema>/<table>/``), the warehouse
    #: (a table of the published DuckDB file) or both (the lake keeps, the warehouse publishes).
    stored_in: tuple[Literal["lake", "warehouse"], ...] = ("warehouse",)
    columns: tuple[ColumnContract, ...] = Field(min_length=1)

    @property
    def file_stem(self) -> str:
        """The contract's file name: the table, a pattern's ``*`` spelled ``all``."""
        return self.table.replace("*", "all")

    @property
    def polars_schema(self) -> dict[str, pl.DataType]:
        """The table's columns and their Polars types, in order."""
        return {c.name: polars_type(c.type) for c in self.columns}

    @property
    def layer(self) -> str:
        """The lake layer (DuckDB schema) of the table: ``linkage`` of ``linkage.runs``."""
        return self.table.split(".", 1)[0]

    @property
    def dataset(self) -> str:
        """The table's name within its layer: ``runs`` of ``linkage.runs``."""
        return self.table.split(".", 1)[1]


def _load(path: Path) -> TableContract:
    contract = load_reviewed_yaml(
        path, TableContract, "table contract", TableContractError, "file_stem"
    )
    names = [c.name for c in contract.columns]
    if len(set(names)) != len(names):
        raise TableContractError(f"{path}: a column is listed twice")
    missing = [k for k in contract.key if k not in names]
    if missing:
        raise TableContractError(f"{path}: key columns {missing} are not among the columns")
    for c in contract.columns:
        try:
            polars_type(c.type)
        except TableContractError as exc:
            raise TableContractError(f"{path}: column {c.name}: {exc}") from None
    if not re.fullmatch(r"[a-z_]+\.([A-Za-z0-9_]+|\*)", contract.table):
        raise TableContractError(f"{path}: table {contract.table!r} is not '<schema>.<table>'")
    return contract


def table_contracts(directory: Path = SCHEMAS_DIR) -> dict[str, TableContract]:
    """Every table contract of every layer (``<directory>/*/tables/*.yaml``), by table name
    (or pattern); loaded once per directory."""
    return _contracts(directory)


@cache
def _contracts(directory: Path) -> dict[str, TableContract]:
    contracts: dict[str, TableContract] = {}
    for path in sorted(directory.glob("*/tables/*.yaml")):
        contract = _load(path)
        if contract.table in contracts:
            raise TableContractError(f"{path}: {contract.table} has a contract already")
        contracts[contract.table] = contract
    return contracts


@cache
def contracts_in(folder: Path) -> dict[str, TableContract]:
    """The contracts of the files ``<folder>/*.yaml`` alone, by table name (a folder of its own,
    e.g. a test's; the catalog is :func:`table_contracts`)."""
    contracts = [_load(p) for p in sorted(folder.glob("*.yaml"))]
    return {c.table: c for c in contracts}


def columns(table: str) -> dict[str, pl.DataType]:
    """The columns and Polars types of the catalog's table `table`, in order.

    Example: ``list(columns("publish.runs"))[:2]`` -> ``['run_id', 'as_of']``.
    """
    return table_contracts()[table].polars_schema


def matching(table: str, contracts: Mapping[str, TableContract]) -> TableContract | None:
    """Of `contracts`, the one of `table` ('schema.name'): its own, else the first pattern
    (``enforce.*``) it matches."""
    if table in contracts:
        return contracts[table]
    for pattern, contract in contracts.items():
        if "*" in pattern and fnmatch.fnmatchcase(table, pattern):
            return contract
    return None


def contract_for(table: str, directory: Path = SCHEMAS_DIR) -> TableContract | None:
    """The catalog's contract of `table` ('schema.name'): its own, else a matching pattern."""
    return matching(table, table_contracts(directory))


def conform(
    frame: pl.DataFrame, contract: TableContract | Mapping[str, pl.DataType]
) -> pl.DataFrame:
    """`frame` in exactly the contract's columns (missing ones null), in that order and with
    those types. `contract` may also be a plain ``{column: Polars type}`` schema (the frames
    that are no table: linkage's records)."""
    schema = dict(contract.polars_schema if isinstance(contract, TableContract) else contract)
    if frame.height == 0:
        return pl.DataFrame(schema=schema)
    return frame.select(
        [
            (pl.col(c) if c in frame.columns else pl.lit(None)).cast(t).alias(c)
            for c, t in schema.items()
        ]
    )


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


def check_frame(
    frame: pl.DataFrame, contract: TableContract, table: str | None = None
) -> list[str]:
    """Breaches of `contract` by the Polars `frame` (as :func:`check_table` finds them once the
    frame is a DuckDB table named `table`, default the contract's)."""
    name = table or contract.table
    schema, dataset = name.split(".", 1)
    con = duckdb.connect()
    try:
        arrow = frame.to_arrow()  # noqa: F841 - read by DuckDB's replacement scan
        con.execute(f'CREATE SCHEMA "{schema}"')
        con.execute(f'CREATE TABLE "{schema}"."{dataset}" AS SELECT * FROM arrow')
        return check_table(con, name, contract)
    finally:
        con.close()


def contract_of(
    table: str,
    grain: str,
    key: tuple[str, ...],
    schema: Mapping[str, pl.DataType],
    description: str,
    descriptions: Mapping[str, str] | None = None,
) -> TableContract:
    """A lake table's contract made from a reviewed file that is not a table contract (the
    conform mappings: :func:`etl.conform.contracts.conformed_contracts`)."""
    return TableContract(
        table=table,
        grain=grain,
        key=key,
        description=description,
        stored_in=("lake",),
        columns=tuple(
            ColumnContract(
                name=c,
                type=duckdb_type(t),
                description=(descriptions or {}).get(c, c),
                not_null=c in key,
            )
            for c, t in schema.items()
        ),
    )


def lake_contract(name: str) -> TableContract:
    """The contract of the lake table `name` ('linkage.record_links'); a table the catalog does
    not hold in the lake is an error naming it."""
    contract = table_contracts().get(name)
    if contract is None or "lake" not in contract.stored_in:
        lake_tables = sorted(n for n, c in table_contracts().items() if "lake" in c.stored_in)
        raise TableContractError(f"{name}: no lake table of that name in the catalog {lake_tables}")
    return contract


def read_table(lake: Lake, name: str, columns: list[str] | None = None) -> pl.DataFrame:
    """The lake table `name` conformed to its contract (every column, in order, typed; the
    contract's empty table before the first write). Only `columns` when given."""
    contract = lake_contract(name)
    if f"{contract.layer}/{contract.dataset}" == OPS_RUNS:
        frame = lake.read_runs()
    else:
        frame = lake.read(contract.layer, contract.dataset, columns)
    schema = contract.polars_schema
    if columns is not None:
        schema = {c: t for c, t in schema.items() if c in columns}
    return conform(frame, schema)


def write_table(lake: Lake, name: str, frame: pl.DataFrame) -> Location:
    """Hold `frame` to the contract of the lake table `name`, then replace the whole table with
    it, atomically; a breach raises :class:`TableContractError` naming the table, the column and
    the rule, and writes nothing."""
    contract = lake_contract(name)
    problems = check_frame(frame, contract)
    if problems:
        raise TableContractError(f"{name} breaks its contract:\n  " + "\n  ".join(problems))
    return lake.write_whole(contract.layer, contract.dataset, frame)
