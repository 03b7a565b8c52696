"""Named derivations: what a conform mapping (``{derive: <name>, column: c}``) may compute from a
staged column, where a rename is not enough. Each is a Polars expression of one column.

- ``court_region``: a case number ``(2024)鲁0827执24号`` names the court by province
  abbreviation and the last 4 digits of its county division code, and a person or firm is sued
  where it is registered: ``'370827'``.
- ``licence_region``: a food business licence number ``JY`` + business type + 6-digit division
  code + sequence + check: ``JY13601024968274`` -> ``'360102'``.
- ``local_day``: a UTC timestamp's day in the agencies' time zone (a record withdrawn on its
  last update: the day of that update).

Example:
    >>> pl.select(court_region(pl.lit("(2024)鲁0827执24号"))).item()
    '370827'
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from credlink.etl.conform.mappings import DERIVATIONS
from credlink.etl.reference.divisions import PROVINCE_ABBR
from credlink.settings import TIMEZONE

__all__ = ["DERIVE", "court_region", "licence_region", "local_day"]

_ABBR_TO_PROVINCE = {abbr: code for code, abbr in PROVINCE_ABBR.items()}
# '(2024)鲁0827执24号': year, province abbreviation, county code digits 3-6, case type.
_CASE_NUMBER = r"^[(（]\d{4}[)）](\p{Han})(\d{4})"
_LICENCE = r"^JY\d(\d{6})\d{7}$"


def court_region(case_number: pl.Expr) -> pl.Expr:
    """The court's 6-digit county division code from a case number, or null.

    Example: ``(2024)鲁0827执24号`` -> ``'370827'``.
    """
    parts = case_number.str.extract_groups(_CASE_NUMBER)
    province = parts.struct.field("1").replace_strict(
        _ABBR_TO_PROVINCE, default=None, return_dtype=pl.String
    )
    return province + parts.struct.field("2")


def licence_region(licence_no: pl.Expr) -> pl.Expr:
    """The 6-digit division code inside a food licence number, or null.

    Example: ``JY13601024968274`` -> ``'360102'``.
    """
    return licence_no.str.extract(_LICENCE, 1)


def local_day(utc: pl.Expr) -> pl.Expr:
    """The day (in the agencies' time zone) of a UTC timestamp."""
    return utc.dt.convert_time_zone(TIMEZONE).dt.date()


#: The derivations by the name a mapping uses.
DERIVE: dict[str, Callable[[pl.Expr], pl.Expr]] = {
    "court_region": court_region,
    "licence_region": licence_region,
    "local_day": local_day,
}
assert tuple(DERIVE) == DERIVATIONS, "etl.conform.mappings.DERIVATIONS names these"
