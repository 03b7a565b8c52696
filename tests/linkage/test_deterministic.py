"""The deterministic pass on hand-made rows: what links by identifier, and what never does."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest

from credlink.etl.catalog import conform
from credlink.etl.identifiers import mod_11_10_check_digits, org_code_check_chars, ric_check_chars
from credlink.etl.identifiers import uscc_check_chars as uscc_chars
from credlink.etl.standardise.identifiers import organisation_ids, person_ids
from credlink.linkage.deterministic import (
    deterministic_organisation_links,
    deterministic_pass,
    deterministic_person_links,
)
from credlink.linkage.spine import ORGANISATION_COLUMNS, PERSON_COLUMNS


def ric(body17: str) -> str:
    """A valid citizen ID from its 17 body digits."""
    return body17 + str(ric_check_chars([body17])[0])


def org_code(body8: str) -> str:
    return body8 + str(org_code_check_chars([body8])[0])


def uscc(prefix: str, region: str, body8: str) -> str:
    body = prefix + region + org_code(body8)
    return body + str(uscc_chars([body])[0])


def reg_no(body14: str) -> str:
    return body14 + str(mod_11_10_check_digits([body14])[0])


def person_rows(ids: dict[str, str | None], spine: bool = False) -> pl.DataFrame:
    """Person rows whose identifier fields come from the real standardiser."""
    uids = list(ids)
    parsed = person_ids(pl.Series(list(ids.values()), dtype=pl.String))
    frame = pl.DataFrame({"unique_id": uids}).with_columns(
        parsed["id_class"].alias("id_class"),
        parsed["id_norm"].alias("id_norm"),
        parsed["id_citizen"].alias("citizen_id"),
        parsed["id_birth_date"].alias("birth_date"),
        parsed["id_region"].alias("id_region"),
        parsed["id_tail"].alias("id_tail"),
    )
    if spine:
        frame = frame.with_columns(pl.col("citizen_id").alias("unique_id"))
    return conform(frame, PERSON_COLUMNS)


def org_rows(ids: dict[str, str | None], **extra: list[Any]) -> pl.DataFrame:
    parsed = organisation_ids(pl.Series(list(ids.values()), dtype=pl.String))
    frame = pl.DataFrame({"unique_id": list(ids), **extra}).with_columns(
        parsed["id_class"].alias("id_class"),
        parsed["id_norm"].alias("id_norm"),
        parsed["id_uscc"].alias("uscc"),
        parsed["id_org_code"].alias("org_code"),
        pl.when(parsed["id_class"] == "legacy_registration_no")
        .then(parsed["id_norm"])
        .alias("legacy_registration_no"),
        pl.when(parsed["id_class"] == "legacy_tax_no")
        .then(parsed["id_norm"])
        .alias("legacy_tax_no"),
    )
    return conform(frame, ORGANISATION_COLUMNS)


A = ric("11010519491231002")  # 11010519491231002X
B = ric("36042619910101007")
C = ric("34230119640512322")  # born 1964 in 342301


@pytest.fixture
def person_spine() -> pl.DataFrame:
    return person_rows({A: A, B: B, C: C}, spine=True)


def links_of(links: pl.DataFrame) -> dict[str, tuple[str, str]]:
    return {r["unique_id"]: (r["spine_id"], r["matched_on"]) for r in links.iter_rows(named=True)}


def test_valid_citizen_ids_in_the_registry_link(person_spine: pl.DataFrame) -> None:
    legacy15 = C[:6] + C[8:17]  # 342301640512322: the pre-1999 form of C
    not_in_registry = ric("11010519800101001")
    records = person_rows(
        {
            "r/valid": A,
            "r/lower-x": A.lower(),  # a lower-case check character is the same number
            "r/spaced": f"{B[:6]} {B[6:14]} {B[14:]}",
            "r/legacy15": legacy15,
            "r/unknown": not_in_registry,
        }
    )
    got = links_of(deterministic_person_links(records, person_spine))
    assert got == {
        "r/valid": (A, "citizen_id"),
        "r/lower-x": (A, "citizen_id"),
        "r/spaced": (B, "citizen_id"),
        "r/legacy15": (C, "citizen_id_legacy15"),
    }


def test_bad_or_partial_person_ids_never_link(person_spine: pl.DataFrame) -> None:
    bad_check = A[:17] + ("0" if A[17] != "0" else "1")
    masked = C[:10] + "****" + C[14:]
    records = person_rows(
        {
            "r/bad-check": bad_check,
            "r/masked": masked,
            "r/missing": None,
            "r/malformed": "12345",
            "r/passport": "E12345678",
        }
    )
    classes = dict(zip(records["unique_id"], records["id_class"], strict=True))
    assert classes == {
        "r/bad-check": "citizen_id_bad_check",
        "r/masked": "citizen_id_masked",
        "r/missing": "missing",
        "r/malformed": "malformed",
        "r/passport": "passport",
    }
    assert deterministic_person_links(records, person_spine).is_empty()


def test_a_passport_never_links_even_if_it_carries_a_citizen_number(
    person_spine: pl.DataFrame,
) -> None:
    """Only the identifier class decides: a passport row is never compared with citizen IDs,
    whatever else it holds, and it is set aside from the model too."""
    records = person_rows({"r/passport": "E12345678"}).with_columns(
        pl.lit(A).alias("citizen_id")  # as if a clerk had pasted a number into another field
    )
    links, to_model, never, _ = deterministic_pass(records, person_spine, "person")
    assert links.is_empty()
    assert to_model.is_empty()
    assert never["unique_id"].to_list() == ["r/passport"]


REGION = "110105"
X = uscc("91", REGION, "60003734")
Y = uscc("92", "340104", "MA2B3C4D")
Z = uscc("91", "320102", "13579135")
Z2 = uscc("93", "320102", "24680246")


@pytest.fixture
def org_spine() -> pl.DataFrame:
    spine = org_rows({X: X, Y: Y, Z: Z, Z2: Z2})
    return spine.with_columns(
        pl.Series("legacy_registration_no", [reg_no(REGION + "00000001"), None, None, None]),
        pl.Series("legacy_tax_no", [REGION + X[8:17], None, "320102" + Z[8:17], None]),
    )


def test_valid_organisation_identifiers_link(org_spine: pl.DataFrame) -> None:
    records = org_rows(
        {
            "r/uscc": X,
            "r/org-code": f"{Y[8:16]}-{Y[16]}",  # MA2B3C4D-x
            "r/reg-no": reg_no(REGION + "00000001"),
            "r/tax-no": "320102" + Z[8:17],
            "r/tax-no-code-only": "999999" + Z2[8:17],  # no such tax number, but its code
        }
    )
    got = links_of(deterministic_organisation_links(records, org_spine))
    assert got == {
        "r/uscc": (X, "uscc"),
        "r/org-code": (Y, "organisation_code"),
        "r/reg-no": (X, "legacy_registration_no"),
        "r/tax-no": (Z, "legacy_tax_no"),
        "r/tax-no-code-only": (Z2, "legacy_tax_no_org_code"),
    }


def test_organisation_codes_held_twice_or_mistyped_do_not_link(org_spine: pl.DataFrame) -> None:
    # A second registry entry with Y's organisation code (a data error): the code is ambiguous.
    twin = uscc("91", "340104", "MA2B3C4D")
    spine = pl.concat([org_spine, org_rows({twin: twin})])
    mistyped = X[:5] + ("1" if X[5] != "1" else "2") + X[6:]
    records = org_rows(
        {
            "r/ambiguous-code": f"{Y[8:16]}-{Y[16]}",
            "r/mistyped-uscc": mistyped,
            "r/missing": None,
        }
    )
    assert records.filter(pl.col("unique_id") == "r/mistyped-uscc")["id_class"].item() in (
        "uscc_bad_check",
        "malformed",
    )
    links, to_model, _, _ = deterministic_pass(records, spine, "organisation")
    assert links.is_empty()
    assert sorted(to_model["unique_id"]) == ["r/ambiguous-code", "r/missing", "r/mistyped-uscc"]


def test_rules_that_disagree_leave_the_record_to_the_model(org_spine: pl.DataFrame) -> None:
    """A 15-digit number that is one entry's registration number and another's tax number."""
    value = reg_no(REGION + "00000001")
    spine = org_spine.with_columns(
        pl.when(pl.col("unique_id") == Z)
        .then(pl.lit(value))
        .otherwise("legacy_tax_no")
        .alias("legacy_tax_no")
    )
    records = org_rows({"r/15": value})
    assert deterministic_organisation_links(records, spine).is_empty()
