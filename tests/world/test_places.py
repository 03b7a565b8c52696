"""Division codes, addresses and phone numbers of the synthetic world."""

from __future__ import annotations

import re

import numpy as np
import polars as pl
import pytest
from stdnum import numdb

from credlink.world import places

N = 200_000


@pytest.fixture(scope="module")
def regions() -> np.ndarray:
    return places.sample_regions(np.random.default_rng(7), N)


def test_load_divisions_parses_loc_dat() -> None:
    df = places.load_divisions()
    assert df.columns[:4] == ["code", "province", "prefecture", "county"]
    assert df["code"].str.contains(r"^\d{6}$").all()
    assert not df["code"].str.ends_with("00").any()
    assert (df["county"] != "市辖区").all()
    current = df.filter(pl.col("current"))
    # China has about 2,850 county-level divisions.
    assert 2_800 <= current.height <= 2_900
    row = df.filter(pl.col("code") == "341323").row(0, named=True)
    assert (row["province"], row["prefecture"], row["county"]) == ("安徽省", "宿州市", "灵璧县")
    assert row["current"]
    # The pre-1998 code of the same county is kept, but not current.
    assert not df.filter(pl.col("code") == "342224")["current"].item()


def test_regions_are_current_codes_in_loc_dat(regions: np.ndarray) -> None:
    assert regions.shape == (N,)
    assert all(re.fullmatch(r"\d{6}", c) for c in np.unique(regions))
    current = set(places.load_divisions().filter(pl.col("current"))["code"].to_list())
    assert set(np.unique(regions).tolist()) <= current
    db = numdb.get("cn/loc")
    for code in np.unique(regions)[:300].tolist():
        info = dict(kv for _, props in db.info(code) for kv in props.items())
        assert "county" in info, code
        # The latest name is open-ended ('[1998-]灵璧县' or a plain name).
        assert not re.search(r"-\d+\][^,]*$", info["county"]), info


def test_regions_follow_province_population(regions: np.ndarray) -> None:
    prov = pl.Series(regions).str.slice(0, 2).value_counts()
    share = dict(zip(prov[:, 0].to_list(), (prov["count"] / N).to_list(), strict=True))
    total = sum(places.PROVINCE_POPULATION_2020.values())
    for code in ("44", "37", "41", "54"):
        expected = places.PROVINCE_POPULATION_2020[code] / total
        assert share.get(code, 0.0) == pytest.approx(expected, rel=0.1, abs=0.001)
    assert len(share) == 31


def test_sampling_is_deterministic() -> None:
    a = np.random.default_rng(3)
    b = np.random.default_rng(3)
    r1, r2 = places.sample_regions(a, 500), places.sample_regions(b, 500)
    assert (r1 == r2).all()
    assert (places.sample_addresses(a, r1) == places.sample_addresses(b, r2)).all()
    assert (places.sample_mobile_phones(a, 500) == places.sample_mobile_phones(b, 500)).all()
    t1, t2 = places.sample_towns(a, r1), places.sample_towns(b, r2)
    assert (t1[0] == t2[0]).all() and (t1[1] == t2[1]).all()


def test_region_names() -> None:
    codes = np.array(["341323", "110105", "429004", "342224", "340000", "999999"])
    province, prefecture, county = places.region_names(codes)
    assert province.tolist() == ["安徽省", "北京市", "湖北省", "安徽省", "安徽省", ""]
    assert prefecture.tolist() == ["宿州市", "北京市", "", "宿县地区", "", ""]
    assert county.tolist() == ["灵璧县", "朝阳区", "仙桃市", "灵璧县", "", ""]
    short = places.region_short_names(np.array(["341323", "522601"]))
    assert [s.tolist() for s in short] == [["安徽", "贵州"], ["宿州", "黔东南"], ["灵璧", "凯里"]]


@pytest.mark.parametrize(
    ("name", "short"),
    [
        ("广西壮族自治区", "广西"),
        ("内蒙古自治区", "内蒙古"),
        ("延边朝鲜族自治州", "延边"),
        ("博尔塔拉蒙古自治州", "博尔塔拉"),
        ("大兴安岭地区", "大兴安岭"),
        ("东乡族自治县", "东乡"),
        ("神农架林区", "神农架"),
        ("碑林区", "碑林"),
        ("沛县", "沛县"),
    ],
)
def test_short_region_name(name: str, short: str) -> None:
    assert places.short_region_name(name) == short


def test_addresses(regions: np.ndarray) -> None:
    codes = regions[:20_000]
    addr = places.sample_addresses(np.random.default_rng(1), codes)
    province, prefecture, county = places.region_names(codes)
    prefix = np.strings.add(
        np.strings.add(province, np.where(prefecture == province, "", prefecture)), county
    )
    assert np.strings.startswith(addr, prefix).all()
    assert not any(a.startswith("北京市北京市") for a in addr.tolist())
    assert all(a.endswith(("室", "号")) for a in addr.tolist())
    rural = np.strings.find(addr, "村") >= 0
    district = np.strings.endswith(county, "区")
    # Village addresses are common in counties, rare in city districts.
    assert rural[~district].mean() > 0.5 > 0.2 > rural[district].mean()
    one = places.sample_addresses(np.random.default_rng(0), np.array(["341323"] * 50))
    assert all(a.startswith("安徽省宿州市灵璧县") for a in one.tolist())
    assert any(re.search(r"(镇|乡)\w+村", a) for a in one.tolist())
    assert any(re.search(r"\w+(路|街|大道)\d+号", a) for a in one.tolist())


def test_addresses_share_the_county_gazetteer() -> None:
    town, village = places.sample_towns(np.random.default_rng(0), np.array(["341323"] * 2000))
    # Each county has a fixed, small set of towns.
    assert len(set(town.tolist())) <= 14
    assert "城关镇" in set(town.tolist())
    assert all(v.endswith("村") for v in village.tolist())


def test_addresses_reject_unknown_codes() -> None:
    with pytest.raises(ValueError, match="999999"):
        places.sample_addresses(np.random.default_rng(0), np.array(["999999"]))


def test_mobile_phones() -> None:
    phones = places.sample_mobile_phones(np.random.default_rng(5), N)
    prefixes = {p for segs in places.MOBILE_PREFIXES.values() for p in segs}
    assert np.strings.str_len(phones).min() == 11 == np.strings.str_len(phones).max()
    assert all(p.isdigit() for p in phones[:1000].tolist())
    assert set(np.strings.slice(phones, 0, 3).tolist()) <= prefixes
    # China Mobile holds the largest share.
    mobile = np.isin(np.strings.slice(phones, 0, 3), places.MOBILE_PREFIXES["中国移动"]).mean()
    assert mobile == pytest.approx(places.CARRIER_SHARES["中国移动"], abs=0.01)


def test_chinese_numbers() -> None:
    assert places.chinese_numbers(np.array([1, 9, 10, 12, 20, 99])).tolist() == [
        "一",
        "九",
        "十",
        "十二",
        "二十",
        "九十九",
    ]
