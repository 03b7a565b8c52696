"""The engine is generic: any id column name and type, any subject label, on a problem with
nothing of the credit-code pipeline in it (English customers, :mod:`generic_customers`); and a
model trained by default lands in the work folder, never among the production models."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import generic_customers as customers
import polars as pl
import pytest

from credlink.linkage.engine import LinkResult, link
from credlink.linkage.explain import waterfall_html
from credlink.linkage.model import (
    MODELS_DIR,
    ModelColumnsError,
    ModelError,
    check_subject_label,
    current_model_path,
    load_model,
    promote,
    work_models_dir,
)
from credlink.linkage.train import TrainResult, train

ID = customers.ID
ON = date(2026, 3, 1)


@pytest.fixture(scope="module")
def problem() -> customers.Customers:
    return customers.build()


@pytest.fixture(scope="module")
def trained(problem: customers.Customers, tmp_path_factory: pytest.TempPathFactory) -> TrainResult:
    """The customer model, trained by EM on the problem itself (about 2 s)."""
    root = tmp_path_factory.mktemp("customer-model")
    settings = customers.write_settings(root / "customer.json")
    return train(problem.records, problem.spine, settings, on=ON, models_dir=root / "models")


@pytest.fixture(scope="module")
def linked(problem: customers.Customers, trained: TrainResult) -> LinkResult:
    return link(problem.records, problem.spine, trained.model_path, accept=0.99, review=0.3)


def _outcome(best: pl.DataFrame, problem: customers.Customers) -> pl.DataFrame:
    """`best` with each application's kind and true register id (null for non-matches)."""
    kinds = pl.DataFrame(
        {ID: list(problem.kind), "kind": list(problem.kind.values())},
        schema={ID: pl.Int64, "kind": pl.String},
    )
    truth = pl.DataFrame(
        {ID: list(problem.truth), "true_id": list(problem.truth.values())},
        schema={ID: pl.Int64, "true_id": pl.Int64},
    )
    return best.join(kinds, on=ID).join(truth, on=ID, how="left")


def test_a_model_of_any_subject_label_trains_and_loads(trained: TrainResult) -> None:
    model = load_model(trained.model_path)
    assert model.meta.subject_type == "customer"
    assert model.unique_id_column == ID
    assert model.is_trained and trained.version.startswith("customer-20260301-")
    assert trained.records == 600 and trained.spine == 1200


def test_links_found_are_the_true_ones(
    linked: LinkResult, problem: customers.Customers, trained: TrainResult
) -> None:
    assert linked.model_version == trained.version
    out = _outcome(linked.best, problem)
    assert out.height == problem.records.height  # one row per application
    accepted = out.filter(pl.col("band") == "accept")
    # Every accepted link is a true match, onto the right register entry.
    assert accepted.filter(pl.col("kind") != "match").is_empty()
    assert (accepted["spine_id"] == accepted["true_id"]).all()
    # Namesakes (another birth date and postcode) and strangers are never accepted.
    assert out.filter(pl.col("kind") != "match")["band"].is_in(["review", "reject"]).all()
    assert out.filter(pl.col("kind") == "stranger")["band"].to_list() == ["reject"] * 90
    # And nearly every true match is found, despite the slips.
    matches = out.filter(pl.col("kind") == "match")
    assert accepted.height >= 0.95 * matches.height == 0.95 * 450
    # A true match's best candidate is its own entry whenever it is not rejected.
    kept = matches.filter(pl.col("band") != "reject")
    assert (kept["spine_id"] == kept["true_id"]).all()


def test_ids_keep_their_name_and_integer_type(linked: LinkResult) -> None:
    assert linked.id_column == ID
    for frame in (linked.best, linked.pairs):
        assert frame.columns[:2] == [ID, "spine_id"]
        assert "unique_id" not in frame.columns
        assert frame.schema[ID] == pl.Int64 and frame.schema["spine_id"] == pl.Int64
    assert set(linked.pairs.columns) >= {"mw_forename", "mw_family_name", "mw_born", "mw_postcode"}
    # Application 7 and register entry 7 are different people: the tables tell them apart.
    assert linked.best[ID].sort().to_list() == list(range(1, 601))


