"""The engine: best candidates and bands, and a link of the small world checked against truth."""

from __future__ import annotations

import polars as pl
import pytest

from credlink.etl.lake import Lake
from credlink.linkage.deterministic import deterministic_pass
from credlink.linkage.engine import best_candidates, link
from credlink.linkage.model import current_model_path
from credlink.linkage.quality import quality_table, read_truth
from credlink.linkage.records import read_organisation_records, read_person_records
from credlink.linkage.resolve import RECORD_LINK_COLUMNS, resolve
from credlink.linkage.spine import read_organisation_spine, read_person_spine
from credlink.world.generate import WorldSummary


def pairs(rows: list[tuple[str, str, float]]) -> pl.DataFrame:
    frame = pl.DataFrame(rows, schema=["unique_id", "spine_id", "match_weight"], orient="row")
    return frame.with_columns(
        (2.0 ** pl.col("match_weight") / (1 + 2.0 ** pl.col("match_weight"))).alias(
            "match_probability"
        )
    )


def test_best_candidate_and_bands() -> None:
    scored = pairs(
        [
            ("clear", "A", 20.0),
            ("clear", "B", -5.0),
            ("twins", "C", 20.0),
            ("twins", "D", 19.0),  # two look-alikes: neither is accepted
            ("weak", "E", 0.0),
            ("hopeless", "F", -8.0),
        ]
    )
    ids = pl.Series(["clear", "twins", "weak", "hopeless", "alone"])
    best = best_candidates(scored, ids, accept=0.99, review=0.3)
    got = {r["unique_id"]: r for r in best.iter_rows(named=True)}
    assert list(got) == ids.to_list()
    assert (got["clear"]["spine_id"], got["clear"]["band"], got["clear"]["candidates"]) == (
        "A",
        "accept",
        2,
    )
    assert got["clear"]["runner_up_weight"] == -5.0
    assert got["twins"]["link_probability"] == pytest.approx(2**20 / (1 + 2**20 + 2**19))
    assert got["twins"]["band"] == "review"
    assert (got["weak"]["link_probability"], got["weak"]["band"]) == (pytest.approx(0.5), "review")
    assert got["hopeless"]["band"] == "reject"
    assert (got["alone"]["spine_id"], got["alone"]["band"], got["alone"]["candidates"]) == (
        None,
        "reject",
        0,
    )
    # A single candidate: the link probability is its match probability.
    assert got["hopeless"]["link_probability"] == pytest.approx(2**-8 / (1 + 2**-8))


def test_thresholds_are_checked() -> None:
    frame = pl.DataFrame({"unique_id": ["a"]})
    with pytest.raises(ValueError, match="review <= accept"):
        link(frame, frame, current_model_path("person"), accept=0.5, review=0.9)


@pytest.mark.slow
def test_small_world_links_precisely(small_lake: Lake, small_world: WorldSummary) -> None:
    truth = read_truth(small_world.out)
    links = []
    for subject, records, spine in (
        ("person", read_person_records(small_lake), read_person_spine(small_lake)),
        (
            "organisation",
            read_organisation_records(small_lake),
            read_organisation_spine(small_lake),
        ),
    ):
        res = resolve(records, spine, subject, accept=0.99, review=0.3)
        assert res.links.schema == pl.Schema(RECORD_LINK_COLUMNS)
        assert res.links.height == records.height
        assert res.model_result is not None
        assert res.model_result.model_version == current_model_path(subject).stem
        links.append(res.links)
    every = pl.concat(links)
    quality = quality_table(every, truth).filter(pl.col("source") == "all")
    for row in quality.iter_rows(named=True):
        assert row["precision"] >= 0.9995, row
        assert row["recall"] >= 0.97, row
        # Records without an identifying fact (a case with the respondent's number left
        # empty: name and county only) wait for a reviewer, by the identity-evidence policy.
        assert row["review_share"] <= 0.03, row
        assert not row["absent_linked"], row  # null (none absent) or 0.0
    # Everything in review says why: the model's doubt, a conflict or the evidence short.
    in_review = every.filter(pl.col("band") == "review")
    doubt = in_review["link_probability"] < 0.99
    assert (in_review["reason"].is_not_null() | doubt).all()
    scored = every.join(truth, on="unique_id")
    # Passports: never linked, never even scored.
    passports = scored.filter(pl.col("id_class") == "passport")
    assert passports.height > 0 or truth.filter(pl.col("true_code").is_null()).height == 0
    assert (passports["band"] == "reject").all() and (passports["method"] == "none").all()
    # Subjects in no registry end unlinked.
    assert scored.filter(pl.col("true_code").is_null() & (pl.col("band") == "accept")).is_empty()
    # Deterministic links say which identifier matched.
    det = scored.filter(pl.col("method") == "deterministic")
    assert det["matched_on"].null_count() == 0 and (det["credit_code"] == det["true_code"]).all()


