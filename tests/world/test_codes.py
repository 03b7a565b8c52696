"""Identifier generation and corruption in world.codes, cross-checked against python-stdnum."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import stdnum.cn
from stdnum.cn import ric as stdnum_ric
from stdnum.cn import uscc as stdnum_uscc
from stdnum.iso7064 import mod_11_10

from credlink.etl.identifiers import (
    USCC_CHARSET,
    is_valid_food_licence,
    is_valid_org_code,
    is_valid_registration_number,
    is_valid_ric,
    is_valid_uscc,
    org_code_check_chars,
    uscc_check_chars,
)
from credlink.world.codes import (
    PASSPORT_FORMATS,
    citizen_ids,
    food_licence_numbers,
    format_org_codes,
    legacy_citizen_ids,
    legacy_registration_numbers,
    legacy_tax_numbers,
    mask_citizen_ids,
    mistype_ids,
    org_codes,
    passport_numbers,
    usccs,
)

N = 10_000


def _stable_division_codes() -> list[str]:
    """Division codes that stdnum's table knows with no validity period (valid in every year)."""
    path = Path(stdnum.cn.__file__).parent / "loc.dat"
    codes, province = [], ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if m := re.match(r"(\d{2}) ", line):
            province = m.group(1)
        elif (m := re.match(r'  (\d{4}) county="([^"]*)"', line)) and m.group(2)[:1] != "[":
            codes.append(province + m.group(1))
    return codes


DIVISIONS = np.array(_stable_division_codes())
NDArrayTriple = tuple[np.ndarray, np.ndarray, np.ndarray]


def _people(rng: np.random.Generator, n: int = N) -> NDArrayTriple:
    regions = rng.choice(DIVISIONS, n)
    births = np.datetime64("1930-01-01") + rng.integers(0, 80 * 365, n)
    seqs = rng.integers(0, 1000, n)
    return regions, births, seqs


@pytest.fixture(scope="module")
def ids() -> np.ndarray:
    return citizen_ids(*_people(np.random.default_rng(10)))


# --------------------------------------------------------------------------------------------
# citizen identity numbers


def test_division_table_is_usable() -> None:
    assert len(DIVISIONS) > 300
    assert "110105" in DIVISIONS


def test_citizen_ids_valid_for_stdnum_and_us() -> None:
    regions, births, seqs = _people(np.random.default_rng(11))
    out = citizen_ids(regions, births, seqs)
    assert out.dtype == np.dtype("U18")
    assert all(stdnum_ric.is_valid(s) for s in out)
    assert all(is_valid_ric(s) for s in out)
    assert set(np.strings.slice(out, 17, 18).tolist()) == set("0123456789X")
    # The parts are where they belong.
    assert (np.strings.slice(out, 0, 6) == regions).all()
    ymd = np.datetime_as_string(births, unit="D")
    assert (np.strings.slice(out, 6, 14) == np.strings.replace(ymd, "-", "")).all()
    assert (np.strings.slice(out, 14, 17).astype(int) == seqs).all()


def test_citizen_ids_examples_and_input_forms() -> None:
    assert citizen_ids(["110105"], ["1949-12-31"], [2]).tolist() == ["11010519491231002X"]
    assert citizen_ids(360426, np.datetime64("1991-01-01"), 7).tolist() == ["360426199101010071"]
    both = citizen_ids("110105", ["1949-12-31", "2001-02-28"], [2, 13])
    assert both.tolist() == ["11010519491231002X", "110105200102280138"]
    with pytest.raises(ValueError):
        citizen_ids(["11010"], ["1949-12-31"], [2])
    with pytest.raises(ValueError):
        citizen_ids(["110105"], ["1949-12-31"], [1000])
    with pytest.raises(ValueError):
        citizen_ids(["110105"], [np.datetime64("NaT")], [1])


def test_legacy_citizen_ids(ids: np.ndarray) -> None:
    assert legacy_citizen_ids(["11010519491231002X"]).tolist() == ["110105491231002"]
    last_century = ids[np.strings.slice(ids, 6, 8) == "19"]
    legacy = legacy_citizen_ids(last_century)
    assert legacy.dtype == np.dtype("U15")
    assert np.strings.isdigit(legacy).all()
    expected = np.strings.add(
        np.strings.slice(last_century, 0, 6), np.strings.slice(last_century, 8, 17)
    )
    assert (legacy == expected).all()
    with pytest.raises(ValueError, match="1900-1999"):
        legacy_citizen_ids(["110105200102280138"])


def test_mask_citizen_ids(ids: np.ndarray) -> None:
    assert mask_citizen_ids(["342301196401013224"]).tolist() == ["3423011964****3224"]
    masked = mask_citizen_ids(ids)
    assert masked.dtype == np.dtype("U18")
    assert (np.strings.slice(masked, 10, 14) == "****").all()
    assert (np.strings.slice(masked, 0, 10) == np.strings.slice(ids, 0, 10)).all()
    assert (np.strings.slice(masked, 14, 18) == np.strings.slice(ids, 14, 18)).all()


