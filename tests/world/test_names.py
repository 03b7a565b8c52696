"""Person and organisation names of the synthetic world, and their misspellings."""

from __future__ import annotations

import re

import numpy as np
import polars as pl
import pytest
from faker.providers.person.zh_CN import Provider as FakerPerson
from pypinyin import lazy_pinyin

from credlink.etl.reference.pinyin import SURNAME_READINGS
from credlink.world import names, places

MILLION = 1_000_000
ORG_TYPES = np.array(list(names.ORG_ENTITY_TYPES))


@pytest.fixture(scope="module")
def million() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(2024)
    is_male = rng.random(MILLION) < 0.512
    return names.sample_person_names(rng, is_male), is_male


@pytest.fixture(scope="module")
def orgs() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(99)
    n = 30_000
    types = ORG_TYPES[rng.integers(0, len(ORG_TYPES), n)]
    regions = places.sample_regions(rng, n)
    return names.sample_org_names(rng, types, regions), types, regions


# --- person names -------------------------------------------------------------------------------


def test_person_names_are_deterministic() -> None:
    male = np.arange(1000) % 2 == 0
    a = names.sample_person_names(np.random.default_rng(1), male)
    b = names.sample_person_names(np.random.default_rng(1), male)
    c = names.sample_person_names(np.random.default_rng(2), male)
    assert (a == b).all()
    assert (a != c).any()


def test_full_name_frequencies_are_lifelike(million: tuple[np.ndarray, np.ndarray]) -> None:
    full, _ = million
    counts = pl.Series(full).value_counts(sort=True)
    # 张伟 has ~290,000 bearers in 1.4 billion: ~200 per million.
    assert counts["count"][0] > 100
    assert counts["count"][0] < 1_000
    # ... while most distinct names are rare.
    assert (counts["count"] <= 2).mean() > 0.5
    assert counts.height > 200_000
    assert all(2 <= len(x) <= 4 for x in counts[:, 0].to_list()[:1000])


def test_surname_shares_follow_the_weights(million: tuple[np.ndarray, np.ndarray]) -> None:
    full, _ = million
    surname, given = names.split_names(full)
    assert (np.strings.add(surname, given) == full).all()
    weights = dict(FakerPerson.last_names) | names.COMPOUND_SURNAMES
    total = sum(weights.values())
    observed = pl.Series(surname).value_counts(sort=True)
    share = dict(
        zip(observed[:, 0].to_list(), (observed["count"] / MILLION).to_list(), strict=True)
    )
    top = sorted(weights, key=weights.__getitem__, reverse=True)[:10]
    assert top[:3] == ["王", "李", "张"]
    for s in top:
        assert share[s] == pytest.approx(weights[s] / total, rel=0.03), s
    # A small share of compound surnames.
    compound = sum(share.get(s, 0.0) for s in names.COMPOUND_SURNAMES)
    assert 0.0003 < compound < 0.003


def test_given_names_depend_on_sex(million: tuple[np.ndarray, np.ndarray]) -> None:
    full, is_male = million
    _, given = names.split_names(full)
    male_top = pl.Series(given[is_male]).value_counts(sort=True)[:, 0].to_list()[:10]
    female_top = pl.Series(given[~is_male]).value_counts(sort=True)[:, 0].to_list()[:10]
    assert "伟" in male_top and "芳" in female_top
    assert not set(male_top) & set(female_top)
    lengths = np.strings.str_len(given)
    assert 0.05 < (lengths == 1).mean() < 0.35
    assert lengths.max() == 2


def test_split_names() -> None:
    surname, given = names.split_names(np.array(["张伟", "欧阳娜娜", "司马光", "王"]))
    assert surname.tolist() == ["张", "欧阳", "司马", "王"]
    assert given.tolist() == ["伟", "娜娜", "光", ""]


# --- script and romanisation --------------------------------------------------------------------


def test_traditional() -> None:
    out = names.to_traditional(np.array(["张伟", "刘晓东", "余华", "范冰冰", "王芳", "张伟"]))
    assert out.tolist() == ["張偉", "劉曉東", "余華", "范冰冰", "王芳", "張偉"]