@pytest.mark.slow
def test_engine_pairs_blocking_counts_and_look_alikes(
    small_lake: Lake, small_world: WorldSummary
) -> None:
    """The engine on Arrow input: exact blocking counts add up to the pairs scored, every
    comparison has its match weight; records of foreigners whose ID was not written down
    (the look-alike risk: half carry Chinese names) are never accepted."""
    records, spine = read_person_records(small_lake), read_person_spine(small_lake)
    _, rest, passports, _ = deterministic_pass(records, spine, "person")
    no_id = passports.with_columns(
        pl.lit("missing").alias("id_class"),
        pl.lit(None, dtype=pl.String).alias("id_norm"),
        ("no-id/" + pl.col("unique_id")).alias("unique_id"),
    )
    # Foreigners with exactly the name of a registered person (and nothing else known).
    name_cols = ["name", "name_script", "name_pinyin", "surname_pinyin", "given_pinyin"]
    namesakes = (
        spine.sample(40, seed=3)
        .select(
            ("no-id/namesake-" + pl.col("unique_id")).alias("unique_id"),
            *[pl.col(c) if c in name_cols else pl.lit(None).alias(c) for c in spine.columns[1:]],
        )
        .with_columns(pl.lit("missing").alias("id_class"))
        .cast(dict(spine.schema))
    )
    no_id = pl.concat([no_id, namesakes])
    batch = pl.concat([rest, no_id])
    result = link(batch.to_arrow(), spine.to_arrow(), current_model_path("person"), accept=0.99)
    assert result.blocking["cumulative_pairs"][-1] == result.pairs.height
    assert result.blocking["pairs"].sum() == result.pairs.height
    assert {f"mw_{c}" for c in ("name", "id_digits", "household_region")} <= set(
        result.pairs.columns
    )
    assert result.best.height == batch.height
    foreigners = result.best.filter(pl.col("unique_id").str.starts_with("no-id/"))
    assert foreigners.height == no_id.height
    assert foreigners.filter(pl.col("band") == "accept").is_empty()


@pytest.mark.slow
@pytest.mark.parametrize("subject", ["person", "organisation"])
def test_pre_blocking_gives_the_same_pairs(
    small_lake: Lake, subject: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import credlink.linkage.engine as engine

    read = read_person_records if subject == "person" else read_organisation_records
    spine = (read_person_spine if subject == "person" else read_organisation_spine)(small_lake)
    # a day's worth next to the whole registry
    records = read(small_lake).head(spine.height // (2 * engine.PRE_BLOCK_RATIO))
    model = current_model_path(subject)
    pre = link(records, spine, model)
    assert "pre_block" in pre.seconds
    monkeypatch.setattr(engine, "PRE_BLOCK_RATIO", 10**9)
    whole = link(records, spine, model)
    assert "pre_block" not in whole.seconds
    cols = ["unique_id", "spine_id", "match_weight"]
    assert pre.pairs.height > 0
    assert pre.pairs.select(cols).sort(cols).equals(whole.pairs.select(cols).sort(cols))
    assert pre.best.sort("unique_id").equals(whole.best.sort("unique_id"))
    assert pre.blocking.equals(whole.blocking)
    kept = engine.blocked_entries(records.select(spine.columns), spine,
                                  engine.load_model(model).blocking_rules)  # fmt: skip
    assert 0 < kept.height < spine.height
