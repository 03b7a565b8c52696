"""Vectorised generation and corruption of identifiers for the synthetic world.

Every function works on 1-D numpy arrays (scalars broadcast) and returns numpy ``str`` arrays;
the ones that need randomness take a ``np.random.Generator`` first, so a seed fixes the output.
The check-character maths lives in :mod:`etl.identifiers`, shared with ingestion.

Structures (see ``/work/shared/DOMAIN.md``, "Identifiers"):

- **Citizen identity number** (GB 11643-1999), 18 characters: 6-digit division code, birth date
  ``YYYYMMDD``, 3-digit sequence (odd for men, even for women), check character ``0-9``/``X``.
  Court lists mask the birth month and day (``3423011964****3224``). The **legacy 15-digit
  form** (before 1999) has a 2-digit year and no check character.
- **Organisation code** (GB 11714-1997), 9 characters: 8 body characters + check character
  (``0-9``/``X``), usually written ``XXXXXXXX-X``. Bodies here are 8 digits, or optionally the
  ``MA`` + 6 characters form seen inside USCCs issued since the 2015 reform.
- **USCC** (GB 32100-2015), 18 characters: authority and entity type (e.g. ``91`` enterprise,
  ``92`` individual business, ``93`` farmers' co-op, ``51``-``53`` civil-affairs bodies, ``12``
  public institution), 6-digit division code, the 9-character organisation code, check character.
- **Business registration number** (before 2015), 15 digits: 6-digit division code of the
  registering authority, 8-digit sequence, ISO 7064 MOD 11,10 check digit.
- **Tax registration number** (before 2015), typically 15 characters: 6-digit division code +
  the 9-character organisation code.
- **Food business licence number**: ``JY`` + 14 digits: business type (1 food sales, 2 catering,
  3 unit canteen), province 2, city 2, county 2, sequence 6, check 1. The check algorithm is not
  published: **ISO 7064 MOD 11,10 over the 13 digits is an unconfirmed simulation choice**, and
  :func:`etl.identifiers.is_valid_food_licence` validates the same choice.
- **Foreign passport numbers**: plausible national formats (see :data:`PASSPORT_FORMATS`); these
  people have no citizen identity number.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from credlink.etl.identifiers import (
    USCC_CHARSET,
    from_char_matrix,
    mod_11_10_check_digits,
    org_code_check_chars,
    ric_check_chars,
    to_char_matrix,
    uscc_check_chars,
)

__all__ = [
    "DIGITS",
    "PASSPORT_FORMATS",
    "PassportFormat",
    "citizen_ids",
    "food_licence_numbers",
    "format_org_codes",
    "legacy_citizen_ids",
    "legacy_registration_numbers",
    "legacy_tax_numbers",
    "mask_citizen_ids",
    "mistype_ids",
    "org_codes",
    "passport_numbers",
    "usccs",
]

DIGITS = "0123456789"
_ZERO = ord("0")
_DIGIT_PAIRS = np.array(
    [[_ZERO + i // 10, _ZERO + i % 10] for i in range(100)], dtype=np.uint8
).view(np.uint16)[:, 0]
CheckFunction = Callable[..., NDArray[np.str_]]


@dataclass(frozen=True)
class PassportFormat:
    """One nationality's passport-number format.

    ``prefixes``: one is drawn uniformly per number (all of one length); ``pattern``: one class
    per further position: ``D`` digit, ``N`` non-zero digit, ``L`` letter A-Z, ``G`` a character
    of the German serial alphabet ``0-9CFGHJKLMNPRTVWXYZ``.
    """

    nationality: str  # ISO 3166-1 alpha-3
    weight: float
    prefixes: tuple[str, ...]
    pattern: str
    example: str


#: Passport formats and their mix. The weights are a simulation choice loosely shaped after the
#: largest groups of foreign residents and visitors in China, not published statistics.
PASSPORT_FORMATS: tuple[PassportFormat, ...] = (
    PassportFormat("KOR", 0.20, ("M",), "DDDDDDDD", "M12345678"),
    PassportFormat("USA", 0.15, ("",), "NDDDDDDDD", "561234567"),
    PassportFormat("JPN", 0.13, ("TK", "TR", "TZ", "MU", "MZ"), "DDDDDDD", "TK1234567"),
    PassportFormat("RUS", 0.10, ("",), "NDDDDDDDD", "721234567"),
    PassportFormat("VNM", 0.10, ("B", "C"), "DDDDDDD", "C1234567"),
    PassportFormat("DEU", 0.07, ("C", "F", "G", "H", "J", "K"), "GGGGGGGG", "C01X00T47"),
    PassportFormat("GBR", 0.07, ("",), "NDDDDDDDD", "531234567"),
    PassportFormat("FRA", 0.06, ("",), "DDLLDDDDD", "05RH12345"),
    PassportFormat("CAN", 0.06, ("",), "LLDDDDDD", "AB123456"),
    PassportFormat("IND", 0.06, ("",), "LNDDDDDD", "J8369854"),
)

_PATTERN_ALPHABETS = {
    "D": DIGITS,
    "N": DIGITS[1:],
    "L": "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "G": "0123456789CFGHJKLMNPRTVWXYZ",
}


# --------------------------------------------------------------------------------------------
# helpers: everything is built as (n, width) ASCII matrices and turned into strings once


def _ascii(chars: str) -> NDArray[np.uint8]:
    return np.frombuffer(chars.encode("ascii"), dtype=np.uint8)


def _digit_matrix(values: ArrayLike, width: int, name: str) -> NDArray[np.uint8]:
    """Integers in [0, 10**width) or strings of ``width`` digits as an ASCII matrix."""
    a = np.atleast_1d(np.asarray(values)).reshape(-1)
    if a.dtype.kind in "iu":
        v = a.astype(np.int64)
        if ((v < 0) | (v >= 10**width)).any():
            raise ValueError(f"{name}: values must lie in [0, {10**width})")
        # Two digits at a time through a 100-entry table of ASCII pairs (one uint16 each).
        n_pairs = (width + 1) // 2
        out = np.empty((a.size, n_pairs), dtype=np.uint16)
        for k in range(n_pairs - 1, -1, -1):
            v, rest = np.divmod(v, 100)
            out[:, k] = _DIGIT_PAIRS[rest]
        return out.view(np.uint8)[:, 2 * n_pairs - width :]
    mat = to_char_matrix(a, width)
    if ((mat < _ZERO) | (mat > _ZERO + 9)).any():
        raise ValueError(f"{name}: expected strings of {width} digits")
    return mat


def _date_matrix(dates: ArrayLike) -> NDArray[np.uint8]:
    """Dates (datetime64, datetime.date, ISO strings) as ``YYYYMMDD`` ASCII matrix."""
    d = np.atleast_1d(np.asarray(dates, dtype="datetime64[D]")).reshape(-1)
    if np.isnat(d).any():
        raise ValueError("birth_dates: missing date")
    month_start = d.astype("datetime64[M]")
    year = d.astype("datetime64[Y]").astype(np.int64) + 1970
    month = month_start.astype(np.int64) % 12 + 1
    day = (d - month_start).astype(np.int64) + 1
    if ((year < 1000) | (year > 9999)).any():
        raise ValueError("birth_dates: year outside 1000-9999")
    return _digit_matrix(year * 10000 + month * 100 + day, 8, "birth_dates")


def _hstack(*parts: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Concatenate column blocks, broadcasting single-row blocks to the common row count."""
    n = int(np.broadcast_shapes(*[(p.shape[0],) for p in parts])[0])
    return np.hstack([np.broadcast_to(p, (n, p.shape[1])) for p in parts])