@pytest.mark.parametrize(
    ("name", "airline", "western", "plain"),
    [
        ("张伟", "ZHANG/WEI", "Wei Zhang", "Zhang Wei"),
        ("欧阳娜娜", "OUYANG/NANA", "Nana Ouyang", "Ouyang Nana"),
        ("王秀英", "WANG/XIUYING", "Xiuying Wang", "Wang Xiuying"),
        ("曾小贤", "ZENG/XIAOXIAN", "Xiaoxian Zeng", "Zeng Xiaoxian"),
        ("单田芳", "SHAN/TIANFANG", "Tianfang Shan", "Shan Tianfang"),
        ("吕布", "LYU/BU", "Bu Lyu", "Lyu Bu"),
        ("司马光", "SIMA/GUANG", "Guang Sima", "Sima Guang"),
    ],
)
def test_pinyin_styles(name: str, airline: str, western: str, plain: str) -> None:
    arr = np.array([name])
    assert names.to_pinyin(arr, "airline").tolist() == [airline]
    assert names.to_pinyin(arr, "western").tolist() == [western]
    assert names.to_pinyin(arr, "plain").tolist() == [plain]


def test_pinyin_leaves_foreign_names() -> None:
    arr = np.array(["John SMITH", "张伟"])
    assert names.to_pinyin(arr, "airline").tolist() == ["JOHN SMITH", "ZHANG/WEI"]
    assert names.to_pinyin(arr, "plain").tolist() == ["John SMITH", "Zhang Wei"]
    with pytest.raises(ValueError, match="style"):
        names.to_pinyin(arr, "french")  # type: ignore[arg-type]


# --- typos ----------------------------------------------------------------------------------------


def _reading(char: str, first_of_short_name: bool) -> str:
    if first_of_short_name and char in SURNAME_READINGS:
        return SURNAME_READINGS[char]
    return lazy_pinyin(char)[0].replace("v", "u")


def _check_typos(original: np.ndarray, typo: np.ndarray, kind: np.ndarray) -> None:
    similar = {frozenset((a, b)) for g in names.SIMILAR_CHARACTERS for a in g for b in g if a != b}
    for o, t, k in zip(original.tolist(), typo.tolist(), kind.tolist(), strict=True):
        assert t != o
        assert len(t) == len(o)
        diff = [i for i in range(len(o)) if o[i] != t[i]]
        assert len(diff) == 1, (o, t)
        i = diff[0]
        if k == "homophone":
            first = i == 0 and len(o) <= 4
            assert _reading(o[i], first) == _reading(t[i], first), (o, t)
        else:
            assert k == "similar"
            assert frozenset((o[i], t[i])) in similar, (o, t)


def test_person_name_typos(million: tuple[np.ndarray, np.ndarray]) -> None:
    sample = million[0][:20_000]
    typo, kind = names.name_typos(np.random.default_rng(4), sample)
    assert set(kind.tolist()) == {"homophone", "similar"}
    assert 0.05 < (kind == "similar").mean() < 0.3
    _check_typos(sample, typo, kind)
    again, _ = names.name_typos(np.random.default_rng(4), sample)
    assert (again == typo).all()


def test_typos_of_known_names() -> None:
    arr = np.array(["王芳", "曾伟", "欧阳娜娜", "张伟"] * 50)
    typo, kind = names.name_typos(np.random.default_rng(0), arr)
    _check_typos(arr, typo, kind)
    # 王 has look-alikes (玉, 主): some 王芳 become 玉芳 / 主芳.
    assert any(t[0] in "玉主" for t in typo[arr == "王芳"].tolist())


