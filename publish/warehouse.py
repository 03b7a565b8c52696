"""The warehouse: one self-contained DuckDB file, replaced atomically by each publish run, and
per-agency enforcement extracts beside it.

:func:`write_warehouse` writes every table into a new file beside the old one, holds it to the
table contracts (:func:`publish.contracts.check_warehouse`), checkpoints and closes it (sealed:
no write-ahead log left) and renames it over the old one (``os.replace``). A reader sees the
previous complete warehouse or the new complete one, never a half-written one; a reader holding
the old file open (the DuckDB CLI, an agency's script) keeps reading the old version and blocks
nothing, since the new file is another inode. Readers should open it read-only
(``duckdb -readonly data/warehouse/credlink.duckdb``).

**No WAL carried over.** DuckDB keeps a session's uncommitted-to-file changes in
``<file>.wal`` beside the file, by name; a read-write session that changes the warehouse and
dies leaves it there, and the next version renamed into place would replay it. A published
version has no WAL of its own, so any ``credlink.duckdb.wal`` is stale: it is removed just
before the rename (:func:`seal_ops`), and a reader in between opens the previous clean version.
The publish stage also takes the write bits off the files it publishes (:func:`read_only`), so
a user without the publisher's rights cannot open them read-write at all.

**Extracts** (:func:`stage_extracts`): ``<warehouse dir>/enforce/<agency>.parquet`` holds the
rows of ``enforce.<agency>`` and nothing else (data minimisation: what the agency may be
handed; ``duckdb -c "FROM 'data/warehouse/enforce/caac.parquet'"``). ``enforce`` is a symbolic
link to the version folder ``enforce.v<seq>-<token>/`` of the last run, switched by one
rename, so the extracts of one run appear together. **Checksums**: ``<warehouse>.sha256`` lists the
SHA-256 of the warehouse and of each extract (``cd data/warehouse && sha256sum -c
credlink.duckdb.sha256``); the lake's ``publish/runs`` records the warehouse's per run.

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

import hashlib
import re
import stat
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from credlink.publish.commit import (
    Remove,
    Replace,
    fsync_dir,
    fsync_file,
    new_token,
    temporary,
    write_point,
)
from credlink.publish.contracts import check_warehouse, warehouse_contract
from credlink.publish.history import IN_FORCE_ON_SQL

__all__ = [
    "EXTRACTS",
    "Staged",
    "WarehouseContractError",
    "build_warehouse",
    "extracts_dir",
    "read_only",
    "remove_unused_extract_versions",
    "seal_ops",
    "sha256_file",
    "stage_extracts",
    "write_warehouse",
]

#: The folder (a symbolic link to a version folder) of the per-agency extracts.
EXTRACTS = "enforce"
_VERSION = re.compile(r"^enforce\.v\d+-[0-9a-f]+$")


class WarehouseContractError(RuntimeError):
    """A new warehouse breaks its table contracts; the old warehouse was left in place."""


def _wal(path: Path) -> Path:
    return Path(f"{path}.wal")


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file, in hex."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _create(
    con: duckdb.DuckDBPyConnection, name: str, frame: pl.DataFrame, contracts: Path | None
) -> None:
    schema, table = name.split(".", 1)
    arrow = frame.to_arrow()  # noqa: F841 - read by DuckDB's replacement scan
    con.execute(f'CREATE TABLE {schema}."{table}" AS SELECT * FROM arrow')
    contract = warehouse_contract(name, contracts)
    if contract is not None:
        grain = contract.grain.replace("'", "''")
        con.execute(f"COMMENT ON TABLE {schema}.\"{table}\" IS '{grain}'")


def _seal(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Checkpoint and close `con` on `path`; the file must then stand alone (no WAL)."""
    try:
        con.execute("CHECKPOINT")
    finally:
        con.close()
    if _wal(path).exists():
        raise RuntimeError(f"{path}: a write-ahead log remained after the checkpoint")
    fsync_file(path)


def read_only(path: Path) -> None:
    """Take the write permission bits off a published file (the rest of its mode stays)."""
    path.chmod(stat.S_IMODE(path.stat().st_mode) & ~0o222)


def _discard(path: Path) -> None:
    path.unlink(missing_ok=True)
    _wal(path).unlink(missing_ok=True)


def build_warehouse(
    path: Path, tables: Mapping[str, pl.DataFrame], contracts_dir: Path | None = None
) -> None:
    """Write `tables` ('schema.table' -> frame) as a new sealed DuckDB file at `path` (a
    temporary name), held to the contracts; on a breach :class:`WarehouseContractError` is
    raised and nothing is left at `path`."""
    try:
        con = duckdb.connect(str(path))
        try:
            con.execute("SET autoinstall_known_extensions = false")
            for schema in sorted({name.split(".", 1)[0] for name in tables}):
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            for name, frame in tables.items():
                _create(con, name, frame, contracts_dir)
            if "publish.restriction_history" in tables:
                con.execute(IN_FORCE_ON_SQL)
            problems = check_warehouse(con, contracts_dir)
            if problems:
                raise WarehouseContractError(
                    "the new warehouse breaks its contracts:\n  " + "\n  ".join(problems)
                )
        except BaseException:
            con.close()
            raise
        _seal(con, path)
    except BaseException:
        _discard(path)
        raise