def _with_check(body: NDArray[np.uint8], check: NDArray[np.str_]) -> NDArray[np.str_]:
    codes = np.asarray(check, dtype="U1").view(np.uint32).astype(np.uint8)
    return from_char_matrix(np.hstack([body, codes[:, None]]))


def _org_code_matrix(codes: ArrayLike) -> NDArray[np.uint8]:
    """9-character organisation codes, accepting the ``XXXXXXXX-X`` form too."""
    a = np.atleast_1d(np.asarray(codes)).reshape(-1)
    if a.dtype.kind == "U" and a.dtype.itemsize // 4 > 9:
        a = np.strings.replace(a, "-", "")
    return to_char_matrix(a, 9)


def _unique_ints(rng: np.random.Generator, high: int, size: int) -> NDArray[np.int64]:
    """``size`` distinct integers drawn uniformly from [0, high), in random order."""
    if size > high // 2:
        raise ValueError(f"cannot draw {size} distinct codes from {high} values")
    v = rng.integers(0, high, size=size, dtype=np.int64)
    while True:  # redraw the repeats; converges in a few rounds while size << high
        _, first = np.unique(v, return_index=True)
        repeat = np.ones(size, dtype=np.bool_)
        repeat[first] = False
        if not repeat.any():
            return v
        v[repeat] = rng.integers(0, high, size=int(repeat.sum()), dtype=np.int64)