def _diff_positions(a: str, b: str) -> list[int]:
    assert len(a) == len(b)
    return [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]


def test_mistyped_ids_fail_both_checks(ids: np.ndarray) -> None:
    bad, kind = mistype_ids(np.random.default_rng(12), ids, transposition_share=0.3)
    assert bad.dtype == ids.dtype and bad.shape == ids.shape
    assert set(kind.tolist()) == {"substitution", "transposition"}
    assert 0.25 < (kind == "transposition").mean() < 0.35
    for orig, new, k in zip(ids.tolist(), bad.tolist(), kind.tolist(), strict=True):
        assert not is_valid_ric(new)
        assert not stdnum_ric.is_valid(new)
        diff = _diff_positions(orig, new)
        assert max(diff) < 17  # the check character itself is never touched
        if k == "substitution":
            assert len(diff) == 1 and new[diff[0]].isdigit()
        else:
            assert len(diff) == 2 and diff[1] == diff[0] + 1
            assert new[diff[0]] == orig[diff[1]] and new[diff[1]] == orig[diff[0]]


def test_mistype_falls_back_to_substitution_when_nothing_to_swap() -> None:
    # 1*(sum of weights = 100) mod 11 = 1 -> check '0'
    code = "11111111111111111" + "0"
    assert stdnum_ric.calc_check_digit(code) == "0"
    bad, kind = mistype_ids(np.random.default_rng(0), [code], transposition_share=1.0)
    assert kind.tolist() == ["substitution"]
    assert len(_diff_positions(code, bad[0])) == 1


def test_mistyped_usccs_fail_stdnum() -> None:
    rng = np.random.default_rng(13)
    codes = usccs("91", rng.choice(DIVISIONS, 2_000), org_codes(rng, 2_000, ma_share=0.5))
    bad, kind = mistype_ids(
        rng, codes, USCC_CHARSET, check=uscc_check_chars, transposition_share=0.5
    )
    assert set(kind.tolist()) == {"substitution", "transposition"}
    assert not any(stdnum_uscc.is_valid(s) for s in bad)
    assert not any(is_valid_uscc(s) for s in bad)


# --------------------------------------------------------------------------------------------
# organisations


def test_org_codes() -> None:
    codes = org_codes(np.random.default_rng(14), N)
    assert codes.dtype == np.dtype("U9")
    assert len(set(codes.tolist())) == N
    assert all(is_valid_org_code(c) for c in codes)
    assert np.strings.isdigit(np.strings.slice(codes, 0, 8)).all()
    checks = org_code_check_chars(np.strings.slice(codes, 0, 8))
    assert (checks == np.strings.slice(codes, 8, 9)).all()
    assert org_codes(np.random.default_rng(0), 2).tolist() == ["30782942X", "040973528"]


def test_org_codes_ma_form() -> None:
    codes = org_codes(np.random.default_rng(15), N, ma_share=0.3)
    ma = np.strings.startswith(codes, "MA")
    assert 0.27 < ma.mean() < 0.33
    assert len(set(codes.tolist())) == N
    assert all(is_valid_org_code(c) for c in codes)
    assert set("".join(codes.tolist())) <= set(USCC_CHARSET)


def test_format_org_codes() -> None:
    assert format_org_codes(["600037341"]).tolist() == ["60003734-1"]
    codes = org_codes(np.random.default_rng(16), 100)
    formatted = format_org_codes(codes)
    assert all(re.fullmatch(r"[0-9A-Z]{8}-[0-9X]", s) for s in formatted)
    assert all(is_valid_org_code(s) for s in formatted)


def test_usccs_valid_for_stdnum_and_us() -> None:
    rng = np.random.default_rng(17)
    prefixes = rng.choice(["91", "92", "93", "51", "52", "53", "12"], N)
    regions = rng.choice(DIVISIONS, N)
    orgs = org_codes(rng, N, ma_share=0.2)
    codes = usccs(prefixes, regions, orgs)
    assert codes.dtype == np.dtype("U18")
    assert all(stdnum_uscc.is_valid(s) for s in codes)
    assert all(is_valid_uscc(s) for s in codes)
    assert (np.strings.slice(codes, 0, 2) == prefixes).all()
    assert (np.strings.slice(codes, 2, 8) == regions).all()
    assert (np.strings.slice(codes, 8, 17) == orgs).all()
    # The formatted organisation code gives the same result.
    assert (usccs(prefixes, regions, format_org_codes(orgs)) == codes).all()


