"""Reach a source database and extract one table's interval, checked against its contract.

Sources are reached by SQLAlchemy URL, built from an Airflow-style connection (`ConnectionSpec`,
filled by the DAG from `AIRFLOW_CONN_<ID>`) or, when there is none, the SQLite file of the
generated world. Any SQLAlchemy URL works: set `extra.sqlalchemy_url` on the connection.

Example:
    >>> url = source_url(None, default_file=Path("data/world/agencies/courts.db"))  # doctest: +SKIP
    >>> engine = connect(url, source="courts")                                      # doctest: +SKIP
    >>> check_schema(engine, contract)                                              # doctest: +SKIP
    >>> rows = extract(engine, contract.table("SXBZXR"), interval)                  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from credlink.etl.contracts import SOURCES_DIR, ColumnType, SourceContract, Table
from credlink.etl.ingest.interval import Interval, bound_value

log = logging.getLogger(__name__)

POLARS_TYPES: dict[ColumnType, type[pl.DataType]] = {
    ColumnType.TEXT: pl.String,
    ColumnType.INTEGER: pl.Int64,
    ColumnType.REAL: pl.Float64,
}


class SourceUnreachableError(RuntimeError):
    """The source database cannot be reached; the message names the source and where."""


class SourceReadError(RuntimeError):
    """The source answered but cannot be read (a corrupt file, a failing query); the message
    names the source and the table, never a value of a row."""


class SchemaDriftError(RuntimeError):
    """The source's schema no longer matches its contract; the message names the source, the
    table, the column and the contract file."""


@dataclass(frozen=True)
class ConnectionSpec:
    """The parts of an Airflow connection that locate a database."""

    conn_type: str
    host: str | None = None
    schema: str | None = None
    login: str | None = None
    password: str | None = None
    port: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


DRIVERS = {
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mysql+pymysql",
}


def source_url(conn: ConnectionSpec | None, default_file: Path) -> str:
    """The SQLAlchemy URL of a source: the connection's, else the world's SQLite file."""
    if conn is None:
        return f"sqlite:///{default_file}"
    if conn.extra.get("sqlalchemy_url"):
        return str(conn.extra["sqlalchemy_url"])
    if conn.conn_type == "sqlite":
        if not conn.host:
            raise SourceUnreachableError("sqlite connection without a host (the database file)")
        return f"sqlite:///{conn.host}"
    driver = DRIVERS.get(conn.conn_type)
    if driver is None:
        raise SourceUnreachableError(
            f"connection type {conn.conn_type!r} is not supported; set extra.sqlalchemy_url"
        )
    auth = ""
    if conn.login:
        auth = quote_plus(conn.login)
        if conn.password:
            auth += ":" + quote_plus(conn.password)
        auth += "@"
    port = f":{conn.port}" if conn.port else ""
    return f"{driver}://{auth}{conn.host or 'localhost'}{port}/{conn.schema or ''}"


def _safe(url: str) -> str:
    return sa.make_url(url).render_as_string(hide_password=True)


def connect(url: str, source: str) -> Engine:
    """An engine on the source, checked to answer; SQLite files are opened read-only."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database or "")
        if not path.is_file():
            raise SourceUnreachableError(
                f"source {source}: database file {path} does not exist "
                "(generate the world with `credlink world`, or set its connection)"
            )
        # Read-only: extraction must never create or change a source.
        engine = sa.create_engine(
            f"sqlite:///file:{path}?mode=ro&uri=true", connect_args={"check_same_thread": False}
        )
    else:
        engine = sa.create_engine(url, pool_pre_ping=True)
    try:
        with engine.connect() as con:
            con.execute(sa.text("SELECT 1"))
            if parsed.get_backend_name() == "sqlite":
                # SELECT 1 does not read the file: a corrupt one fails here, not mid-run.
                con.execute(sa.text("SELECT count(*) FROM sqlite_master"))
    except sa.exc.SQLAlchemyError as exc:
        engine.dispose()
        raise SourceUnreachableError(
            f"source {source}: cannot connect to {_safe(url)}: {exc.__class__.__name__}: "
            f"{str(exc.orig if hasattr(exc, 'orig') else exc).strip()}"
        ) from exc
    return engine


