"""Training: a new versioned model file, reproducible, with offline charts, usable at once."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from credlink.etl.lake import Lake
from credlink.linkage.engine import link
from credlink.linkage.model import current_model_path, load_model, promote
from credlink.linkage.records import read_person_records
from credlink.linkage.spine import read_person_spine
from credlink.linkage.train import train_from_lake


@pytest.mark.slow
def test_training_writes_a_versioned_reproducible_model(small_lake: Lake, tmp_path: Path) -> None:
    on = date(2025, 7, 1)
    first = train_from_lake(
        "person", small_lake, on=on, models_dir=tmp_path / "models", charts_dir=tmp_path / "charts"
    )
    assert re.fullmatch(r"person-20250701-[0-9a-f]{8}", first.version)
    assert first.model_path == tmp_path / "models" / f"{first.version}.json"
    # Not production by being the newest file: only once promoted (linkage.model.promote).
    production = tmp_path / "production"
    promote(first.model_path, promoted_by="test", promoted_at=datetime(2025, 7, 1, tzinfo=UTC),
            models_dir=production)  # fmt: skip
    assert current_model_path("person", production) == production / first.model_path.name
    model = load_model(first.model_path)
    assert model.is_trained and model.meta.model_version == first.version
    assert model.meta.trained["records"] == first.records > 0
    raw = json.loads(first.model_path.read_text(encoding="utf-8"))
    assert "linker_uid" not in raw

    # Charts: self-contained HTML, the chart library inlined, nothing fetched from a CDN.
    assert set(first.charts) == {"match_weights", "m_u_parameters"}
    for path in first.charts.values():
        html = path.read_text(encoding="utf-8")
        assert len(html) > 100_000 and "vega" in html
        assert not re.search(r"<script[^>]+src=[\"']https?://", html)

    # The same data gives the same model, byte for byte.
    again = train_from_lake("person", small_lake, on=on, models_dir=tmp_path / "again")
    assert again.version == first.version
    assert again.model_path.read_bytes() == first.model_path.read_bytes()

    # And the engine links with it straight away.
    records, spine = read_person_records(small_lake), read_person_spine(small_lake)
    result = link(records.head(50), spine, first.model_path, count_blocking_pairs=False)
    assert result.model_version == first.version
    assert result.best.height == 50 and result.blocking.is_empty()
    assert result.best.filter(pl.col("band") == "accept").height > 0


@pytest.mark.slow
def test_training_organisations(small_lake: Lake, tmp_path: Path) -> None:
    result = train_from_lake("organisation", small_lake, on=date(2025, 7, 1), models_dir=tmp_path)
    model = load_model(result.model_path)
    assert model.is_trained and model.meta.subject_type == "organisation"
    assert result.charts == {}
