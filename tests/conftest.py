"""Shared fixtures: a small generated world, built once per test session."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from world.config import WorldConfig
from world.generate import WorldSummary, generate_world

SMALL_WORLD = {"persons": 5000, "seed": 11, "start": date(2024, 1, 1), "end": date(2025, 6, 30)}


@pytest.fixture(scope="session")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> WorldSummary:
    """A 5,000-person world over 18 months, generated once into a temporary folder."""
    out: Path = tmp_path_factory.mktemp("world")
    return generate_world(WorldConfig(out=out, **SMALL_WORLD))  # type: ignore[arg-type]
