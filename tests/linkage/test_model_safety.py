"""Model files are data: SQL allow-list, value checks, and production chosen by promotion."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import credlink.linkage.engine
from credlink.etl.catalog import conform
from credlink.linkage.engine import link
from credlink.linkage.model import (
    MODELS_DIR,
    PRODUCTION_FILE,
    ModelError,
    UnsafeModelError,
    current_model_path,
    file_sha256,
    load_model,
    promote,
    read_production,
)
from credlink.linkage.spine import PERSON_COLUMNS

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def _person() -> dict[str, Any]:
    return json.loads(current_model_path("person").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _write(tmp_path: Path, settings: dict[str, Any], name: str = "evil.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(settings), encoding="utf-8")
    return path


def _set_level_sql(settings: dict[str, Any], sql: str) -> None:
    settings["comparisons"][0]["comparison_levels"][1]["sql_condition"] = sql


@pytest.mark.parametrize(
    ("sql", "named"),
    [
        ("read_text('{secret}') = name_l", "'read_text'"),
        ("length(read_text('{secret}')) > 0 AND name_l = name_r", "'read_text'"),
        ("read_csv('{secret}') = name_l", "'read_csv'"),
        ("read_parquet('x.parquet') = name_l", "'read_parquet'"),
        ("glob('/etc/*') = name_l", "'glob'"),
        ("getenv('HOME') = name_l", "'getenv'"),
        ("name_l = (SELECT 1)", "Subquery"),
        ("name_l IN (SELECT content FROM read_text('{secret}'))", "subquery"),
        ("EXISTS (SELECT 1)", "'exists'"),
        ("name_l = name_r; COPY (SELECT 1) TO '/tmp/x.csv'", "2 statements"),
        ("name_l = name_r; ATTACH '/tmp/x.db' AS x", "2 statements"),
        ("name_l = $1", "Placeholder"),
        ("current_setting('threads') = name_l", "'current_setting'"),
    ],
)
def test_sql_outside_the_allow_list_is_refused_at_load(
    tmp_path: Path, sql: str, named: str
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT", encoding="utf-8")
    settings = _person()
    _set_level_sql(settings, sql.format(secret=secret))
    with pytest.raises(UnsafeModelError) as err:
        load_model(_write(tmp_path, settings))
    message = str(err.value)
    assert "evil.json" in message and "comparison 'name' level 1" in message
    assert named in message
    assert "TOP-SECRET-CONTENT" not in message  # nothing ran


def test_a_malicious_model_never_reaches_the_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _person()
    _set_level_sql(settings, "read_text('/etc/hostname') = name_l")

    def no_work(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("linkage work started with an unchecked model")

    monkeypatch.setattr("splink.DuckDBAPI", no_work)
    monkeypatch.setattr(credlink.linkage.engine, "tf_table", no_work)
    frame = conform(pl.DataFrame({"unique_id": ["a"]}), PERSON_COLUMNS)
    with pytest.raises(UnsafeModelError, match="read_text"):
        link(frame, frame, _write(tmp_path, settings))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda s: s["blocking_rules_to_generate_predictions"].append(
                {"blocking_rule": "l.name = r.name OR glob('*') = l.name", "sql_dialect": "duckdb"}
            ),
            r"blocking rule 6: function 'glob'",
        ),
        (
            lambda s: s["credlink"]["em_blocking_rules"].append("getenv('X') = l.name"),
            r"EM blocking rule 2: function 'getenv'",
        ),
        (
            lambda s: s["blocking_rules_to_generate_predictions"].append(
                {"blocking_rule": "l.name = x.name", "sql_dialect": "duckdb"}
            ),
            "only l.<column>",
        ),
        (
            lambda s: s["comparisons"][0].update(output_column_name="x FROM t; --"),
            "not a plain identifier",
        ),
        (
            lambda s: s["comparisons"][0]["comparison_levels"][1].update(
                tf_adjustment_weight="1) + (SELECT 1"
            ),
            "not a number",
        ),
        (lambda s: s.update(sql_dialect="spark"), "sql_dialect"),
        (lambda s: s.update(linker_script="import os"), "unknown key"),
        (lambda s: s["comparisons"][0]["comparison_levels"][1].update(m_probability=5), "outside"),
        (
            lambda s: s["comparisons"][0]["comparison_levels"][1].update(u_probability=1e-300),
            "outside",
        ),
        (lambda s: s["comparisons"][0]["comparison_levels"][1].update(m_probability=0), "outside"),
        (
            lambda s: s["comparisons"][0]["comparison_levels"][1].update(m_probability="0.5"),
            "not a probability",
        ),
        (lambda s: s.update(probability_two_random_records_match=2.0), "outside"),
        (
            # a trained comparison whose m's no longer sum to 1
            lambda s: s["comparisons"][0]["comparison_levels"][1].update(m_probability=0.9),
            "sum to",
        ),
    ],
)
def test_bad_values_are_refused(tmp_path: Path, change: Any, message: str) -> None:
    settings = _person()
    change(settings)
    with pytest.raises(UnsafeModelError, match=message):
        load_model(_write(tmp_path, settings))


def test_checked_sql_is_what_splink_runs() -> None:
    model = load_model(current_model_path("organisation"))
    rules = model.blocking_rules
    assert "SUBSTRING(l.id_norm, 1, 9) = SUBSTRING(r.id_norm, 1, 9)" in rules
    # the reviewed settings still load, and every allowed function of today's models passes
    for subject in ("person", "organisation"):
        assert not load_model(MODELS_DIR / f"{subject}.json").is_trained


def _models_copy(tmp_path: Path) -> Path:
    models = tmp_path / "models"
    shutil.copytree(MODELS_DIR, models)
    return models


def test_production_is_the_promoted_file_not_the_newest(tmp_path: Path) -> None:
    models = _models_copy(tmp_path)
    promoted = current_model_path("person", models)
    assert promoted.name == "person-20261201-7b4d7475.json"
    assert current_model_path("organisation", models).name == "organisation-20260101-09175a7e.json"
    # A newer-named file dropped beside the reviewed model is never production.
    newer = json.loads(promoted.read_text(encoding="utf-8"))
    newer["credlink"]["model_version"] = "person-20991231-ffffffff"
    _write(models, newer, "person-20991231-ffffffff.json")
    assert current_model_path("person", models) == promoted
    # The promoted file changed after its review: refused, naming both hashes.
    original = promoted.read_bytes()
    promoted.write_bytes(original.replace(b'"seed": 42', b'"seed": 43'))
    with pytest.raises(ModelError, match="changed since its review"):
        current_model_path("person", models)
    promoted.write_bytes(original)
    # No promotion record: refused, not the newest file.
    (models / PRODUCTION_FILE).unlink()
    with pytest.raises(ModelError, match="no promotion record"):
        current_model_path("person", models)


def test_the_committed_promotion_names_todays_models() -> None:
    record = read_production()
    for subject, name in (
        ("person", "person-20261201-7b4d7475.json"),
        ("organisation", "organisation-20260101-09175a7e.json"),
    ):
        entry = record["models"][subject]
        assert entry["file"] == name
        assert entry["sha256"] == file_sha256(MODELS_DIR / name)


def test_promote_copies_checks_and_records(tmp_path: Path) -> None:
    models = _models_copy(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    candidate = json.loads(current_model_path("person", models).read_text(encoding="utf-8"))
    candidate["credlink"]["model_version"] = "person-20270101-00c0ffee"
    trained = _write(work, candidate, "person-20270101-00c0ffee.json")
    entry = promote(trained, promoted_by="li", promoted_at=NOW, note="charts reviewed",
                    models_dir=models)  # fmt: skip
    assert entry["sha256"] == file_sha256(trained)
    assert current_model_path("person", models) == models / "person-20270101-00c0ffee.json"
    record = read_production(models)
    assert record["history"][-1]["file"] == "person-20261201-7b4d7475.json"
    assert record["models"]["person"]["promoted_by"] == "li"
    # Refused: a malicious file, untrained settings, a file not named by its version.
    _set_level_sql(candidate, "read_text('/etc/hostname') = name_l")
    with pytest.raises(UnsafeModelError):
        promote(_write(work, candidate, "person-20270102-deadbeef.json"), promoted_by="li",
                promoted_at=NOW, models_dir=models)  # fmt: skip
    with pytest.raises(ModelError, match="untrained"):
        promote(MODELS_DIR / "person.json", promoted_by="li", promoted_at=NOW, models_dir=models)
    renamed = work / "latest.json"
    shutil.copyfile(trained, renamed)
    with pytest.raises(ModelError, match="file name must be its version"):
        promote(renamed, promoted_by="li", promoted_at=NOW, models_dir=models)
    assert current_model_path("person", models) == models / "person-20270101-00c0ffee.json"


def test_models_commands_promote_and_show(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from credlink.cli import app

    models = _models_copy(tmp_path)
    runner = CliRunner()
    shown = runner.invoke(app, ["models", "show", "--models-dir", str(models)])
    assert shown.exit_code == 0, shown.output
    assert "person: person-20261201-7b4d7475" in shown.output
    candidate = json.loads(current_model_path("person", models).read_text(encoding="utf-8"))
    candidate["credlink"]["model_version"] = "person-20270101-00c0ffee"
    trained = _write(tmp_path, candidate, "person-20270101-00c0ffee.json")
    # dropped beside the production model, it changes nothing
    shutil.copyfile(trained, models / trained.name)
    assert (
        "person-20261201-7b4d7475"
        in runner.invoke(app, ["models", "show", "--models-dir", str(models)]).output
    )
    done = runner.invoke(app, ["models", "promote", str(trained), "--by", "li", "--note",
                               "reviewed", "--models-dir", str(models)])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "promoted person-20270101-00c0ffee" in done.output
    assert (
        "person: person-20270101-00c0ffee"
        in runner.invoke(app, ["models", "show", "--models-dir", str(models)]).output
    )
    _set_level_sql(candidate, "read_text('/etc/hostname') = name_l")
    candidate["credlink"]["model_version"] = "person-20270102-deadbeef"
    evil = _write(tmp_path, candidate, "person-20270102-deadbeef.json")
    refused = runner.invoke(app, ["models", "promote", str(evil), "--models-dir", str(models)])
    assert refused.exit_code == 1 and "'read_text' is not allowed" in refused.output
