"""Names of people and organisations in the synthetic world, and the ways records misspell them.

Everything is vectorised over numpy ``str`` arrays; functions that need randomness take a
``np.random.Generator`` first, so a seed fixes the output. Work that needs Python per value
(OpenCC, pypinyin) is done once per distinct value (or character) and mapped back.

**Person names.** Surnames follow the real frequencies in faker's ``zh_CN`` table (399 surnames,
percent of the population), plus a few compound surnames (:data:`COMPOUND_SURNAMES`; faker has
only 欧阳, the others get small *unconfirmed* shares of the order of their real bearers). Given
names are a mixture, per sex, of (a) one-character names, (b) classic two-character names
(建华, 秀英, 子涵 …) and (c) free combinations of a first and a second character, each drawn
with Zipf-like weights from pools that start with faker's ``first_names_male/female``. The
mixture (:data:`GIVEN_NAME_MIX`) is calibrated so that a 1,000,000-person world has its most
common full names (王芳, 李伟, 张伟, 王伟, 李娜 …) about 200-250 times each, as in life (张伟
has about 290,000 bearers among 1.4 billion, i.e. ~200 per million), while two thirds of the
distinct full names occur only once.

**Typos** (:func:`name_typos`) replace one character with a homophone (same toneless pinyin,
preferring common characters: the name pools and faker's common words, then the 3,755
level-1 characters of GB 2312) or with a look-alike from :data:`SIMILAR_CHARACTERS`.

**Organisation names** (:func:`sample_org_names`) follow the registration rules by entity type
(USCC positions 1-2): 行政区划 + 字号 + 行业 + 组织形式 for enterprises
('合肥恒信达机械制造有限公司'), county + trade name + kind of shop for individual businesses
('灵璧县张记面馆'), and so on.
Trade names repeat across regions (a realistic source of look-alikes) but every name of one call
is unique. :func:`org_name_variants` produces the variants seen between registries;
:func:`org_name_lookalikes` the names of *other* businesses that look like a firm's (another
region prefix, one character of the trade name changed).

Example:
    >>> rng = np.random.default_rng(0)
    >>> names = sample_person_names(rng, np.array([True, False]))
    >>> [len(x) >= 2 for x in names]
    [True, True]
    >>> to_pinyin(np.array(["张伟", "欧阳娜娜"]), "airline").tolist()
    ['ZHANG/WEI', 'OUYANG/NANA']
"""

from __future__ import annotations

from functools import cache
from typing import Literal

import numpy as np
import numpy.typing as npt
import opencc
import polars as pl
from faker.providers.lorem.zh_CN import Provider as _Lorem
from faker.providers.person.zh_CN import Provider as _Person

from credlink.etl.reference.divisions import _code_table
from credlink.etl.reference.lookalikes import LOOKALIKE_GROUPS
from credlink.etl.reference.pinyin import SURNAME_READINGS, surname_pinyin, syllables
from credlink.world import places
from credlink.world.places import _concat, _where, _words, to_str_array

StrArray = npt.NDArray[np.str_]
IntArray = npt.NDArray[np.int64]
PinyinStyle = Literal["airline", "western", "plain"]

__all__ = [
    "COMPOUND_SURNAMES",
    "GIVEN_NAME_MIX",
    "LOOKALIKE_KINDS",
    "ORG_ENTITY_TYPES",
    "ORG_VARIANT_WEIGHTS",
    "SIMILAR_CHARACTERS",
    "SIMILAR_SHARE",
    "SURNAME_READINGS",
    "name_typos",
    "org_name_lookalikes",
    "org_name_variants",
    "sample_org_names",
    "sample_person_names",
    "split_names",
    "to_pinyin",
    "to_traditional",
]

# --- person names ------------------------------------------------------------------------------

#: Compound surnames with their share of the population in percent (faker's table has 欧阳
#: only; the rest are *unconfirmed* magnitudes, tens of thousands of bearers each).
COMPOUND_SURNAMES: dict[str, float] = {
    "欧阳": _Person.last_names.get("欧阳", 0.068),
    "上官": 0.004,
    "司马": 0.003,
    "诸葛": 0.003,
    "司徒": 0.003,
    "东方": 0.002,
    "皇甫": 0.002,
    "尉迟": 0.001,
    "公孙": 0.001,
    "慕容": 0.001,
    "令狐": 0.001,
    "夏侯": 0.001,
    "长孙": 0.001,
    "宇文": 0.001,
    "端木": 0.001,
    "南宫": 0.001,
    "万俟": 0.0005,
}

#: Surname readings that differ from the characters' common reading (曾 is Zeng, not Ceng).

#: Given-name model per sex: (share of one-character names, Zipf exponent over the one-character
#: pool), (share of classic two-character names, exponent), (share of free combinations,
#: exponent of the first and of the second character pool).
GIVEN_NAME_MIX: dict[str, tuple[tuple[float, float], tuple[float, float], tuple[float, float]]] = {
    "male": ((0.15, 0.4), (0.03, 0.6), (0.82, 0.45)),
    "female": ((0.14, 0.35), (0.04, 0.6), (0.82, 0.45)),
}

