"""Typos in names: one character replaced by a homophone or by a look-alike.

:func:`name_typos` replaces one character of each name with a homophone (same toneless pinyin,
preferring common characters: those of the name pools and faker's common words in
:mod:`.pools`, then the 3,755 level-1 characters of GB 2312) or with a look-alike from
:data:`SIMILAR_CHARACTERS` (the groups of :mod:`etl.reference.lookalikes`, which the pipeline
forgives). The first character of a name of at most 4 characters is read as a surname (曾 is
Zeng). It works on code points, with the candidates looked up once per distinct character, and
serves person and organisation names alike.

Example:
    >>> typo, kind = name_typos(np.random.default_rng(1), np.array(["张伟", "王芳", "JOHN"]))
    >>> typo.tolist(), kind.tolist()
    (['张为', '网芳', 'JOHN'], ['homophone', 'homophone', ''])
"""

from __future__ import annotations

from functools import cache

import numpy as np
import numpy.typing as npt

from credlink.etl.reference.lookalikes import LOOKALIKE_GROUPS
from credlink.etl.reference.pinyin import SURNAME_READINGS, syllables
from credlink.world.names import pools
from credlink.world.places import IntArray, StrArray

__all__ = ["SIMILAR_CHARACTERS", "SIMILAR_SHARE", "name_typos"]

#: Groups of characters that look alike (the pipeline forgives exactly these as typos).
SIMILAR_CHARACTERS: tuple[str, ...] = LOOKALIKE_GROUPS
#: Chance that a name with a look-alike character gets a look-alike (not a homophone) typo.
SIMILAR_SHARE = 0.3
# Names per chunk of :func:`name_typos` (bounds the memory of its per-character arrays).
_TYPO_CHUNK = 200_000


@cache
def _gb2312_level1() -> list[str]:
    """The 3,755 most common characters (GB 2312 level 1, rows 16-55)."""
    out = []
    for hi in range(0xB0, 0xD8):
        for lo in range(0xA1, 0xFF):
            if hi == 0xD7 and lo > 0xF9:
                break
            out.append(bytes([hi, lo]).decode("gb2312"))
    return out


@cache
def _common_chars() -> list[str]:
    """Characters of the name pools and faker's common words (the first choice of homophones)."""
    text = "".join(pools.FAKER_SURNAMES) + "".join(pools.FAKER_MALE_NAMES)
    text += "".join(pools.FAKER_FEMALE_NAMES) + pools.MALE_FIRST + pools.MALE_SECOND
    text += pools.FEMALE_FIRST + pools.FEMALE_SECOND + "".join(pools.FAKER_WORDS)
    return [c for c in pools.distinct(text) if "\u4e00" <= c <= "\u9fff"]


def _reading(char: str, surname: bool) -> str:
    """Toneless pinyin of one character; as a surname by :data:`SURNAME_READINGS`."""
    return (SURNAME_READINGS.get(char) if surname else None) or syllables(char)[0]


