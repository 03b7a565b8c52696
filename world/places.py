"""Places of the synthetic world: division codes, addresses and mobile phone numbers.

Administrative divisions come from python-stdnum's ``stdnum/cn/loc.dat`` (GB/T 2260 codes with
province, prefecture and county names and the years each name was valid); nothing is copied by
hand. :func:`load_divisions` lists every county-level code ever issued, with a ``current`` flag:
only current codes are sampled, but historical ones (found in old identity numbers) can still be
named by :func:`region_names`.

Simulation choices (*unconfirmed* where not stated otherwise, see ``/work/shared/DOMAIN.md``):

- People are spread over provinces by the 2020 (seventh) census population of the 31 mainland
  provinces (:data:`PROVINCE_POPULATION_2020`), and within a province over its current
  county-level units with weights :data:`COUNTY_WEIGHTS` by the kind of unit: a city district
  (区) holds on average about 2.3 times the people of a county (县/旗), a county-level city (市)
  about twice (rough national averages: ~970 districts, ~400 county-level cities and ~1,470
  counties and banners sharing 1.41 billion people).
- Towns (镇/乡), villages (村) and streets (路/街) are a fixed synthetic gazetteer: every county
  gets its own towns, villages and streets from a constant seed, so that two addresses in the
  same county share the same street and town names, whatever the world's seed.
- Addresses in districts are mostly street addresses, in counties mostly village addresses
  (:data:`RURAL_ADDRESS_SHARE`).
- Mobile numbers use the carriers' real 3-digit number segments (:data:`MOBILE_PREFIXES`) with
  rough 2020s market shares of the carriers (:data:`CARRIER_SHARES`); within a carrier every
  segment is equally likely, and the other 8 digits are uniform.

Example:
    >>> rng = np.random.default_rng(1)
    >>> codes = sample_regions(rng, 3)
    >>> [len(c) for c in codes]
    [6, 6, 6]
    >>> province, prefecture, county = region_names(np.array(["341323"]))
    >>> str(province[0]), str(prefecture[0]), str(county[0])
    ('安徽省', '宿州市', '灵璧县')
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt
import polars as pl

# Division names live with the pipeline (etl/reference); re-exported for the generator.
from credlink.etl.reference.divisions import (
    _lookup,
    load_divisions,
    region_names,
    region_short_names,
    short_region_name,
)

StrArray = npt.NDArray[np.str_]
IntArray = npt.NDArray[np.int64]

__all__ = [
    "CARRIER_SHARES",
    "COUNTY_WEIGHTS",
    "MOBILE_PREFIXES",
    "PROVINCE_POPULATION_2020",
    "RURAL_ADDRESS_SHARE",
    "chinese_numbers",
    "load_divisions",
    "region_names",
    "region_short_names",
    "sample_addresses",
    "sample_mobile_phones",
    "sample_regions",
    "sample_towns",
    "short_region_name",
    "to_str_array",
]

#: Resident population of the 31 mainland provinces in the 2020 census, in units of 10,000
#: (National Bureau of Statistics, Seventh National Population Census Bulletin No. 3).
PROVINCE_POPULATION_2020: dict[str, int] = {
    "11": 2189,  # 北京
    "12": 1387,  # 天津
    "13": 7461,  # 河北
    "14": 3492,  # 山西
    "15": 2405,  # 内蒙古
    "21": 4259,  # 辽宁
    "22": 2407,  # 吉林
    "23": 3185,  # 黑龙江
    "31": 2487,  # 上海
    "32": 8475,  # 江苏
    "33": 6457,  # 浙江
    "34": 6103,  # 安徽
    "35": 4154,  # 福建
    "36": 4519,  # 江西
    "37": 10153,  # 山东
    "41": 9937,  # 河南
    "42": 5775,  # 湖北
    "43": 6644,  # 湖南
    "44": 12601,  # 广东
    "45": 5013,  # 广西
    "46": 1008,  # 海南
    "50": 3205,  # 重庆
    "51": 8367,  # 四川
    "52": 3856,  # 贵州
    "53": 4721,  # 云南
    "54": 365,  # 西藏
    "61": 3953,  # 陕西
    "62": 2502,  # 甘肃
    "63": 592,  # 青海
    "64": 720,  # 宁夏
    "65": 2585,  # 新疆
}

#: Relative population of a county-level unit by the last character of its name (see module doc).
COUNTY_WEIGHTS: dict[str, float] = {"区": 2.3, "市": 2.0, "县": 1.0, "旗": 1.0}

#: Share of addresses that are village addresses (镇/乡 + 村), by kind of county-level unit.
RURAL_ADDRESS_SHARE: dict[str, float] = {"区": 0.1, "市": 0.4, "县": 0.7, "旗": 0.7}

#: Mobile number segments (first three digits) by carrier, as allocated by MIIT.
MOBILE_PREFIXES: dict[str, tuple[str, ...]] = {
    "中国移动": (
        "134", "135", "136", "137", "138", "139", "147", "150", "151", "152", "157",
        "158", "159", "172", "178", "182", "183", "184", "187", "188", "195", "197", "198",
    ),
    "中国联通": (
        "130", "131", "132", "145", "155", "156", "166", "171", "175", "176", "185",
        "186", "196",
    ),
    "中国电信": (
        "133", "149", "153", "173", "177", "180", "181", "189", "190", "191", "193", "199",
    ),
    "中国广电": ("192",),
}  # fmt: skip

#: Rough share of mobile subscribers by carrier (2020s).
CARRIER_SHARES: dict[str, float] = {
    "中国移动": 0.59,
    "中国联通": 0.19,
    "中国电信": 0.21,
    "中国广电": 0.01,
}


def _words(text: str) -> list[str]:
    """The space-separated words of a table written as one string."""
    return text.split()


_GAZETTEER_SEED = 2260


def _unit_kind(county: str) -> str:
    """'区', '市', '县' or '旗': the kind of a county-level unit from its name."""
    last = county[-1:] if county else "县"
    return last if last in COUNTY_WEIGHTS else "县"


@cache
def _current_sampler() -> tuple[StrArray, npt.NDArray[np.float64]]:
    df = load_divisions().filter(pl.col("current"))
    codes = df["code"].to_numpy().astype("<U6")
    prov = df["code"].str.slice(0, 2).to_numpy()
    kind_w = np.array([COUNTY_WEIGHTS[_unit_kind(c)] for c in df["county"].to_list()])
    prov_w = np.array([PROVINCE_POPULATION_2020[p] for p in prov], dtype=np.float64)
    prov_total = pl.DataFrame({"p": prov, "w": kind_w}).group_by("p").agg(pl.col("w").sum())
    totals = dict(zip(prov_total["p"].to_list(), prov_total["w"].to_list(), strict=True))
    p = prov_w * kind_w / np.array([totals[x] for x in prov])
    return codes, p / p.sum()


def sample_regions(rng: np.random.Generator, n: int) -> StrArray:
    """`n` current 6-digit county-level division codes, weighted by population (module doc)."""
    codes, p = _current_sampler()
    return codes[rng.choice(len(codes), size=n, p=p)]


def to_str_array(values: pl.Series) -> StrArray:
    """A polars string Series as a numpy ``str`` array (nulls become '')."""
    return np.asarray(values.fill_null("").to_numpy(), dtype=str)


def _concat(*parts: pl.Series | str) -> pl.Series:
    return pl.select(pl.concat_str([pl.lit(p) for p in parts])).to_series()


def _where(mask: npt.NDArray[np.bool_], yes: pl.Series | str, no: pl.Series | str) -> pl.Series:
    return pl.select(pl.when(pl.lit(pl.Series(mask))).then(pl.lit(yes)).otherwise(pl.lit(no)))[:, 0]


def _ints(values: IntArray) -> pl.Series:
    return pl.Series(values).cast(pl.String)


# --- the synthetic gazetteer -----------------------------------------------------------------

#: Street-name stems, most common first (人民路 and 建设路 are in nearly every Chinese town).
_STREET_STEMS = _words(
    "人民 建设 解放 中山 和平 胜利 新华 文化 长江 黄河 幸福 团结 友谊 光明 青年 朝阳 东风 红旗 "
    "工业 府前 育才 迎宾 滨河 新民 学府 振兴 民主 健康 兴华 长安 花园 体育 公园 环城 "
    "新建 繁荣 复兴 龙江 金山 凤凰 银河 建国 共和 跃进 车站 沿江 湖滨 人和 富民 惠民 "
    "清河 西湖 北京 上海 南京 中华 淮海 黄山 泰山 华山 长城 天山"
)
_STREET_SUFFIXES = ("路", "街", "大道", "东路", "西路", "南路", "北路", "中路")
_STREET_SUFFIX_W = (1.0, 0.5, 0.15, 0.25, 0.25, 0.25, 0.25, 0.2)
_COMMUNITY_STEMS = _words(
    "阳光 幸福 锦绣 金色 碧水 翡翠 香榭 名都 御景 盛世 紫荆 绿洲 丽景 书香 兰亭 泰和 "
    "龙湖 万达 恒大 碧桂 金地 世纪 华府 怡景 水岸 东方 新城 康居 安居 和谐"
)
_COMMUNITY_SUFFIXES = ("花园", "小区", "家园", "苑", "新村", "华庭", "名苑", "公寓", "佳苑")
#: First characters of town and village names: common surnames, numbers and landscape words.
_PLACE_FIRST = (
    "王李张刘陈杨黄吴赵周徐孙马朱胡郭何高罗郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程"
    "魏苏吕丁任卢姚沈钟姜崔谭陆范汪廖石金韦贾夏付方邹熊白孟秦邱侯江尹薛闫段雷黎史陶贺毛"
    "东西南北大小新老双三高长龙马青古柳杏桃枣桑柏梨槐"
)
_PLACE_SECOND = "庄集店桥庙湖河坝口营寨沟岗铺圩楼湾屯坊渡岭埠堡山塘洼头家寺"
_N_STREETS, _N_TOWNS, _N_VILLAGES = 24, 14, 16
_NUMERALS = "一二三四五六七八九十"


def chinese_numbers(k: IntArray) -> StrArray:
    """1..99 in Chinese numerals (一, 十一, 二十三); 0 and others become ''.

    >>> chinese_numbers(np.array([1, 10, 11, 23]))
    array(['一', '十', '十一', '二十三'], dtype='<U3')
    """
    table = np.array(
        [""]
        + [
            (("" if i // 10 == 1 else _NUMERALS[i // 10 - 1]) + "十" if i >= 10 else "")
            + (_NUMERALS[i % 10 - 1] if i % 10 else "")
            for i in range(1, 100)
        ]
    )
    k = np.asarray(k)
    return table[np.where((k >= 0) & (k <= 99), k, 0)]


def _product(first: list[str], second: list[str] | tuple[str, ...]) -> StrArray:
    return np.strings.add(
        np.repeat(np.array(first), len(second)), np.tile(np.array(second), len(first))
    )


def _distinct_draws(
    g: np.random.Generator, shape: tuple[int, int], p: npt.NDArray[np.float64]
) -> IntArray:
    """Indices drawn with probabilities `p`, redrawn until distinct within each row."""
    idx = g.choice(len(p), size=shape, p=p)
    while True:
        order = np.argsort(idx, axis=1, kind="stable")
        ranked = np.take_along_axis(idx, order, axis=1)
        dup_ranked = np.zeros(shape, dtype=bool)
        dup_ranked[:, 1:] = ranked[:, 1:] == ranked[:, :-1]
        if not dup_ranked.any():
            return idx
        dup = np.zeros(shape, dtype=bool)
        np.put_along_axis(dup, order, dup_ranked, axis=1)
        idx[dup] = g.choice(len(p), size=int(dup.sum()), p=p)


@dataclass(frozen=True)
class _Gazetteer:
    """Fixed per-county tables, flattened: row r's k-th street is ``streets[r * 24 + k]``."""

    prefix: pl.Series  # '安徽省宿州市灵璧县' per county row
    rural_p: npt.NDArray[np.float64]  # share of village addresses per county row
    streets: pl.Series
    towns: pl.Series
    villages: pl.Series  # stems, '李庄' (add '村')
    communities: pl.Series


