"""The warehouse: one self-contained DuckDB file, replaced atomically by each publish run.

:func:`write_warehouse` writes every table into a new file beside the old one, holds it to the
table contracts (:func:`publish.contracts.check_warehouse`), closes it and renames it over the
old one (``os.replace``). A reader sees the previous complete warehouse or the new complete
one, never a half-written one; a reader holding the old file open (the DuckDB CLI, an agency's
script) keeps reading the old version and blocks nothing, since the new file is another inode.
Readers should open it read-only (``duckdb -readonly data/warehouse/credlink.duckdb``).

The tables are real tables, not views on lake files, so an enforcing agency can be handed the
file alone. ``publish.in_force_on(day)`` is a table macro over the history.

Example:
    >>> write_warehouse(Path("data/warehouse/credlink.duckdb"), {"publish.subjects": frame})
    ...                                                                   # doctest: +SKIP
    >>> con = duckdb.connect("data/warehouse/credlink.duckdb", read_only=True)  # doctest: +SKIP
    >>> con.sql("SELECT * FROM enforce.caac WHERE DATE '2025-06-01' >= valid_from").pl()
    ...                                                                   # doctest: +SKIP
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from pathlib import Path

import duckdb
import polars as pl

from publish.contracts import TABLES_DIR, check_warehouse, contract_for
from publish.history import IN_FORCE_ON_SQL

__all__ = ["WarehouseContractError", "write_warehouse"]


class WarehouseContractError(RuntimeError):
    """A new warehouse breaks its table contracts; the old warehouse was left in place."""


def write_warehouse(
    path: Path, tables: Mapping[str, pl.DataFrame], contracts_dir: Path = TABLES_DIR
) -> Path:
    """Write `tables` ('schema.table' -> frame) as a new warehouse at `path`, atomically.

    Every table must hold to its contract; otherwise :class:`WarehouseContractError` is raised
    and the file at `path` is untouched. Returns `path`.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        con = duckdb.connect(str(tmp))
        try:
            con.execute("SET autoinstall_known_extensions = false")
            for schema in sorted({name.split(".", 1)[0] for name in tables}):
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            for name, frame in tables.items():
                schema, table = name.split(".", 1)
                arrow = frame.to_arrow()  # noqa: F841 - read by DuckDB's replacement scan
                con.execute(f'CREATE TABLE {schema}."{table}" AS SELECT * FROM arrow')
                contract = contract_for(name, contracts_dir)
                if contract is not None:
                    grain = contract.grain.replace("'", "''")
                    con.execute(f"COMMENT ON TABLE {schema}.\"{table}\" IS '{grain}'")
            if "publish.restriction_history" in tables:
                con.execute(IN_FORCE_ON_SQL)
            problems = check_warehouse(con, contracts_dir)
            if problems:
                raise WarehouseContractError(
                    "the new warehouse breaks its contracts:\n  " + "\n  ".join(problems)
                )
            con.execute("CHECKPOINT")
        finally:
            con.close()
        tmp.replace(path)  # atomic rename (os.replace): readers see old or new
    finally:
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}.wal").unlink(missing_ok=True)
    return path
