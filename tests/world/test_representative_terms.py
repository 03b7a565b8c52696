"""The legal-entity registry's representatives and their terms of office (issue 15, item 5)."""

from __future__ import annotations

import json
import sqlite3
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from credlink.world import registries
from credlink.world.config import WorldConfig
from credlink.world.generate import WorldSummary, world_registries
from credlink.world.registries import MIN_TERM_DAYS, REP_MIN_AGE


def read(db: Path, query: str) -> pl.DataFrame:
    with sqlite3.connect(db) as con:
        cur = con.execute(query)
        cols = [d[0] for d in cur.description]
        return pl.DataFrame(cur.fetchall(), schema=cols, orient="row", infer_schema_length=None)


@pytest.fixture(scope="module")
def terms(small_world: WorldSummary) -> pl.DataFrame:
    """Every term of the small world, with its organisation's registry row and term number."""
    db = small_world.out / "registries" / "legal_entities.db"
    orgs = read(
        db,
        "SELECT uscc, legal_rep_id AS entity_rep, registration_date, deregistration_date, "
        "created_at AS entity_created FROM legal_entity",
    )
    people = read(
        small_world.out / "registries" / "population.db",
        "SELECT citizen_id, birth_date FROM person",
    )
    return (
        read(db, "SELECT * FROM legal_representative")
        .join(orgs, on="uscc", how="left")
        .join(people, left_on="legal_rep_id", right_on="citizen_id", how="left")
        .sort("uscc", "term_from")
        .with_columns(
            pl.col("term_from", "term_to", "registration_date", "deregistration_date", "birth_date")
            .str.to_date("%Y-%m-%d"),
            pl.int_range(pl.len()).over("uscc").alias("term"),
            pl.len().over("uscc").alias("terms"),
        )
    )  # fmt: skip


@pytest.fixture(scope="module")
def period(small_world: WorldSummary) -> tuple[date, date]:
    """The small world's first and last day."""
    spec = json.loads((small_world.out / "world.json").read_text())
    return date.fromisoformat(spec["start"]), date.fromisoformat(spec["end"])


def test_every_organisation_has_one_representative_in_office(
    small_world: WorldSummary, terms: pl.DataFrame
) -> None:
    n_orgs = small_world.tables["legal_entities"]["legal_entity"]
    assert small_world.tables["legal_entities"]["legal_representative"] == terms.height
    assert terms["uscc"].n_unique() == n_orgs and terms["entity_rep"].null_count() == 0
    # the one in office (open term, the last) is the organisation row's, as before terms
    open_terms = terms.filter(pl.col("term_to").is_null())
    assert open_terms.height == n_orgs
    assert (open_terms["term"] == open_terms["terms"] - 1).all()
    assert (open_terms["legal_rep_id"] == open_terms["entity_rep"]).all()
    # the first term begins at registration
    first = terms.filter(pl.col("term") == 0)
    assert (first["term_from"] == first["registration_date"]).all()


def test_a_term_ends_the_day_the_next_one_begins(terms: pl.DataFrame) -> None:
    nxt = terms.with_columns(
        pl.col("term_from").shift(-1).over("uscc").alias("next_from"),
        pl.col("legal_rep_id").shift(-1).over("uscc").alias("next_rep"),
    ).filter(pl.col("term") < pl.col("terms") - 1)
    assert nxt.height > 0
    assert (nxt["term_to"] == nxt["next_from"]).all()
    assert (nxt["legal_rep_id"] != nxt["next_rep"]).all()  # a change is another person
    assert ((nxt["term_to"] - nxt["term_from"]).dt.total_days() >= MIN_TERM_DAYS).all()
    # nobody changes after deregistering
    ended = nxt.filter(pl.col("deregistration_date").is_not_null())
    assert (ended["term_to"] < ended["deregistration_date"]).all()


def test_a_realistic_share_changed_representative_in_the_period(
    terms: pl.DataFrame, period: tuple[date, date]
) -> None:
    start, end = period
    changes = terms.filter(pl.col("term_to") >= start).group_by("uscc").len()
    orgs = terms["uscc"].n_unique()
    share = changes.height / orgs
    assert 0.08 <= share <= 0.2, share
    assert set(changes["len"]) == {1, 2}  # once or twice
    assert changes.filter(pl.col("len") == 2).height >= 1
    assert terms.filter(pl.col("term_to") > end).is_empty()
    # most organisations kept one representative all along
    assert terms.filter(pl.col("terms") == 1)["uscc"].n_unique() >= 0.7 * orgs


def test_representatives_were_adults_taking_office(terms: pl.DataFrame) -> None:
    """Every representative of a term the registry's history adds (a former one, or one who
    took office at a change); an organisation's only representative is the one its row has
    always named (drawn among the period's adults: a few were minors at the registration of
    an organisation that deregistered before they came of age)."""
    assert terms["birth_date"].null_count() == 0  # every one a citizen of the population registry
    added = terms.filter(pl.col("terms") > 1)
    assert added.height > 0
    age = added["term_from"] - added["birth_date"]
    assert (age >= timedelta(days=REP_MIN_AGE * 365)).all()


def test_term_stamps_follow_the_changes(terms: pl.DataFrame, period: tuple[date, date]) -> None:
    ended = terms.filter(pl.col("term_to").is_not_null())
    assert (ended["updated_at"] >= ended["created_at"]).all()
    in_period = ended.filter(pl.col("term_to") >= period[0])
    assert (in_period["updated_at"] > in_period["created_at"]).all()
    assert (in_period["updated_at"].str.slice(0, 10) == in_period["term_to"].cast(pl.String)).all()
    still = terms.filter(pl.col("term_to").is_null())
    assert (still["updated_at"] == still["created_at"]).all()
    assert (terms["created_at"] >= terms["entity_created"]).all()
    # the next term is created by the stamp that ended the one before
    nxt = terms.with_columns(pl.col("created_at").shift(-1).over("uscc").alias("next_created"))
    nxt = nxt.filter(pl.col("term_to").is_not_null())
    assert (nxt["updated_at"] == nxt["next_created"]).all()


def test_representatives_leave_the_rest_of_the_world_as_it_was(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The terms come from a stream of their own: drawing (much) more from it changes nothing
    else of the registries (so neither the agency tables drawn from them)."""
    cfg = WorldConfig(persons=1500, seed=3, start=date(2024, 1, 1), end=date(2024, 12, 31),
                      out=Path("/nonexistent"))  # fmt: skip
    before = world_registries(cfg)
    real = registries.build_representatives

    def greedy(rng: np.random.Generator, *args: object) -> pl.DataFrame:
        rng.random(100_000)
        return real(rng, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(registries, "build_representatives", greedy)
    monkeypatch.setattr(registries, "REP_CHANGED_SHARE", 0.6)
    after = world_registries(cfg)
    for part in ("persons", "organisations", "foreigners", "unregistered"):
        assert getattr(after, part).equals(getattr(before, part)), part
    assert after.representatives.height > before.representatives.height