@cache
def _gazetteer() -> _Gazetteer:
    df = load_divisions()
    n = df.height
    g = np.random.default_rng(_GAZETTEER_SEED)
    streets = _product(_STREET_STEMS, _STREET_SUFFIXES)
    rank = np.repeat(np.arange(1, len(_STREET_STEMS) + 1), len(_STREET_SUFFIXES))
    w = rank**-0.8 * np.tile(np.array(_STREET_SUFFIX_W), len(_STREET_STEMS))
    street_idx = _distinct_draws(g, (n, _N_STREETS), w / w.sum())
    stems = _product(list(_PLACE_FIRST), list(_PLACE_SECOND))
    town_idx = _distinct_draws(g, (n, _N_TOWNS), np.full(len(stems), 1 / len(stems)))
    towns = np.strings.add(stems[town_idx], np.where(g.random((n, _N_TOWNS)) < 0.75, "镇", "乡"))
    towns[:, 0] = "城关镇"
    villages = stems[g.integers(0, len(stems), n * _N_TOWNS * _N_VILLAGES)]
    province, prefecture, county = (df[c].to_numpy().astype(str) for c in df.columns[1:4])
    prefix = np.strings.add(
        np.strings.add(province, np.where(prefecture == province, "", prefecture)), county
    )
    rural_p = np.array([RURAL_ADDRESS_SHARE[_unit_kind(c)] for c in county.tolist()])
    return _Gazetteer(
        prefix=pl.Series(prefix),
        rural_p=rural_p,
        streets=pl.Series(streets[street_idx].reshape(-1)),
        towns=pl.Series(towns.reshape(-1)),
        villages=pl.Series(villages),
        communities=pl.Series(_product(_COMMUNITY_STEMS, _COMMUNITY_SUFFIXES)),
    )


