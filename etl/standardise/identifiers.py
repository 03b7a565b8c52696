"""Identifiers as typed by agency clerks, classified and taken apart for record linkage.

Two functions, one per kind of subject, each from a Series of raw identifiers to a DataFrame with
one row per input value (same order). The check-character maths is :mod:`etl.identifiers`
(GB 11643, GB 32100, GB 11714, ISO 7064 MOD 11,10), applied to whole columns at once; structures
are described in ``/work/shared/DOMAIN.md`` ("Identifiers").

Normalisation (``id_norm``): Unicode NFKC (full-width digits and letters, ``＊`` and ``－``
become ASCII), upper case (a lower-case check ``x`` becomes ``X``), and every space and hyphen
removed (``'60003734-1'`` -> ``'600037341'``, ``'3401 0419 ...'`` -> one block). Null or empty
after this is ``missing``.

Person identifiers (:func:`person_ids`), ``id_class``:

==========================  =================================================================
``citizen_id``              18 characters, 17 digits + ``0-9``/``X``, a real birth date, the
                            right GB 11643 check character
``citizen_id_bad_check``    the same shape and a real birth date, but a wrong check character
                            (a typing error somewhere)
``citizen_id_legacy15``     15 digits with a real ``YYMMDD`` birth date (1900s), the pre-1999
                            form; upgraded to 18 digits in ``id_citizen``
``citizen_id_masked``       6 digits + 4-digit year + ``****`` + 3 digits + check character,
                            the court list's masking (``3423011964****3224``)
``passport``                7-10 letters and digits matching none of the above
``missing`` / ``malformed`` null or empty / anything else
==========================  =================================================================

Organisation identifiers (:func:`organisation_ids`), ``id_class``:

==================================  =========================================================
``uscc``                            18 characters of the GB 32100 alphabet, digits at 3-8,
                                    right outer check character and a valid organisation code
                                    at 9-17 (:func:`etl.identifiers.is_valid_uscc`)
``uscc_bad_check``                  the same shape, but the outer or the inner check fails
``organisation_code``               ``XXXXXXXX-X`` or 9 characters with the right check
``organisation_code_bad_check``     the same shape, a wrong check character
``legacy_registration_no``          15 digits with the right MOD 11,10 check digit
``legacy_tax_no``                   6 digits + a valid 9-character organisation code
``missing`` / ``malformed``         null or empty / anything else
==================================  =========================================================

A 15-digit value can be both a registration number (its last digit happens to be the MOD 11,10
check, about 1 in 10) and a tax number (its last 9 digits happen to be a valid organisation
code, about 1 in 11). Such a value is classified by ``prefer``, by default ``legacy_tax_no``: a
wrongly extracted organisation code matches no registered organisation, while a missed one
loses the strongest linkage key. A caller that knows the column holds only registration numbers
(the food agency's ``credit_code``) passes ``prefer="legacy_registration_no"``.

Example:
    >>> person_ids(pl.Series(["11010519491231002x", "3423011964****3224"]))["id_class"].to_list()
    ['citizen_id', 'citizen_id_masked']
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import polars as pl
from numpy.typing import NDArray

from credlink.etl.identifiers import (
    mod_11_10_check_digits,
    org_code_check_chars,
    ric_check_chars,
    uscc_check_chars,
)

__all__ = [
    "ORGANISATION_ID_CLASSES",
    "PERSON_ID_CLASSES",
    "organisation_ids",
    "person_ids",
]

#: Values of ``id_class`` from :func:`person_ids`.
PERSON_ID_CLASSES: tuple[str, ...] = (
    "citizen_id",
    "citizen_id_bad_check",
    "citizen_id_legacy15",
    "citizen_id_masked",
    "passport",
    "missing",
    "malformed",
)
#: Values of ``id_class`` from :func:`organisation_ids`.
ORGANISATION_ID_CLASSES: tuple[str, ...] = (
    "uscc",
    "uscc_bad_check",
    "organisation_code",
    "organisation_code_bad_check",
    "legacy_registration_no",
    "legacy_tax_no",
    "missing",
    "malformed",
)

Fifteen = Literal["legacy_tax_no", "legacy_registration_no"]

# Spaces and the hyphen-like characters NFKC leaves alone.
_SEPARATORS = r"[\s\-\u2010-\u2015\u2212]"
_RIC18 = r"^\d{17}[\dX]$"
_RIC_MASKED = r"^\d{6}(?:18|19|20)\d{2}\*{4}\d{3}[\dX]$"
_DIGITS15 = r"^\d{15}$"
_PASSPORT = r"^[A-Z0-9]{7,10}$"
_U = "[0-9A-HJ-NP-RTUWXY]"  # the GB 32100 alphabet: no I, O, S, V, Z
_USCC_SHAPE = rf"^{_U}{{2}}\d{{6}}{_U}{{10}}$"
_ORG_SHAPE = r"^[0-9A-Z]{8}[0-9X]$"
_TAX_SHAPE = r"^\d{6}[0-9A-Z]{8}[0-9X]$"


def _normalise(s: pl.Series) -> pl.Series:
    """NFKC, upper case, no spaces or hyphens; empty -> null."""
    t = s if s.dtype == pl.String else s.cast(pl.String)
    t = t.str.normalize("NFKC").str.to_uppercase().str.replace_all(_SEPARATORS, "")
    return pl.select(pl.when(t.str.len_bytes() > 0).then(t)).to_series().alias("id_norm")


def _matrix(values: pl.Series, ok: pl.Series, start: int, width: int) -> NDArray[np.uint8]:
    """ASCII matrix (n, width) of ``values[start:start + width]`` where `ok` ('0's elsewhere).

    The rows where `ok` is true must have that slice all ASCII (the callers' regexes ensure
    it), so one join and one buffer view replace a per-value conversion.
    """
    part = pl.select(
        pl.when(ok).then(values.str.slice(start, width)).otherwise(pl.lit("0" * width))
    ).to_series()
    if len(part) == 0:
        return np.zeros((0, width), dtype=np.uint8)
    joined: str = part.str.join("").item()
    return np.frombuffer(joined.encode("ascii"), dtype=np.uint8).reshape(-1, width)


def _check_ok(
    checks: NDArray[np.str_], values: pl.Series, ok: pl.Series, position: int
) -> pl.Series:
    """Where `ok`: does the character at `position` equal the computed check character?"""
    got = values.str.slice(position, 1)
    return (ok & (pl.Series(checks, dtype=pl.String) == got)).fill_null(False)


def _real_dates(yyyymmdd: pl.Series) -> pl.Series:
    return yyyymmdd.str.strptime(pl.Date, "%Y%m%d", strict=False)


def person_ids(s: pl.Series) -> pl.DataFrame:
    """Classify person identifiers and take out what each form reveals.

    Columns: ``id_norm`` (normalised text), ``id_class`` (see the module doc), ``id_citizen``
    (the 18-character number for ``citizen_id``, and for ``citizen_id_legacy15`` the upgrade:
    region + ``19`` + the 9 digits after it + the computed check character; else null),
    ``id_birth_date`` (Date, for the forms with a full birth date), ``id_birth_year`` (Int16,
    also for masked numbers), ``id_sex`` (``M``/``F`` from the parity of the sequence digit:
    position 17 of every 18-character form, including masked and bad-check ones, position 15 of
    the legacy form), ``id_region`` (the first 6 digits of every citizen form), ``id_tail`` (the
    last 4 characters of the 18-character forms: all a masked number shows besides region and
    year; for a legacy number those of its upgrade).

    Example: ``person_ids(pl.Series(["3423011964****3224"]))`` gives one row with
    ``id_class='citizen_id_masked'``, ``id_birth_year=1964``, ``id_sex='F'`` (2 is even),
    ``id_region='342301'``, ``id_tail='3224'`` and null ``id_citizen`` and ``id_birth_date``.
    """
    n = _normalise(s)
    shape18 = n.str.contains(_RIC18).fill_null(False)
    born18 = _real_dates(pl.select(pl.when(shape18).then(n.str.slice(6, 8))).to_series())
    dated18 = shape18 & born18.is_not_null()
    valid = _check_ok(ric_check_chars(_matrix(n, dated18, 0, 17)), n, dated18, 17)
    masked = n.str.contains(_RIC_MASKED).fill_null(False)
    digits15 = n.str.contains(_DIGITS15).fill_null(False)
    born15 = _real_dates(
        pl.select(pl.when(digits15).then(pl.lit("19") + n.str.slice(6, 6))).to_series()
    )
    legacy = digits15 & born15.is_not_null()
    passport = n.str.contains(_PASSPORT).fill_null(False)

    upgraded_body = pl.select(
        pl.when(legacy).then(n.str.slice(0, 6) + pl.lit("19") + n.str.slice(6, 9))
    ).to_series()
    upgraded_check = pl.Series(
        ric_check_chars(_matrix(upgraded_body, legacy, 0, 17)), dtype=pl.String
    )
    frame = pl.DataFrame(
        {
            "id_norm": n,
            "valid": valid,
            "dated18": dated18,
            "masked": masked,
            "legacy": legacy,
            "passport": passport,
            "born": pl.select(pl.coalesce(born18, born15)).to_series(),
            "upgraded": upgraded_body + upgraded_check,
        }
    )
    norm = pl.col("id_norm")
    cls = (
        pl.when(norm.is_null())
        .then(pl.lit("missing"))
        .when("valid")
        .then(pl.lit("citizen_id"))
        .when("dated18")
        .then(pl.lit("citizen_id_bad_check"))
        .when("legacy")
        .then(pl.lit("citizen_id_legacy15"))
        .when("masked")
        .then(pl.lit("citizen_id_masked"))
        .when("passport")
        .then(pl.lit("passport"))
        .otherwise(pl.lit("malformed"))
    )
    form18 = pl.col("dated18") | pl.col("masked")
    citizen = form18 | pl.col("legacy")
    sex_digit = (
        pl.when(form18)
        .then(norm.str.slice(16, 1))
        .when("legacy")
        .then(norm.str.slice(14, 1))
        .cast(pl.Int8)
    )
    return frame.select(
        norm,
        cls.alias("id_class"),
        pl.when("valid").then(norm).when("legacy").then(pl.col("upgraded")).alias("id_citizen"),
        pl.when(pl.col("dated18") | pl.col("legacy")).then(pl.col("born")).alias("id_birth_date"),
        pl.when(form18)
        .then(norm.str.slice(6, 4).cast(pl.Int16, strict=False))
        .when("legacy")
        .then(pl.col("born").dt.year().cast(pl.Int16))
        .alias("id_birth_year"),
        pl.when(sex_digit % 2 == 1)
        .then(pl.lit("M"))
        .when(sex_digit % 2 == 0)
        .then(pl.lit("F"))
        .alias("id_sex"),
        pl.when(citizen).then(norm.str.slice(0, 6)).alias("id_region"),
        pl.when(form18)
        .then(norm.str.slice(14, 4))
        .when("legacy")
        .then(pl.col("upgraded").str.slice(14, 4))
        .alias("id_tail"),
    )


def organisation_ids(s: pl.Series, *, prefer: Fifteen = "legacy_tax_no") -> pl.DataFrame:
    """Classify organisation identifiers and take out their parts.

    Columns: ``id_norm``, ``id_class`` (see the module doc; ``prefer`` settles a 15-digit value
    that is both a valid registration number and a valid tax number), ``id_uscc`` (for
    ``uscc``), ``id_org_code`` (the 9-character organisation code without hyphen: positions
    9-17 of a USCC, the code itself, or positions 7-15 of a tax number; also for a bad-check
    USCC whose embedded code passes its own check, i.e. the typing error lies elsewhere in
    most cases), ``id_region`` (positions 3-8 of a USCC, valid or bad-check; positions 1-6 of a
    registration or tax number), ``id_entity_type`` (positions 1-2 of a USCC, valid or
    bad-check: ``91`` enterprise, ``92`` individual business …).

    Example: ``organisation_ids(pl.Series(["110105600037341"]))`` gives ``id_class=
    'legacy_tax_no'``, ``id_org_code='600037341'``, ``id_region='110105'``.
    """
    if prefer not in ("legacy_tax_no", "legacy_registration_no"):
        raise ValueError(f"prefer must be 'legacy_tax_no' or 'legacy_registration_no': {prefer!r}")
    n = _normalise(s)
    uscc_shape = n.str.contains(_USCC_SHAPE).fill_null(False)
    outer = _check_ok(uscc_check_chars(_matrix(n, uscc_shape, 0, 17)), n, uscc_shape, 17)
    inner = _check_ok(org_code_check_chars(_matrix(n, uscc_shape, 8, 8)), n, uscc_shape, 16)
    org_shape = n.str.contains(_ORG_SHAPE).fill_null(False)
    org_ok = _check_ok(org_code_check_chars(_matrix(n, org_shape, 0, 8)), n, org_shape, 8)
    digits15 = n.str.contains(_DIGITS15).fill_null(False)
    reg_ok = _check_ok(mod_11_10_check_digits(_matrix(n, digits15, 0, 14)), n, digits15, 14)
    tax_shape = n.str.contains(_TAX_SHAPE).fill_null(False)
    tax_ok = _check_ok(org_code_check_chars(_matrix(n, tax_shape, 6, 8)), n, tax_shape, 14)
    frame = pl.DataFrame(
        {
            "id_norm": n,
            "uscc_shape": uscc_shape,
            "uscc_ok": outer & inner,
            "inner": inner,
            "org_shape": org_shape,
            "org_ok": org_ok,
            "reg_ok": reg_ok,
            "tax_ok": tax_ok,
        }
    )
    first, second = ("tax_ok", "reg_ok") if prefer == "legacy_tax_no" else ("reg_ok", "tax_ok")
    fifteen = {"tax_ok": "legacy_tax_no", "reg_ok": "legacy_registration_no"}
    norm = pl.col("id_norm")
    cls = (
        pl.when(norm.is_null())
        .then(pl.lit("missing"))
        .when("uscc_ok")
        .then(pl.lit("uscc"))
        .when("uscc_shape")
        .then(pl.lit("uscc_bad_check"))
        .when("org_ok")
        .then(pl.lit("organisation_code"))
        .when("org_shape")
        .then(pl.lit("organisation_code_bad_check"))
        .when(first)
        .then(pl.lit(fifteen[first]))
        .when(second)
        .then(pl.lit(fifteen[second]))
        .otherwise(pl.lit("malformed"))
        .alias("id_class")
    )
    return frame.with_columns(cls).select(
        norm,
        "id_class",
        pl.when(pl.col("id_class") == "uscc").then(norm).alias("id_uscc"),
        pl.when(pl.col("uscc_shape") & pl.col("inner"))
        .then(norm.str.slice(8, 9))
        .when(pl.col("id_class") == "organisation_code")
        .then(norm)
        .when(pl.col("id_class") == "legacy_tax_no")
        .then(norm.str.slice(6, 9))
        .alias("id_org_code"),
        pl.when("uscc_shape")
        .then(norm.str.slice(2, 6))
        .when(pl.col("id_class").is_in(["legacy_registration_no", "legacy_tax_no"]))
        .then(norm.str.slice(0, 6))
        .alias("id_region"),
        pl.when("uscc_shape").then(norm.str.slice(0, 2)).alias("id_entity_type"),
    )