# Pools, most common first; faker's lists come first and set the head of each distribution.
_MALE_FIRST = (
    "建志国永海晓俊子文明宏德家春金立振云长学小天浩宇思一梓博嘉君正伟光庆军新世红玉兆鸿泽"
    "鹏睿锦凯洪少卫东中承成瑞宗荣恩万华英兴福传保宝守善胜彦耀景昊铭佳广耀"
)
_MALE_SECOND = (
    "伟强磊洋勇军杰涛超明刚平辉鹏华飞鑫波斌宇浩凯健俊帆帅旭宁龙林欢佳阳亮成建峰晨瑞兵雷东博"
    "彬坤岩文利毅鸣翔航宏轩然睿泽霖豪晖辰铭远昊楠元奇山川海江生荣新武民国忠良义清松柏涵诚栋"
    "梁标虎彪发福贵祥林雄兴光明德安春胜"
)
_MALE_CLASSIC = _words(
    "建华 建国 建军 志强 国强 海涛 建平 俊杰 子轩 浩然 宇航 志刚 永强 立新 红军 卫东 国庆 "
    "建伟 晓东 文博 浩宇 子豪 宇轩 博文 志明 海波 建新 春生 德明 振华 小龙 军伟 明辉 永刚"
)
_FEMALE_FIRST = (
    "秀桂玉丽春海晓雪美静雅欣佳思梦雨婉诗紫嘉梓可子若晶红小慧艳淑翠金凤彩冬月舒心语一怡芷"
    "璐佩爱文媛素建亚琳晓英兰"
)
_FEMALE_SECOND = (
    "芳娜敏静英丽艳娟霞燕玲丹萍红梅莉婷晶颖雪慧倩琴云洁莹琳欣怡涵萱悦妍彤蕾薇菲娇瑶琪璐月"
    "华兰珍荣凤凡宁琼秀岚蓉茜蓓玉瑜畅柳洁桃香芝花娥凤珊"
)
_FEMALE_CLASSIC = _words(
    "子涵 欣怡 梓涵 诗涵 雨涵 一诺 紫涵 思涵 雨欣 佳怡 欣妍 晓燕 丽娜 娜娜 静静 晶晶 莹莹 "
    "婷婷 丹丹 丽丽 欢欢 琳琳 萍萍 小燕 海霞 春燕 晓红 丽萍 艳红 美玲"
)


def _unique(chars: str | list[str] | tuple[str, ...]) -> list[str]:
    return list(dict.fromkeys(chars))


def _zipf(k: int, a: float) -> npt.NDArray[np.float64]:
    w = np.arange(1, k + 1, dtype=np.float64) ** -a
    return w / w.sum()


@cache
def _surname_table() -> tuple[pl.Series, npt.NDArray[np.float64]]:
    weights = {k: float(v) for k, v in _Person.last_names.items()}
    weights.update(COMPOUND_SURNAMES)
    p = np.array(list(weights.values()))
    return pl.Series(list(weights)), p / p.sum()


@cache
def _given_table(male: bool) -> tuple[pl.Series, npt.NDArray[np.float64]]:
    """Distinct given names of one sex and their probabilities (the mixture, aggregated)."""
    faker_pool = list(_Person.first_names_male if male else _Person.first_names_female)
    first = _unique(_MALE_FIRST if male else _FEMALE_FIRST)
    second = _unique(
        [n for n in faker_pool if len(n) == 1] + list(_MALE_SECOND if male else _FEMALE_SECOND)
    )
    classic = _unique(
        [n for n in faker_pool if len(n) == 2] + (_MALE_CLASSIC if male else _FEMALE_CLASSIC)
    )
    (s1, a1), (s2, a2), (s3, a3) = GIVEN_NAME_MIX["male" if male else "female"]
    combo = [f + s for f in first for s in second]
    combo_p = np.outer(_zipf(len(first), a3), _zipf(len(second), a3)).reshape(-1)
    frame = (
        pl.DataFrame(
            {
                "name": second + classic + combo,
                "p": np.concatenate(
                    [s1 * _zipf(len(second), a1), s2 * _zipf(len(classic), a2), s3 * combo_p]
                ),
            }
        )
        .group_by("name", maintain_order=True)
        .agg(pl.col("p").sum())
    )
    p = frame["p"].to_numpy()
    return frame["name"], p / p.sum()


def _draw(
    rng: np.random.Generator, pool: pl.Series, p: npt.NDArray[np.float64], n: int
) -> pl.Series:
    return pool.gather(rng.choice(len(pool), size=n, p=p))


def _sample_surnames(rng: np.random.Generator, n: int) -> pl.Series:
    pool, p = _surname_table()
    return _draw(rng, pool, p, n)