def test_org_name_typos(orgs: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    sample = orgs[0][:5_000]
    typo, kind = names.name_typos(np.random.default_rng(4), sample)
    _check_typos(sample, typo, kind)


def test_typos_leave_latin_names() -> None:
    typo, kind = names.name_typos(np.random.default_rng(0), np.array(["JOHN SMITH", ""]))
    assert typo.tolist() == ["JOHN SMITH", ""]
    assert kind.tolist() == ["", ""]


# --- organisations ------------------------------------------------------------------------------


def test_org_names_are_deterministic() -> None:
    types = ORG_TYPES[np.arange(700) % len(ORG_TYPES)]
    regions = places.sample_regions(np.random.default_rng(0), 700)
    a = names.sample_org_names(np.random.default_rng(8), types, regions)
    b = names.sample_org_names(np.random.default_rng(8), types, regions)
    assert (a == b).all()


def test_org_names_by_entity_type(orgs: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    name, types, regions = orgs
    endings = {
        "91": r"(有限公司|有限责任公司)$",
        "92": r"(店|馆|超市|部|行|铺|楼|室|乐|场)$",
        "93": r"专业合作社$",
        "51": r"(协会|学会|商会|联合会|总会)$",
        "52": r"(幼儿园|学校|养老院|中心|俱乐部)$",
        "53": r"基金会$",
        "12": r"(医院|保健院|中心|中学|小学|学校|馆|台|站|所|卫生院|幼儿园)$",
    }
    for t, pattern in endings.items():
        sel = name[types == t].tolist()
        assert sel, t
        bad = [x for x in sel if not re.search(pattern, x)]
        assert not bad, (t, bad[:5])
    _, _, county = places.region_names(regions)
    shops = types == "92"
    assert all(c in x for x, c in zip(name[shops].tolist(), county[shops].tolist(), strict=True))
    enterprises = name[types == "91"].tolist()
    assert any("（" in x for x in enterprises)
    assert any(x.endswith("股份有限公司") for x in enterprises)


def test_org_names_unique_but_trade_names_repeat(
    orgs: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    name, _, regions = orgs
    assert len(set(name.tolist())) == len(name)
    # The same trade name is registered in many prefectures (look-alikes across regions).
    _, prefecture, _ = places.region_names(regions)
    with_trade = [p for x, p in zip(name.tolist(), prefecture.tolist(), strict=True) if "恒信" in x]
    assert len(set(with_trade)) > 10


def test_org_names_unique_within_a_crowded_region() -> None:
    n = 3_000
    types = np.array(["92"] * (n // 2) + ["12"] * (n // 10) + ["91"] * (n - n // 2 - n // 10))
    out = names.sample_org_names(np.random.default_rng(1), types, np.array(["341323"] * n))
    assert len(set(out.tolist())) == n


def test_org_names_reject_unknown_types() -> None:
    with pytest.raises(ValueError, match="ZZ"):
        names.sample_org_names(np.random.default_rng(0), np.array(["ZZ"]), np.array(["341323"]))


def test_org_name_variants(orgs: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    name = orgs[0]
    variant, kind = names.org_name_variants(np.random.default_rng(6), name)
    again, _ = names.org_name_variants(np.random.default_rng(6), name)
    assert (variant == again).all()
    assert (variant != name).all()
    assert set(kind.tolist()) == set(names.ORG_VARIANT_WEIGHTS)

    def form(x: str) -> str:
        return re.sub(r"(股份)?有限(责任)?公司$", "有限公司", x)

    def half(x: str) -> str:
        return x.replace("（", "(").replace("）", ")")

    for o, v, k in zip(name.tolist(), variant.tolist(), kind.tolist(), strict=True):
        if k == "company_form":
            assert form(o) == form(v) and o[-4:] + v[-4:] != "", (o, v)
        elif k == "bracket_width":
            assert half(o) == half(v), (o, v)
        elif k == "region_dropped":
            assert o.endswith(v) and len(v) < len(o), (o, v)
        elif k == "region_added":
            core = re.sub(r"[（(][^）)]+[）)]", "", o)
            assert v.endswith(core) and len(v) > len(core), (o, v)
        else:
            assert k == "branch"
            assert v.startswith(o) and "分" in v[len(o) :], (o, v)


def test_org_name_variants_examples() -> None:
    arr = np.array(["恒信达（合肥）机械有限公司"] * 200 + ["合肥恒信达机械制造有限责任公司"] * 200)
    variant, kind = names.org_name_variants(np.random.default_rng(0), arr)
    seen = set(zip(variant.tolist(), kind.tolist(), strict=True))
    assert ("恒信达(合肥)机械有限公司", "bracket_width") in seen
    assert ("恒信达（合肥）机械有限责任公司", "company_form") in seen
    assert ("合肥恒信达机械有限公司", "region_added") in seen
    assert ("恒信达机械制造有限责任公司", "region_dropped") in seen
    assert ("合肥恒信达机械制造有限公司", "company_form") in seen
    assert any(k == "branch" and v.endswith("分公司") for v, k in seen)
