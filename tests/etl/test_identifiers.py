"""Check-character maths in etl.identifiers, cross-checked against python-stdnum."""

from __future__ import annotations

import numpy as np
import pytest
from stdnum.cn import ric as stdnum_ric
from stdnum.cn import uscc as stdnum_uscc
from stdnum.exceptions import ValidationError
from stdnum.iso7064 import mod_11_10

from credlink.etl.identifiers import (
    ORG_CODE_WEIGHTS,
    RIC_CHECK_CHARS,
    RIC_WEIGHTS,
    USCC_CHARSET,
    USCC_WEIGHTS,
    from_char_matrix,
    is_valid_food_licence,
    is_valid_org_code,
    is_valid_registration_number,
    is_valid_ric,
    is_valid_uscc,
    mod_11_10_check_digits,
    org_code_check_chars,
    ric_check_chars,
    to_char_matrix,
    uscc_check_chars,
)

N = 10_000


def _random_strings(rng: np.random.Generator, alphabet: str, n: int, width: int) -> list[str]:
    chars = np.array(list(alphabet))
    return ["".join(row) for row in chars[rng.integers(0, len(alphabet), size=(n, width))]]


def test_constants_match_the_standards() -> None:
    assert tuple(pow(2, 17 - i, 11) for i in range(17)) == RIC_WEIGHTS
    assert RIC_CHECK_CHARS == "10X98765432"
    assert USCC_WEIGHTS == (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
    assert len(USCC_CHARSET) == 31
    assert not set("IOZSV") & set(USCC_CHARSET)
    assert ORG_CODE_WEIGHTS == (3, 7, 9, 10, 5, 8, 4, 2)


def test_docstring_examples() -> None:
    assert ric_check_chars(["11010519491231002"]).tolist() == ["X"]
    assert uscc_check_chars(["91110000600037341"]).tolist() == ["L"]
    assert org_code_check_chars(["60003734"]).tolist() == ["1"]
    assert mod_11_10_check_digits(["79462"]).tolist() == ["3"]
    assert to_char_matrix(["A1", "B2"], 2).tolist() == [[65, 49], [66, 50]]
    assert from_char_matrix(np.array([[65, 49], [66, 0]])).tolist() == ["A1", "B"]


def test_ric_check_chars_agree_with_stdnum() -> None:
    bodies = _random_strings(np.random.default_rng(1), "0123456789", N, 17)
    ours = ric_check_chars(bodies)
    # stdnum's calc_check_digit expects the number with a (any) check digit on the end.
    theirs = [stdnum_ric.calc_check_digit(b + "0") for b in bodies]
    assert ours.tolist() == theirs
    assert set(ours.tolist()) == set(RIC_CHECK_CHARS)  # every check value was exercised


def test_uscc_check_chars_agree_with_stdnum() -> None:
    rng = np.random.default_rng(2)
    bodies = [
        d + a
        for d, a in zip(
            _random_strings(rng, "0123456789", N, 8),
            _random_strings(rng, USCC_CHARSET, N, 9),
            strict=True,
        )
    ]
    ours = uscc_check_chars(bodies)
    assert ours.tolist() == [stdnum_uscc.calc_check_digit(b) for b in bodies]
    assert all(stdnum_uscc.is_valid(b + c) for b, c in zip(bodies, ours, strict=True))


@pytest.mark.parametrize("width", [13, 14, 5])
def test_mod_11_10_agrees_with_stdnum(width: int) -> None:
    bodies = _random_strings(np.random.default_rng(width), "0123456789", N, width)
    ours = mod_11_10_check_digits(bodies)
    assert ours.tolist() == [mod_11_10.calc_check_digit(b) for b in bodies]


def _org_check_by_hand(body: str) -> str:
    """Independent oracle: GB 11714 straight from the definition."""
    values = [int(c) if c.isdigit() else ord(c) - ord("A") + 10 for c in body]
    c = 11 - sum(v * w for v, w in zip(values, ORG_CODE_WEIGHTS, strict=True)) % 11
    return {10: "X", 11: "0"}.get(c, str(c))


@pytest.mark.parametrize(
    ("body", "check"),
    [
        # 6*3 + 0*7 + 0*9 + 0*10 + 3*5 + 7*8 + 3*4 + 4*2 = 109; 109 mod 11 = 10; 11 - 10 = 1
        ("60003734", "1"),  # inside 91110000600037341L
        # 1*3 + 9*7 + 2*9 + 2*10 + 0*5 + 3*8 + 8*4 + 2*2 = 164; 164 mod 11 = 10; 11 - 10 = 1
        ("19220382", "1"),  # inside 914403001922038216
        # 7*3 + 0*7 + 8*9 + 4*10 + 6*5 + 1*8 + 1*4 + 3*2 = 181; 181 mod 11 = 5; 11 - 5 = 6
        ("70846113", "6"),  # inside 91440300708461136T
        # 1*3 + 2*7 + 3*9 + 4*10 + 5*5 + 6*8 + 7*4 + 8*2 = 201; 201 mod 11 = 3; 11 - 3 = 8
        ("12345678", "8"),
        # M=22, A=10, B=11, C=12, D=13: 66 + 70 + 0 + 10 + 50 + 88 + 48 + 26 = 358; mod 11 = 6 -> 5
        ("MA01ABCD", "5"),
        # 6*2 = 12; 12 mod 11 = 1; 11 - 1 = 10 -> 'X'
        ("00000006", "X"),
        # 0; 11 - 0 = 11 -> '0'
        ("00000000", "0"),
    ],
)
def test_org_code_check_chars_known_examples(body: str, check: str) -> None:
    assert org_code_check_chars([body]).tolist() == [check]
    assert _org_check_by_hand(body) == check


def test_org_code_check_chars_agree_with_oracle() -> None:
    rng = np.random.default_rng(3)
    bodies = _random_strings(rng, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", N, 8)
    assert org_code_check_chars(bodies).tolist() == [_org_check_by_hand(b) for b in bodies]


def test_inner_org_codes_of_real_usccs() -> None:
    for code in ("91110000600037341L", "914403001922038216", "91440300708461136T"):
        assert stdnum_uscc.is_valid(code)
        assert is_valid_uscc(code)
        assert is_valid_org_code(code[8:17])
        assert org_code_check_chars([code[8:16]])[0] == code[16]


def test_wrong_inner_check_rejected_although_stdnum_accepts() -> None:
    # Organisation code 60003734 has check 1; put 2 there and recompute the OUTER check, so the
    # code is well-formed for stdnum (which checks the outer character only) but not for us.
    body = "91110000" + "60003734" + "2"
    code = body + uscc_check_chars([body])[0]
    assert stdnum_uscc.is_valid(code)
    assert not is_valid_uscc(code)


@pytest.mark.parametrize(
    "code",
    [
        "91110000600037341M",  # wrong outer check
        "91110000600037341",  # too short
        "91110000600037341LL",
        "9111000060003734IL",  # I is not in the charset
        "911100A0600037341L",  # letter in the division code
        "",
    ],
)
def test_is_valid_uscc_rejects(code: str) -> None:
    assert not is_valid_uscc(code)


def test_is_valid_ric() -> None:
    assert is_valid_ric("11010519491231002X")
    assert is_valid_ric("360426199101010071")
    assert not is_valid_ric("110105194912310021")  # wrong check
    assert not is_valid_ric("11010519491231002x")  # lower-case x: normalise first
    assert not is_valid_ric("11010519490231002X")  # 31 February is no date ...
    body = "11010519490231002"
    assert not is_valid_ric(body + ric_check_chars([body])[0])  # ... even with a right check
    assert not is_valid_ric("1101051949123100")
    assert not is_valid_ric(None)  # type: ignore[arg-type]


def test_is_valid_org_code() -> None:
    assert is_valid_org_code("60003734-1")
    assert is_valid_org_code("600037341")
    assert is_valid_org_code("00000006-X")
    assert not is_valid_org_code("60003734-2")
    assert not is_valid_org_code("6000373-41")
    assert not is_valid_org_code("60003734_1")
    assert not is_valid_org_code("6000373a-1")


def test_is_valid_registration_number_and_food_licence() -> None:
    assert is_valid_registration_number("110105000000012")
    assert mod_11_10.is_valid("110105000000012")
    assert not is_valid_registration_number("110105000000013")
    assert not is_valid_registration_number("11010500000001")
    assert is_valid_food_licence("JY13401020000013")
    assert mod_11_10.is_valid("13401020000013")
    assert not is_valid_food_licence("JY13401020000014")
    assert not is_valid_food_licence("JX13401020000013")
    assert not is_valid_food_licence("JY1340102000001")


def test_malformed_bodies_raise_or_blank() -> None:
    dirty = np.array(["1101051949123100", None, "1101051949123100A", "11010519491231002", "é" * 17])
    with pytest.raises(ValueError, match="malformed citizen-ID body"):
        ric_check_chars(dirty)
    assert ric_check_chars(dirty, on_error="blank").tolist() == ["", "", "", "X", ""]
    uscc = uscc_check_chars(["9111000060003734I", "91110000600037341"], on_error="blank")
    assert uscc.tolist() == ["", "L"]
    assert org_code_check_chars(["6000373-", "60003734"], on_error="blank").tolist() == ["", "1"]
    assert mod_11_10_check_digits(["7946x", "79462"], on_error="blank").tolist() == ["", "3"]
    with pytest.raises(ValueError):
        to_char_matrix(["A1", "B"], 2)


def test_matrix_input_and_empty_input() -> None:
    bodies = ["11010519491231002", "36042619910101007"]
    mat = to_char_matrix(bodies, 17)
    assert ric_check_chars(mat).tolist() == ric_check_chars(bodies).tolist() == ["X", "1"]
    assert from_char_matrix(mat).tolist() == bodies
    assert ric_check_chars([]).tolist() == []
    assert mod_11_10_check_digits([]).tolist() == []


def test_scalar_validators_agree_with_vectorised_checks() -> None:
    rng = np.random.default_rng(4)
    bodies = _random_strings(rng, "0123456789", 2_000, 17)
    ids = [b + c for b, c in zip(bodies, ric_check_chars(bodies), strict=True)]
    # All checks are right, so is_valid_ric turns on the birth date alone (random bodies are
    # mostly not dates). stdnum also looks the division code up, so compare with its date part.
    seen = set()
    for code in ids:
        expected = True
        try:
            stdnum_ric.get_birth_date(code)
        except ValidationError:
            expected = False
        assert is_valid_ric(code) == expected
        seen.add(expected)
    assert seen == {True, False}
