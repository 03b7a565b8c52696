"""etl.standardise.identifiers: every class of person and organisation identifier, known
examples and cross-checks against python-stdnum and the scalar validators of etl.identifiers."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest
from stdnum.cn import ric as stdnum_ric
from stdnum.exceptions import ValidationError

from credlink.etl.identifiers import (
    USCC_CHARSET,
    is_valid_org_code,
    is_valid_registration_number,
    is_valid_uscc,
    org_code_check_chars,
    uscc_check_chars,
)
from credlink.etl.standardise.identifiers import (
    ORGANISATION_ID_CLASSES,
    PERSON_ID_CLASSES,
    organisation_ids,
    person_ids,
)
from credlink.world import codes, places

# (raw, id_class, id_citizen, id_birth_date, id_birth_year, id_sex, id_region, id_tail)
PERSON_CASES = [
    # valid, upper- and lower-case check character X
    (
        "11010519491231002X",
        "citizen_id",
        "11010519491231002X",
        date(1949, 12, 31),
        1949,
        "F",
        "110105",
        "002X",
    ),
    (
        "11010519491231002x",
        "citizen_id",
        "11010519491231002X",
        date(1949, 12, 31),
        1949,
        "F",
        "110105",
        "002X",
    ),
    (
        "360426199101010071",
        "citizen_id",
        "360426199101010071",
        date(1991, 1, 1),
        1991,
        "M",
        "360426",
        "0071",
    ),
    # full-width digits, spaces, hyphens as typed
    (
        "１１０１０５１９４９１２３１００２Ｘ",
        "citizen_id",
        "11010519491231002X",
        date(1949, 12, 31),
        1949,
        "F",
        "110105",
        "002X",
    ),
    (
        " 110105 19491231 002X ",
        "citizen_id",
        "11010519491231002X",
        date(1949, 12, 31),
        1949,
        "F",
        "110105",
        "002X",
    ),
    (
        "110105-19491231-002X",
        "citizen_id",
        "11010519491231002X",
        date(1949, 12, 31),
        1949,
        "F",
        "110105",
        "002X",
    ),
    # a wrong check character: no id_citizen, the rest is still read
    (
        "110105194912310021",
        "citizen_id_bad_check",
        None,
        date(1949, 12, 31),
        1949,
        "F",
        "110105",
        "0021",
    ),
    (
        "360426199101010072",
        "citizen_id_bad_check",
        None,
        date(1991, 1, 1),
        1991,
        "M",
        "360426",
        "0072",
    ),
    # the court list's masking: year, sex and tail survive
    ("3423011964****3224", "citizen_id_masked", None, None, 1964, "F", "342301", "3224"),
    ("3423011964＊＊＊＊3215", "citizen_id_masked", None, None, 1964, "M", "342301", "3215"),
    ("4305811971****487x", "citizen_id_masked", None, None, 1971, "M", "430581", "487X"),
    # legacy 15 digits (sequence 002: female), upgraded with 19 and the check character
    (
        "110105491231002",
        "citizen_id_legacy15",
        "11010519491231002X",
        date(1949, 12, 31),
        1949,
        "F",
        "110105",
        "002X",
    ),
    (
        "360426910101007",
        "citizen_id_legacy15",
        "360426199101010071",
        date(1991, 1, 1),
        1991,
        "M",
        "360426",
        "0071",
    ),
    # passports of foreign nationals
    ("M12345678", "passport", None, None, None, None, None, None),
    ("561234567", "passport", None, None, None, None, None, None),
    ("c01x00t47", "passport", None, None, None, None, None, None),
    # missing and malformed
    (None, "missing", None, None, None, None, None, None),
    ("", "missing", None, None, None, None, None, None),
    ("  -  ", "missing", None, None, None, None, None, None),
    ("110105194913310021", "malformed", None, None, None, None, None, None),  # month 13
    ("110105491331002", "malformed", None, None, None, None, None, None),  # legacy, month 13
    ("3423011964**3224", "malformed", None, None, None, None, None, None),
    ("11010519491231002Y", "malformed", None, None, None, None, None, None),
    ("身份证", "malformed", None, None, None, None, None, None),
    ("123", "malformed", None, None, None, None, None, None),
]


@pytest.mark.parametrize("case", PERSON_CASES, ids=lambda c: f"{c[1]}:{c[0]!r}")
def test_person_ids_known_examples(case: tuple[object, ...]) -> None:
    raw, *expected = case
    out = person_ids(pl.Series([raw], dtype=pl.String))
    row = out.row(0)
    assert list(row[1:]) == expected
    assert out.columns == [
        "id_norm",
        "id_class",
        "id_citizen",
        "id_birth_date",
        "id_birth_year",
        "id_sex",
        "id_region",
        "id_tail",
    ]
    assert out.schema["id_birth_date"] == pl.Date
    assert out.schema["id_birth_year"] == pl.Int16


def test_person_ids_normalised_text() -> None:
    out = person_ids(pl.Series(["１１０１０５ 19491231-002x", "3423011964＊＊＊＊3224", ""]))
    assert out["id_norm"].to_list() == ["11010519491231002X", "3423011964****3224", None]


def test_person_id_classes_are_the_documented_ones() -> None:
    out = person_ids(pl.Series([c[0] for c in PERSON_CASES], dtype=pl.String))
    assert set(out["id_class"].to_list()) == set(PERSON_ID_CLASSES)


def test_legacy_ids_upgrade_to_the_registry_number() -> None:
    rng = np.random.default_rng(3)
    n = 2000
    born = np.datetime64("1920-01-01") + rng.integers(0, 29000, n).astype("timedelta64[D]")
    ids18 = codes.citizen_ids(places.sample_regions(rng, n), born, rng.integers(0, 1000, n))
    legacy = codes.legacy_citizen_ids(ids18)
    out = person_ids(pl.Series(legacy))
    assert set(out["id_class"]) == {"citizen_id_legacy15"}
    assert out["id_citizen"].to_list() == ids18.tolist()
    # python-stdnum computes the same check characters and birth dates.
    assert all(stdnum_ric.calc_check_digit(x) == x[-1] for x in out["id_citizen"].to_list())
    assert out["id_birth_date"].to_list() == [stdnum_ric.get_birth_date(x) for x in ids18]


def test_citizen_id_class_agrees_with_stdnum() -> None:
    rng = np.random.default_rng(4)
    n = 3000
    born = np.datetime64("1930-01-01") + rng.integers(0, 30000, n).astype("timedelta64[D]")
    ids = codes.citizen_ids(places.sample_regions(rng, n), born, rng.integers(0, 1000, n))
    bad, _ = codes.mistype_ids(rng, ids[: n // 2])
    values = np.concatenate([bad, ids[n // 2 :]])
    out = person_ids(pl.Series(values))
    ours = (out["id_class"] == "citizen_id").to_list()
    # stdnum's is_valid also wants the division code to exist at the birth date (a simulated
    # person may be born before their current code was created): compare check and date only.
    assert ours == [_stdnum_check_and_date(v) for v in values.tolist()]
    assert set(out["id_class"][: n // 2]) <= {"citizen_id_bad_check", "malformed"}


def _stdnum_check_and_date(number: str) -> bool:
    try:
        stdnum_ric.get_birth_date(number)
    except ValidationError:
        return False
    return bool(stdnum_ric.calc_check_digit(number) == number[-1])


def test_sex_and_year_of_masked_ids_match_the_full_number() -> None:
    rng = np.random.default_rng(5)
    n = 1000
    born = np.datetime64("1940-01-01") + rng.integers(0, 25000, n).astype("timedelta64[D]")
    full = codes.citizen_ids(places.sample_regions(rng, n), born, rng.integers(0, 1000, n))
    masked = person_ids(pl.Series(codes.mask_citizen_ids(full)))
    whole = person_ids(pl.Series(full))
    assert set(masked["id_class"]) == {"citizen_id_masked"}
    for col in ("id_birth_year", "id_sex", "id_region", "id_tail"):
        assert masked[col].to_list() == whole[col].to_list(), col
    assert masked["id_birth_date"].null_count() == n


# (raw, id_class, id_uscc, id_org_code, id_region, id_entity_type)
ORG_CASES = [
    ("91110000600037341L", "uscc", "91110000600037341L", "600037341", "110000", "91"),
    ("91110000600037341l", "uscc", "91110000600037341L", "600037341", "110000", "91"),
    ("9111 0000 6000 3734 1L", "uscc", "91110000600037341L", "600037341", "110000", "91"),
    (
        "９１１１００００６０００３７３４１Ｌ",
        "uscc",
        "91110000600037341L",
        "600037341",
        "110000",
        "91",
    ),
    # outer check wrong, embedded organisation code still valid (the typo is elsewhere)
    ("91110000600037341M", "uscc_bad_check", None, "600037341", "110000", "91"),
    # outer check right, embedded organisation code wrong (see the inner-check test)
    ("91110000600037342P", "uscc_bad_check", None, None, "110000", "91"),
    ("60003734-1", "organisation_code", None, "600037341", None, None),
    ("600037341", "organisation_code", None, "600037341", None, None),
    ("60003734－1", "organisation_code", None, "600037341", None, None),  # full-width hyphen
    ("60003734-2", "organisation_code_bad_check", None, None, None, None),
    ("110105000000012", "legacy_registration_no", None, None, "110105", None),
    ("110105600037341", "legacy_tax_no", None, "600037341", "110105", None),
    ("110105 60003734-1", "legacy_tax_no", None, "600037341", "110105", None),
    (None, "missing", None, None, None, None),
    ("", "missing", None, None, None, None),
    ("110105000000013", "malformed", None, None, None, None),  # 15 digits, neither check
    ("9111000060003734", "malformed", None, None, None, None),
    ("91110000600037341I", "malformed", None, None, None, None),  # I is not in the alphabet
    ("统一社会信用代码", "malformed", None, None, None, None),
]


@pytest.mark.parametrize("case", ORG_CASES, ids=lambda c: f"{c[1]}:{c[0]!r}")
def test_organisation_ids_known_examples(case: tuple[object, ...]) -> None:
    raw, *expected = case
    out = organisation_ids(pl.Series([raw], dtype=pl.String))
    assert list(out.row(0)[1:]) == expected
    assert out.columns == [
        "id_norm",
        "id_class",
        "id_uscc",
        "id_org_code",
        "id_region",
        "id_entity_type",
    ]


def test_the_inner_check_example_is_what_it_claims() -> None:
    # usccs() embeds an organisation code as given: a corrupt one passes only the outer check.
    value = codes.usccs(["91"], ["110000"], ["60003734-2"])[0]
    assert value == "91110000600037342P"
    assert not is_valid_uscc(value)
    assert not is_valid_org_code("600037342")


def test_organisation_id_classes_are_the_documented_ones() -> None:
    out = organisation_ids(pl.Series([c[0] for c in ORG_CASES], dtype=pl.String))
    assert set(out["id_class"].to_list()) == set(ORGANISATION_ID_CLASSES)


def test_uscc_class_has_the_semantics_of_is_valid_uscc() -> None:
    rng = np.random.default_rng(6)
    n = 3000
    org = codes.org_codes(rng, n, ma_share=0.3)
    prefixes = rng.choice(np.array(["91", "92", "93", "51", "52", "53", "12"]), n)
    good = codes.usccs(prefixes, places.sample_regions(rng, n), org)
    typo, _ = codes.mistype_ids(rng, good[:1000], charset=USCC_CHARSET, check=uscc_check_chars)
    inner_bad = codes.usccs(prefixes[1000:1500], places.sample_regions(rng, 500), org[:500])
    inner_bad = np.array([x[:16] + ("0" if x[16] != "0" else "1") + x[17] for x in inner_bad])
    values = np.concatenate([typo, inner_bad, good[1500:]])
    out = organisation_ids(pl.Series(values))
    ours = (out["id_class"] == "uscc").to_list()
    assert ours == [is_valid_uscc(v) for v in values.tolist()]
    assert out.filter(pl.col("id_class") == "uscc")["id_uscc"].to_list() == [
        v for v in values.tolist() if is_valid_uscc(v)
    ]


def test_organisation_codes_agree_with_is_valid_org_code() -> None:
    rng = np.random.default_rng(7)
    good = codes.org_codes(rng, 1000, ma_share=0.2)
    bad, _ = codes.mistype_ids(rng, good[:500], check=org_code_check_chars)
    values = np.concatenate([codes.format_org_codes(good[500:]), bad])
    out = organisation_ids(pl.Series(values))
    assert (out["id_class"] == "organisation_code").to_list() == [
        is_valid_org_code(v) for v in values.tolist()
    ]
    assert set(out["id_class"][500:]) == {"organisation_code_bad_check"}


def test_legacy_tax_number_yields_its_organisation_code() -> None:
    rng = np.random.default_rng(8)
    org = codes.org_codes(rng, 500)
    regions = places.sample_regions(rng, 500)
    tax = codes.legacy_tax_numbers(regions, org)
    reg = codes.legacy_registration_numbers(rng, regions)
    out_tax = organisation_ids(pl.Series(tax), prefer="legacy_tax_no")
    out_reg = organisation_ids(pl.Series(reg), prefer="legacy_registration_no")
    assert set(out_tax["id_class"]) == {"legacy_tax_no"}
    assert out_tax["id_org_code"].to_list() == org.tolist()
    assert out_tax["id_region"].to_list() == regions.tolist()
    assert set(out_reg["id_class"]) == {"legacy_registration_no"}
    assert out_reg["id_region"].to_list() == regions.tolist()
    assert out_reg["id_org_code"].null_count() == 500


def _ambiguous_fifteen() -> str:
    """A 15-digit value that is both a valid registration number and a valid tax number."""
    rng = np.random.default_rng(9)
    for candidate in codes.legacy_tax_numbers(
        places.sample_regions(rng, 200), codes.org_codes(rng, 200)
    ).tolist():
        if candidate.isdigit() and is_valid_registration_number(candidate):
            return str(candidate)
    raise AssertionError("no ambiguous 15-digit value among 200 candidates")


def test_precedence_of_a_value_that_is_both_registration_and_tax_number() -> None:
    value = _ambiguous_fifteen()
    s = pl.Series([value])
    # Default: the tax number wins, and its organisation code is extracted.
    default = organisation_ids(s)
    assert default["id_class"].item() == "legacy_tax_no"
    assert default["id_org_code"].item() == value[6:]
    assert default["id_region"].item() == value[:6]
    # A column known to hold registration numbers says so.
    reg = organisation_ids(s, prefer="legacy_registration_no")
    assert reg["id_class"].item() == "legacy_registration_no"
    assert reg["id_org_code"].item() is None
    assert reg["id_region"].item() == value[:6]
    with pytest.raises(ValueError, match="prefer"):
        organisation_ids(s, prefer="uscc")  # type: ignore[arg-type]


def test_rows_keep_their_order_and_nulls_stay_missing() -> None:
    raw = [None, "91110000600037341L", "", None, "60003734-1"]
    out = organisation_ids(pl.Series(raw))
    assert out["id_class"].to_list() == [
        "missing",
        "uscc",
        "missing",
        "missing",
        "organisation_code",
    ]
    people = person_ids(pl.Series([None, "3423011964****3224", None]))
    assert people["id_class"].to_list() == ["missing", "citizen_id_masked", "missing"]
    assert people.height == 3
    assert person_ids(pl.Series([], dtype=pl.String)).height == 0
    assert organisation_ids(pl.Series([], dtype=pl.String)).height == 0