# --------------------------------------------------------------------------------------------
# citizen identity numbers


def citizen_ids(
    region_codes: ArrayLike, birth_dates: ArrayLike, seqs: ArrayLike
) -> NDArray[np.str_]:
    """18-character citizen identity numbers with their GB 11643 check character.

    ``region_codes``: 6-digit division codes (str or int); ``birth_dates``: anything numpy turns
    into ``datetime64[D]`` (datetime64, ``datetime.date``, ``"1949-12-31"``); ``seqs``: integers
    0-999, odd for men and even for women (the caller's job). Scalars broadcast.

    Example: ``citizen_ids(["110105"], ["1949-12-31"], [2]) -> array(['11010519491231002X'])``.
    """
    body = _hstack(
        _digit_matrix(region_codes, 6, "region_codes"),
        _date_matrix(birth_dates),
        _digit_matrix(seqs, 3, "seqs"),
    )
    return _with_check(body, ric_check_chars(body))


def legacy_citizen_ids(ids18: ArrayLike) -> NDArray[np.str_]:
    """The pre-1999 15-digit form: drop the century digits ``19`` and the check character.

    Only defined for people born 1900-1999 (the 15-digit numbers were issued before 1999 and
    imply the 1900s); raises ValueError for any other birth year.

    Example: ``legacy_citizen_ids(["11010519491231002X"]) -> array(['110105491231002'])``.
    """
    mat = to_char_matrix(np.atleast_1d(np.asarray(ids18)), 18)
    if not ((mat[:, 6] == ord("1")) & (mat[:, 7] == ord("9"))).all():
        raise ValueError("legacy 15-digit numbers exist only for people born 1900-1999")
    return from_char_matrix(np.hstack([mat[:, :6], mat[:, 8:17]]))


def mask_citizen_ids(ids18: ArrayLike) -> NDArray[np.str_]:
    """Court-list masking: the birth month and day become ``****``.

    Example: ``mask_citizen_ids(["342301196401013224"]) -> array(['3423011964****3224'])``.
    """
    mat = to_char_matrix(np.atleast_1d(np.asarray(ids18)), 18).copy()
    mat[:, 10:14] = ord("*")
    return from_char_matrix(mat)


def mistype_ids(
    rng: np.random.Generator,
    ids: ArrayLike,
    charset: str = DIGITS,
    *,
    check: CheckFunction = ric_check_chars,
    transposition_share: float = 0.2,
) -> tuple[NDArray[np.str_], NDArray[np.str_]]:
    """One typing error per code, always one that the check character catches.

    ``ids``: codes of one length whose last character is the check character of the rest, as
    computed by ``check`` (default: citizen IDs; pass e.g. ``uscc_check_chars`` with
    ``charset=USCC_CHARSET`` for USCCs). Each code gets, in its body (never the check character),
    either one character replaced by a different one from ``charset`` (kind ``substitution``) or
    two adjacent different characters swapped (kind ``transposition``, with probability
    ``transposition_share``). A candidate that still passes the check is drawn again, so every
    result fails it (and ``stdnum``'s equivalent). A code whose body has no two adjacent different
    characters falls back to a substitution.

    Returns ``(corrupted, kind)``.

    Example: ``mistype_ids(np.random.default_rng(0), ["11010519491231002X"])
    -> (array(['11010519291231002X']), array(['substitution']))``.
    """
    a = np.atleast_1d(np.asarray(ids)).reshape(-1)
    width = a.dtype.itemsize // 4 if a.dtype.kind == "U" else 0
    if a.size and width < 3:
        raise ValueError("expected codes of at least 3 characters")
    mat = to_char_matrix(a, width) if a.size else np.zeros((0, 0), dtype=np.uint8)
    alphabet = _ascii(charset)
    body_len = width - 1
    transpose = rng.random(a.size) < transposition_share
    out = mat.copy()
    pending = np.arange(a.size)
    for attempt in range(200):
        if pending.size == 0:
            break
        if attempt == 100:  # e.g. '1111...': nothing to swap
            transpose[pending] = False
        cand = mat[pending]
        trans = transpose[pending]
        sub = np.flatnonzero(~trans)
        pos = rng.integers(0, body_len, size=sub.size)
        cand[sub, pos] = alphabet[rng.integers(0, alphabet.size, size=sub.size)]
        swp = np.flatnonzero(trans)
        pos = rng.integers(0, body_len - 1, size=swp.size)
        left = cand[swp, pos]
        cand[swp, pos] = cand[swp, pos + 1]
        cand[swp, pos + 1] = left
        # A blank check ('' -> code 0) means the body is no longer well-formed: also a failure.
        expected = np.asarray(check(cand[:, :-1], on_error="blank"), dtype="U1").view(np.uint32)
        fails = expected != cand[:, -1]
        out[pending[fails]] = cand[fails]
        pending = pending[~fails]
    if pending.size:
        raise RuntimeError(f"could not corrupt {pending.size} codes so that their check fails")
    kind = np.where(transpose, "transposition", "substitution")
    return from_char_matrix(out), kind


