"""Quality without ground truth: Wilson intervals, the stratified seeded sample, and on a world
with truth a simulated blind review whose estimated precision is checked against the truth.

What a reviewer who errs does to the estimate (the last test, figures in its docstring): a
single reviewer who gives the wrong verdict on a share e of the links pulls the estimated
precision down by about e (a link judged wrong that is right; on links that are nearly all
right the opposite error is rare), and the interval no longer holds the truth: the estimate
is only as good as its reviewers. Blind double review with a senior settling disagreements
needs both reviewers to err alike on a link, about e squared, and brings the estimate back
to the truth.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from credlink.etl.lake import Lake
from credlink.linkage.decisions import read_rounds
from credlink.linkage.estimated_quality import (
    allocate,
    current_sample,
    decide_sample,
    draw_sample,
    estimate_quality,
    measure_estimated_quality,
    sample_items,
    stratified_sample,
    wilson_interval,
)
from credlink.linkage.quality import estimate_beside_truth, read_truth
from credlink.linkage.review import agreement
from credlink.linkage.review_keys import DecisionConflict, ItemChanged
from credlink.linkage.review_policy import ReviewPolicy, SamplePolicy
from credlink.linkage.stage import run_linkage
from credlink.linkage.tables import (
    ESTIMATED_QUALITY_COLUMNS,
    REVIEW_SAMPLE_COLUMNS,
    read_record_links,
)
from credlink.world.generate import WorldSummary

DAY = datetime(2025, 7, 1, tzinfo=UTC)


def test_wilson_interval_against_known_values() -> None:
    # Values from the closed form (Wilson 1927; Newcombe 1998, table I: 81/263 -> 0.2553-0.3662)
    assert wilson_interval(81, 263, 0.95) == pytest.approx((0.2553, 0.3662), abs=1e-4)
    assert wilson_interval(15, 148, 0.95) == pytest.approx((0.0624, 0.1605), abs=1e-4)
    assert wilson_interval(0, 20, 0.95) == pytest.approx((0.0, 0.1611), abs=1e-4)
    assert wilson_interval(10, 10, 0.95) == pytest.approx((0.7225, 1.0), abs=1e-4)
    # 95/100 at 99% by hand: z = 2.5758, z^2/n = 0.066349, centre (0.95 + 0.033174) / 1.066349
    # = 0.92200, half 2.5758 / 1.066349 * sqrt(0.000475 + 0.00016587) = 0.06115
    assert wilson_interval(95, 100, 0.99) == pytest.approx((0.8609, 0.9832), abs=1e-4)
    # wider at a higher confidence, narrower with more trials
    assert wilson_interval(9, 10, 0.99)[0] < wilson_interval(9, 10, 0.95)[0]
    assert wilson_interval(90, 100)[0] > wilson_interval(9, 10)[0]
    with pytest.raises(ValueError, match="n > 0"):
        wilson_interval(0, 0)
    with pytest.raises(ValueError, match="between 0 and n"):
        wilson_interval(11, 10)


def test_allocation_proportional_equal_and_minimum() -> None:
    pops = {"a": 900, "b": 90, "c": 10}
    assert allocate(pops, 100, "proportional", 0) == {"a": 90, "b": 9, "c": 1}
    assert allocate(pops, 100, "proportional", 5) == {"a": 90, "b": 9, "c": 5}
    assert allocate(pops, 99, "equal", 0) == {"a": 33, "b": 33, "c": 10}  # c has only 10
    assert allocate({"a": 3, "b": 3}, 100, "proportional", 50) == {"a": 3, "b": 3}
    # largest remainders: 7 over 1/3 each -> 3, 2, 2 (ties by name)
    assert allocate({"x": 5, "y": 5, "z": 5}, 7, "proportional", 0) == {"x": 3, "y": 2, "z": 2}


def accepted_links(n_per: dict[tuple[str, str, str], int]) -> pl.DataFrame:
    rows = [(f"{s}/t/{i}", s, t, m, f"CODE{i}") for (s, t, m), n in n_per.items() for i in range(n)]
    return pl.DataFrame(
        rows, schema=["unique_id", "source", "subject_type", "method", "credit_code"],
        orient="row",
    )  # fmt: skip


def test_stratified_sample_is_reproducible_and_allocated() -> None:
    links = accepted_links({("courts", "person", "deterministic"): 800,
                            ("courts", "person", "probabilistic"): 150,
                            ("tax", "organisation", "clerical"): 50})  # fmt: skip
    one = stratified_sample(links, 100, seed=7, min_per_stratum=10)
    again = stratified_sample(links.reverse(), 100, seed=7, min_per_stratum=10)
    other = stratified_sample(links, 100, seed=8, min_per_stratum=10)
    assert one["unique_id"].to_list() == again["unique_id"].to_list()  # order of input: no matter
    assert one["unique_id"].to_list() != other["unique_id"].to_list()
    per = dict(one.group_by("method").len().iter_rows())
    assert per == {"deterministic": 80, "probabilistic": 15, "clerical": 10}  # 5 raised to 10
    assert set(one["stratum_population"]) == {800, 150, 50}
    equal = stratified_sample(links, 90, seed=7, allocation="equal")
    assert dict(equal.group_by("method").len().iter_rows()) == {
        "deterministic": 30, "probabilistic": 30, "clerical": 30,
    }  # fmt: skip
    # a larger sample of the same seed keeps the smaller one's links (ranked by seed and id)
    bigger = stratified_sample(links, 200, seed=7, min_per_stratum=10)
    assert set(one["unique_id"]) <= set(bigger["unique_id"])
    with pytest.raises(ValueError, match="no accepted link"):
        stratified_sample(links.head(0), 10, seed=1)


def test_estimate_on_hand_made_verdicts() -> None:
    sample = pl.DataFrame(
        {
            "sample_id": ["S"] * 30,
            "unique_id": [f"r{i}" for i in range(30)],
            "subject_type": ["person"] * 30,
            "source": ["courts"] * 20 + ["tax"] * 10,
            "method": ["deterministic"] * 20 + ["probabilistic"] * 10,
            "stratum_population": [900] * 20 + [100] * 10,
        }
    )
    # courts: 19 of 20 right; tax: 6 of 10 right, then one still unsettled
    decisions = ["accept"] * 19 + ["reject"] + ["accept"] * 6 + ["reject"] * 3 + [None]
    verdicts = pl.DataFrame(
        {"unique_id": sample["unique_id"], "decision": decisions,
         "status": ["settled"] * 29 + ["open"]}
    )  # fmt: skip
    got = estimate_quality(sample, verdicts, confidence=0.95, estimated_at=DAY)
    assert got.schema == pl.Schema(ESTIMATED_QUALITY_COLUMNS)
    rows = {(r["source"], r["method"]): r for r in got.iter_rows(named=True)}
    courts, tax = rows["courts", "deterministic"], rows["tax", "probabilistic"]
    assert (courts["decided"], courts["correct"], courts["precision"]) == (20, 19, 0.95)
    assert (courts["ci_low"], courts["ci_high"]) == pytest.approx(wilson_interval(19, 20))
    assert (tax["sampled"], tax["decided"], tax["correct"]) == (10, 9, 6)
    overall = rows["all", "all"]
    # weighted by population: 0.9 * 0.95 + 0.1 * 6/9
    assert overall["precision"] == pytest.approx(0.9 * 0.95 + 0.1 * 6 / 9)
    assert overall["population"] == 1000 and overall["covered"] == 1.0
    n_eff = 1 / (0.9**2 / 20 + 0.1**2 / 9)
    assert (overall["ci_low"], overall["ci_high"]) == pytest.approx(
        wilson_interval(overall["precision"] * n_eff, n_eff)
    )
    assert got.filter(pl.col("subject_type") == "all").height == 1


@pytest.fixture(scope="module")
def linked(small_lake: Lake, tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """The small world linked once (about 30 s)."""
    root = tmp_path_factory.mktemp("estimated-lake")
    shutil.copytree(small_lake.root / "staging", root / "staging")
    shutil.copytree(small_lake.root / "conformed", root / "conformed")
    lake = Lake(root)
    run_linkage(lake, run_id="sample-run", logical_date=DAY)
    return lake


#: Share of the accepted links a worse linker gets wrong, by method.
WORSE = {"deterministic": 0.02, "probabilistic": 0.12, "clerical": 0.05}


def worse_links(links: pl.DataFrame, seed: int = 5) -> pl.DataFrame:
    """`links` of a worse linker: the small world's linkage accepts no wrong link at all, so a
    share (:data:`WORSE`) of the accepted links, at random, are moved onto another code of the
    same subject type (a look-alike), for the estimate to have something to find."""
    rng = random.Random(seed)
    codes = {
        t: sorted(set(links.filter((pl.col("subject_type") == t) & (pl.col("band") == "accept"))
                      ["credit_code"]))
        for t in ("person", "organisation")
    }  # fmt: skip
    moved = []
    for row in links.select("unique_id", "subject_type", "band", "method", "credit_code").rows():
        uid, subject, band, method, code = row
        if band == "accept" and method in WORSE and rng.random() < WORSE[method]:
            other = rng.choice(codes[subject])
            moved.append((uid, other if other != code else codes[subject][0]))
    wrong = pl.DataFrame(moved, schema=["unique_id", "_wrong"], orient="row")
    return (
        links.join(wrong, on="unique_id", how="left")
        .with_columns(pl.coalesce("_wrong", "credit_code").alias("credit_code"))
        .drop("_wrong")
    )


@pytest.fixture
def lake(linked: Lake, tmp_path: Path) -> Lake:
    """A copy of the linked lake, so that each test's draws and verdicts stay its own."""
    shutil.copytree(linked.root, tmp_path / "lake")
    return Lake(tmp_path / "lake")