def sample_person_names(rng: np.random.Generator, is_male: npt.ArrayLike) -> StrArray:
    """Chinese full names (surname + given name) for people of the given sex.

    >>> sample_person_names(np.random.default_rng(5), np.ones(3, dtype=bool)).shape
    (3,)
    """
    male = np.asarray(is_male, dtype=bool).reshape(-1)
    n = len(male)
    surname = _sample_surnames(rng, n)
    given = pl.Series("given", [""] * n, dtype=pl.String)
    for sex in (True, False):
        idx = np.flatnonzero(male == sex)
        if len(idx):
            pool, p = _given_table(sex)
            given = given.scatter(idx, _draw(rng, pool, p, len(idx)))
    return to_str_array(_concat(surname, given))


def _split_series(names: pl.Series) -> tuple[pl.Series, pl.Series]:
    two = names.str.slice(0, 2)
    compound = two.is_in(list(COMPOUND_SURNAMES))
    surname = pl.select(
        pl.when(pl.lit(compound)).then(pl.lit(two)).otherwise(pl.lit(names.str.slice(0, 1)))
    ).to_series()
    given = pl.select(
        pl.when(pl.lit(compound))
        .then(pl.lit(names.str.slice(2)))
        .otherwise(pl.lit(names.str.slice(1)))
    ).to_series()
    return surname, given


def split_names(names: npt.ArrayLike) -> tuple[StrArray, StrArray]:
    """(surname, given name) of Chinese full names; a compound surname wins (欧阳娜娜 -> 欧阳).

    >>> s, g = split_names(np.array(["张伟", "欧阳娜娜"]))
    >>> s.tolist(), g.tolist()
    (['张', '欧阳'], ['伟', '娜娜'])
    """
    surname, given = _split_series(pl.Series(np.asarray(names, dtype=str).reshape(-1)))
    return to_str_array(surname), to_str_array(given)


# --- script and romanisation -------------------------------------------------------------------

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
    surname, given = _split_series(s)
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


# --- typos --------------------------------------------------------------------------------------

#: Groups of characters that look alike (the pipeline forgives exactly these as typos).
SIMILAR_CHARACTERS: tuple[str, ...] = LOOKALIKE_GROUPS
#: Chance that a name with a look-alike character gets a look-alike (not a homophone) typo.
SIMILAR_SHARE = 0.3


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
    text = "".join(_Person.last_names) + "".join(_Person.first_names_male)
    text += "".join(_Person.first_names_female) + _MALE_FIRST + _MALE_SECOND
    text += _FEMALE_FIRST + _FEMALE_SECOND + "".join(_Lorem.word_list)
    return [c for c in _unique(text) if "\u4e00" <= c <= "\u9fff"]


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


_TYPO_CHUNK = 200_000


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


# --- organisations ------------------------------------------------------------------------------

#: Entity types (USCC positions 1-2) that :func:`sample_org_names` can name.
ORG_ENTITY_TYPES: dict[str, str] = {
    "91": "企业",
    "92": "个体工商户",
    "93": "农民专业合作社",
    "51": "社会团体",
    "52": "民办非企业单位",
    "53": "基金会",
    "12": "事业单位",
}

