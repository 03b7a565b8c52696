"""A small non-Chinese linkage problem built in code: a customer register and a batch of
applications with English names, dates of birth and UK-style postcodes.

Nothing here knows about credit codes: other column names (``client_no`` is the id of both
tables, ``forename``, ``family_name``, ``born``, ``postcode``), integer ids whose values overlap
between the two tables, and a model whose subject label is ``customer``. Used by
``test_engine_generic.py``.

The applications are of three kinds, and :attr:`Customers.truth` says which register entry each
true match is:

- ``match``: a register customer, with the slips clerks make (a typo in a name, a nickname,
  day and month swapped, a missing, mistyped or old postcode), at most two per record;
- ``namesake``: someone else with a register customer's forename and family name, but another
  date of birth and postcode (must not be linked);
- ``stranger``: someone not in the register at all (must not be linked).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl

ID = "client_no"
SUBJECT = "customer"

FORENAMES = [
    "Oliver",
    "George",
    "Harry",
    "Jack",
    "Jacob",
    "Noah",
    "Charlie",
    "Thomas",
    "Oscar",
    "William",
    "James",
    "Henry",
    "Leo",
    "Alfie",
    "Joshua",
    "Freddie",
    "Archie",
    "Ethan",
    "Isaac",
    "Alexander",
    "Joseph",
    "Edward",
    "Samuel",
    "Max",
    "Daniel",
    "Arthur",
    "Lucas",
    "Olivia",
    "Amelia",
    "Isla",
    "Ava",
    "Emily",
    "Sophia",
    "Grace",
    "Mia",
    "Poppy",
    "Ella",
    "Lily",
    "Evie",
    "Isabella",
    "Sophie",
    "Ivy",
    "Freya",
    "Harper",
    "Willow",
    "Charlotte",
    "Jessica",
    "Ruby",
    "Florence",
    "Matilda",
    "Elsie",
    "Rosie",
    "Alice",
    "Chloe",
    "Daisy",
    "Margaret",
    "Eleanor",
    "Catherine",
    "Elizabeth",
    "Victoria",
    "Rebecca",
    "Hannah",
    "Lucy",
    "Megan",
    "Bethany",
]
SURNAMES = [
    "Smith",
    "Jones",
    "Williams",
    "Taylor",
    "Brown",
    "Davies",
    "Evans",
    "Wilson",
    "Thomas",
    "Johnson",
    "Roberts",
    "Robinson",
    "Thompson",
    "Wright",
    "Walker",
    "White",
    "Edwards",
    "Hughes",
    "Green",
    "Hall",
    "Lewis",
    "Harris",
    "Clarke",
    "Patel",
    "Jackson",
    "Wood",
    "Turner",
    "Martin",
    "Cooper",
    "Hill",
    "Ward",
    "Morris",
    "Moore",
    "Clark",
    "Lee",
    "King",
    "Baker",
    "Harrison",
    "Morgan",
    "Allen",
    "James",
    "Scott",
    "Phillips",
    "Watson",
    "Davis",
    "Parker",
    "Price",
    "Bennett",
    "Young",
    "Griffiths",
    "Mitchell",
    "Kelly",
    "Cook",
    "Carter",
    "Richardson",
    "Bailey",
    "Collins",
    "Bell",
    "Shaw",
    "Murphy",
    "Miller",
    "Cox",
    "Richards",
    "Khan",
    "Marshall",
    "Anderson",
    "Simpson",
    "Ellis",
    "Adams",
    "Singh",
    "Begum",
    "Wilkinson",
    "Foster",
    "Chapman",
    "Powell",
    "Webb",
    "Rogers",
    "Gray",
    "Mason",
    "Ali",
    "Hunt",
    "Hussain",
    "Campbell",
    "Matthews",
    "Owen",
    "Palmer",
    "Holmes",
    "Mills",
    "Barnes",
    "Knight",
    "Lloyd",
    "Butler",
    "Russell",
    "Barker",
    "Fisher",
    "Stevens",
    "Jenkins",
    "Murray",
    "Dixon",
    "Harvey",
    "Graham",
]
NICKNAMES = {
    "William": "Bill", "James": "Jim", "Thomas": "Tom", "Joseph": "Joe", "Edward": "Ed",
    "Samuel": "Sam", "Daniel": "Dan", "Alexander": "Alex", "Elizabeth": "Liz",
    "Margaret": "Maggie", "Catherine": "Kate", "Victoria": "Vicky", "Rebecca": "Becky",
}  # fmt: skip
AREAS = [
    "AB",
    "B",
    "BN",
    "BS",
    "CB",
    "CF",
    "CV",
    "DE",
    "EH",
    "G",
    "L",
    "LS",
    "M",
    "NE",
    "NG",
    "OX",
    "PL",
    "S",
    "SO",
    "YO",
]


def _postcode(rng: random.Random) -> str:
    letters = "ABDEFGHJLNPQRSTUWXYZ"
    return (
        f"{rng.choice(AREAS)}{rng.randint(1, 29)} "
        f"{rng.randint(1, 9)}{rng.choice(letters)}{rng.choice(letters)}"
    )


def _born(rng: random.Random) -> date:
    return date(1940, 1, 1) + timedelta(days=rng.randrange(365 * 65))


def _typo(rng: random.Random, word: str) -> str:
    i = rng.randrange(1, len(word))
    kind = rng.choice(("drop", "swap", "replace"))
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    if kind == "swap" and i < len(word) - 1:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return word[:i] + rng.choice("aeiourstnl") + word[i + 1 :]


@dataclass(frozen=True)
class Customers:
    """The register (`spine`), the applications (`records`) and the truth."""

    spine: pl.DataFrame
    records: pl.DataFrame
    #: application id -> register id, for the true matches only
    truth: dict[int, int]
    #: application id -> 'match' / 'namesake' / 'stranger'
    kind: dict[int, str]


def build(
    *, customers: int = 1200, matches: int = 450, namesakes: int = 60, strangers: int = 90,
    seed: int = 7,
) -> Customers:  # fmt: skip
    """The problem, the same for the same arguments. Register ids are 1..`customers`,
    application ids 1..(matches + namesakes + strangers): the same integers in both tables,
    told apart only by which table they are in."""
    rng = random.Random(seed)
    people: list[dict[str, Any]] = []
    seen: set[tuple[str, str, date]] = set()
    while len(people) < customers:
        person = {
            "forename": rng.choice(FORENAMES),
            "family_name": rng.choice(SURNAMES),
            "born": _born(rng),
            "postcode": _postcode(rng),
        }
        key = (person["forename"], person["family_name"], person["born"])
        if key not in seen:
            seen.add(key)
            people.append(person)
    spine = pl.DataFrame(
        [
            {ID: i + 1, **p, "segment": rng.choice(("retail", "business"))}
            for i, p in enumerate(people)
        ]
    ).with_columns(pl.col(ID).cast(pl.Int64))

    rows: list[dict[str, Any]] = []
    truth: dict[int, int] = {}
    kind: dict[int, str] = {}
    chosen = rng.sample(range(customers), matches + namesakes)
    for n, index in enumerate(chosen[:matches]):
        person = dict(people[index])
        for slip in rng.sample(("forename", "family_name", "born", "postcode", None), 2):
            if slip is None or rng.random() < 0.5:
                continue
            if slip == "forename":
                person["forename"] = NICKNAMES.get(person["forename"]) or _typo(
                    rng, person["forename"]
                )
            elif slip == "family_name":
                person["family_name"] = _typo(rng, person["family_name"])
            elif (
                slip == "born"
                and person["born"].day <= 12
                and person["born"].day != person["born"].month
            ):
                b = person["born"]
                person["born"] = date(b.year, b.day, b.month)
            elif slip == "postcode":  # missing, the inward code mistyped, or an old address
                outward = person["postcode"].split()[0]
                person["postcode"] = rng.choice(
                    (None, f"{outward} {_postcode(rng).split()[1]}", _postcode(rng))
                )
        app_id = n + 1
        rows.append({ID: app_id, **person})
        truth[app_id] = index + 1
        kind[app_id] = "match"
    for n, index in enumerate(chosen[matches:]):
        twin = people[index]
        born = _born(rng)
        while abs((born - twin["born"]).days) < 400:
            born = _born(rng)
        app_id = matches + n + 1
        rows.append(
            {
                ID: app_id,
                "forename": twin["forename"],
                "family_name": twin["family_name"],
                "born": born,
                "postcode": _postcode(rng),
            }
        )
        kind[app_id] = "namesake"
    for n in range(strangers):
        app_id = matches + namesakes + n + 1
        rows.append(
            {
                ID: app_id,
                "forename": rng.choice(FORENAMES) + "a",
                "family_name": rng.choice(SURNAMES) + "son",
                "born": _born(rng),
                "postcode": _postcode(rng),
            }
        )
        kind[app_id] = "stranger"
    records = (
        pl.DataFrame(rows, schema_overrides={"postcode": pl.String})
        .with_columns(pl.col(ID).cast(pl.Int64), pl.col("born").cast(pl.String))
        .sample(fraction=1.0, shuffle=True, seed=seed)
    )
    spine = spine.with_columns(pl.col("born").cast(pl.String))
    return Customers(spine, records, truth, kind)


def _level(sql: str, label: str, **extra: Any) -> dict[str, Any]:
    return {"sql_condition": sql, "label_for_charts": label, **extra}


def _null(col: str) -> dict[str, Any]:
    return _level(f'"{col}_l" IS NULL OR "{col}_r" IS NULL', f"{col} is NULL", is_null_level=True)


def settings() -> dict[str, Any]:
    """Untrained settings for :func:`build`'s tables, with a ``credlink`` block."""

    def names(col: str) -> dict[str, Any]:
        return {
            "output_column_name": col,
            "comparison_levels": [
                _null(col),
                _level(
                    f'"{col}_l" = "{col}_r"',
                    "exact",
                    tf_adjustment_column=col,
                    tf_adjustment_weight=1.0,
                ),
                _level(f'jaro_winkler_similarity("{col}_l", "{col}_r") >= 0.88', "similar"),
                _level("ELSE", "other"),
            ],
        }

    return {
        "credlink": {
            "subject_type": SUBJECT,
            "model_version": None,
            "description": "Applications against the customer register (a test model).",
            "linkable_share": 0.75,
            "seed": 3,
            "u_max_pairs": 200000,
            "em_blocking_rules": [
                "l.born = r.born",
                "l.forename = r.forename AND l.family_name = r.family_name",
            ],
        },
        "link_type": "link_only",
        "unique_id_column_name": ID,
        "probability_two_random_records_match": 0.001,
        "em_convergence": 0.0001,
        "max_iterations": 25,
        "retain_matching_columns": True,
        "retain_intermediate_calculation_columns": False,
        "additional_columns_to_retain": [],
        "blocking_rules_to_generate_predictions": [
            {"blocking_rule": "l.born = r.born", "sql_dialect": "duckdb"},
            {"blocking_rule": "l.family_name = r.family_name", "sql_dialect": "duckdb"},
            {"blocking_rule": "l.postcode = r.postcode", "sql_dialect": "duckdb"},
            {
                "blocking_rule": "l.forename = r.forename AND substr(l.born, 1, 4) = "
                "substr(r.born, 1, 4)",
                "sql_dialect": "duckdb",
            },
        ],
        "comparisons": [
            names("forename"),
            names("family_name"),
            {
                "output_column_name": "born",
                "comparison_levels": [
                    _null("born"),
                    _level('"born_l" = "born_r"', "exact"),
                    _level('levenshtein("born_l", "born_r") <= 2', "one or two digits off"),
                    _level("ELSE", "other"),
                ],
            },
            {
                "output_column_name": "postcode",
                "comparison_levels": [
                    _null("postcode"),
                    _level('"postcode_l" = "postcode_r"', "exact"),
                    _level(
                        'substr("postcode_l", 1, length("postcode_l") - 3) = '
                        'substr("postcode_r", 1, length("postcode_r") - 3)',
                        "same outward code",
                    ),
                    _level("ELSE", "other"),
                ],
            },
        ],
    }


def write_settings(path: Path) -> Path:
    path.write_text(json.dumps(settings(), indent=2) + "\n", encoding="utf-8")
    return path