def _contract_type(sql_type: sa.types.TypeEngine[Any]) -> ColumnType | None:
    if isinstance(sql_type, sa.Integer):
        return ColumnType.INTEGER
    if isinstance(sql_type, sa.Float | sa.Numeric):
        return ColumnType.REAL
    if isinstance(sql_type, sa.String):
        return ColumnType.TEXT
    return None


def check_schema(engine: Engine, contract: SourceContract) -> list[str]:
    """Raise `SchemaDriftError` when a contract table or column is missing or changed type;
    return warnings for columns the source has beyond its contract (they are not extracted)."""
    path = SOURCES_DIR / f"{contract.source}.yaml"
    try:
        inspector = sa.inspect(engine)
        present = {t.lower(): t for t in inspector.get_table_names()}
    except sa.exc.SQLAlchemyError as exc:
        raise SourceReadError(
            f"source {contract.source}: cannot read its schema: {_reason(exc)}"
        ) from exc
    problems: list[str] = []
    warnings: list[str] = []
    for table in contract.tables:
        actual = present.get(table.name.lower())
        if actual is None:
            problems.append(f"table {table.name} is missing")
            continue
        cols = {c["name"].lower(): c for c in inspector.get_columns(actual)}
        for col in table.columns:
            found = cols.pop(col.name.lower(), None)
            if found is None:
                problems.append(f"column {table.name}.{col.name} is missing")
                continue
            kind = _contract_type(found["type"])
            if kind is not None and kind != col.type:
                problems.append(
                    f"column {table.name}.{col.name} is {kind.value} ({found['type']}), "
                    f"contract says {col.type.value}"
                )
        warnings += [
            f"column {table.name}.{c['name']} is not in the contract" for c in cols.values()
        ]
    if problems:
        raise SchemaDriftError(
            f"source {contract.source} drifted from its contract {path}: " + "; ".join(problems)
        )
    for w in warnings:
        log.warning("source %s: %s (ignored)", contract.source, w)
    return warnings