#: Frequent trade names (字号), most common first: they recur in many regions.
_TRADE_HEAD = _words(
    "恒信 华泰 鑫源 宏达 永盛 金鑫 天成 顺达 汇丰 中泰 远大 兴隆 瑞丰 金诚 盛世 华美 新华 东方 "
    "富源 诚信 恒通 华兴 鑫达 宏远 金源 天宇 宏图 博远 佳和 华宇 恒达 振兴 兴达 昌盛 联创"
)
_TRADE_CHARS = (
    "恒信达华鑫盛源兴隆泰福瑞金宏昌天安佳德利通海新永中联创博嘉润祥和美丰富辉远东明诚优卓腾"
    "凯晟星宇科汇聚合众益万广正启顺亿晨航峰锦雅豪迪康宁泽弘"
)
_INDUSTRIES = _words(
    "商贸 科技 贸易 建筑工程 机械制造 电子科技 信息技术 网络科技 建材 物流 餐饮管理 房地产开发 "
    "农业发展 食品 服装 文化传媒 广告 装饰工程 汽车销售 医药 环保科技 新能源科技 投资管理 "
    "物业管理 劳务 化工 纺织 印刷 家具 电器 实业 工贸 生物科技 教育咨询 旅游开发 酒店管理 "
    "机电设备 五金 钢结构 水泥制品 包装 塑业 木业 矿业 能源 运输 园林绿化 市政工程 电力工程 "
    "安装工程"
)
_COMPANY_FORMS = ("有限公司", "有限责任公司", "股份有限公司", "集团有限公司")
_COMPANY_FORM_P = (0.76, 0.15, 0.07, 0.02)
_SHOP_TRADES = _words(
    "好又多 家家乐 万家福 兴旺 顺发 利民 便民 惠民 阳光 红星 金源 百姓 开心 美味 香满园 "
    "福满多 佳佳 友谊 时代 华联 春风 永辉 大众 新世纪 快乐 温馨 老字号 一品 鸿运 和顺"
)
_SHOP_TYPES = _words(
    "便利店 面馆 小吃店 饭店 理发店 五金店 超市 水果店 烟酒店 服装店 汽车修理部 日用品店 "
    "手机店 早餐店 烧烤店 粮油店 建材店 农资店 副食店 美容美发店 家电维修部 百货店 茶叶店 "
    "干洗店 图文店 快餐店 麻辣烫店 包子铺 熟食店 蔬菜店 鲜肉店 电动车行 文具店 母婴店 眼镜店 "
    "花店 棋牌室 酒楼 农家乐 养殖场"
)
_COOP_PRODUCTS = _words(
    "蔬菜种植 粮食种植 水果种植 中药材种植 食用菌种植 苗木种植 茶叶种植 葡萄种植 花卉种植 "
    "农作物种植 生猪养殖 肉牛养殖 肉羊养殖 家禽养殖 水产养殖 蛋鸡养殖 养蜂 农机服务 植保服务 "
    "土地托管服务 果蔬 稻米 林业"
)
_ASSOCIATIONS = _words(
    "个体劳动者协会 餐饮行业协会 建筑业协会 物流协会 摄影家协会 书法家协会 作家协会 "
    "美术家协会 音乐家协会 老年体育协会 钓鱼协会 篮球协会 足球协会 乒乓球协会 羽毛球协会 "
    "象棋协会 围棋协会 太极拳协会 登山协会 自行车运动协会 企业家协会 青年企业家协会 "
    "女企业家协会 个体私营企业协会 律师协会 医师协会 护理学会 医学会 教育学会 会计学会 法学会 "
    "农学会 科普协会 养殖业协会 蔬菜协会 茶叶协会 旅游协会 房地产业协会 汽车行业协会 "
    "电子商务协会 家政服务协会 美容美发协会 收藏家协会 诗词学会 慈善总会 志愿者协会 "
    "工商业联合会 文学艺术界联合会 残疾人联合会"
)
_NONENT_TRADES = _words(
    "阳光 小太阳 启明星 蓝天 金太阳 博雅 育才 贝贝 童心 彩虹 小天使 新星 爱心 快乐 春芽 苗苗 "
    "七彩 智慧树 金色摇篮 明德 博文 新世纪 英才 育英 启航 卓越 晨曦 夕阳红 康乐 福寿"
)
_NONENT_TYPES = _words(
    "幼儿园 民办幼儿园 培训学校 职业技能培训学校 艺术培训学校 文化艺术培训学校 外语培训学校 "
    "养老院 养老服务中心 社会工作服务中心 康复中心 托育中心 体育俱乐部 民办学校"
)
_FOUNDATION_CAUSES = _words(
    "慈善 青少年发展 教育 见义勇为 扶贫 红十字 残疾人福利 老年 文化发展 体育 科技 环境保护 "
    "医疗救助 妇女儿童发展 乡村振兴 光彩事业 助学"
)
_PUBLIC_INSTITUTIONS = _words(
    "人民医院 中医医院 妇幼保健院 疾病预防控制中心 实验小学 实验中学 职业教育中心 图书馆 "
    "文化馆 博物馆 融媒体中心 农业技术推广中心 人才交流服务中心 不动产登记中心 "
    "公共资源交易中心 政务服务中心 社会保险服务中心 第一人民医院 第二人民医院 第三人民医院 "
    "第一中学 第二中学 第三中学 第四中学 第五中学 第六中学 第七中学 第八中学 "
    "第一小学 第二小学 第三小学 第四小学 第五小学 第六小学 第七小学 第八小学 第九小学 "
    "第十小学 第十一小学 第十二小学 广播电视台 档案馆 水利工程管理站 林业工作站 "
    "动物疫病预防控制中心 精神卫生中心 特殊教育学校 青少年活动中心 住房公积金管理中心"
)
_TOWN_INSTITUTIONS = _words(
    "卫生院 中心小学 中心学校 初级中学 农业综合服务站 中心幼儿园 文化站 财政所 畜牧兽医站"
)


def _pool(values: list[str] | tuple[str, ...]) -> pl.Series:
    return pl.Series(list(values), dtype=pl.String)


def _zipf_draw(
    rng: np.random.Generator, values: list[str] | tuple[str, ...], n: int, a: float
) -> pl.Series:
    return _pool(values).gather(rng.choice(len(values), size=n, p=_zipf(len(values), a)))


def _trade_names(rng: np.random.Generator, n: int) -> pl.Series:
    """字号: a frequent trade name, or 2-3 characters of the auspicious pool (Zipf weighted)."""
    chars = _unique(_TRADE_CHARS)
    c = [_zipf_draw(rng, chars, n, 0.7) for _ in range(3)]
    r = rng.random(n)
    two = _concat(c[0], c[1])
    three = _concat(c[0], c[1], c[2])
    return _where(r < 0.3, _zipf_draw(rng, _TRADE_HEAD, n, 0.8), _where(r < 0.85, two, three))