def test_ids_typed_differently_in_the_two_tables_come_back_as_given(
    problem: customers.Customers, trained: TrainResult, linked: LinkResult
) -> None:
    """Int32 application numbers against register codes 'C00001': Splink sees strings, the
    results carry each table's own type, and the links are the same."""
    records = problem.records.with_columns(pl.col(ID).cast(pl.Int32))
    spine = problem.spine.with_columns(
        pl.format("C{}", pl.col(ID).cast(pl.String).str.zfill(5)).alias(ID)
    )
    got = link(records, spine, trained.model_path, count_blocking_pairs=False)
    assert got.best.schema[ID] == pl.Int32 and got.best.schema["spine_id"] == pl.String
    assert got.pairs.schema[ID] == pl.Int32 and got.pairs.schema["spine_id"] == pl.String
    want = linked.best.select(
        pl.col(ID).cast(pl.Int32),
        pl.format("C{}", pl.col("spine_id").cast(pl.String).str.zfill(5)).alias("spine_id"),
        "band",
    ).sort(ID)
    assert got.best.select(ID, "spine_id", "band").sort(ID).equals(want)
    # Two integer types: Int64 for Splink, each side back in its own.
    small = link(
        records,
        problem.spine.with_columns(pl.col(ID).cast(pl.UInt16)),
        trained.model_path,
        count_blocking_pairs=False,
    )
    assert small.best.schema[ID] == pl.Int32 and small.best.schema["spine_id"] == pl.UInt16
    assert (
        small.best.select(pl.col(ID).cast(pl.Int64), pl.col("spine_id").cast(pl.Int64), "band")
        .sort(ID)
        .equals(linked.best.select(ID, "spine_id", "band").sort(ID))
    )


def test_a_few_records_against_the_register_pre_block_with_their_own_ids(
    problem: customers.Customers, trained: TrainResult, linked: LinkResult
) -> None:
    """Twenty applications against 1,200 entries: the spine is cut to the entries a blocking
    rule pairs (by the model's id column), with the same best candidates."""
    few = problem.records.sort(ID).head(20)
    got = link(few, problem.spine, trained.model_path, count_blocking_pairs=False)
    assert "pre_block" in got.seconds
    want = linked.best.filter(pl.col(ID).is_in(few[ID].implode()))
    cols = [ID, "spine_id", "band", "candidates"]
    assert got.best.select(cols).sort(ID).equals(want.select(cols).sort(ID))


def test_no_records_gives_typed_empty_results(
    problem: customers.Customers, trained: TrainResult
) -> None:
    got = link(problem.records.head(0), problem.spine, trained.model_path)
    assert got.best.is_empty() and got.pairs.is_empty()
    assert got.best.schema[ID] == pl.Int64 and got.pairs.schema["spine_id"] == pl.Int64


def test_a_pair_is_explained_with_integer_ids(
    problem: customers.Customers, trained: TrainResult, linked: LinkResult, tmp_path: Path
) -> None:
    row = linked.best.filter(pl.col("band") == "accept").row(0, named=True)
    record = problem.records.filter(pl.col(ID) == row[ID])
    out = waterfall_html(
        record, problem.spine, row["spine_id"], trained.model_path, tmp_path / "pair.html"
    )
    assert out.read_text(encoding="utf-8").count("vega") > 0
    with pytest.raises(ModelError, match="not in the spine"):
        waterfall_html(record, problem.spine, 99999, trained.model_path, tmp_path / "no.html")


