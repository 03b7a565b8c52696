"""Check-character maths for Chinese identifiers, shared by the world generator and ingestion.

Pure, vectorised functions: no I/O, no randomness. The array functions take a sequence or numpy
array of ``str`` (or, to skip a conversion, a 2-D ``uint8`` matrix of ASCII codes, one row per
code) and return a numpy ``str`` array with one check character per input.

Codes covered (structures in ``/work/shared/DOMAIN.md``, "Identifiers"):

- citizen identity number (RIC, GB 11643-1999): 17 digits + check character ``0-9`` or ``X``;
- unified social credit code (USCC, GB 32100-2015): 17 characters + check character, all from
  :data:`USCC_CHARSET`; positions 9-17 embed an organisation code with its own check;
- organisation code (GB 11714-1997): 8 body characters + check character ``0-9`` or ``X``;
- ISO 7064 MOD 11,10 check digits, used by the pre-2015 15-digit business registration number
  and (an *unconfirmed* simulation choice, see :func:`is_valid_food_licence`) by food business
  licence numbers.

The array functions raise :class:`ValueError` on a malformed body (wrong length, character out of
the alphabet) unless called with ``on_error="blank"``, which gives ``""`` for those rows instead,
so that a whole column of dirty input can be checked in one call.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Literal, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "ORG_CODE_CHECK_CHARS",
    "ORG_CODE_WEIGHTS",
    "RIC_CHECK_CHARS",
    "RIC_WEIGHTS",
    "USCC_CHARSET",
    "USCC_WEIGHTS",
    "from_char_matrix",
    "is_valid_food_licence",
    "is_valid_org_code",
    "is_valid_registration_number",
    "is_valid_ric",
    "is_valid_uscc",
    "mod_11_10_check_digits",
    "org_code_check_chars",
    "ric_check_chars",
    "to_char_matrix",
    "uscc_check_chars",
]

OnError = Literal["raise", "blank"]

#: GB 11643 weights for the 17 body digits: 2^(17-i) mod 11.
RIC_WEIGHTS: tuple[int, ...] = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
#: Check character indexed by (weighted sum mod 11).
RIC_CHECK_CHARS = "10X98765432"
#: GB 32100 alphabet (no I, O, Z, S, V); a character's value is its index.
USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
#: GB 32100 weights for the 17 body characters: 3^(i-1) mod 31.
USCC_WEIGHTS: tuple[int, ...] = tuple(pow(3, i, 31) for i in range(17))
#: GB 11714 weights for the 8 body characters of an organisation code.
ORG_CODE_WEIGHTS: tuple[int, ...] = (3, 7, 9, 10, 5, 8, 4, 2)
#: Organisation-code check character indexed by c = 11 - (weighted sum mod 11), c in 1..11.
ORG_CODE_CHECK_CHARS = "?123456789X0"

_RIC_W = np.array(RIC_WEIGHTS, dtype=np.int32)
_USCC_W = np.array(USCC_WEIGHTS, dtype=np.int32)
_ORG_W = np.array(ORG_CODE_WEIGHTS, dtype=np.int32)
_RIC_CHECK = np.array(list(RIC_CHECK_CHARS))
_USCC_CHARS = np.array(list(USCC_CHARSET))
_ORG_CHECK = np.array(list(ORG_CODE_CHECK_CHARS))
_DIGIT_CHARS = np.array(list("0123456789"))

# ASCII byte -> character value, -1 outside the alphabet.
_USCC_VALUE = np.full(256, -1, dtype=np.int16)
for _i, _c in enumerate(USCC_CHARSET):
    _USCC_VALUE[ord(_c)] = _i
_ORG_VALUE = np.full(256, -1, dtype=np.int16)
for _i, _c in enumerate("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"):
    _ORG_VALUE[ord(_c)] = _i


# --------------------------------------------------------------------------------------------
# str array <-> ASCII matrix


def _as_str_array(a: NDArray[np.generic]) -> NDArray[np.str_]:
    """A 1-D ``str`` array; in an object array a non-``str`` (None, a number) becomes ``""``."""
    a = a.reshape(-1)
    if a.dtype.kind == "U":
        return cast("NDArray[np.str_]", a)
    if a.dtype.kind == "O":
        # Dirty input from a database column: a non-string is not a code.
        return np.array([v if isinstance(v, str) else "" for v in a], dtype=np.str_)
    if a.size == 0:
        return np.zeros(0, dtype="U1")
    raise TypeError(f"expected strings, got an array of dtype {a.dtype}")


def _char_matrix(values: ArrayLike, width: int) -> tuple[NDArray[np.uint8], NDArray[np.bool_]]:
    """ASCII matrix (n, width) of the codes and a mask of the rows that had exactly that length."""
    a = np.asarray(values)
    if a.dtype == np.uint8 and a.ndim == 2:
        if a.shape[1] != width:
            raise ValueError(f"expected a matrix of width {width}, got {a.shape[1]}")
        return a, np.ones(a.shape[0], dtype=np.bool_)
    a = np.ascontiguousarray(_as_str_array(a))
    n, w = a.shape[0], a.dtype.itemsize // 4
    cp = a.view(np.uint32).reshape(n, w)
    if w < width:
        cp = np.hstack([cp, np.zeros((n, width - w), dtype=np.uint32)])
    # Code points 1..127 only (a 0 pads a shorter string; uint32 wraps 0 - 1 round to the top).
    ok = np.ones(n, dtype=np.bool_)
    _drop_rows(ok, (cp[:, :width] - np.uint32(1)) >= 127)
    if w > width:
        ok &= ~cp[:, width:].any(axis=1)
    mat = cp[:, :width].astype(np.uint8)
    mat[~ok] = 0
    return mat, ok


def to_char_matrix(values: ArrayLike, width: int) -> NDArray[np.uint8]:
    """Codes of exactly ``width`` ASCII characters as an (n, width) ``uint8`` matrix.

    Raises ValueError if any code has another length or a non-ASCII character.

    Example: ``to_char_matrix(["A1", "B2"], 2) -> array([[65, 49], [66, 50]], dtype=uint8)``.
    """
    mat, ok = _char_matrix(values, width)
    if not ok.all():
        bad = np.asarray(values).reshape(-1)[int(np.argmin(ok))]
        raise ValueError(f"expected {width} ASCII characters, got {str(bad)!r}")
    return mat


def from_char_matrix(mat: NDArray[np.integer]) -> NDArray[np.str_]:
    """An (n, w) matrix of character codes as a 1-D ``str`` array (a 0 code ends a string early).

    Example: ``from_char_matrix(np.array([[65, 49], [66, 0]])) -> array(['A1', 'B'], dtype='<U2')``.
    """
    m = np.ascontiguousarray(mat, dtype=np.uint32)
    if m.ndim != 2:
        raise ValueError("expected a 2-D matrix")
    w = max(m.shape[1], 1)
    if m.shape[1] == 0:
        m = np.zeros((m.shape[0], 1), dtype=np.uint32)
    return m.view(np.dtype(f"U{w}")).reshape(-1)


def _drop_rows(ok: NDArray[np.bool_], bad: NDArray[np.bool_]) -> None:
    """Clear ``ok`` for rows with a bad cell (the per-row pass only runs when there is one)."""
    if bad.any():
        ok &= ~bad.any(axis=1)


def _finish(
    chars: NDArray[np.str_], ok: NDArray[np.bool_], values: ArrayLike, what: str, on_error: OnError
) -> NDArray[np.str_]:
    """Blank the malformed rows, or raise on the first of them."""
    if ok.all():
        return chars
    if on_error == "raise":
        a = np.asarray(values)
        row = int(np.argmin(ok))
        bad = bytes(a[row]).decode("latin-1") if a.dtype == np.uint8 else str(a.reshape(-1)[row])
        raise ValueError(f"malformed {what}: {bad!r}")
    return np.where(ok, chars, "")


# --------------------------------------------------------------------------------------------
# Check characters, vectorised


def ric_check_chars(
    bodies: ArrayLike | Sequence[str], *, on_error: OnError = "raise"
) -> NDArray[np.str_]:
    """GB 11643 check character of each 17-digit citizen-ID body.

    Example: ``ric_check_chars(["11010519491231002"]) -> array(['X'], dtype='<U1')``.
    """
    mat, ok = _char_matrix(bodies, 17)
    vals = mat - np.uint8(ord("0"))  # a non-digit wraps round to > 9
    _drop_rows(ok, vals > 9)
    total = vals.astype(np.int32) @ _RIC_W
    return _finish(_RIC_CHECK[total % 11], ok, bodies, "citizen-ID body", on_error)


def uscc_check_chars(
    bodies: ArrayLike | Sequence[str], *, on_error: OnError = "raise"
) -> NDArray[np.str_]:
    """GB 32100 check character of each 17-character USCC body (outer check only).

    Example: ``uscc_check_chars(["91110000600037341"]) -> array(['L'], dtype='<U1')``.
    """
    mat, ok = _char_matrix(bodies, 17)
    vals = _USCC_VALUE[mat]
    _drop_rows(ok, vals < 0)
    total = vals.astype(np.int32) @ _USCC_W
    return _finish(_USCC_CHARS[(31 - total % 31) % 31], ok, bodies, "USCC body", on_error)


def org_code_check_chars(
    bodies: ArrayLike | Sequence[str], *, on_error: OnError = "raise"
) -> NDArray[np.str_]:
    """GB 11714 check character of each 8-character organisation-code body.

    Digits count as themselves and letters as A=10 ... Z=35; c = 11 - (sum mod 11), written as
    ``X`` for 10 and ``0`` for 11.

    Example: ``org_code_check_chars(["60003734"]) -> array(['1'], dtype='<U1')``.
    """
    mat, ok = _char_matrix(bodies, 8)
    vals = _ORG_VALUE[mat]
    _drop_rows(ok, vals < 0)
    total = vals.astype(np.int32) @ _ORG_W
    return _finish(_ORG_CHECK[11 - total % 11], ok, bodies, "organisation-code body", on_error)


def mod_11_10_check_digits(
    bodies: ArrayLike | Sequence[str], *, on_error: OnError = "raise"
) -> NDArray[np.str_]:
    """ISO 7064 MOD 11,10 check digit of each all-digit body (all bodies of one length).

    The width is taken from the input (a ``str`` array's item size or a matrix's columns).

    Example: ``mod_11_10_check_digits(["79462"]) -> array(['3'], dtype='<U1')``.
    """
    a = np.asarray(bodies)
    if a.dtype == np.uint8 and a.ndim == 2:
        width = a.shape[1]
    else:
        a = _as_str_array(a)
        width = int(np.strings.str_len(a).max()) if a.size else 0
    mat, ok = _char_matrix(a, width)
    vals = mat - np.uint8(ord("0"))
    _drop_rows(ok, vals > 9)
    check = np.full(mat.shape[0], 5, dtype=np.int32)
    for j in range(width):  # one pass per digit position, vectorised over the codes
        check = ((np.where(check == 0, 10, check) * 2) % 11 + vals[:, j]) % 10
    digit = (1 - (np.where(check == 0, 10, check) * 2) % 11) % 10
    return _finish(_DIGIT_CHARS[digit], ok, bodies, "digit body", on_error)


# --------------------------------------------------------------------------------------------
# Scalar validators


def is_valid_ric(s: str) -> bool:
    """True if ``s`` is an 18-character citizen ID with a real birth date and the right check.

    The check character must be an upper-case ``X`` (normalise before calling). Unlike
    ``stdnum.cn.ric`` the division code is not looked up in a table.

    Example: ``is_valid_ric("11010519491231002X") -> True``.
    """
    if not isinstance(s, str) or len(s) != 18 or not (s[:17].isascii() and s[:17].isdigit()):
        return False
    try:
        datetime.date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
    except ValueError:
        return False
    return bool(ric_check_chars([s[:17]])[0] == s[17])


def is_valid_org_code(s: str) -> bool:
    """True if ``s`` is a GB 11714 organisation code, as ``XXXXXXXX-X`` or 9 characters.

    Body characters are digits or upper-case letters.

    Example: ``is_valid_org_code("60003734-1") -> True``.
    """
    if not isinstance(s, str):
        return False
    if len(s) == 10 and s[8] == "-":
        s = s[:8] + s[9]
    if len(s) != 9:
        return False
    check = org_code_check_chars([s[:8]], on_error="blank")[0]
    return bool(check != "" and check == s[8])


def is_valid_uscc(s: str) -> bool:
    """True if ``s`` is a valid 18-character USCC, checking both the outer and the inner check.

    Requires every character in :data:`USCC_CHARSET`, digits in the division code (positions
    3-8), the right outer check character (position 18) and a valid organisation code at
    positions 9-17. ``stdnum.cn.uscc`` checks only the outer one.

    Example: ``is_valid_uscc("91110000600037341L") -> True`` (organisation code 60003734-1).
    """
    if not isinstance(s, str) or len(s) != 18 or not (s[2:8].isascii() and s[2:8].isdigit()):
        return False
    check = uscc_check_chars([s[:17]], on_error="blank")[0]
    return bool(check != "" and check == s[17] and is_valid_org_code(s[8:17]))


def is_valid_registration_number(s: str) -> bool:
    """True if ``s`` is a pre-2015 15-digit business registration number (MOD 11,10 check).

    Example: ``is_valid_registration_number("110105000000012") -> True``.
    """
    if not isinstance(s, str) or len(s) != 15 or not (s.isascii() and s.isdigit()):
        return False
    return bool(mod_11_10_check_digits([s[:14]])[0] == s[14])


def is_valid_food_licence(s: str) -> bool:
    """True if ``s`` is ``JY`` + 14 digits whose last digit is the MOD 11,10 check of the 13 before.

    The layout (business type 1, province 2, city 2, county 2, sequence 6, check 1) is the
    published one; the check algorithm is not published, and ISO 7064 MOD 11,10 is an
    *unconfirmed simulation choice* of this project (the one ``world.codes`` generates).

    Example: ``is_valid_food_licence("JY13401020000013") -> True``.
    """
    if not isinstance(s, str) or len(s) != 16 or not s.startswith("JY"):
        return False
    digits = s[2:]
    if not (digits.isascii() and digits.isdigit()):
        return False
    return bool(mod_11_10_check_digits([digits[:13]])[0] == digits[13])
