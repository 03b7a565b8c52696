"""Severity grades, publication periods, repair eligibility and public disclosure
(publish/publication.py) on hand-made listings; the rules file's checks."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from handmade import court, staged

from credlink.etl.catalog import check_frame, contracts_in
from credlink.etl.conform.apply import FIELD_TYPES, conform_frames
from credlink.etl.conform.columns import LISTING_COLUMNS
from credlink.etl.contracts import SCHEMAS_DIR
from credlink.etl.lake import Lake
from credlink.publish.listings import LISTS
from credlink.publish.publication import (
    DISCLOSURE_COLUMNS,
    PUBLICATION_COLUMNS,
    Mask,
    Publication,
    PublicationError,
    listing_identifiers,
    load_publication,
    public_disclosure,
    with_publication,
)

AS_OF = date(2025, 6, 30)
LISTED = date(2024, 3, 1)

#: Hand-made rules: the shipped grade bounds, one list per kind of rule.
RULES = """\
title: test rules
grades:
  minor: {description: minor, min: {months: 0}, max: {months: 3}, may_go_unpublished: true}
  general: {description: general, min: {months: 3}, max: {years: 1}}
  serious: {description: serious, min: {years: 1}, max: {years: 3}}
lists:
  food_serious_violations:
    basis: food basis
    severity:
      rules:
        - {grade: serious, period: {years: 3}, when: [{licence_revoked: {is: true}}]}
        - {grade: minor, period: {months: 3}, published: false, when: [{fine_yuan: {max: 3000}}]}
        - {grade: minor, period: {months: 2}, when: [{fine_yuan: {max: 10000}}]}
      default: {grade: general, period: {years: 1}}
    repair: {repairable: true, reason: the regulator repairs}
    obligations_met: {note: the source does not show the fine paid}
    masking:
      person: {keep_first: 6, keep_last: 4}
      organisation: {keep_all: true}
  flight_ban:
    basis: flight basis
    severity:
      default: {grade: serious, period: listing}
    repair: {repairable: true, reason: civil aviation repairs}
    obligations_met: {none_owed: true, note: nothing owed}
    masking:
      person: {keep_first: 4, keep_last: 4}
      organisation: {keep_all: true}
  rail_ban:
    basis: rail basis
    severity:
      default: {grade: general, period: listing}
    repair: {repairable: true, reason: the railway repairs}
    obligations_met:
      removal_reasons: [fare_paid]
      when: [{behaviour: {in: [smoking_on_train]}}]
      note: the fare paid, or nothing owed
    masking:
      person: {keep_first: 3, keep_last: 2}
      organisation: {keep_all: true}
  court_defaulters:
    basis: court basis
    severity:
      default: {grade: serious, period: listing}
    repair: {repairable: false, reason: removed by the enforcing court under the SPC rules}
    obligations_met: {removal_reasons: [performed], note: performed}
    masking:
      person: {keep_first: 10, keep_last: 4}
      organisation: {keep_all: true}
