"""How a name is written: in traditional characters, or romanised in pinyin.

:func:`to_traditional` converts with OpenCC (``s2t``), once per distinct value, and keeps a
surname that both scripts write alike (余华 -> 余華, not 餘華). :func:`to_pinyin` romanises in
three styles: 'airline' as on boarding passes ('ZHANG/WEI'), 'western' ('Wei Zhang') and
'plain' ('Zhang Wei'), with surname readings (曾 Zeng, 单 Shan, from
:mod:`etl.reference.pinyin`) and ü written ``yu`` as in passports (吕 Lyu).

Example:
    >>> to_pinyin(np.array(["张伟", "欧阳娜娜"]), "airline").tolist()
    ['ZHANG/WEI', 'OUYANG/NANA']
    >>> to_traditional(np.array(["刘晓东"])).tolist()
    ['劉曉東']
"""

from __future__ import annotations

from functools import cache
from typing import Literal

import numpy as np
import numpy.typing as npt
import opencc
import polars as pl

from credlink.etl.reference.pinyin import surname_pinyin, syllables
from credlink.world.names.persons import split_series
from credlink.world.places import StrArray, _concat, _where, to_str_array

PinyinStyle = Literal["airline", "western", "plain"]

__all__ = ["PinyinStyle", "to_pinyin", "to_traditional"]

#: Surnames that keep their simplified form in traditional script (OpenCC maps 余 -> 餘 …).
_TRADITIONAL_KEEP = frozenset("于余范岳郁游涂干朴党")
_HAN_ONLY = r"^\p{Han}+$"


@cache
def _s2t() -> opencc.OpenCC:
    return opencc.OpenCC("s2t")


def to_traditional(names: npt.ArrayLike) -> StrArray:
    """Names in traditional characters (OpenCC ``s2t``, applied once per distinct value).

    A person-like name (2-4 Chinese characters) keeps a surname that is written the same in
    both scripts although OpenCC converts the character elsewhere (余华 -> 余華, not 餘華).

    >>> to_traditional(np.array(["张伟", "余华", "刘晓东"])).tolist()
    ['張偉', '余華', '劉曉東']
    """
    arr = np.asarray(names, dtype=str).reshape(-1)
    uniq, inv = np.unique(arr, return_inverse=True)
    cc = _s2t()
    out = []
    for name in uniq.tolist():
        conv = cc.convert(name)
        if 2 <= len(name) <= 4 and name[0] in _TRADITIONAL_KEEP:
            conv = name[0] + conv[1:]
        out.append(conv)
    return np.array(out, dtype=str)[inv.reshape(-1)] if out else arr.copy()


def to_pinyin(names: npt.ArrayLike, style: PinyinStyle = "plain") -> StrArray:
    """Names romanised: 'airline' ('ZHANG/WEI', 'OUYANG/NANA' as on boarding passes),
    'western' ('Wei Zhang'), 'plain' ('Zhang Wei').

    Surnames use their surname reading (曾 Zeng, 单 Shan) and ü is written ``yu`` as in
    passports (吕 Lyu). Values that are not all Chinese characters (foreign names) are returned
    unchanged, upper-cased for 'airline'.

    >>> to_pinyin(np.array(["张伟", "曾小贤", "吕布"]), "western").tolist()
    ['Wei Zhang', 'Xiaoxian Zeng', 'Bu Lyu']
    """
    if style not in ("airline", "western", "plain"):
        raise ValueError(f"unknown pinyin style {style!r}")
    s = pl.Series(np.asarray(names, dtype=str).reshape(-1))
    han = s.str.contains(_HAN_ONLY)
    surname, given = split_series(s)
    sur_map = {x: surname_pinyin(x) for x in surname.unique().to_list()}
    giv_map = {x: "".join(syllables(x)) for x in given.unique().to_list()}
    sur = surname.replace_strict(sur_map, return_dtype=pl.String)
    giv = given.replace_strict(giv_map, return_dtype=pl.String)
    has_given = given.str.len_chars() > 0
    if style == "airline":
        sur_u, giv_u = sur.str.to_uppercase(), giv.str.to_uppercase()
        roman = _where(has_given.to_numpy(), _concat(sur_u, "/", giv_u), sur_u)
        foreign = s.str.to_uppercase()
    else:
        sur_t, giv_t = _capitalize(sur), _capitalize(giv)
        pair = (giv_t, " ", sur_t) if style == "western" else (sur_t, " ", giv_t)
        roman = _where(has_given.to_numpy(), _concat(*pair), sur_t)
        foreign = s
    return to_str_array(_where(han.to_numpy(), roman, foreign))


def _capitalize(s: pl.Series) -> pl.Series:
    return _concat(s.str.slice(0, 1).str.to_uppercase(), s.str.slice(1))
