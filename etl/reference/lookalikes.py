"""Han characters that look alike: the look-alike typos that the pipeline forgives in a name.

Clerks and OCR confuse characters of similar shape (己 / 已, 未 / 末, 侯 / 候). A name that differs
from another in one character only, where the two characters are of one group here, is the same
name mistyped (:func:`lookalike`); a name that differs in any other character is another name (a
sibling's 张伟明 next to 张伟华 differs in one character too, and is another person). Homophone
typos need no table: they keep the pinyin. The generator draws its look-alike typos from the same
groups (:mod:`world.names.typos`), as it draws pinyin from :mod:`etl.reference.pinyin`.

Example:
    >>> lookalike("己", "已"), lookalike("明", "华")
    (True, False)
"""

from __future__ import annotations

from functools import cache

__all__ = ["LOOKALIKE_GROUPS", "lookalike", "lookalike_pairs"]

#: Groups of characters that look alike (mistaken in handwriting, OCR or by eye).
LOOKALIKE_GROUPS: tuple[str, ...] = (
    "王玉主", "己已巳", "未末", "土士", "日曰", "人入八", "大太犬", "刀力刁", "千干于", "天夭",
    "今令", "贝见", "白自", "田由甲申", "戊戌戍", "免兔", "析折", "侯候", "拔拨", "崇祟", "冶治",
    "晴睛", "壁璧", "沐沭", "徒徙", "茶荼", "辨辩", "洒酒", "问间", "李季", "吴昊", "杨扬",
    "汪注", "休体", "明朋", "梅海", "峰锋", "颖颍", "霞暇", "莹萤", "玲铃", "娟鹃", "辉晖",
    "浩皓", "斌赋", "晨晟", "鑫鍂", "陈陆", "刘浏", "张弦", "孙逊", "胡湖", "林琳", "郭廓",
)  # fmt: skip


@cache
def lookalike_pairs() -> frozenset[tuple[str, str]]:
    """Every ordered pair of distinct characters of one group."""
    return frozenset((a, b) for g in LOOKALIKE_GROUPS for a in g for b in g if a != b)


def lookalike(a: str, b: str) -> bool:
    """Whether two single characters are look-alikes of each other (distinct, one group)."""
    return (a, b) in lookalike_pairs()
