"""etl.standardise.names: person and organisation names, known examples and the generator's
spellings (traditional characters, airline pinyin, organisation name variants)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from credlink.etl.standardise.names import (
    NAME_SCRIPTS,
    is_pinyin,
    organisation_names,
    person_names,
)
from credlink.world import names, places

# (raw, name, name_script, name_pinyin, surname, given_name)
PERSON_CASES = [
    ("张伟", "张伟", "han", "zhang wei", "张", "伟"),
    ("張偉", "张伟", "han", "zhang wei", "张", "伟"),  # traditional
    ("劉曉東", "刘晓东", "han", "liu xiaodong", "刘", "晓东"),
    ("沈思東", "沈思东", "han", "shen sidong", "沈", "思东"),  # no phrase across the surname
    ("欧阳娜娜", "欧阳娜娜", "han", "ouyang nana", "欧阳", "娜娜"),  # compound surname
    ("歐陽娜娜", "欧阳娜娜", "han", "ouyang nana", "欧阳", "娜娜"),
    ("曾小贤", "曾小贤", "han", "zeng xiaoxian", "曾", "小贤"),  # surname reading, not ceng
    ("单田芳", "单田芳", "han", "shan tianfang", "单", "田芳"),  # not dan
    ("吕布", "吕布", "han", "lyu bu", "吕", "布"),  # ü as in passports
    (" 张　伟 ", "张伟", "han", "zhang wei", "张", "伟"),  # spaces, ideographic space
    ("张", "张", "han", "zhang", "张", None),
    ("买买提·艾力", "买买提·艾力", "han", None, None, None),
    ("ZHANG/WEI", "ZHANG WEI", "pinyin", "zhang wei", "ZHANG", "WEI"),  # airline pinyin
    ("ＺＨＡＮＧ／ＷＥＩ", "ZHANG WEI", "pinyin", "zhang wei", "ZHANG", "WEI"),  # full-width
    ("OUYANG/NANA", "OUYANG NANA", "pinyin", "ouyang nana", "OUYANG", "NANA"),
    ("zhang, xiao ming", "ZHANG XIAO MING", "pinyin", "zhang xiaoming", "ZHANG", "XIAO MING"),
    ("LYU/BU", "LYU BU", "pinyin", "lyu bu", "LYU", "BU"),
    ("Wei ZHANG", "WEI ZHANG", "pinyin", "zhang wei", "ZHANG", "WEI"),  # passport style
    ("John SMITH", "JOHN SMITH", "latin", None, "SMITH", "JOHN"),  # foreign passport
    ("Smith, John", "SMITH JOHN", "latin", None, "SMITH", "JOHN"),
    ("Mary Ann O'NEIL", "MARY ANN O'NEIL", "latin", None, "O'NEIL", "MARY ANN"),
    ("john smith", "JOHN SMITH", "latin", None, "SMITH", "JOHN"),  # Western order
    ("张WEI", "张WEI", "mixed", None, None, None),
    ("張3", "张3", "mixed", None, None, None),
    (None, None, None, None, None, None),
    ("", None, None, None, None, None),
    ("   ", None, None, None, None, None),
]


@pytest.mark.parametrize("case", PERSON_CASES, ids=lambda c: repr(c[0]))
def test_person_names_known_examples(case: tuple[str | None, ...]) -> None:
    raw, *expected = case
    out = person_names(pl.Series([raw], dtype=pl.String))
    assert out.columns == ["name", "name_script", "name_pinyin", "surname", "given_name"]
    assert list(out.row(0)) == expected


def test_name_scripts_are_the_documented_ones() -> None:
    out = person_names(pl.Series([c[0] for c in PERSON_CASES], dtype=pl.String))
    assert set(out["name_script"].drop_nulls()) == set(NAME_SCRIPTS)


def test_airline_pinyin_and_han_give_the_same_pinyin() -> None:
    rng = np.random.default_rng(1)
    han = names.sample_person_names(rng, rng.random(5000) < 0.5)
    airline = names.to_pinyin(han, "airline")
    a = person_names(pl.Series(han))
    b = person_names(pl.Series(airline))
    assert set(b["name_script"]) == {"pinyin"}
    assert a["name_pinyin"].to_list() == b["name_pinyin"].to_list()
    # ... and the romanisation is the generator's (passport) one.
    plain = np.char.lower(names.to_pinyin(han, "plain"))
    assert a["name_pinyin"].to_list() == plain.tolist()


def test_traditional_names_come_back_to_simplified() -> None:
    rng = np.random.default_rng(2)
    han = names.sample_person_names(rng, rng.random(5000) < 0.5)
    out = person_names(pl.Series(names.to_traditional(han)))
    same = np.array(out["name"].to_list()) == han
    # OpenCC's two directions are not exact inverses for a handful of characters (脩/修).
    assert same.mean() > 0.999


def test_simplified_names_are_not_rewritten() -> None:
    # OpenCC t2s alone would turn 沈思 into 沉思 and 乾 into 干: only traditional text converts.
    out = person_names(pl.Series(["沈思东", "乾坤", "余华"]))
    assert out["name"].to_list() == ["沈思东", "乾坤", "余华"]


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("ZHANG", True),
        ("zhuang", True),
        ("OUYANG", True),
        ("xiaoming", True),
        ("LYU", True),  # ü as yu (passports)
        ("lv", True),  # ü as v
        ("nue", True),
        ("SMITH", False),
        ("JOHN", False),
        ("NG", False),  # a vowel-less interjection, left out
        ("", False),
        ("ZHANG-WEI", False),
    ],
)
def test_is_pinyin(token: str, expected: bool) -> None:
    assert is_pinyin(token) is expected


def test_person_names_map_back_to_every_row_in_order() -> None:
    raw = ["張偉", None, "ZHANG/WEI", "张伟", "張偉", "", "John SMITH", None, "张伟"]
    out = person_names(pl.Series(raw))
    assert out.height == len(raw)
    one_by_one = [person_names(pl.Series([x], dtype=pl.String)).row(0) for x in raw]
    assert out.rows() == one_by_one


# --- organisations ------------------------------------------------------------------------------

# (raw, name, name_core, is_branch, legal_form, name_region)
ORG_CASES = [
    (
        "合肥恒信达机械制造有限公司",
        "合肥恒信达机械制造有限公司",
        "恒信达机械制造",
        False,
        "有限公司",
        "合肥",
    ),
    ("恒信（合肥）机械有限公司", "恒信(合肥)机械有限公司", "恒信机械", False, "有限公司", "合肥"),
    ("恒信【合肥】机械 有限公司", "恒信(合肥)机械有限公司", "恒信机械", False, "有限公司", "合肥"),
    (
        "恒信（合肥）機械有限責任公司",
        "恒信(合肥)机械有限责任公司",
        "恒信机械",
        False,
        "有限责任公司",
        "合肥",
    ),
    (
        "恒信(合肥)机械有限责任公司宿州分公司",
        "恒信(合肥)机械有限责任公司宿州分公司",
        "恒信机械",
        True,
        "有限责任公司",
        "合肥",
    ),
    (
        "华为技术有限公司第一分公司",
        "华为技术有限公司第一分公司",
        "华为技术",
        True,
        "有限公司",
        None,
    ),
    (
        "安徽省合肥市华泰集团股份有限公司",
        "安徽省合肥市华泰集团股份有限公司",
        "华泰",
        False,
        "集团股份有限公司",
        "安徽省合肥市",
    ),
    ("合肥市蜀山区张记面馆", "合肥市蜀山区张记面馆", "张记面馆", False, None, "合肥市蜀山区"),
    ("灵璧县张记面馆二分店", "灵璧县张记面馆二分店", "张记面馆", True, None, "灵璧县"),
    (
        "中国工商银行股份有限公司合肥分行",
        "中国工商银行股份有限公司合肥分行",
        "中国工商银行",
        True,
        "股份有限公司",
        None,
    ),
    (
        "富士康（中国）投资有限公司",
        "富士康(中国)投资有限公司",
        "富士康投资",
        False,
        "有限公司",
        "中国",
    ),
    (
        "鼎晖投资中心（有限合伙）",
        "鼎晖投资中心(有限合伙)",
        "鼎晖投资中心",
        False,
        "(有限合伙)",
        None,
    ),
    ("乾安县福安美容美发店", "乾安县福安美容美发店", "福安美容美发店", False, None, "乾安县"),
    ("兴隆商贸有限公司", "兴隆商贸有限公司", "兴隆商贸", False, "有限公司", None),  # trade name
    ("有限公司", "有限公司", "有限公司", False, None, None),
    ("分店", "分店", "分店", False, None, None),
    ("ABC  Trading  Co.", "ABC Trading Co.", "ABC Trading Co", False, None, None),
    (None, None, None, None, None, None),
    ("", None, None, None, None, None),
]


@pytest.mark.parametrize("case", ORG_CASES, ids=lambda c: repr(c[0]))
def test_organisation_names_known_examples(case: tuple[object, ...]) -> None:
    raw, *expected = case
    out = organisation_names(pl.Series([raw], dtype=pl.String))
    assert out.columns == ["name", "name_core", "is_branch", "legal_form", "name_region"]
    assert list(out.row(0)) == expected


def test_variants_of_one_firm_share_the_core() -> None:
    variants = [
        "合肥恒信达机械制造有限公司",
        "合肥恒信达机械制造有限责任公司",  # company form
        "恒信达机械制造有限公司",  # region dropped
        "宿州恒信达机械制造有限公司",  # another region added
        "合肥市恒信达机械制造股份有限公司",
        "恒信达（合肥）机械制造有限公司",  # region in full-width brackets
        "恒信达(合肥)机械制造有限公司",  # ... half-width
        "合肥恒信达机械制造有限公司第二分公司",  # branch
        "合肥恒信达机械制造有限公司宿州分公司",
        "合肥恆信達機械製造有限公司",  # traditional
        "安徽合肥恒信达机械制造集团有限公司",
    ]
    out = organisation_names(pl.Series(variants))
    assert set(out["name_core"]) == {"恒信达机械制造"}


def test_generated_name_variants_mostly_share_the_core() -> None:
    rng = np.random.default_rng(3)
    n = 4000
    types = rng.choice(np.array(["91", "92", "93", "51", "52", "12"]), n)
    original = names.sample_org_names(rng, types, places.sample_regions(rng, n))
    variant, kind = names.org_name_variants(rng, original)
    a = organisation_names(pl.Series(original))["name_core"].to_numpy()
    b = organisation_names(pl.Series(variant))["name_core"].to_numpy()
    # Misses: a trade name that is also a short county name (兴隆, 富源) taken for a region
    # by the generator's 'region_dropped', which a reader cannot tell apart either.
    assert (a == b).mean() > 0.99
    for k in ("company_form", "bracket_width", "branch"):
        assert (a == b)[kind == k].mean() > 0.99, k


def test_branch_flag_and_nulls() -> None:
    out = organisation_names(pl.Series(["张记面馆分店", None, "张记面馆", ""]))
    assert out["is_branch"].to_list() == [True, None, False, None]
    assert out["name_core"].to_list() == ["张记面馆", None, "张记面馆", None]


def test_organisation_names_map_back_to_every_row_in_order() -> None:
    raw = [
        "恒信（合肥）机械有限公司",
        None,
        "恒信(合肥)机械有限公司",
        "",
        "恒信（合肥）机械有限公司",
    ]
    out = organisation_names(pl.Series(raw))
    one_by_one = [organisation_names(pl.Series([x], dtype=pl.String)).row(0) for x in raw]
    assert out.rows() == one_by_one
    assert organisation_names(pl.Series([], dtype=pl.String)).height == 0
    assert person_names(pl.Series([], dtype=pl.String)).height == 0