@pytest.fixture
def worse(lake: Lake, monkeypatch: pytest.MonkeyPatch) -> pl.DataFrame:
    """The lake's links as a worse linker's (:func:`worse_links`): the sample draws these."""
    links = worse_links(read_record_links(lake))
    monkeypatch.setattr("credlink.linkage.estimated_quality.read_record_links", lambda _: links)
    return links


POLICY = ReviewPolicy(sample=SamplePolicy(size=300, min_per_stratum=15))
DOUBLE = ReviewPolicy(mode="double", seniors=("senior",), sample=POLICY.sample)

Reviewer = Callable[[dict[str, object]], str]


def truthful(truth: dict[str, str | None]) -> Reviewer:
    """A reviewer who answers from the world's truth: the same subject iff the linked code is
    the record's true code."""
    return lambda item: "accept" if truth.get(str(item["unique_id"])) == item["code"] else "reject"


def erring(truth: dict[str, str | None], rate: float, seed: int) -> Reviewer:
    """A reviewer who gives the wrong verdict on a share `rate` of the links, at random."""
    rng, right = random.Random(seed), truthful(truth)

    def judge(item: dict[str, object]) -> str:
        verdict = right(item)
        return (
            verdict if rng.random() >= rate else {"accept": "reject", "reject": "accept"}[verdict]
        )

    return judge


