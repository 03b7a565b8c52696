"""Plain values as the agencies write them: free text, dates, timestamps and amounts.

Every function takes a Polars Series and returns a Series of the same length, with null where a
value is missing or cannot be read (never an exception for dirty data). The formats each source
uses are declared in its contract (``schemas/sources/<source>.yaml``): courts write dates as
``2023年03月05日`` (a few ``2023-03-05``), tax as integers ``20230305`` and record times as Unix
epoch seconds, transport ISO dates and ISO 8601 timestamps with ``+08:00``, food ``2023/03/05``
and ``2023/03/05 14:07``.

Parsing runs once per distinct value (dates and amounts repeat a lot) and is mapped back.

Example: ``dates(pl.Series(["2023年03月05日", "2023-03-05", "?"]), ["%Y年%m月%d日", "%Y-%m-%d"])``
gives ``[2023-03-05, 2023-03-05, null]``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import polars as pl

from credlink.settings import TIMEZONE

__all__ = ["EPOCH_SECONDS", "amounts", "dates", "text", "timestamps"]

#: The `format` of :func:`timestamps` (and of the contracts' incremental columns) for Unix time.
EPOCH_SECONDS = "epoch_seconds"

# Money: optional sign, currency marks before or after, thousands separators, 元 / 万元.
_CURRENCY = r"(?i)^(?:RMB|CNY|人民币|¥|\$)|(?:RMB|CNY|人民币|元|圆)$"
_NUMBER = r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$"


def text(s: pl.Series) -> pl.Series:
    """Free text: Unicode NFKC (full-width letters, digits and brackets become half-width),
    leading and trailing whitespace removed, empty strings as null. Non-string input is cast.

    Example: ``text(pl.Series(["  ＡＢＣ１２３ ", "", None])) -> ["ABC123", null, null]``.
    """
    t = s if s.dtype == pl.String else s.cast(pl.String)
    t = t.str.normalize("NFKC").str.strip_chars()
    return pl.select(pl.when(t.str.len_bytes() > 0).then(t)).to_series().alias(s.name)


def _per_unique(s: pl.Series, parse: Callable[[pl.Series], pl.Series]) -> pl.Series:
    """Apply `parse` to the distinct values of `s` only and map the results back."""
    distinct = s.unique().drop_nulls()
    table = pl.DataFrame({"v": distinct, "out": parse(distinct)})
    joined = pl.DataFrame({"v": s}).join(table, on="v", how="left", maintain_order="left")
    return joined["out"].alias(s.name)


def dates(s: pl.Series, formats: Sequence[str]) -> pl.Series:
    """Calendar dates, trying each ``strptime`` format in order; unreadable values are null.

    Integers (``20230305``) are read as their decimal digits; Date input is returned as is and
    Datetime input is truncated to its date. Values are cleaned with :func:`text` first, so
    full-width digits and stray spaces do not matter.

    Example: ``dates(pl.Series([20230305, 2023]), ["%Y%m%d"]) -> [2023-03-05, null]``.
    """
    if s.dtype == pl.Date:
        return s
    if isinstance(s.dtype, pl.Datetime):
        return s.dt.date()
    if s.dtype.is_float():
        s = s.cast(pl.Int64, strict=False)
    cleaned = text(s)

    def parse(values: pl.Series) -> pl.Series:
        if not formats:
            return pl.Series(values.name, [None] * len(values), dtype=pl.Date)
        tries = [values.str.strptime(pl.Date, f, strict=False) for f in formats]
        return pl.select(pl.coalesce(tries)).to_series()

    return _per_unique(cleaned, parse).cast(pl.Date)


def timestamps(s: pl.Series, format: str, timezone: str = TIMEZONE) -> pl.Series:
    """Instants as ``Datetime("us", "UTC")``.

    ``format`` is :data:`EPOCH_SECONDS` for Unix time integers (always UTC), or a ``strptime``
    format: with ``%z`` each value carries its own offset (``2024-03-05T14:07:00+08:00``);
    without it the values are wall-clock times in ``timezone`` (an IANA name such as
    ``Asia/Shanghai``). Unreadable values, and wall-clock times that do not exist in the zone,
    are null; an ambiguous one (a clock set back) takes the earlier instant.

    Example: ``timestamps(pl.Series(["2024-03-05 14:07:00"]), "%Y-%m-%d %H:%M:%S",
    "Asia/Shanghai") -> [2024-03-05 06:07:00 UTC]``.
    """
    utc = pl.Datetime("us", "UTC")
    if format == EPOCH_SECONDS:
        seconds = s if s.dtype.is_integer() else text(s).cast(pl.Int64, strict=False)
        return pl.from_epoch(seconds.cast(pl.Int64), "s").dt.replace_time_zone("UTC").cast(utc)
    cleaned = text(s)
    if "%z" in format or "%:z" in format:
        parsed = cleaned.str.strptime(utc, format, strict=False)
        return parsed.alias(s.name)
    naive = cleaned.str.strptime(pl.Datetime("us"), format, strict=False)
    local = naive.dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null")
    return local.dt.convert_time_zone("UTC").cast(utc).alias(s.name)


def amounts(s: pl.Series) -> pl.Series:
    """Money amounts in yuan as Float64: ``'1,234,567.00'``, ``'¥1,234'``, ``'1234元'``,
    ``'1.5万元'`` (ten thousands), ``'-12.5'``, numbers. Anything else (words, two numbers,
    an empty string) is null.

    Example: ``amounts(pl.Series(["1,234,567.00", "¥1,234", "1234元", "n/a"]))
    -> [1234567.0, 1234.0, 1234.0, null]``.
    """
    if s.dtype.is_numeric():
        return s.cast(pl.Float64).alias(s.name)

    def parse(values: pl.Series) -> pl.Series:
        v = values.str.replace_all(",", "", literal=True).str.replace_all("−", "-", literal=True)
        # A sign may stand before the currency mark ('-¥12'): take it out first.
        sign = v.str.extract(r"^([+-])", 1).fill_null("")
        v = v.str.replace(r"^[+-]", "").str.replace_all(_CURRENCY, "").str.strip_chars()
        wan = v.str.ends_with("万")
        v = v.str.strip_suffix("万").str.strip_chars()
        number = (sign + v).alias("v")
        value = pl.select(
            pl.when(number.str.contains(_NUMBER)).then(number.cast(pl.Float64, strict=False))
        ).to_series()
        return pl.select(pl.when(wan).then(value * 10_000).otherwise(value)).to_series()

    return _per_unique(text(s), parse).cast(pl.Float64)