def seal_ops(tmp: Path, final: Path) -> list[Remove | Replace]:
    """The commit operations that put a sealed file in place: the stale WAL first (a reader in
    between opens the previous clean version), then the rename."""
    return [Remove(_wal(final)), Replace(tmp, final)]


def write_warehouse(
    path: Path, tables: Mapping[str, pl.DataFrame], contracts_dir: Path | None = None
) -> Path:
    """Write `tables` ('schema.table' -> frame) as a new warehouse at `path`, atomically.

    Every table must hold to its contract; otherwise :class:`WarehouseContractError` is raised
    and the file at `path` is untouched. A stale ``<path>.wal`` is removed. Returns `path`.
    (The publish stage stages and commits the same file with its extracts and history:
    :func:`publish.stage.run_publish`.)
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary(path, new_token())
    try:
        build_warehouse(tmp, tables, contracts_dir)
        for op in seal_ops(tmp, path):
            if isinstance(op, Remove):
                op.path.unlink(missing_ok=True)
            else:
                assert isinstance(op.final, Path), "a warehouse is a local file"
                op.tmp.replace(op.final)  # atomic rename (os.replace): readers see old or new
    finally:
        _discard(tmp)
    return path


def extracts_dir(warehouse_path: Path) -> Path:
    """Where the per-agency extracts of a warehouse are: ``<its folder>/enforce``."""
    return warehouse_path.parent / EXTRACTS


@dataclass(frozen=True)
class Staged:
    """Files staged for one commit: the operations and the checksums (file name -> hex)."""

    ops: list[Remove | Replace]
    sha256: dict[str, str]


def stage_extracts(
    warehouse_path: Path, tables: Mapping[str, pl.DataFrame], seq: int, token: str
) -> Staged:
    """Write each ``enforce.<agency>`` table of `tables` (held to its contract in the
    warehouse already) as its own Parquet file in a new version folder, and stage the switch
    of the ``enforce`` link to it."""
    link = extracts_dir(warehouse_path)
    version = link.parent / f"{EXTRACTS}.v{seq}-{token}"
    version.mkdir(parents=True)
    sums: dict[str, str] = {}
    for name, frame in sorted(tables.items()):
        schema, agency = name.split(".", 1)
        if schema != EXTRACTS:
            continue
        path = version / f"{agency}.parquet"
        frame.write_parquet(path)
        read_only(path)
        fsync_file(path)
        sums[f"{EXTRACTS}/{path.name}"] = sha256_file(path)
    fsync_dir(version)
    write_point("staged extracts")
    tmp_link = temporary(link, token)
    tmp_link.symlink_to(version.name, target_is_directory=True)
    ops: list[Remove | Replace] = []
    if link.exists() and not link.is_symlink():  # a folder of an older layout
        ops.append(Remove(link))
    ops.append(Replace(tmp_link, link))
    return Staged(ops=ops, sha256=sums)


def remove_unused_extract_versions(warehouse_path: Path) -> None:
    """Remove extract version folders that the ``enforce`` link does not point to (the
    previous run's, or a killed run's staged one). A reader holding an old extract open keeps
    reading it (its files are unlinked, not overwritten)."""
    link = extracts_dir(warehouse_path)
    current = link.resolve().name if link.is_symlink() else None
    for d in link.parent.glob(f"{EXTRACTS}.v*"):
        if d.is_dir() and not d.is_symlink() and _VERSION.match(d.name) and d.name != current:
            for f in d.iterdir():
                f.unlink(missing_ok=True)
            d.rmdir()


def read_tables(
    path: Path, drop: Collection[str] | Mapping[str, Collection[str]] = ()
) -> dict[str, pl.DataFrame]:
    """Every table of the warehouse at `path` (opened read-only) by ``schema.table``, without
    the columns named in `drop` (in every table, or, given a mapping, by ``schema.table``),
    rows sorted by every column: two warehouses with the same rows compare equal table by
    table whatever order they were written in."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        names = con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() ORDER BY ALL"
        ).fetchall()
        out = {}
        for schema, table in names:
            name = f"{schema}.{table}"
            frame = con.execute(f'SELECT * FROM "{schema}"."{table}"').pl()
            gone = drop.get(name, ()) if isinstance(drop, Mapping) else drop
            frame = frame.drop([c for c in gone if c in frame.columns])
            out[name] = frame.sort(frame.columns, nulls_last=True) if frame.width else frame
        return out
    finally:
        con.close()