def review_sample(lake: Lake, reviewers: dict[str, Reviewer], policy: ReviewPolicy) -> None:
    """Every reviewer judges every item they may decide now, blind (what sample_items shows)."""
    codes = dict(current_sample(lake).select("unique_id", "credit_code").iter_rows())
    for name, judge in reviewers.items():
        for row in sample_items(lake, name, policy=policy).iter_rows(named=True):
            assert set(row) == {"item_key", "unique_id", "subject_type", "source", "record",
                                "entry"}  # fmt: skip  # no probability, method, verdicts
            verdict = judge({**row, "code": codes[row["unique_id"]]})
            decide_sample(lake, row["item_key"], verdict, reviewer=name, decided_at=DAY,
                          policy=policy)  # fmt: skip


def truth_of(world: WorldSummary) -> dict[str, str | None]:
    return dict(read_truth(world.out).select("unique_id", "true_code").iter_rows())


@pytest.mark.slow
def test_the_estimate_holds_the_true_precision(
    lake: Lake, worse: pl.DataFrame, small_world: WorldSummary
) -> None:
    drawn = draw_sample(lake, seed=7, drawn_at=DAY, policy=POLICY)
    assert drawn.schema == pl.Schema(REVIEW_SAMPLE_COLUMNS)
    accepted = worse.filter(pl.col("band") == "accept")
    strata = accepted.select("source", "subject_type", "method").unique().height
    assert drawn.select("source", "subject_type", "method").unique().height == strata
    assert drawn.group_by("source", "subject_type", "method").len()["len"].min() >= min(
        15, accepted.group_by("source", "subject_type", "method").len()["len"].min()
    )
    # Reproducible: the same seed draws the same links (and makes that draw current again).
    again = draw_sample(lake, seed=7, drawn_at=DAY, policy=POLICY)
    assert again["unique_id"].to_list() == drawn["unique_id"].to_list()

    review_sample(lake, {"li": truthful(truth_of(small_world))}, POLICY)
    assert sample_items(lake, "wang", policy=POLICY).is_empty()  # every verdict settled
    first = sample_items(lake, policy=POLICY)
    assert first.is_empty()
    estimated = measure_estimated_quality(lake, estimated_at=DAY, policy=POLICY)
    assert estimated is not None
    assert lake.read("linkage", "estimated_quality").height == estimated.height
    beside = estimate_beside_truth(estimated, worse, read_truth(small_world.out))
    per_stratum = beside.filter(pl.col("method") != "all")
    assert per_stratum.height == strata
    misses = beside.filter(~pl.col("inside"))
    assert misses.is_empty(), misses.to_dicts()
    # The sample found wrong links somewhere, so the check is not one of ones against ones.
    assert beside.filter(pl.col("true_precision") < 1).height > 0
    assert (beside["correct"] < beside["decided"]).any()