class _Regions:
    """Region names of the rows being named (polars Series, gathered from the code table)."""

    def __init__(self, codes: StrArray) -> None:
        rows = places._county_rows(codes)
        _, full = _code_table()
        self.rows = rows
        self.n = len(rows)
        get = {c: full[c].gather(rows) for c in full.columns if c not in ("current",)}
        self.province, self.prov_s = get["province"], get["province_short"]
        self.county, self.county_s = get["county"], get["county_short"]
        pref, pref_s = get["prefecture"], get["prefecture_short"]
        no_pref = (pref.str.len_chars() == 0).to_numpy()
        # County-level units directly under a province stand in for their prefecture.
        self.pref = _where(no_pref, self.county, pref)
        self.pref_s = _where(no_pref, self.county_s, pref_s)
        self.district = self.county.str.ends_with("区").to_numpy()
        # The county as written in names: '灵璧县', but '合肥市蜀山区' for a district.
        self.local = _where(self.district, _concat(self.pref, self.county), self.county)

    def local_or_district(self, rng: np.random.Generator) -> pl.Series:
        """`local`, with the district alone ('蜀山区') half of the time."""
        short = rng.random(self.n) < 0.5
        return _where(self.district & short, self.county, self.local)


def _enterprises(rng: np.random.Generator, reg: _Regions) -> pl.Series:
    n = reg.n
    trade = _trade_names(rng, n)
    industry = _zipf_draw(rng, _INDUSTRIES, n, 0.9)
    form = _pool(_COMPANY_FORMS).gather(rng.choice(len(_COMPANY_FORMS), n, p=_COMPANY_FORM_P))
    r = rng.random(n)
    county_or_pref = _where(reg.district, reg.pref_s, reg.county)
    region = _where(
        r < 0.32,
        reg.pref_s,
        _where(r < 0.47, reg.pref, _where(r < 0.62, county_or_pref, reg.prov_s)),
    )
    plain = _concat(region, trade, industry, form)
    bracket = _concat(trade, "（", reg.pref_s, "）", industry, form)
    national = _concat(trade, industry, form)
    return _where(r < 0.77, plain, _where(r < 0.92, bracket, national))


def _individual_businesses(rng: np.random.Generator, reg: _Regions) -> pl.Series:
    n = reg.n
    surname = _sample_surnames(rng, n).str.slice(0, 1)
    r = rng.random(n)
    trade = _where(
        r < 0.25,
        _concat(surname, "记"),
        _where(
            r < 0.40,
            _concat("老", surname),
            _where(
                r < 0.45,
                _concat(surname, "氏"),
                _where(r < 0.75, _zipf_draw(rng, _SHOP_TRADES, n, 0.7), _trade_names(rng, n)),
            ),
        ),
    )
    shop = _zipf_draw(rng, _SHOP_TYPES, n, 0.8)
    return _concat(reg.local_or_district(rng), trade, shop)


def _cooperatives(rng: np.random.Generator, reg: _Regions) -> pl.Series:
    n = reg.n
    _, village = places._town_village(rng, reg.rows)
    stem = _where(rng.random(n) < 0.35, village, _trade_names(rng, n))
    product = _zipf_draw(rng, _COOP_PRODUCTS, n, 0.7)
    return _concat(reg.local_or_district(rng), stem, product, "专业合作社")


@cache
def _prefecture_shorts() -> pl.Series:
    _, full = _code_table()
    s = full["prefecture_short"].unique(maintain_order=True)
    return s.filter(s.str.len_chars() >= 2)


def _social_groups(rng: np.random.Generator, reg: _Regions) -> pl.Series:
    n = reg.n
    region = _where(rng.random(n) < 0.5, reg.pref, reg.local)
    others = _prefecture_shorts()
    hometown = _concat(others.gather(rng.integers(0, len(others), n)), "商会")
    trade = _concat(_zipf_draw(rng, _INDUSTRIES, n, 0.9), "商会")
    r = rng.random(n)
    body = _where(
        r < 0.6, _zipf_draw(rng, _ASSOCIATIONS, n, 0.6), _where(r < 0.85, hometown, trade)
    )
    return _concat(region, body)


def _private_non_enterprises(rng: np.random.Generator, reg: _Regions) -> pl.Series:
    n = reg.n
    region = _where(rng.random(n) < 0.4, reg.pref, reg.local)
    trade = _where(
        rng.random(n) < 0.6, _zipf_draw(rng, _NONENT_TRADES, n, 0.6), _trade_names(rng, n)
    )
    return _concat(region, trade, _zipf_draw(rng, _NONENT_TYPES, n, 0.8))