@pytest.fixture
def no_splink(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any Splink linker built from here on fails the test: checks must come first."""
    import splink

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a Splink linker was built: the check came too late")

    monkeypatch.setattr(splink, "Linker", refuse)


@pytest.mark.parametrize(
    ("table", "spoil", "error", "message"),
    [
        ("records", lambda f: f.drop(ID), ModelColumnsError,
         r"table 'records' lacks: 'client_no' \(used by unique_id_column_name\)"),
        ("spine", lambda f: f.rename({ID: "id"}), ModelColumnsError,
         r"table 'spine' lacks: 'client_no'"),
        ("spine", lambda f: f.with_columns(pl.when(pl.col(ID).is_in([5, 9])).then(3)
                                           .otherwise(pl.col(ID)).alias(ID)), ModelError,
         r"table 'spine': id column 'client_no' .* is not unique: 1 id\(s\) on more than one "
         r"row, e.g. \[3\]"),
        ("records", lambda f: f.with_columns(pl.when(pl.col(ID) == 4).then(None)
                                             .otherwise(pl.col(ID)).alias(ID)), ModelError,
         r"table 'records': id column 'client_no' .* has nulls \(1 of 600 rows\)"),
        ("records", lambda f: f.with_columns(pl.col(ID).cast(pl.String).str.split("")),
         ModelError, r"table 'records': id column 'client_no' .* is of type List"),
        ("records", lambda f: f.with_columns((pl.lit(date(2026, 1, 1))
                                              + pl.duration(days=pl.col(ID))).alias(ID)),
         ModelError, r"of type Date in table 'records' and Int64 in table 'spine'"),
    ],
)  # fmt: skip
def test_a_bad_id_column_fails_before_any_prediction(
    problem: customers.Customers,
    trained: TrainResult,
    no_splink: None,
    table: str,
    spoil: Any,
    error: type[Exception],
    message: str,
) -> None:
    records, spine = problem.records, problem.spine
    if table == "records":
        records = spoil(records)
    else:
        spine = spoil(spine)
    with pytest.raises(error, match=message):
        link(records, spine, trained.model_path)


def test_an_id_column_named_like_a_result_column_is_refused(
    problem: customers.Customers, tmp_path: Path, no_splink: None
) -> None:
    settings = customers.settings()
    settings["unique_id_column_name"] = "band"
    path = tmp_path / "band.json"
    path.write_text(json.dumps(settings), encoding="utf-8")
    frame = problem.records.rename({ID: "band"})
    with pytest.raises(ModelError, match=r"id column .band. .* the name of a result column"):
        link(frame, problem.spine.rename({ID: "band"}), path)


def test_subject_labels() -> None:
    for good in ("customer", "patient", "legal_entity", "vehicle.v2", "客户"):
        assert check_subject_label(good) == good
    for bad in ("", "../models", "a b", "_x", "-x", None, 3, "x" * 65):
        with pytest.raises(ModelError, match="non-empty label"):
            check_subject_label(bad)


def test_a_version_of_another_subject_is_refused(trained: TrainResult, tmp_path: Path) -> None:
    """Relabelling a trained file by hand would move it into another subject's slot."""
    raw = json.loads(trained.model_path.read_text(encoding="utf-8"))
    raw["credlink"]["subject_type"] = "supplier"
    path = tmp_path / "relabelled.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(ModelError, match=r"is not a version of credlink\.subject_type .supplier."):
        load_model(path)


def _tracked_models() -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(MODELS_DIR.iterdir()) if p.is_file()}


def test_default_training_lands_in_the_work_folder(
    problem: customers.Customers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No models_dir: the new version goes to <data>/linkage/models (git ignores data/), not to
    the tracked linkage/models/; it is not production until promoted, whatever its name."""
    monkeypatch.setenv("CREDLINK_DATA", str(tmp_path / "data"))
    before = _tracked_models()
    settings = customers.write_settings(tmp_path / "customer.json")
    result = train(problem.records, problem.spine, settings, on=date(2099, 12, 31))
    work = tmp_path / "data" / "linkage" / "models"
    assert work_models_dir() == work
    assert result.model_path == work / f"{result.version}.json"
    assert result.model_path.is_file()
    assert _tracked_models() == before  # nothing written, production.json unchanged
    production = tmp_path / "production"
    with pytest.raises(ModelError, match="no promotion record"):
        current_model_path("customer", production)
    # Promotion is the explicit step that makes it production, for any subject label.
    promote(result.model_path, promoted_by="test", promoted_at=datetime(2026, 3, 1, tzinfo=UTC),
            models_dir=production)  # fmt: skip
    assert current_model_path("customer", production) == production / result.model_path.name
    with pytest.raises(ModelError, match="promotes no customer model"):
        current_model_path("customer")  # the tracked record knows nothing of it


def test_training_into_the_tracked_models_folder_is_refused(
    problem: customers.Customers, tmp_path: Path
) -> None:
    before = _tracked_models()
    settings = customers.write_settings(tmp_path / "customer.json")
    for target in (MODELS_DIR, MODELS_DIR / ".." / "models"):
        with pytest.raises(ModelError, match="holds the promoted production models"):
            train(problem.records, problem.spine, settings, on=ON, models_dir=target)
    assert _tracked_models() == before


def test_the_training_task_writes_to_the_work_folder_by_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The training DAG's runtime passes no models dir unless the run names one, so the
    default of linkage.train (the work folder) applies."""
    from credlink.orchestration import linkage_runtime

    seen: list[Any] = []

    def fake_train_from_lake(subject_type: str, lake: Any, **kwargs: Any) -> TrainResult:
        seen.append(kwargs["models_dir"])
        return TrainResult(tmp_path / "m.json", "person-20260301-0", {}, 1, 1, 0.0)

    monkeypatch.setattr(linkage_runtime, "train_from_lake", fake_train_from_lake)
    linkage_runtime.train("person", on=ON)
    linkage_runtime.train("person", on=ON, models_dir=str(tmp_path / "chosen"))
    assert seen == [None, tmp_path / "chosen"]