@pytest.mark.slow
def test_a_reviewer_who_errs(lake: Lake, worse: pl.DataFrame, small_world: WorldSummary) -> None:
    """A 15% erring reviewer alone: the overall estimate falls by about 0.15 and its interval
    misses the truth. Two such reviewers, blind, with a truthful senior on their
    disagreements: a link is misjudged only when both err (about 2%), the estimate is back
    within a few points and its interval holds the truth; the agreement report shows about
    (0.85^2 + 0.15^2) = 74% agreement, and a low kappa, since nearly every link is right
    (kappa's prevalence paradox)."""
    truth, rate = truth_of(small_world), 0.15
    draw_sample(lake, seed=11, drawn_at=DAY, policy=POLICY)
    review_sample(lake, {"li": erring(truth, rate, seed=1)}, POLICY)
    single = measure_estimated_quality(lake, estimated_at=DAY, policy=POLICY)
    assert single is not None
    links, world_truth = worse, read_truth(small_world.out)
    one = estimate_beside_truth(single, links, world_truth).filter(pl.col("subject_type") == "all")
    overall = one.row(0, named=True)
    assert overall["precision"] < overall["true_precision"] - rate / 2
    assert overall["inside"] is False

    # The same links again, a new draw (another seed), under blind double review.
    draw_sample(lake, seed=12, drawn_at=datetime(2025, 7, 2, tzinfo=UTC), policy=DOUBLE)
    reviewers = {"li": erring(truth, rate, seed=2), "wang": erring(truth, rate, seed=3),
                 "senior": truthful(truth)}  # fmt: skip
    review_sample(lake, reviewers, DOUBLE)
    assert sample_items(lake, "senior", policy=DOUBLE).is_empty()
    double = measure_estimated_quality(lake, estimated_at=DAY, policy=DOUBLE)
    assert double is not None
    two = estimate_beside_truth(double, links, world_truth).filter(pl.col("subject_type") == "all")
    both = two.row(0, named=True)
    assert abs(both["precision"] - both["true_precision"]) < rate / 3
    assert both["inside"] is True
    sample_id = double["sample_id"][0]
    agreed = agreement(read_rounds(lake), "sample", sample_id)
    assert agreed.pairs == current_sample(lake).height
    assert agreed.percent_agreement == pytest.approx((1 - rate) ** 2 + rate**2, abs=0.08)
    assert agreed.kappa is not None and agreed.kappa < 0.5
    print(  # the figures docs/review-quality.md quotes (pytest -s)
        f"\ntruth {overall['true_precision']:.4f}; one reviewer erring {rate:.0%}: "
        f"{overall['precision']:.4f} [{overall['ci_low']:.4f}, {overall['ci_high']:.4f}]; "
        f"double review: {both['precision']:.4f} [{both['ci_low']:.4f}, {both['ci_high']:.4f}] "
        f"(truth {both['true_precision']:.4f}); agreement {agreed.percent_agreement:.1%}, "
        f"kappa {agreed.kappa:.3f}, {agreed.pairs} pairs"
    )
    # A settled sample item takes no further verdict; a key of an older draw is refused.
    settled_key = (
        current_sample(lake)
        .select(pl.concat_str(["unique_id", "item_fingerprint"], separator="@"))
        .item(0, 0)
    )
    with pytest.raises(DecisionConflict, match="settled"):
        decide_sample(lake, settled_key, "accept", reviewer="zhou", decided_at=DAY, policy=DOUBLE)
    with pytest.raises(ItemChanged, match="not an item of the quality sample"):
        decide_sample(lake, "courts/x/1@0123456789ab", "accept", reviewer="zhou", decided_at=DAY)


