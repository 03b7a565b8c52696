"""Model files: loading, the column check that runs before any work, versions."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import credlink.linkage.engine
from credlink.etl.catalog import conform
from credlink.linkage.engine import link
from credlink.linkage.model import (
    MODELS_DIR,
    ModelColumnsError,
    ModelError,
    current_model_path,
    load_model,
)
from credlink.linkage.spine import ORGANISATION_COLUMNS, PERSON_COLUMNS
from credlink.linkage.train import floor_probabilities, model_version


@pytest.mark.parametrize("subject", ["person", "organisation"])
def test_reviewed_settings_and_current_models_load(subject: str) -> None:
    columns = PERSON_COLUMNS if subject == "person" else ORGANISATION_COLUMNS
    settings = load_model(MODELS_DIR / f"{subject}.json")
    assert settings.meta.subject_type == subject
    assert not settings.is_trained and settings.version == f"untrained:{subject}.json"
    settings.check_columns("spine", columns)  # the spine columns are all a model needs
    current = load_model(current_model_path(subject))
    assert current.is_trained
    assert current.meta.model_version == current.path.stem
    assert current.path.stem.startswith(f"{subject}-")
    assert current.meta.trained["records"] > 0
    assert current.blocking_rules == settings.blocking_rules
    assert set(current.tf_columns) >= {"name"}


def _write(tmp_path: Path, settings: dict[str, Any]) -> Path:
    path = tmp_path / "model.json"
    path.write_text(json.dumps(settings), encoding="utf-8")
    return path


def _current(subject: str) -> dict[str, Any]:
    return json.loads(current_model_path(subject).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_a_model_naming_a_missing_column_fails_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _current("person")
    settings["comparisons"].append(
        {
            "output_column_name": "phone",
            "comparison_levels": [
                {"sql_condition": "phone_l IS NULL OR phone_r IS NULL", "is_null_level": True},
                {
                    "sql_condition": "phone_l = phone_r",
                    "m_probability": 0.9,
                    "u_probability": 0.001,
                },
                {"sql_condition": "ELSE", "m_probability": 0.1, "u_probability": 0.999},
            ],
        }
    )
    path = _write(tmp_path, settings)

    def no_work(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("linkage work started before the columns were checked")

    monkeypatch.setattr("splink.DuckDBAPI", no_work)
    monkeypatch.setattr(credlink.linkage.engine, "tf_table", no_work)
    frame = conform(pl.DataFrame({"unique_id": ["a"]}), PERSON_COLUMNS)
    with pytest.raises(ModelColumnsError) as err:
        link(frame, frame, path)
    message = str(err.value)
    assert "'phone'" in message and "model.json" in message and "'records'" in message
    assert "comparison 'phone'" in message


def test_a_blocking_rule_naming_a_missing_column_is_named(tmp_path: Path) -> None:
    settings = _current("organisation")
    settings["blocking_rules_to_generate_predictions"].append(
        {"blocking_rule": "l.postcode = r.postcode", "sql_dialect": "duckdb"}
    )
    model = load_model(_write(tmp_path, settings))
    with pytest.raises(ModelColumnsError, match=r"'postcode' \(used by blocking rule"):
        model.check_columns("spine", ORGANISATION_COLUMNS)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s.pop("credlink"), "not a credlink model"),
        (lambda s: s["credlink"].update(subject_type="vehicle"), "subject_type"),
        (lambda s: s["credlink"].update(colour="red"), "unknown key"),
        (lambda s: s.update(link_type="dedupe_only"), "link_only"),
        (
            lambda s: s["comparisons"][0]["comparison_levels"][1].update(
                sql_condition="name = x_r"
            ),
            "_l/_r suffix",
        ),
    ],
)
def test_bad_model_files_fail_clearly(tmp_path: Path, change: Any, message: str) -> None:
    settings = _current("person")
    change(settings)
    with pytest.raises(ModelError, match=message):
        load_model(_write(tmp_path, settings))


def test_untrained_settings_are_refused_by_the_engine() -> None:
    frame = conform(pl.DataFrame({"unique_id": ["a"]}), PERSON_COLUMNS)
    with pytest.raises(ModelError, match="untrained"):
        link(frame, frame, MODELS_DIR / "person.json")


def test_missing_model_file() -> None:
    with pytest.raises(ModelError, match="does not exist"):
        load_model(Path("/nonexistent/model.json"))


def test_floors_and_versions() -> None:
    settings = {
        "comparisons": [
            {
                "comparison_levels": [
                    {"is_null_level": True},
                    {"m_probability": 0.999, "u_probability": 0.01},
                    {"m_probability": None, "u_probability": None},
                    {"m_probability": 1e-70, "u_probability": 0.99},
                ]
            }
        ]
    }
    floor_probabilities(settings, 0.001, 1e-6)
    levels = settings["comparisons"][0]["comparison_levels"]
    m = [lv["m_probability"] for lv in levels[1:]]
    assert m == pytest.approx([0.999 / 1.001, 0.001 / 1.001, 0.001 / 1.001])
    assert sum(m) == pytest.approx(1.0)
    assert levels[2]["u_probability"] == pytest.approx(1e-6, rel=1e-3)
    assert "m_probability" not in levels[0]
    v1 = model_version("person", settings, date(2026, 1, 1))
    assert v1 == model_version("person", json.loads(json.dumps(settings)), date(2026, 1, 1))
    assert v1.startswith("person-20260101-") and len(v1) == len("person-20260101-") + 8
    levels[1]["m_probability"] = 0.5
    assert model_version("person", settings, date(2026, 1, 1)) != v1