def test_usccs_examples() -> None:
    assert usccs(["91"], ["110000"], ["60003734-1"]).tolist() == ["91110000600037341L"]
    assert usccs("91", 440300, "192203821").tolist() == ["914403001922038216"]
    # A corrupt organisation code is embedded as given: outer check right, inner wrong.
    code = usccs("91", "110000", "600037342")[0]
    assert stdnum_uscc.is_valid(code) and not is_valid_uscc(code)
    with pytest.raises(ValueError):
        usccs("9I", "110000", "600037341")


def test_legacy_registration_numbers() -> None:
    regions = np.random.default_rng(18).choice(DIVISIONS, N)
    numbers = legacy_registration_numbers(np.random.default_rng(19), regions)
    assert numbers.dtype == np.dtype("U15")
    assert all(mod_11_10.is_valid(s) for s in numbers)
    assert all(is_valid_registration_number(s) for s in numbers)
    assert (np.strings.slice(numbers, 0, 6) == regions).all()
    assert legacy_registration_numbers(np.random.default_rng(0), ["110105"]).tolist() == [
        "110105850624229"
    ]


def test_legacy_tax_numbers() -> None:
    assert legacy_tax_numbers(["110105"], ["60003734-1"]).tolist() == ["110105600037341"]
    orgs = org_codes(np.random.default_rng(20), 100)
    tax = legacy_tax_numbers("310115", orgs)
    assert tax.dtype == np.dtype("U15")
    assert (tax == np.strings.add("310115", orgs)).all()


def test_food_licence_numbers() -> None:
    rng = np.random.default_rng(21)
    assert food_licence_numbers(rng, 1, "34", "01", "02", 1).tolist() == ["JY13401020000013"]
    regions = rng.choice(DIVISIONS, N)
    btype = rng.integers(1, 4, N)
    numbers = food_licence_numbers(
        rng,
        btype,
        np.strings.slice(regions, 0, 2),
        np.strings.slice(regions, 2, 4),
        np.strings.slice(regions, 4, 6),
    )
    assert numbers.dtype == np.dtype("U16")
    assert (np.strings.slice(numbers, 0, 2) == "JY").all()
    assert all(mod_11_10.is_valid(s[2:]) for s in numbers)
    assert all(is_valid_food_licence(s) for s in numbers)
    assert (np.strings.slice(numbers, 2, 3).astype(int) == btype).all()
    assert (np.strings.slice(numbers, 3, 9) == regions).all()
    given = food_licence_numbers(rng, 2, 11, 1, 5, [0, 999_999])
    assert np.strings.slice(given, 9, 15).tolist() == ["000000", "999999"]


# --------------------------------------------------------------------------------------------
# foreigners

_PASSPORT_RE = {
    "KOR": r"M\d{8}",
    "USA": r"[1-9]\d{8}",
    "JPN": r"(TK|TR|TZ|MU|MZ)\d{7}",
    "RUS": r"[1-9]\d{8}",
    "VNM": r"[BC]\d{7}",
    "DEU": r"[CFGHJK][0-9CFGHJKLMNPRTVWXYZ]{8}",
    "GBR": r"[1-9]\d{8}",
    "FRA": r"\d{2}[A-Z]{2}\d{5}",
    "CAN": r"[A-Z]{2}\d{6}",
    "IND": r"[A-Z][1-9]\d{6}",
}


def test_passport_numbers() -> None:
    numbers, nationality = passport_numbers(np.random.default_rng(22), N)
    assert numbers.shape == nationality.shape == (N,)
    assert set(nationality.tolist()) == set(_PASSPORT_RE)
    for number, nat in zip(numbers.tolist(), nationality.tolist(), strict=True):
        assert re.fullmatch(_PASSPORT_RE[nat], number), (nat, number)
    for fmt in PASSPORT_FORMATS:
        assert re.fullmatch(_PASSPORT_RE[fmt.nationality], fmt.example)
        share = (nationality == fmt.nationality).mean()
        assert abs(share - fmt.weight) < 0.02, fmt.nationality
    assert sum(f.weight for f in PASSPORT_FORMATS) == pytest.approx(1.0)


# --------------------------------------------------------------------------------------------
# determinism and speed

_SEEDED: dict[str, Callable[[np.random.Generator], object]] = {
    "mistype_ids": lambda rng: mistype_ids(rng, citizen_ids(*_people(rng, 500))),
    "org_codes": lambda rng: org_codes(rng, 500, ma_share=0.3),
    "legacy_registration_numbers": lambda rng: legacy_registration_numbers(rng, DIVISIONS),
    "food_licence_numbers": lambda rng: food_licence_numbers(rng, 2, 34, 1, 2),
    "passport_numbers": lambda rng: passport_numbers(rng, 500),
}


@pytest.mark.parametrize("name", sorted(_SEEDED))
def test_same_seed_same_output(name: str) -> None:
    def run(seed: int) -> list[np.ndarray]:
        out = _SEEDED[name](np.random.default_rng(seed))
        return list(out) if isinstance(out, tuple) else [np.asarray(out)]

    first, again, other = run(7), run(7), run(8)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=True))
