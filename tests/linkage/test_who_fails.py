"""Who fails to link: recall broken down by what the true code says of the subject."""

from __future__ import annotations

import polars as pl

from credlink.linkage.quality import who_fails

# Two persons from Anhui (34...): a man born 1990 linked, a woman born 1950 missed (in review);
# one from Beijing (11...), a man born 1980, linked. One organisation (91, Shanghai) linked.
TRUTH = pl.DataFrame(
    {
        "unique_id": ["c/t/1", "c/t/2", "c/t/3", "c/t/4"],
        "true_code": [
            "340102199001010011",
            "340102195001010020",
            "110105198001010031",
            "91310000600037341L",
        ],
        "noise": ["", "name_typo", "", ""],
    }
)
LINKS = pl.DataFrame(
    {
        "unique_id": ["c/t/1", "c/t/2", "c/t/3", "c/t/4"],
        "subject_type": ["person", "person", "person", "organisation"],
        "band": ["accept", "review", "accept", "accept"],
        "credit_code": ["340102199001010011", None, "110105198001010031", "91310000600037341L"],
    }
)


def test_breakdown_by_province_age_and_sex() -> None:
    out = who_fails(LINKS, TRUTH, reference_year=2025)
    row = {(r["subject_type"], r["dimension"], r["value"]): r for r in out.iter_rows(named=True)}
    assert row[("person", "province", "安徽省")]["linkable"] == 2
    assert row[("person", "province", "安徽省")]["recall"] == 0.5
    assert row[("person", "province", "北京市")]["recall"] == 1.0
    assert row[("person", "age_band", "60+")]["missed"] == 1
    assert row[("person", "age_band", "60+")]["in_review"] == 1
    assert row[("person", "age_band", "30-44")]["linked"] == 1  # born 1990
    assert row[("person", "age_band", "45-59")]["linked"] == 1  # born 1980: 45 in 2025
    assert row[("person", "sex", "F")]["recall"] == 0.0
    assert row[("person", "sex", "M")]["recall"] == 1.0
    assert row[("organisation", "province", "上海市")]["linked"] == 1
    assert row[("organisation", "entity_type", "91")]["recall"] == 1.0
    # Persons are never broken down by entity type, organisations never by age or sex.
    assert not out.filter(
        (pl.col("subject_type") == "organisation") & pl.col("dimension").is_in(["age_band", "sex"])
    ).height