@pytest.mark.slow
def test_the_sample_commands(
    linked: Lake, tmp_path: Path, small_world: WorldSummary, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`credlink review sample draw/list/show`, verdicts through the normal `review accept /
    reject`, `review sample estimate`, `review agreement` and `credlink quality` beside the
    truth."""
    from typer.testing import CliRunner

    from credlink.cli import app

    shutil.copytree(linked.root, tmp_path / "lake")
    monkeypatch.setenv("CREDLINK_DATA", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "200")
    lake, runner = Lake(tmp_path / "lake"), CliRunner()

    def ok(*args: str) -> str:
        result = runner.invoke(app, list(args))
        assert result.exit_code == 0, (args, result.output, result.exception)
        return result.output

    assert runner.invoke(app, ["review", "sample", "estimate"]).exit_code == 1
    drawn = ok("review", "sample", "draw", "--size", "30", "--seed", "3")
    assert "sample S-3-30-sample-run" in drawn and "deterministic" in drawn
    assert ok("review", "sample", "draw", "--size", "30", "--seed", "3") == drawn
    listed = ok("review", "sample", "list", "--reviewer", "li")
    items = sample_items(lake, "li")
    assert items.height == current_sample(lake).height and items["item_key"][0] in listed
    shown = ok("review", "sample", "show", "1", "--reviewer", "li")
    assert "registry entry" in shown and items["item_key"][0] in shown
    for word in ("probability", "accepted", "deterministic", "probabilistic", "clerical"):
        assert word not in shown.lower(), word
    truth = truth_of(small_world)
    codes = dict(current_sample(lake).select("unique_id", "credit_code").iter_rows())
    for row in items.iter_rows(named=True):
        right = truth.get(row["unique_id"]) == codes[row["unique_id"]]
        out = ok("review", "accept" if right else "reject", row["item_key"], "--reviewer", "li")
        assert "sampled link" in out
    refused = runner.invoke(app, ["review", "accept", items["item_key"][0], "--reviewer", "wang"])
    assert refused.exit_code == 1 and "settled" in refused.output
    estimate = ok("review", "sample", "estimate")
    assert "estimated precision" in estimate and "1.000" in estimate
    stored = lake.read("linkage", "estimated_quality")
    assert stored.filter(pl.col("subject_type") == "all")["decided"].item() == items.height
    assert "0 item(s) decided by two reviewers" in ok("review", "agreement", "--queue", "sample")
    quality = ok("quality", "--world", str(small_world.out))
    beside = quality.split("beside the truth", 1)[1]
    assert "truth" in beside and "inside" in beside and "yes" in beside and "NO" not in beside