def _foundations(rng: np.random.Generator, reg: _Regions) -> pl.Series:
    n = reg.n
    region = _where(rng.random(n) < 0.5, reg.province, reg.pref)
    cause = _concat(_zipf_draw(rng, _FOUNDATION_CAUSES, n, 0.6), "基金会")
    kind = _pool(("公益基金会", "慈善基金会", "教育基金会")).gather(rng.integers(0, 3, n))
    named = _concat(_trade_names(rng, n), kind)
    return _concat(region, _where(rng.random(n) < 0.5, cause, named))


def _public_institutions(rng: np.random.Generator, reg: _Regions) -> pl.Series:
    n = reg.n
    town, village = places._town_village(rng, reg.rows)
    county_level = _concat(reg.local, _zipf_draw(rng, _PUBLIC_INSTITUTIONS, n, 0.5))
    town_level = _concat(reg.local, town, _zipf_draw(rng, _TOWN_INSTITUTIONS, n, 0.5))
    village_school = _concat(reg.local, town, village, "小学")
    r = rng.random(n)
    return _where(r < 0.6, county_level, _where(r < 0.9, town_level, village_school))


_GENERATORS = {
    "91": _enterprises,
    "92": _individual_businesses,
    "93": _cooperatives,
    "51": _social_groups,
    "52": _private_non_enterprises,
    "53": _foundations,
    "12": _public_institutions,
}
_MAX_ROUNDS = 40


def sample_org_names(
    rng: np.random.Generator, entity_types: npt.ArrayLike, region_codes: npt.ArrayLike
) -> StrArray:
    """Organisation names by entity type (USCC positions 1-2, or whole USCCs) and region.

    '91' enterprises ('合肥恒信达机械制造有限公司', '恒信（合肥）电子科技股份有限公司'), '92'
    individual businesses ('灵璧县张记面馆'), '93' farmers' co-ops ('…蔬菜种植专业合作社'),
    '51' social groups ('…协会', '…温州商会'), '52' private non-enterprise units ('…培训学校'),
    '53' foundations ('…基金会'), '12' public institutions ('…人民医院', '…第三中学'). Region
    codes are county-level codes. All names of one call are distinct (duplicates are redrawn),
    so names within a region are unique; trade names recur across regions.

    >>> names = sample_org_names(np.random.default_rng(0), np.array(["91", "92"]),
    ...                          np.array(["340104", "341323"]))
    >>> names[1].startswith("灵璧县")
    True
    """
    types = np.asarray(entity_types, dtype=str).reshape(-1)
    types = np.strings.slice(types, 0, 2) if len(types) else types
    codes = np.asarray(region_codes, dtype=str).reshape(-1)
    if len(types) != len(codes):
        raise ValueError("entity_types and region_codes differ in length")
    unknown = sorted(set(np.unique(types).tolist()) - set(_GENERATORS))
    if unknown:
        raise ValueError(f"no organisation names for entity types {unknown}")
    n = len(types)
    out = pl.Series("name", [""] * n, dtype=pl.String)
    todo = np.arange(n)
    for _ in range(_MAX_ROUNDS):
        for t in sorted(set(types[todo].tolist())):
            idx = todo[types[todo] == t]
            out = out.scatter(idx, _GENERATORS[t](rng, _Regions(codes[idx])))
        # Rows sharing a value with a (re)drawn row; all but the first of each value are redrawn.
        affected = np.flatnonzero(out.is_in(out.gather(todo).unique().implode()).to_numpy())
        todo = affected[~out.gather(affected).is_first_distinct().to_numpy()]
        if not len(todo):
            break
    if len(todo):  # the region's name space is exhausted: number the remaining duplicates
        seq = pl.DataFrame({"name": out}).select(pl.int_range(pl.len()).over("name"))[:, 0]
        out = _where((seq > 0).to_numpy(), _concat(out, "（", (seq + 1).cast(pl.String), "）"), out)
    return to_str_array(out)


# --- organisation name variants -----------------------------------------------------------------

#: Variation kinds of :func:`org_name_variants` and their relative weights when applicable.
ORG_VARIANT_WEIGHTS: dict[str, float] = {
    "company_form": 3.0,
    "bracket_width": 3.0,
    "region_dropped": 2.0,
    "region_added": 2.0,
    "branch": 1.0,
}


@cache
def _region_prefixes() -> dict[int, list[str]]:
    """Full and short division names by length (for prefix matching)."""
    _, full = _code_table()
    names: set[str] = set()
    for col in full.columns:
        if col in ("province", "prefecture", "county") or col.endswith("_short"):
            names.update(x for x in full[col].to_list() if x and len(x) >= 2)
    out: dict[int, list[str]] = {}
    for x in names:
        out.setdefault(len(x), []).append(x)
    return out


def _region_prefix_len(s: pl.Series) -> npt.NDArray[np.int64]:
    """Length of the longest division name that starts each value (0 if none)."""
    found = np.zeros(len(s), dtype=np.int64)
    for length in sorted(_region_prefixes(), reverse=True):
        hit = s.str.slice(0, length).is_in(_region_prefixes()[length]).to_numpy()
        found = np.where((found == 0) & hit, length, found)
    return found