"""


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    path = tmp_path / "publication.yaml"
    path.write_text(RULES, encoding="utf-8")
    return path


@pytest.fixture
def rules(rules_file: Path) -> Publication:
    return load_publication(rules_file)


def listing(uid: str, list_id: str, **fields: Any) -> dict[str, Any]:
    """A listing row of `list_id` (LISTING_COLUMNS + the list's fields, null unless given):
    a person listed and in force from 2024-03-01, no term, not removed."""
    row: dict[str, Any] = {c: None for c in LISTING_COLUMNS}
    row |= {f: None for f in LISTS[list_id].fields}
    row |= {
        "unique_id": uid,
        "list_id": list_id,
        "subject_type": "person",
        "subject_name": "张伟",
        "reference": f"ref-{uid}",
        "listed_on": LISTED,
        "effective_from": LISTED,
    }
    unknown = set(fields) - set(row)
    assert not unknown, unknown
    return row | fields


def frame(list_id: str, *rows: dict[str, Any]) -> pl.DataFrame:
    schema = {**LISTING_COLUMNS}
    for name, f in LISTS[list_id].fields.items():
        schema[name] = FIELD_TYPES[f.kind]
    return pl.DataFrame(list(rows), schema=schema)


def published(rules: Publication, *frames: pl.DataFrame, as_of: date = AS_OF) -> pl.DataFrame:
    out = with_publication({str(f["list_id"][0]): f for f in frames}, as_of, rules)
    return pl.concat(list(out.values()), how="diagonal_relaxed")


def row(frame: pl.DataFrame, uid: str) -> dict[str, Any]:
    hit = frame.filter(pl.col("unique_id") == uid)
    assert hit.height == 1, (uid, hit)
    return hit.row(0, named=True)


# ---------------------------------------------------------------- grades, periods, repair


def test_grade_rules_in_order_then_default_with_their_periods_and_repair_from(
    rules: Publication,
) -> None:
    food = frame(
        "food_serious_violations",
        # revoked and a small fine: the first rule that holds (serious) wins
        listing("f/1", "food_serious_violations", licence_revoked=True, fine_yuan=2000.0),
        listing("f/2", "food_serious_violations", licence_revoked=False, fine_yuan=2000.0),
        listing("f/3", "food_serious_violations", fine_yuan=8000.0),
        listing("f/4", "food_serious_violations", fine_yuan=50000.0),
        listing("f/5", "food_serious_violations"),  # no fine known: the default
    )
    out = published(rules, food)
    assert set(PUBLICATION_COLUMNS) <= set(out.columns)
    assert {c: out.schema[c] for c in PUBLICATION_COLUMNS} == PUBLICATION_COLUMNS
    serious, unpublished, minor, general, default = (row(out, f"f/{i}") for i in range(1, 6))
    assert serious["severity"] == "serious" and serious["published"]
    assert (serious["publication_from"], serious["publication_to"]) == (LISTED, date(2027, 3, 1))
    assert serious["repair_from"] == date(2025, 3, 1)  # the serious minimum, 1 year
    # minor may go unpublished: an empty period
    assert unpublished["severity"] == "minor" and not unpublished["published"]
    assert unpublished["publication_to"] == unpublished["publication_from"] == LISTED
    assert minor["severity"] == "minor" and minor["published"]
    assert minor["publication_to"] == date(2024, 5, 1)  # 2 months, within at most 3
    assert minor["repair_from"] == LISTED  # no minimum
    assert general["severity"] == default["severity"] == "general"
    assert general["publication_to"] == date(2025, 3, 1)
    assert general["repair_from"] == date(2024, 6, 1)  # the general minimum, 3 months
    assert serious["repairable"] and serious["not_repairable_reason"] is None


def test_publication_stops_by_itself_at_the_upper_bound(rules: Publication) -> None:
    flights = frame(
        "flight_ban",
        listing("a/1", "flight_ban", ends_on=date(2025, 3, 1)),  # its own 1-year term
        listing("a/2", "flight_ban", ends_on=date(2030, 1, 1)),  # beyond 3 years: clamped
        listing("a/3", "flight_ban"),  # no term of its own: the upper bound
        listing("a/4", "flight_ban", ends_on=date(2024, 9, 1)),  # below 1 year: the minimum
    )
    rail = frame(
        "rail_ban",
        listing("r/1", "rail_ban", ends_on=date(2024, 8, 28)),  # 180 days, within general
        listing("r/2", "rail_ban", ends_on=date(2026, 1, 1)),  # beyond 1 year: clamped
    )
    out = published(rules, flights, rail)
    assert row(out, "a/1")["publication_to"] == date(2025, 3, 1)
    assert row(out, "a/2")["publication_to"] == date(2027, 3, 1)
    assert row(out, "a/3")["publication_to"] == date(2027, 3, 1)
    assert row(out, "a/4")["publication_to"] == date(2025, 3, 1)
    assert row(out, "r/1")["publication_to"] == date(2024, 8, 28)
    assert row(out, "r/2")["publication_to"] == date(2025, 3, 1)
    # the disclosure of 2027-03-01 no longer shows what was published until then
    ids = pl.DataFrame(schema={"unique_id": pl.String, "identifier": pl.String})
    on = public_disclosure(
        with_publication({"flight_ban": flights}, date(2027, 2, 28), rules),
        ids,
        None,
        date(2027, 2, 28),
        rules,
    )
    assert set(on["unique_id"]) == {"a/2", "a/3"}
    after = public_disclosure(
        with_publication({"flight_ban": flights}, date(2027, 3, 1), rules),
        ids,
        None,
        date(2027, 3, 1),
        rules,
    )
    assert after.is_empty()


def test_a_removal_ends_publication_once_known(rules: Publication) -> None:
    flights = frame(
        "flight_ban",
        listing("a/1", "flight_ban", removed_on=date(2024, 6, 1), removal_reason="withdrawn"),
    )
    assert row(published(rules, flights), "a/1")["publication_to"] == date(2024, 6, 1)
    # not known on a day before the removal
    early = row(published(rules, flights, as_of=date(2024, 5, 1)), "a/1")
    assert early["publication_to"] == date(2027, 3, 1)
    # removed before it was published: an empty period, never an inverted one
    before = frame(
        "flight_ban",
        listing("a/2", "flight_ban", removed_on=date(2024, 1, 1), removal_reason="withdrawn"),
    )
    assert row(published(rules, before), "a/2")["publication_to"] == LISTED


def test_not_repairable_with_its_reason(rules: Publication) -> None:
    courts = frame("court_defaulters", listing("c/1", "court_defaulters"))
    out = row(published(rules, courts), "c/1")
    assert out["repairable"] is False
    assert out["not_repairable_reason"] == "removed by the enforcing court under the SPC rules"
    assert out["severity"] == "serious"
    assert out["repair_from"] == date(2025, 3, 1)  # set all the same: see repairable


def test_obligations_met_as_the_source_shows(rules: Publication) -> None:
    rail = frame(
        "rail_ban",
        listing("r/1", "rail_ban", behaviour="fare_dodging"),
        listing(
            "r/2",
            "rail_ban",
            behaviour="fare_dodging",
            removed_on=date(2024, 4, 1),
            removal_reason="fare_paid",
        ),
        listing("r/3", "rail_ban", behaviour="smoking_on_train"),
        listing(
            "r/4",
            "rail_ban",
            behaviour="fare_dodging",
            removed_on=date(2025, 8, 1),  # after the run's day: not known
            removal_reason="fare_paid",
        ),
    )
    flights = frame("flight_ban", listing("a/1", "flight_ban"))
    food = frame("food_serious_violations", listing("f/1", "food_serious_violations"))
    courts = frame(
        "court_defaulters",
        listing("c/1", "court_defaulters", removed_on=date(2024, 5, 1), removal_reason="performed"),
        listing(
            "c/2", "court_defaulters", removed_on=date(2024, 5, 1), removal_reason="term_expired"
        ),
    )
    out = published(rules, rail, flights, food, courts)
    met = dict(zip(out["unique_id"], out["obligations_met"], strict=True))
    assert met == {
        "r/1": False,
        "r/2": True,
        "r/3": True,
        "r/4": False,
        "a/1": True,  # none owed
        "f/1": False,  # the source does not show it
        "c/1": True,
        "c/2": False,
    }


def test_a_list_without_rules_is_an_error_naming_the_file(
    rules: Publication, rules_file: Path
) -> None:
    tax = frame("major_tax_violators", listing("t/1", "major_tax_violators"))
    with pytest.raises(PublicationError, match=rf"{rules_file}.*major_tax_violators"):
        with_publication({"major_tax_violators": tax}, AS_OF, rules)


def test_empty_listings_keep_their_columns(rules: Publication) -> None:
    out = with_publication({"flight_ban": frame("flight_ban")}, AS_OF, rules)["flight_ban"]
    assert out.is_empty() and set(PUBLICATION_COLUMNS) <= set(out.columns)


# ---------------------------------------------------------------- masking and disclosure


@pytest.mark.parametrize(
    ("mask", "text", "shown"),
    [
        (Mask(keep_first=10, keep_last=4), "11010519491231002X", "1101051949****002X"),
        (Mask(keep_first=4, keep_last=4), "360426199101010071", "3604**********0071"),
        (Mask(keep_first=6, keep_last=0), "E12345678", "E12345***"),
        (Mask(keep_all=True), "91110000600037341L", "91110000600037341L"),
        (Mask(keep_first=4, keep_last=4), "E1234567", "********"),  # too short: masked whole
        (Mask(keep_first=4, keep_last=4), None, None),
    ],
)
def test_masking_habit(mask: Mask, text: str | None, shown: str | None) -> None:
    assert mask.apply(text) == shown
    col = pl.DataFrame({"t": [text]}, schema={"t": pl.String}).select(mask.expr(pl.col("t")))
    assert col.item() == shown


def _ids(**by_uid: str) -> pl.DataFrame:
    return pl.DataFrame(
        {"unique_id": list(by_uid), "identifier": list(by_uid.values())},
        schema={"unique_id": pl.String, "identifier": pl.String},
    )


def _ends(*rows: tuple[str, str | None, str | None, date, str]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {"unique_id": u, "credit_code": c, "role": r, "end": e, "end_reason": why,
             "case_id": f"case-{i}"}
            for i, (u, c, r, e, why) in enumerate(rows)
        ],
        schema={"unique_id": pl.String, "credit_code": pl.String, "role": pl.String,
                "end": pl.Date, "end_reason": pl.String, "case_id": pl.String},
    )  # fmt: skip


def test_masking_per_list_and_subject_type(rules: Publication) -> None:
    courts = frame(
        "court_defaulters",
        listing("c/1", "court_defaulters"),
        listing("c/2", "court_defaulters", subject_type="organisation", subject_name="某某公司"),
    )
    flights = frame("flight_ban", listing("a/1", "flight_ban"))
    rail = frame("rail_ban", listing("r/1", "rail_ban"))
    food = frame("food_serious_violations", listing("f/1", "food_serious_violations"))
    ids = _ids(
        **{
            "c/1": "11010519491231002X",
            "c/2": "91110000600037341L",
            "a/1": "11010519491231002X",
            "r/1": "11010519491231002X",
            # f/1 has no identifier row: none shown
        }
    )
    listings = with_publication(
        {"court_defaulters": courts, "flight_ban": flights, "rail_ban": rail,
         "food_serious_violations": food},
        AS_OF,
        rules,
    )  # fmt: skip
    out = public_disclosure(listings, ids, None, date(2024, 4, 1), rules)
    masked = dict(zip(out["unique_id"], out["masked_identifier"], strict=True))
    assert masked == {
        "c/1": "1101051949****002X",
        "c/2": "91110000600037341L",
        "a/1": "1101**********002X",
        "r/1": "110*************2X",
        "f/1": None,
    }
    c1 = row(out, "c/1")
    assert c1["subject_name"] == "张伟" and c1["reference"] == "ref-c/1"
    assert c1["basis"] == "court basis" and c1["severity"] == "serious"
    assert c1["list_title"] == LISTS["court_defaulters"].title
    assert (c1["publication_from"], c1["publication_to"]) == (LISTED, date(2027, 3, 1))


def test_disclosure_shows_only_listings_published_within_their_period(
    rules: Publication,
) -> None:
    day = date(2025, 6, 30)
    flights = frame(
        "flight_ban",
        listing("a/shown", "flight_ban", ends_on=date(2026, 1, 1)),
        listing("a/expired", "flight_ban", ends_on=date(2025, 3, 1)),
        listing(
            "a/removed", "flight_ban", removed_on=date(2025, 6, 30), removal_reason="withdrawn"
        ),
        listing(
            "a/removed_later",
            "flight_ban",
            removed_on=date(2025, 7, 1),
            removal_reason="withdrawn",
        ),
        listing("a/repaired", "flight_ban"),
        listing("a/withdrawn", "flight_ban"),
        listing("a/repaired_later", "flight_ban"),
        listing("a/rep_only", "flight_ban"),
        listing("a/not_yet", "flight_ban", listed_on=date(2025, 7, 1)),
    )
    food = frame(
        "food_serious_violations",
        listing("f/unpublished", "food_serious_violations", fine_yuan=1000.0),
        listing("f/general_expired", "food_serious_violations", fine_yuan=50000.0),
        listing(
            "f/general",
            "food_serious_violations",
            fine_yuan=50000.0,
            listed_on=date(2025, 1, 1),
        ),
    )
    ends = _ends(
        ("a/repaired", None, None, date(2025, 6, 30), "repaired"),
        ("a/withdrawn", "11010519491231002X", "listed", date(2025, 5, 1), "withdrawn"),
        ("a/repaired_later", None, None, date(2025, 7, 1), "repaired"),
        # a former legal representative's restriction lifted: the listing stays published
        ("a/rep_only", "110101198001010013", "legal_representative", date(2025, 5, 1),
         "representative_changed"),
        ("a/rep_only", "110101198001010013", "legal_representative", date(2025, 5, 1),
         "withdrawn"),
    )  # fmt: skip
    listings = with_publication(
        {"flight_ban": flights, "food_serious_violations": food}, day, rules
    )
    out = public_disclosure(listings, _ids(), ends, day, rules)
    assert out.schema == DISCLOSURE_COLUMNS
    # sorted by list, publication start, record
    assert out["unique_id"].to_list() == [
        "a/removed_later",
        "a/rep_only",
        "a/repaired_later",
        "a/shown",
        "f/general",
    ]
    # the same listings in one frame, and without any case ends
    one = pl.concat(list(listings.values()), how="diagonal_relaxed")
    assert public_disclosure(one, _ids(), ends, day, rules).equals(out)
    more = public_disclosure(listings, _ids(), None, day, rules)
    assert set(more["unique_id"]) == set(out["unique_id"]) | {"a/repaired", "a/withdrawn"}
    contract = contracts_in(SCHEMAS_DIR / "publish" / "tables")["publish.public_disclosure"]
    assert contract.polars_schema == DISCLOSURE_COLUMNS
    assert check_frame(out, contract) == []


def test_disclosure_of_nothing_has_the_contract_columns(rules: Publication) -> None:
    out = public_disclosure({}, _ids(), None, AS_OF, rules)
    assert out.is_empty() and out.schema == DISCLOSURE_COLUMNS


def test_listing_identifiers_from_the_conformed_subject_tables(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    first = court(1, subject_id_norm="11010519491231002X")
    later = court(1, subject_id_norm="110105194912310036", updated=datetime(2025, 3, 1, tzinfo=UTC))
    for key, rows in (
        ("i1", [first, court(2, subject_id_norm="360426199101010071")]),
        ("i2", [later]),
    ):
        conformed = conform_frames({"courts__SXBZXR": staged("courts", "SXBZXR", rows)})
        lake.write(
            "conformed", "subjects__courts__SXBZXR", key, conformed["subjects__courts__SXBZXR"]
        )
    got = listing_identifiers(lake).sort("unique_id")
    assert got.schema == {"unique_id": pl.String, "identifier": pl.String}
    assert got.rows() == [
        ("courts/SXBZXR/1", "110105194912310036"),
        ("courts/SXBZXR/2", "360426199101010071"),
    ]
    # known on a day before the later version
    assert listing_identifiers(lake, as_of=date(2024, 6, 30)).sort("unique_id").rows()[0] == (
        "courts/SXBZXR/1",
        "11010519491231002X",
    )
    assert listing_identifiers(Lake(tmp_path / "empty")).is_empty()


# ---------------------------------------------------------------- the file's checks


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        # periods outside the grade's bounds
        ("{grade: general, period: {years: 1}}", "{grade: general, period: {years: 2}}",
         r"lists\.food_serious_violations\.severity\.default\.period: 2 years is outside the "
         r"general grade's bounds \(3 months to 1 year\)"),
        ("{grade: serious, period: {years: 3}, when", "{grade: serious, period: {months: 6}, when",
         r"lists\.food_serious_violations\.severity\.rules\.0\.period: 6 months is outside"),
        ("{grade: minor, period: {months: 2}", "{grade: minor, period: {months: 4}",
         r"lists\.food_serious_violations\.severity\.rules\.2\.period: 4 months is outside"),
        # unknown field, code, list, removal reason, key
        ("[{licence_revoked: {is: true}}]", "[{licence_pulled: {is: true}}]",
         r"lists\.food_serious_violations\.severity\.rules\.0\.when\.0\.licence_pulled: list "
         r"food_serious_violations has no field 'licence_pulled'"),
        ("[{behaviour: {in: [smoking_on_train]}}]", "[{behaviour: {in: [singing]}}]",
         r"lists\.rail_ban\.obligations_met\.when\.0\.behaviour: unknown codes \['singing'\]"),
        ("  court_defaulters:\n", "  court_defaulter:\n",
         r"lists\.court_defaulter: unknown list 'court_defaulter'"),
        ("removal_reasons: [fare_paid]", "removal_reasons: [fare_payed]",
         r"lists\.rail_ban\.obligations_met: .*unknown removal reasons \['fare_payed'\]"),
        ("{grade: serious, period: listing}\n    repair: {repairable: true",
         "{grade: serious, perido: listing}\n    repair: {repairable: true",
         r"lists\.flight_ban\.severity\.default\.perido: Extra inputs"),
        # only a grade that may go unpublished may be unpublished
        ("{grade: general, period: {years: 1}}",
         "{grade: general, period: {years: 1}, published: false}",
         r"lists\.food_serious_violations\.severity\.default\.published: a general listing is "
         r"always published"),
        # bounds and numbers
        ("max: {years: 3}}", "max: {months: 6}}",
         r"grades\.serious: .*min \(1 year\) exceeds max \(6 months\)"),
        ("{keep_first: 4, keep_last: 4}", "{keep_first: true, keep_last: 4}",
         r"lists\.flight_ban\.masking\.person\.keep_first"),
        ("{grade: serious, period: listing}\n    repair: {repairable: true",
         "{grade: serious, period: {years: true}}\n    repair: {repairable: true",
         r"lists\.flight_ban\.severity\.default\.period"),
    ],
)  # fmt: skip
def test_a_bad_rules_file_fails_naming_the_file_and_the_field(
    tmp_path: Path, old: str, new: str, where: str
) -> None:
    assert RULES.count(old) == 1, old
    path = tmp_path / "publication.yaml"
    path.write_text(RULES.replace(old, new), encoding="utf-8")
    with pytest.raises(PublicationError) as err:
        load_publication(path)
    assert str(err.value).startswith(f"{path}: ")
    assert re.search(where, str(err.value)), str(err.value)


def test_a_key_written_twice_fails_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "publication.yaml"
    path.write_text(RULES.replace("title: test rules\n", "title: a\ntitle: b\n"), encoding="utf-8")
    with pytest.raises(PublicationError, match=rf"{path}.*duplicate key 'title'"):
        load_publication(path)


def test_a_red_list_has_no_publication_rules(tmp_path: Path, rules: Publication) -> None:
    red = sorted(k for k, spec in LISTS.items() if spec.kind == "red")
    assert red, "the catalog has a red list (tax_grade_a)"
    path = tmp_path / "publication.yaml"
    path.write_text(RULES.replace("  court_defaulters:\n", f"  {red[0]}:\n"), encoding="utf-8")
    with pytest.raises(PublicationError, match=rf"lists\.{red[0]}: {red[0]} is a red list"):
        load_publication(path)
    # its listings pass with_publication unpublished, and never show in the disclosure
    listings = with_publication({red[0]: frame(red[0], listing("g/1", red[0]))}, AS_OF, rules)
    out = row(listings[red[0]], "g/1")
    assert out["published"] is False and out["severity"] is None and not out["repairable"]
    assert public_disclosure(listings, _ids(), None, AS_OF, rules).is_empty()


def test_the_shipped_rules_cover_every_black_list_of_the_catalog() -> None:
    shipped = load_publication()
    assert sorted(shipped.lists) == sorted(k for k, s in LISTS.items() if s.kind == "black")
    assert shipped.grades.minor.may_go_unpublished
    assert (shipped.grades.general.min.total_months, shipped.grades.general.max.total_months) == (
        3,
        12,
    )
    assert (shipped.grades.serious.min.total_months, shipped.grades.serious.max.total_months) == (
        12,
        36,
    )
    assert shipped.grades.minor.max.total_months == 3
    assert not shipped.lists["court_defaulters"].repair.repairable
    assert all(
        spec.repair.repairable for k, spec in shipped.lists.items() if k != "court_defaulters"
    )
    assert "uncivilised_tourists" in shipped.lists