# --------------------------------------------------------------------------------------------
# organisations


def org_codes(rng: np.random.Generator, n: int, *, ma_share: float = 0.0) -> NDArray[np.str_]:
    """``n`` distinct 9-character GB 11714 organisation codes with their check character.

    Bodies are 8 random digits; a share ``ma_share`` instead takes the form ``MA`` + 6
    characters of the USCC alphabet, as seen inside USCCs of entities registered since the
    2015 reform (which never held a separate organisation-code certificate). All codes use only
    USCC characters, so they embed in USCCs.

    Example: ``org_codes(np.random.default_rng(0), 2) -> array(['30782942X', '040973528'])``.
    """
    is_ma = rng.random(n) < ma_share
    n_ma = int(is_ma.sum())
    body = np.empty((n, 8), dtype=np.uint8)
    body[~is_ma] = _digit_matrix(_unique_ints(rng, 10**8, n - n_ma), 8, "org body")
    if n_ma:
        v = _unique_ints(rng, 31**6, n_ma)
        powers = 31 ** np.arange(5, -1, -1, dtype=np.int64)
        tail = _ascii(USCC_CHARSET)[(v[:, None] // powers) % 31]
        body[is_ma] = np.hstack([np.broadcast_to(_ascii("MA"), (n_ma, 2)), tail])
    return _with_check(body, org_code_check_chars(body))


def format_org_codes(codes: ArrayLike) -> NDArray[np.str_]:
    """9-character organisation codes in the written form ``XXXXXXXX-X``.

    Example: ``format_org_codes(["600037341"]) -> array(['60003734-1'])``.
    """
    mat = to_char_matrix(np.atleast_1d(np.asarray(codes)), 9)
    dash = np.full((mat.shape[0], 1), ord("-"), dtype=np.uint8)
    return from_char_matrix(np.hstack([mat[:, :8], dash, mat[:, 8:]]))


def usccs(prefixes: ArrayLike, region_codes: ArrayLike, org_codes: ArrayLike) -> NDArray[np.str_]:
    """18-character USCCs with their GB 32100 check character.

    ``prefixes``: 2-character authority + entity type (``"91"``, ``"92"``, ``"93"``, ``"51"``,
    ``"52"``, ``"53"``, ``"12"`` ...); ``region_codes``: 6-digit division codes;
    ``org_codes``: 9-character organisation codes (``XXXXXXXX-X`` accepted). Scalars broadcast.
    The organisation codes are embedded as given, not re-checked: a corrupt one makes a USCC
    that passes the outer check but fails :func:`etl.identifiers.is_valid_uscc`.

    Example: ``usccs(["91"], ["110000"], ["60003734-1"]) -> array(['91110000600037341L'])``.
    """
    body = _hstack(
        to_char_matrix(np.atleast_1d(np.asarray(prefixes)), 2),
        _digit_matrix(region_codes, 6, "region_codes"),
        _org_code_matrix(org_codes),
    )
    return _with_check(body, uscc_check_chars(body))


def legacy_registration_numbers(
    rng: np.random.Generator, region_codes: ArrayLike
) -> NDArray[np.str_]:
    """Pre-2015 15-digit business registration numbers, one per region code.

    6-digit division code + random 8-digit sequence + ISO 7064 MOD 11,10 check digit.

    Example: ``legacy_registration_numbers(np.random.default_rng(0), ["110105"])
    -> array(['110105850624229'])``.
    """
    region = _digit_matrix(region_codes, 6, "region_codes")
    seq = _digit_matrix(rng.integers(0, 10**8, size=region.shape[0]), 8, "sequence")
    body = np.hstack([region, seq])
    return _with_check(body, mod_11_10_check_digits(body))


def legacy_tax_numbers(region_codes: ArrayLike, org_codes: ArrayLike) -> NDArray[np.str_]:
    """Pre-2015 tax registration numbers: division code + 9-character organisation code.

    Example: ``legacy_tax_numbers(["110105"], ["60003734-1"]) -> array(['110105600037341'])``.
    """
    mat = _hstack(_digit_matrix(region_codes, 6, "region_codes"), _org_code_matrix(org_codes))
    return from_char_matrix(mat)


def food_licence_numbers(
    rng: np.random.Generator,
    business_type: ArrayLike,
    province2: ArrayLike,
    city2: ArrayLike,
    county2: ArrayLike,
    seq: ArrayLike | None = None,
) -> NDArray[np.str_]:
    """Food business licence numbers ``JY`` + 14 digits.

    Business type (1 food sales, 2 catering, 3 unit canteen), 2-digit province, city and county
    parts (the pairs of a 6-digit division code), a 6-digit sequence (drawn at random when
    ``seq`` is None) and a check digit: ISO 7064 MOD 11,10 over the 13 digits, an *unconfirmed
    simulation choice* (the real algorithm is not published). Scalars broadcast.

    Example: ``food_licence_numbers(rng, 1, "34", "01", "02", 1) -> array(['JY13401020000013'])``.
    """
    parts = [
        _digit_matrix(business_type, 1, "business_type"),
        _digit_matrix(province2, 2, "province2"),
        _digit_matrix(city2, 2, "city2"),
        _digit_matrix(county2, 2, "county2"),
    ]
    if seq is None:
        n = int(np.broadcast_shapes(*[(p.shape[0],) for p in parts])[0])
        seq = rng.integers(0, 10**6, size=n)
    body = _hstack(*parts, _digit_matrix(seq, 6, "seq"))
    jy = np.broadcast_to(_ascii("JY"), (body.shape[0], 2))
    return _with_check(np.hstack([jy, body]), mod_11_10_check_digits(body))


# --------------------------------------------------------------------------------------------
# foreigners


def passport_numbers(rng: np.random.Generator, n: int) -> tuple[NDArray[np.str_], NDArray[np.str_]]:
    """``n`` foreign passport numbers and their ISO 3166 alpha-3 nationality codes.

    Nationalities are drawn by the weights of :data:`PASSPORT_FORMATS` and each number follows
    its nation's format (8 or 9 characters). Numbers are not guaranteed distinct (but the spaces
    are large).

    Example: ``passport_numbers(np.random.default_rng(0), 2)
    -> (array(['C9765592', '300018695']), array(['VNM', 'USA']))``.
    """
    weights = np.array([f.weight for f in PASSPORT_FORMATS])
    which = rng.choice(len(PASSPORT_FORMATS), size=n, p=weights / weights.sum())
    mat = np.zeros((n, 9), dtype=np.uint8)
    for k, fmt in enumerate(PASSPORT_FORMATS):
        rows = np.flatnonzero(which == k)
        prefix_len = len(fmt.prefixes[0])
        if prefix_len:
            prefixes = np.array([list(_ascii(p)) for p in fmt.prefixes], dtype=np.uint8)
            mat[rows, :prefix_len] = prefixes[rng.integers(0, len(prefixes), size=rows.size)]
        for j, cls in enumerate(fmt.pattern, start=prefix_len):
            alphabet = _ascii(_PATTERN_ALPHABETS[cls])
            mat[rows, j] = alphabet[rng.integers(0, alphabet.size, size=rows.size)]
    nationality = np.array([f.nationality for f in PASSPORT_FORMATS])[which]
    return from_char_matrix(mat), nationality