def _branch_suffix() -> pl.Expr:
    """Expression: a branch suffix fitting the end of column ``s``."""
    s, coin = pl.col("s"), pl.col("coin")
    company = (
        pl.when(coin)
        .then(pl.concat_str([pl.lit("第"), pl.col("ordinal"), pl.lit("分公司")]))
        .otherwise(pl.concat_str([pl.col("city2"), pl.lit("分公司")]))
    )
    shop = (
        pl.when(coin)
        .then(pl.concat_str([pl.col("ordinal"), pl.lit("分店")]))
        .otherwise(pl.lit("分店"))
    )
    return (
        pl.when(s.str.contains("公司$"))
        .then(company)
        .when(s.str.contains("(?:店|馆|超市|部|行|铺|楼|室|乐)$"))
        .then(shop)
        .when(s.str.contains("(?:学校|幼儿园)$"))
        .then(pl.lit("分校"))
        .when(s.str.contains("会$"))
        .then(pl.concat_str([pl.col("city2"), pl.lit("分会")]))
        .when(s.str.contains("(?:医院|卫生院)$"))
        .then(pl.lit("分院"))
        .when(s.str.contains("合作社$"))
        .then(pl.lit("分社"))
        .otherwise(pl.lit("分部"))
    )


def org_name_variants(rng: np.random.Generator, names: npt.ArrayLike) -> tuple[StrArray, StrArray]:
    """One realistic variation of each organisation name: (variants, kind).

    Kinds (chosen among those that apply, weights :data:`ORG_VARIANT_WEIGHTS`):
    'company_form' 有限公司 <-> 有限责任公司 (股份有限公司 -> 有限公司); 'bracket_width' full-width
    <-> half-width brackets ('恒信（合肥）…' vs '恒信(合肥)…'); 'region_dropped' the leading
    division name removed ('合肥恒信…' -> '恒信…'); 'region_added' a bracketed region moved to the
    front, or a prefecture name prefixed; 'branch' a branch suffix ('…第一分公司', '…二分店',
    '…宿州分公司', '…长沙分会'). Every variant differs from its input.

    >>> v, k = org_name_variants(np.random.default_rng(0), np.array(["恒信（合肥）机械有限公司"]))
    >>> k[0] in ORG_VARIANT_WEIGHTS and v[0] != "恒信（合肥）机械有限公司"
    True
    """
    s = pl.Series("s", np.asarray(names, dtype=str).reshape(-1))
    n = len(s)
    if n == 0:
        return np.array([], dtype=str), np.array([], dtype=str)
    cities = _prefecture_shorts()
    df = pl.DataFrame(
        {
            "s": s,
            "plen": _region_prefix_len(s),
            "city": cities.gather(rng.integers(0, len(cities), n)),
            "city2": cities.gather(rng.integers(0, len(cities), n)),
            "ordinal": places.chinese_numbers(rng.integers(1, 6, n)),
            "coin": rng.random(n) < 0.5,
        }
    )
    col, plen = pl.col("s"), pl.col("plen")
    inner = col.str.extract(r"[（(]([^）)]+)[）)]", 1)
    m = df.select(
        form=col.str.ends_with("有限公司") | col.str.ends_with("有限责任公司"),
        bracket=col.str.contains("[（）()]"),
        dropped=(plen > 0)
        & (col.str.len_chars() - plen >= 2)
        & ~col.str.slice(plen, 1).is_in(["（", "("]),
        added=(plen == 0) & (col.str.len_chars() > 0),
    )
    kinds = list(ORG_VARIANT_WEIGHTS)
    ok = np.column_stack([m[c].to_numpy() for c in m.columns] + [np.ones(n, dtype=bool)])
    w = ok * np.array([ORG_VARIANT_WEIGHTS[k] for k in kinds])
    cum = np.cumsum(w, axis=1)
    choice = (cum <= (rng.random(n) * cum[:, -1])[:, None]).sum(axis=1)

    form_v = (
        pl.when(col.str.ends_with("有限责任公司"))
        .then(col.str.replace(r"有限责任公司$", "有限公司"))
        .when(col.str.ends_with("股份有限公司"))
        .then(col.str.replace(r"股份有限公司$", "有限公司"))
        .otherwise(col.str.replace(r"有限公司$", "有限责任公司"))
    )
    bracket_v = (
        pl.when(col.str.contains("[（）]"))
        .then(col.str.replace_all("（", "(", literal=True).str.replace_all("）", ")", literal=True))
        .otherwise(
            col.str.replace_all("(", "（", literal=True).str.replace_all(")", "）", literal=True)
        )
    )
    added_v = (
        pl.when(inner.is_not_null())
        .then(pl.concat_str([inner, col.str.replace(r"[（(][^）)]+[）)]", "")]))
        .otherwise(pl.concat_str([pl.col("city"), col]))
    )
    variant_exprs = [
        form_v,
        bracket_v,
        col.str.slice(plen),
        added_v,
        pl.concat_str([col, _branch_suffix()]),
    ]
    expr: pl.Expr = col
    for i in range(len(variant_exprs) - 1, -1, -1):
        expr = pl.when(pl.col("choice") == i).then(variant_exprs[i]).otherwise(expr)
    out = df.with_columns(choice=choice).select(expr)[:, 0]
    return to_str_array(out), np.array(kinds, dtype=str)[choice]