@cache
def _by_pinyin(surname: bool) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Common characters, then GB 2312 level-1 characters, by reading."""
    tiers: tuple[dict[str, list[str]], dict[str, list[str]]] = ({}, {})
    for tier, chars in zip(tiers, (_common_chars(), _gb2312_level1()), strict=True):
        for c in chars:
            tier.setdefault(_reading(c, surname), []).append(c)
    return tiers


@cache
def _homophones(char: str, surname: bool = False) -> list[str]:
    """Characters read like `char` (as a surname if `surname`), common ones first."""
    if not ("\u4e00" <= char <= "\u9fff" or "\u3400" <= char <= "\u4dbf"):
        return []
    py = _reading(char, surname)
    for tier in _by_pinyin(surname):
        found = [c for c in tier.get(py, []) if c != char]
        if found:
            return found
    return []


@cache
def _similar_map() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for group in SIMILAR_CHARACTERS:
        for c in group:
            out.setdefault(c, []).extend(x for x in group if x != c)
    return out


def _candidate_table(
    cps: IntArray, surname_pos: bool
) -> tuple[IntArray, IntArray, IntArray, IntArray, IntArray, IntArray]:
    """Per code point: (homophone offsets, counts, flat code points, same for look-alikes)."""
    similar = _similar_map()
    h_lists, s_lists = [], []
    for cp in cps.tolist():
        c = chr(cp) if cp else ""
        h_lists.append([ord(x) for x in _homophones(c, surname_pos)] if c else [])
        s_lists.append([ord(x) for x in similar.get(c, [])])

    def flat(lists: list[list[int]]) -> tuple[IntArray, IntArray, IntArray]:
        counts = np.array([len(x) for x in lists], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        values = np.array([v for x in lists for v in x] or [0], dtype=np.int64)
        return offsets, counts, values

    return (*flat(h_lists), *flat(s_lists))


def name_typos(rng: np.random.Generator, names: npt.ArrayLike) -> tuple[StrArray, StrArray]:
    """Each name with one character replaced: (typo names, kind 'homophone' / 'similar').

    The position is uniform among the characters that have a replacement. A name with a
    look-alike character (:data:`SIMILAR_CHARACTERS`) gets a look-alike with probability
    :data:`SIMILAR_SHARE`, otherwise a homophone (same toneless pinyin; the first character of
    a name of at most 4 characters by its surname reading, see :data:`SURNAME_READINGS`).
    Homophones are drawn among common characters first. Values without any replaceable
    character (e.g. Latin names) are returned unchanged with kind ''.

    >>> typo, kind = name_typos(np.random.default_rng(1), np.array(["张伟", "王芳"]))
    >>> bool((typo != np.array(["张伟", "王芳"])).all())
    True
    """
    arr = np.asarray(names, dtype=str).reshape(-1)
    if arr.dtype.itemsize == 0:
        arr = arr.astype("<U1")
    out = arr.copy()
    kind = np.full(len(arr), "", dtype="<U9")
    for start in range(0, len(arr), _TYPO_CHUNK):
        chunk = slice(start, start + _TYPO_CHUNK)
        out[chunk], kind[chunk] = _typos_chunk(rng, np.ascontiguousarray(arr[chunk]))
    return out, kind


def _typos_chunk(rng: np.random.Generator, arr: StrArray) -> tuple[StrArray, StrArray]:
    n, width = len(arr), arr.dtype.itemsize // 4
    cps = arr.view(np.uint32).reshape(n, width)
    present = np.zeros(0x110000, dtype=bool)
    present[cps.reshape(-1)] = True
    uniq = np.flatnonzero(present)
    lut = np.zeros(0x110000, dtype=np.int32)
    lut[uniq] = np.arange(len(uniq), dtype=np.int32)
    code = lut[cps]  # index into `uniq` per cell
    general = _candidate_table(uniq, surname_pos=False)
    surname = _candidate_table(uniq, surname_pos=True)
    # In a person-like name (at most 4 characters) the first character is read as a surname.
    sur_cell = np.zeros((n, width), dtype=bool)
    sur_cell[:, 0] = (cps > 0).sum(axis=1) <= 4

    def cells(i: int) -> IntArray:
        return np.where(sur_cell, surname[i][code], general[i][code])

    h_off, h_cnt, s_off, s_cnt = cells(0), cells(1), cells(3), cells(4)
    has_h, has_s = (h_cnt > 0).any(axis=1), (s_cnt > 0).any(axis=1)
    use_sim = has_s & ((rng.random(n) < SIMILAR_SHARE) | ~has_h)
    counts = np.where(use_sim[:, None], s_cnt, h_cnt)
    valid = counts > 0
    n_valid = valid.sum(axis=1)
    ok = n_valid > 0
    # The j-th replaceable position of each row, j uniform.
    j = (rng.random(n) * n_valid).astype(np.int64)
    pos = np.argmax(np.cumsum(valid, axis=1, dtype=np.int32) > j[:, None], axis=1)
    rows = np.arange(n)
    choice = (rng.random(n) * np.maximum(counts[rows, pos], 1)).astype(np.int64)
    h_at = h_off[rows, pos] + choice
    h_new = np.where(
        sur_cell[rows, pos],
        surname[2][np.minimum(h_at, len(surname[2]) - 1)],
        general[2][np.minimum(h_at, len(general[2]) - 1)],
    )
    s_new = general[5][np.minimum(s_off[rows, pos] + choice, len(general[5]) - 1)]
    new = np.where(use_sim, s_new, h_new)
    out_cps = cps.copy()
    out_cps[rows[ok], pos[ok]] = new[ok]
    out = out_cps.view(f"<U{width}").reshape(n)
    return out, np.where(~ok, "", np.where(use_sim, "similar", "homophone"))