def _county_rows(region_codes: npt.ArrayLike) -> IntArray:
    """Rows of :func:`load_divisions` for county-level codes (ValueError for others)."""
    rows = _lookup(region_codes)
    if ((rows < 0) | (rows >= load_divisions().height)).any():
        arr = np.asarray(region_codes, dtype=str).reshape(-1)
        bad = arr[(rows < 0) | (rows >= load_divisions().height)][:5]
        raise ValueError(f"not county-level division codes: {bad.tolist()}")
    return rows


def _town_village(rng: np.random.Generator, rows: IntArray) -> tuple[pl.Series, pl.Series]:
    gz = _gazetteer()
    town = rows * _N_TOWNS + rng.integers(0, _N_TOWNS, len(rows))
    village = town * _N_VILLAGES + rng.integers(0, _N_VILLAGES, len(rows))
    return gz.towns.gather(town), gz.villages.gather(village)


def sample_towns(
    rng: np.random.Generator, region_codes: npt.ArrayLike
) -> tuple[StrArray, StrArray]:
    """(town, village) in the given county-level codes, e.g. ('娄庄镇', '李庄村').

    Towns and villages come from the fixed gazetteer of each county (module doc), so the same
    county always has the same towns.
    """
    town, village = _town_village(rng, _county_rows(region_codes))
    return to_str_array(town), to_str_array(_concat(village, "村"))