# --- look-alikes of organisations ---------------------------------------------------------------

#: Kinds of :func:`org_name_lookalikes`.
LOOKALIKE_KINDS = ("region_swapped", "trade_char")
_BRACKETS = ("（", "(", "）", ")")


def _slice(s: pl.Series, offset: npt.NDArray[np.int64], length: int | None = None) -> pl.Series:
    """Each value of `s` from its own `offset` (on for `length` characters)."""
    frame = pl.DataFrame({"s": s, "o": offset})
    return frame.select(pl.col("s").str.slice(pl.col("o"), length))[:, 0]


def org_name_lookalikes(
    rng: np.random.Generator, names: npt.ArrayLike, region_codes: npt.ArrayLike
) -> tuple[StrArray, StrArray]:
    """Names of other businesses that look like `names`: (look-alikes, kind).

    'region_swapped': the leading division name replaced by the short name of the prefecture
    of `region_codes` (the look-alike's own region:
    '北京华兴科技有限公司' -> '上海华兴科技有限公司'), for half of the names that have a leading
    division name of another prefecture; 'trade_char' otherwise: one of the first two
    characters of the trade name (字号, right after any leading division names, e.g.
    '唐山市开平区') replaced by another character of the trade-name pool
    ('灵璧县张记面馆' -> '灵璧县恒记面馆'). Every look-alike differs from its input.

    >>> v, k = org_name_lookalikes(np.random.default_rng(0), np.array(["灵璧县张记面馆"]),
    ...                            np.array(["341323"]))
    >>> v[0] != "灵璧县张记面馆" and k[0] in LOOKALIKE_KINDS
    True
    """
    s = pl.Series("s", np.asarray(names, dtype=str).reshape(-1))
    n = len(s)
    if n == 0:
        return np.array([], dtype=str), np.array([], dtype=str)
    codes = np.asarray(region_codes, dtype=str).reshape(-1)
    pool = _unique(_TRADE_CHARS)
    # The leading division names: a prefecture and its district ('唐山市开平区') count as one; a
    # "division name" right before a bracket is the trade name ('嘉兴（遵义）…').
    first = _region_prefix_len(s)
    second = _region_prefix_len(_slice(s, first))
    prefix = first + second
    rest_len = s.str.len_chars().to_numpy() - prefix
    prefix = np.where(rest_len >= 2, prefix, first)
    prefix = np.where(_slice(s, prefix, 1).is_in(_BRACKETS).to_numpy(), 0, prefix)
    df = pl.DataFrame(
        {
            "s": s,
            "plen": prefix,
            "own": _Regions(codes).pref_s,
            "coin": rng.random(n) < 0.5,
            "step": rng.integers(0, 2, n),
            "pick": rng.integers(0, len(pool) - 1, n),
        }
    )
    col, plen = pl.col("s"), pl.col("plen")
    rest = col.str.slice(plen)
    df = df.with_columns(
        swap=pl.col("coin")
        & (plen > 0)
        & (pl.col("own").str.len_chars() > 0)
        & (col.str.slice(0, plen) != pl.col("own"))
        & (rest.str.len_chars() >= 2)
        & ~rest.str.slice(0, 1).is_in(_BRACKETS),
        # The trade-name character: the first or second after the prefix, never a bracket.
        pos=pl.when(
            (plen + pl.col("step") < col.str.len_chars())
            & ~col.str.slice(plen + pl.col("step"), 1).is_in(_BRACKETS)
        )
        .then(plen + pl.col("step"))
        .otherwise(plen),
    )
    current = df.select(col.str.slice(pl.col("pos"), 1))[:, 0].to_numpy().astype(str)
    lookup = {c: i for i, c in enumerate(pool)}
    cur = np.array([lookup.get(c, -1) for c in current], dtype=np.int64)
    pick = df["pick"].to_numpy()
    # Another character of the pool than the current one (skip over it).
    new = np.array(pool)[pick + ((cur >= 0) & (pick >= cur))]
    out = df.with_columns(new=pl.Series(new)).select(
        pl.when(pl.col("swap"))
        .then(pl.concat_str([pl.col("own"), rest]))
        .otherwise(
            pl.concat_str(
                [col.str.slice(0, pl.col("pos")), pl.col("new"), col.str.slice(pl.col("pos") + 1)]
            )
        )
    )[:, 0]
    kind = np.where(df["swap"].to_numpy(), LOOKALIKE_KINDS[0], LOOKALIKE_KINDS[1])
    return to_str_array(out), kind
