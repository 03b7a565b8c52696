"""GB/T 2260 administrative divisions: names of 6-digit division codes.

Read from python-stdnum's ``stdnum/cn/loc.dat`` (codes with province, prefecture and county
names and the years each name was valid); nothing is copied by hand. The pipeline uses it to
name the region inside identifiers and to recognise place names in organisation names; the world
generator uses it to place its people.

Example:
    >>> region_names(["341323"])[2][0]
    '灵璧县'
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl
import stdnum

StrArray = npt.NDArray[np.str_]
IntArray = npt.NDArray[np.int64]

#: Province abbreviations (简称) by the first two digits of the division code; used in court
#: case numbers and tax/market decision numbers.
PROVINCE_ABBR: dict[str, str] = {
    "11": "京", "12": "津", "13": "冀", "14": "晋", "15": "蒙", "21": "辽", "22": "吉",
    "23": "黑", "31": "沪", "32": "苏", "33": "浙", "34": "皖", "35": "闽", "36": "赣",
    "37": "鲁", "41": "豫", "42": "鄂", "43": "湘", "44": "粤", "45": "桂", "46": "琼",
    "50": "渝", "51": "川", "52": "贵", "53": "云", "54": "藏", "61": "陕", "62": "甘",
    "63": "青", "64": "宁", "65": "新",
}  # fmt: skip

#: The 31 mainland provinces, by the first two digits of their codes.
PROVINCES = frozenset(
    [
        "11",
        "12",
        "13",
        "14",
        "15",
        "21",
        "22",
        "23",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "50",
        "51",
        "52",
        "53",
        "54",
        "61",
        "62",
        "63",
        "64",
        "65",
    ]
)


_MUNICIPALITIES = frozenset({"11", "12", "31", "50"})


_SEGMENT = re.compile(r"^(?:\[(\d*)-(\d*)\])?(.*)$")


_ATTR = re.compile(r'(\w+)="([^"]*)"')


#: Minority nationalities named in autonomous areas, stripped to get a short place name.
_ETHNIC = sorted(
    [
        "蒙古",
        "回",
        "藏",
        "维吾尔",
        "苗",
        "彝",
        "壮",
        "布依",
        "朝鲜",
        "满",
        "侗",
        "瑶",
        "白",
        "土家",
        "哈尼",
        "哈萨克",
        "傣",
        "黎",
        "傈僳",
        "佤",
        "畲",
        "高山",
        "拉祜",
        "水",
        "东乡",
        "纳西",
        "景颇",
        "柯尔克孜",
        "土",
        "达斡尔",
        "仫佬",
        "羌",
        "布朗",
        "撒拉",
        "毛南",
        "仡佬",
        "锡伯",
        "阿昌",
        "普米",
        "塔吉克",
        "怒",
        "乌孜别克",
        "俄罗斯",
        "鄂温克",
        "德昂",
        "保安",
        "裕固",
        "京",
        "塔塔尔",
        "独龙",
        "鄂伦春",
        "赫哲",
        "门巴",
        "珞巴",
        "基诺",
        "各",
    ],
    key=len,
    reverse=True,
)


_SHORT_EXCEPTIONS = {"神农架林区": "神农架"}


def _loc_path() -> Path:
    return Path(stdnum.__file__).parent / "cn" / "loc.dat"


def _segments(value: str) -> list[tuple[int | None, int | None, str]]:
    out = []
    for part in value.split(","):
        m = _SEGMENT.match(part)
        assert m is not None  # the pattern matches every string
        start, end, name = m.groups()
        out.append((int(start) if start else None, int(end) if end else None, name))
    return out


def _clean_name(name: str) -> str:
    # A few names in loc.dat are written in traditional characters (大兴安岭's districts).
    return name.translate(str.maketrans("區達嶺", "区达岭"))


@cache
def _all_codes() -> dict[str, tuple[str, str, bool, int | None, int | None]]:
    """Every code in loc.dat -> (province name, own name, current, first year, last year)."""
    out: dict[str, tuple[str, str, bool, int | None, int | None]] = {}
    prov_code, prov_name = "", ""
    for line in _loc_path().read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        head, _, rest = line.strip().partition(" ")
        attrs = dict(_ATTR.findall(rest))
        if not line.startswith(" "):
            prov_code, prov_name = head, attrs.get("province", "")
            continue
        if "county" not in attrs:
            continue
        segs = _segments(attrs["county"])
        out[prov_code + head] = (
            prov_name,
            _clean_name(segs[-1][2]),
            segs[-1][1] is None,
            segs[0][0],
            segs[-1][1],
        )
    return out


def _prefecture_name(
    code: str, table: dict[str, tuple[str, str, bool, int | None, int | None]]
) -> str:
    if code[:2] in _MUNICIPALITIES:
        return table.get(code[:2] + "0000", ("", "", False, None, None))[1] or ""
    entry = table.get(code[:4] + "00")
    if entry is None or "直辖" in entry[1] or entry[1] in ("市辖区", "县"):
        return ""
    return entry[1]


@cache
def load_divisions() -> pl.DataFrame:
    """County-level divisions of GB/T 2260 as listed in python-stdnum's ``cn/loc.dat``.

    Columns: ``code`` (6 digits), ``province``, ``prefecture``, ``county`` (the latest name of
    each unit), ``current`` (the code is still in use), ``valid_from`` / ``valid_to`` (years, null
    when open). Province-level and prefecture-level codes (ending in ``00``) and the ``市辖区``
    placeholders are not rows. ``prefecture`` is the province's name for the four municipalities
    (北京市 …) and empty for county-level units directly under a province (湖北省仙桃市 …).
    The frame is cached: do not modify it.

    >>> df = load_divisions()
    >>> df.filter(pl.col("code") == "341323").row(0, named=True)["county"]
    '灵璧县'
    """
    table = _all_codes()
    rows = [
        (code, prov, _prefecture_name(code, table), name, current, start, end)
        for code, (prov, name, current, start, end) in table.items()
        if not code.endswith("00") and name != "市辖区" and code[:2] in PROVINCES
    ]
    return pl.DataFrame(
        rows,
        schema={
            "code": pl.String,
            "province": pl.String,
            "prefecture": pl.String,
            "county": pl.String,
            "current": pl.Boolean,
            "valid_from": pl.Int32,
            "valid_to": pl.Int32,
        },
        orient="row",
    ).sort("code")


def short_region_name(name: str) -> str:
    """The short form of a division name used in organisation names and speech.

    >>> [short_region_name(x) for x in ["安徽省", "合肥市", "黔东南苗族侗族自治州", "沛县"]]
    ['安徽', '合肥', '黔东南', '沛县']
    >>> short_region_name("广西壮族自治区"), short_region_name("伊犁哈萨克自治州")
    ('广西', '伊犁')
    """
    base = name
    for suffix in ("特别行政区", "自治区", "自治州", "自治县", "自治旗"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
            changed = True
            while changed:
                changed = False
                for eth in _ETHNIC:
                    for tail in (eth + "族", eth if len(eth) > 1 else None):
                        if tail and base.endswith(tail) and len(base) - len(tail) >= 2:
                            base = base[: -len(tail)]
                            changed = True
                            break
                    if changed:
                        break
            # Units named after the nationality itself: 东乡族自治县 -> 东乡.
            return base[:-1] if base.endswith("族") and len(base) > 2 else base
    if base in _SHORT_EXCEPTIONS:
        return _SHORT_EXCEPTIONS[base]
    for suffix in ("特区", "地区", "省", "市", "盟", "县", "区", "旗"):
        if base.endswith(suffix) and len(base) - len(suffix) >= 2:
            return base[: -len(suffix)]
    return base


@cache
def _code_table() -> tuple[dict[str, int], pl.DataFrame]:
    """All named codes (county rows, then prefecture and province codes) with short names."""
    df = load_divisions()
    table = _all_codes()
    extra = []
    for code, (prov, _name, current, start, end) in table.items():
        if code[:2] not in PROVINCES or not code.endswith("00"):
            continue
        if code.endswith("0000"):
            extra.append((code, prov, "", "", current, start, end))
        else:
            extra.append((code, prov, _prefecture_name(code, table), "", current, start, end))
    full = pl.concat([df, pl.DataFrame(extra, schema=df.schema, orient="row")])
    shorts = {
        n: short_region_name(n)
        for n in set(full["province"].to_list())
        | set(full["prefecture"].to_list())
        | set(full["county"].to_list())
    }
    full = full.with_columns(
        pl.col(c).replace_strict(shorts, return_dtype=pl.String).alias(f"{c}_short")
        for c in ("province", "prefecture", "county")
    )
    index = {c: i for i, c in enumerate(full["code"].to_list())}
    return index, full


@cache
def _code_lut() -> npt.NDArray[np.int32]:
    """Dense table: integer value of a 6-digit code -> row in the code table, or -1."""
    index, _ = _code_table()
    lut = np.full(1_000_000, -1, dtype=np.int32)
    for code, row in index.items():
        lut[int(code)] = row
    return lut


def _lookup(codes: npt.ArrayLike) -> IntArray:
    """Row in the code table of each code, -1 for unknown codes."""
    arr = np.asarray(codes, dtype=str).reshape(-1)
    if arr.dtype.itemsize != 6 * 4:
        index, _ = _code_table()
        uniq, inv = np.unique(arr, return_inverse=True)
        rows = np.array([index.get(str(c), -1) for c in uniq.tolist()], dtype=np.int64)
        return rows[inv.reshape(-1)]
    digits = np.ascontiguousarray(arr).view(np.uint32).reshape(-1, 6).astype(np.int64) - 48
    ok = ((digits >= 0) & (digits <= 9)).all(axis=1)
    value = digits @ (10 ** np.arange(5, -1, -1, dtype=np.int64))
    return np.where(ok, _code_lut()[np.where(ok, value, 0)], -1).astype(np.int64)


def _names_at(rows: IntArray, columns: tuple[str, ...]) -> tuple[StrArray, ...]:
    _, full = _code_table()
    out = []
    for col in columns:
        values = np.append(full[col].to_numpy().astype(str), "")
        out.append(values[np.where(rows < 0, len(values) - 1, rows)])
    return tuple(out)


def region_names(codes: npt.ArrayLike) -> tuple[StrArray, StrArray, StrArray]:
    """(province, prefecture, county) names of 6-digit division codes.

    Historical codes get their last name; prefecture- and province-level codes get empty
    lower levels; unknown codes get empty strings.

    >>> p, f, c = region_names(np.array(["110105", "429004", "342224", "999999"]))
    >>> [f"{a}|{b}|{c}" for a, b, c in zip(p, f, c)]
    ['北京市|北京市|朝阳区', '湖北省||仙桃市', '安徽省|宿县地区|灵璧县', '||']
    """
    rows = _lookup(codes)
    province, prefecture, county = _names_at(rows, ("province", "prefecture", "county"))
    return province, prefecture, county


def region_short_names(codes: npt.ArrayLike) -> tuple[StrArray, StrArray, StrArray]:
    """(province, prefecture, county) short names (安徽, 合肥, 灵璧) of division codes."""
    rows = _lookup(codes)
    p, f, c = _names_at(rows, ("province_short", "prefecture_short", "county_short"))
    return p, f, c