def sample_addresses(rng: np.random.Generator, region_codes: npt.ArrayLike) -> StrArray:
    """Residential addresses in the given county-level division codes (current or historical).

    Street forms: '安徽省宿州市灵璧县建设路88号3栋502室', '…人民路12号阳光花园5幢2单元301室',
    '…解放路6号'; village form: '安徽省宿州市灵璧县娄庄镇李庄村三组23号'. Municipalities are
    written once ('北京市朝阳区…'). The share of village addresses depends on the kind of unit
    (:data:`RURAL_ADDRESS_SHARE`).

    >>> a = sample_addresses(np.random.default_rng(0), np.array(["341323"]))
    >>> str(a[0]).startswith("安徽省宿州市灵璧县")
    True
    """
    rows = _county_rows(region_codes)
    n = len(rows)
    gz = _gazetteer()
    rural = rng.random(n) < gz.rural_p[rows]

    street = gz.streets.gather(rows * _N_STREETS + rng.integers(0, _N_STREETS, n))
    number = _ints((1 + np.minimum(rng.exponential(40.0, n), 998)).astype(np.int64))
    form = rng.random(n)
    building = _ints(rng.integers(1, 31, n))
    floor = np.minimum(1 + rng.geometric(0.18, n), 33)
    room = _ints(floor * 100 + rng.integers(1, 7, n))
    community = gz.communities.gather(rng.integers(0, len(gz.communities), n))
    unit = _ints(rng.integers(1, 7, n))
    flat = _concat(street, number, "号", building, "栋", room, "室")
    estate = _concat(street, number, "号", community, building, "幢", unit, "单元", room, "室")
    house = _concat(street, number, "号")
    urban = _where(form < 0.5, flat, _where(form < 0.8, estate, house))

    town, village = _town_village(rng, rows)
    group = pl.Series(chinese_numbers(rng.integers(1, 13, n)))
    group = _where(rng.random(n) < 0.7, _concat(group, "组"), "")
    door = _ints(rng.integers(1, 200, n))
    rural_addr = _concat(town, village, "村", group, door, "号")
    return to_str_array(_concat(gz.prefix.gather(rows), _where(rural, rural_addr, urban)))


@cache
def _phone_prefixes() -> tuple[IntArray, npt.NDArray[np.float64]]:
    prefixes, weights = [], []
    for carrier, segs in MOBILE_PREFIXES.items():
        prefixes += [int(s) for s in segs]
        weights += [CARRIER_SHARES[carrier] / len(segs)] * len(segs)
    w = np.array(weights)
    return np.array(prefixes, dtype=np.int64), w / w.sum()


def sample_mobile_phones(rng: np.random.Generator, n: int) -> StrArray:
    """`n` 11-digit mainland mobile numbers with real carrier segments (not guaranteed unique).

    >>> p = sample_mobile_phones(np.random.default_rng(0), 2)
    >>> [len(x) for x in p]
    [11, 11]
    """
    prefixes, p = _phone_prefixes()
    first = prefixes[rng.choice(len(prefixes), size=n, p=p)]
    return (first * 100_000_000 + rng.integers(0, 100_000_000, n)).astype("<U11")