def _reason(exc: BaseException) -> str:
    """The driver's own message of a database error, without the SQL and parameters that
    SQLAlchemy appends (they can hold values of rows)."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).split("\n[SQL:")[0].strip()
    return f"{exc.__class__.__name__}: {text[:300]}"


#: Python values a column of each contract type accepts as they come from the driver.
_ACCEPTED: dict[ColumnType, tuple[type, ...]] = {
    ColumnType.TEXT: (str,),
    ColumnType.INTEGER: (int,),
    ColumnType.REAL: (int, float),
}


@dataclass(frozen=True)
class Extracted:
    """An extract and, aligned with its rows, the columns whose value had the wrong type
    (such values are null in `frame`; the rows go to quarantine with `type:<column>`)."""

    frame: pl.DataFrame
    type_errors: list[list[str]]


def typed_frame(rows: list[Any], table: Table) -> Extracted:
    """Rows from the driver as a frame of the contract's types. A value of the wrong type (text
    in an integer column, bytes anywhere) becomes null and is reported in `type_errors`, never
    a Polars error failing the whole table; numbers in a text column are written as text."""
    schema = {c.name: POLARS_TYPES[c.type] for c in table.columns}
    try:  # the common case: every value fits its column
        return Extracted(pl.DataFrame(rows, schema=schema, orient="row"), [[] for _ in rows])
    except (TypeError, ValueError, OverflowError, pl.exceptions.PolarsError):
        pass
    errors: list[list[str]] = [[] for _ in rows]
    series = []
    for i, col in enumerate(table.columns):
        dtype = POLARS_TYPES[col.type]
        values = [r[i] for r in rows]
        try:
            series.append(pl.Series(col.name, values, dtype=dtype, strict=True))
            continue
        except (TypeError, ValueError, OverflowError, pl.exceptions.PolarsError):
            pass
        accepted = _ACCEPTED[col.type]
        clean: list[Any] = []
        for j, v in enumerate(values):
            if v is None or (isinstance(v, accepted) and not isinstance(v, bool)):
                clean.append(v)
            elif col.type is ColumnType.TEXT and isinstance(v, int | float):
                clean.append(str(v))
            else:
                clean.append(None)
                errors[j].append(col.name)
        try:
            series.append(pl.Series(col.name, clean, dtype=dtype, strict=True))
        except (TypeError, ValueError, OverflowError, pl.exceptions.PolarsError):
            # e.g. an integer beyond 64 bits: every non-null value is suspect, keep what fits.
            fit = pl.Series(col.name, [str(v) if v is not None else None for v in clean])
            cast = fit.cast(dtype, strict=False)
            for j in (fit.is_not_null() & cast.is_null()).arg_true().to_list():
                errors[j].append(col.name)
            series.append(cast)
    return Extracted(pl.DataFrame(series, schema={s.name: s.dtype for s in series}), errors)


def _fetch(engine: Engine, sql: str, params: dict[str, Any], source: str, table: str) -> list[Any]:
    try:
        with engine.connect() as con:
            return list(con.execute(sa.text(sql), params).fetchall())
    except sa.exc.SQLAlchemyError as exc:
        raise SourceReadError(
            f"source {source}: cannot read table {table}: {_reason(exc)}"
        ) from exc


def extract_rows(engine: Engine, table: Table, interval: Interval, source: str = "?") -> Extracted:
    """The rows of `table` created or updated in `interval` (see `extract`), with the values
    of the wrong type reported rather than raised."""
    q = engine.dialect.identifier_preparer.quote
    inc = table.incremental
    cols = ", ".join(q(c.name) for c in table.columns)
    where = [f"{q(inc.column)} < :hi"]
    params: dict[str, Any] = {"hi": bound_value(interval.end, inc.format, inc.timezone)}
    if interval.start is not None:
        where.append(f"{q(inc.column)} >= :lo")
        params["lo"] = bound_value(interval.start, inc.format, inc.timezone)
    order = ", ".join(q(c) for c in (inc.column, *table.primary_key))
    sql = f"SELECT {cols} FROM {q(table.name)} WHERE {' AND '.join(where)} ORDER BY {order}"
    return typed_frame(_fetch(engine, sql, params, source, table.name), table)


def extract(engine: Engine, table: Table, interval: Interval) -> pl.DataFrame:
    """The rows of `table` created or updated in `interval`, with the contract's columns and
    types, ordered by the incremental column and the primary key (a value of the wrong type
    is null here; `extract_rows` reports it)."""
    return extract_rows(engine, table, interval).frame


def beyond_intervals(engine: Engine, table: Table, end: datetime, source: str = "?") -> Extracted:
    """The rows that no interval ending at or before `end` extracts: incremental value NULL,
    or not below `end` as the source compares it (future, or malformed text that sorts
    after it). Ordered by primary key."""
    q = engine.dialect.identifier_preparer.quote
    inc = table.incremental
    cols = ", ".join(q(c.name) for c in table.columns)
    sql = (
        f"SELECT {cols} FROM {q(table.name)} WHERE {q(inc.column)} IS NULL "
        f"OR NOT ({q(inc.column)} < :hi) ORDER BY {', '.join(q(c) for c in table.primary_key)}"
    )
    params = {"hi": bound_value(end, inc.format, inc.timezone)}
    return typed_frame(_fetch(engine, sql, params, source, table.name), table)


def source_keys(engine: Engine, table: Table, end: datetime, source: str = "?") -> pl.DataFrame:
    """The primary key of every row an interval ending at or before `end` extracts, as
    `_record_id` (the staged tables' key: the key columns joined by '|'), for reconciliation."""
    q = engine.dialect.identifier_preparer.quote
    inc = table.incremental
    sql = (
        f"SELECT {', '.join(q(c) for c in table.primary_key)} FROM {q(table.name)} "
        f"WHERE {q(inc.column)} < :hi"
    )
    rows = _fetch(
        engine, sql, {"hi": bound_value(end, inc.format, inc.timezone)}, source, table.name
    )
    keys = pl.DataFrame(
        [[None if v is None else str(v) for v in r] for r in rows],
        schema=list(table.primary_key),
        orient="row",
    )
    return keys.select(
        pl.concat_str([pl.col(c) for c in table.primary_key], separator="|").alias("_record_id")
    )
