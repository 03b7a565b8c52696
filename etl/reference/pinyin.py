"""How Chinese names are romanised: the passport convention shared by pipeline and generator.

Surnames are read with their surname reading (曾 zeng, 单 shan), compound surnames (欧阳, 司马 …)
are kept whole, and ü is written as in passports (吕 lyu, 略 lue).

Example:
    >>> surname_pinyin("曾"), syllables("吕布")
    ('zeng', ['lyu', 'bu'])
"""

from __future__ import annotations

from pypinyin import Style, lazy_pinyin

#: Compound surnames (two characters) that a name split must keep whole.
COMPOUND_SURNAMES: frozenset[str] = frozenset(
    [
        "万俟",
        "上官",
        "东方",
        "令狐",
        "公孙",
        "南宫",
        "司徒",
        "司马",
        "夏侯",
        "宇文",
        "尉迟",
        "慕容",
        "欧阳",
        "皇甫",
        "端木",
        "诸葛",
        "长孙",
    ]
)

#: Surname readings that differ from the characters' common reading (曾 is Zeng, not Ceng).
SURNAME_READINGS: dict[str, str] = {
    "曾": "zeng", "区": "ou", "单": "shan", "查": "zha", "缪": "miao", "乐": "yue", "朴": "piao",
    "盖": "ge", "覃": "qin", "翟": "zhai", "解": "xie", "仇": "qiu", "卜": "bu", "薄": "bo",
    "都": "du", "阚": "kan", "秘": "bi", "种": "chong", "员": "yun", "繁": "po", "能": "nai",
    "句": "gou", "召": "shao", "折": "she", "祭": "zhai", "隗": "wei", "洗": "xian",
    "尉迟": "yuchi", "万俟": "moqi", "长孙": "zhangsun",
}  # fmt: skip


def passport_syllable(syllable: str) -> str:
    """ü as in passports: lv -> lyu, nv -> nyu, lve -> lue."""
    return syllable[0] + "yu" if syllable in ("lv", "nv") else syllable.replace("v", "u")


def syllables(text: str) -> list[str]:
    """Toneless pinyin syllables of `text`, ü written as in passports."""
    return [passport_syllable(s) for s in lazy_pinyin(text, style=Style.NORMAL)]


def surname_pinyin(surname: str) -> str:
    """The pinyin of a surname by its surname reading, lower case (曾 -> zeng, 欧阳 -> ouyang)."""
    return SURNAME_READINGS.get(surname) or "".join(
        SURNAME_READINGS.get(c) or "".join(syllables(c)) for c in surname
    )
