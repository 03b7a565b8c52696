"""A small publishing scenario for the crash, lock and WAL tests: two days of hand-made
listings (a defaulter listed then removed, another listed, an organisation, a flight ban)
patched into :func:`publish.stage.run_publish`'s readers, so a run takes a fraction of a
second; and a helper that runs it in another process (``python faultcase.py LAKE WAREHOUSE
RUN_ID DAY``), optionally killed at a write point (``CREDLINK_PUBLISH_CRASH_AFTER``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
from forkserve import ForkServer, python_path, serve

HERE = Path(__file__).resolve().parent
DAY1 = date(2024, 5, 10)
DAY2 = date(2024, 6, 10)


def _staged(day: date) -> dict[str, pl.DataFrame]:
    from handmade import court, staged

    removed = {
        "removed": "yes",
        "removed_on": date(2024, 6, 1),
        "removal_reason": "performed",
        "updated": datetime(2024, 6, 1, tzinfo=UTC),
    }
    rows = [court(1, **(removed if day >= DAY2 else {})), court(2, subject_type="organisation")]
    if day >= DAY2:
        rows.append(court(3, subject_name="李娜"))
    ban = {
        "id": 1,
        "subject_type": "person",
        "behaviour": "theft_on_board",
        "published_on": date(2024, 5, 5),
        "effective_from": date(2024, 5, 14),
        "expires_on": date(2025, 5, 14),
        "status": "active" if day >= DAY2 else "pending",
    }
    return {
        "courts__SXBZXR": staged("courts", "SXBZXR", rows),
        "transport__FlightBan": staged("transport", "FlightBan", [ban]),
    }


def install() -> None:
    """Patch the readers of :mod:`publish.stage` with the hand-made scenario."""
    from handmade import LEGAL_REPS, ORG, PERSON, PERSON_2, REGISTRY, link, links, listings

    import credlink.publish.stage as stage

    lk = links(
        link("courts/SXBZXR/1", PERSON),
        link("courts/SXBZXR/2", ORG, method="probabilistic", probability=0.995),
        link("courts/SXBZXR/3", PERSON_2),
        link("transport/FlightBan/1", PERSON_2),
    )
    stage.read_listings = lambda lake, as_of: listings(_staged(as_of), as_of)  # type: ignore[assignment]
    stage.read_record_links = lambda lake: lk  # type: ignore[assignment]
    stage.legal_representatives = lambda lake: LEGAL_REPS  # type: ignore[assignment]
    stage.registry_subjects = lambda lake: REGISTRY  # type: ignore[assignment]


def run_elsewhere(
    lake: Path,
    warehouse: Path,
    run_id: str,
    day: date,
    *,
    crash_after: int | None = None,
    env: Mapping[str, str] | None = None,
    wait: bool = True,
) -> subprocess.Popen[str]:
    """Run the scenario's publish in a new process; killed after write point `crash_after`."""
    environ = {**os.environ, **(env or {})}
    environ["PYTHONPATH"] = python_path(HERE)
    environ.pop("CREDLINK_PUBLISH_CRASH_AFTER", None)
    if crash_after is not None:
        environ["CREDLINK_PUBLISH_CRASH_AFTER"] = str(crash_after)
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__)), str(lake), str(warehouse), run_id, day.isoformat()],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    if wait:
        proc.wait(timeout=120)
    return proc


def _run(lake: str, warehouse: str, run_id: str, day: str) -> None:
    from credlink.etl.lake import Lake
    from credlink.publish.stage import run_publish

    install()
    counts = run_publish(Lake(lake), Path(warehouse), run_id, date.fromisoformat(day))
    print(counts, flush=True)


def _serve() -> None:
    """Import once, then fork one child per request line ``LAKE WAREHOUSE RUN DAY CRASH``
    (a run killed after write point CRASH, 0: not killed; tests/forkserve.py)."""
    import credlink.etl.commit
    import credlink.publish.commit
    import credlink.publish.stage

    def handle(fields: list[str]) -> None:
        lake, warehouse, run_id, day, crash = fields
        os.environ[credlink.publish.commit.CRASH_ENV] = crash
        credlink.etl.commit._points.clear()
        _run(lake, warehouse, run_id, day)

    serve(handle)


class Forker(ForkServer):
    """A serving process (:func:`_serve`): ``run(...)`` returns the child's exit code
    (``-9``: killed by SIGKILL)."""

    def __init__(self) -> None:
        super().__init__(Path(__file__).resolve(), "CREDLINK_PUBLISH_CRASH_AFTER", 30)

    def run(
        self, lake: Path | str, warehouse: Path, run_id: str, day: date, crash_after: int
    ) -> int:
        return self.request(lake, warehouse, run_id, day.isoformat(), crash_after)


if __name__ == "__main__":
    if sys.argv[1:] == ["--serve"]:
        _serve()
    else:
        _run(*sys.argv[1:5])
