"""Copy a generated agency database to another engine (PostgreSQL, MariaDB, ...).

A production-like deployment keeps each agency on its own server; this puts a generated world
there, table by table, preserving column names (quoted where the engine folds case).

Example:
    >>> copy_database(Path("data/world/agencies/courts.db"),
    ...               "postgresql+psycopg://postgres@127.0.0.1/courts")   # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa


def copy_database(sqlite_file: Path, url: str, *, replace: bool = True) -> dict[str, int]:
    """Create every table of `sqlite_file` at `url` and copy its rows; returns rows per table."""
    src = sa.create_engine(f"sqlite:///file:{sqlite_file}?mode=ro&uri=true")
    dst = sa.create_engine(url)
    meta = sa.MetaData()
    meta.reflect(src)
    target = sa.MetaData()
    tables = [t.to_metadata(target) for t in meta.sorted_tables]
    for t in tables:
        for idx in list(t.indexes):
            t.indexes.discard(idx)
        for col in t.columns:
            # SQLite REAL is 8 bytes; PostgreSQL's REAL would be 4 and round the values.
            if isinstance(col.type, sa.Float):
                col.type = sa.Double()
            # MySQL/MariaDB cannot key a TEXT column without a length.
            elif col.primary_key and isinstance(col.type, sa.String):
                col.type = sa.String(64)
    counts: dict[str, int] = {}
    try:
        if replace:
            target.drop_all(dst, checkfirst=True)
        target.create_all(dst)
        with src.connect() as s, dst.begin() as d:
            for source_table, t in zip(meta.sorted_tables, tables, strict=True):
                rows = [dict(r._mapping) for r in s.execute(source_table.select())]
                if rows:
                    d.execute(t.insert(), rows)
                counts[t.name] = len(rows)
    finally:
        src.dispose()
        dst.dispose()
    return counts
