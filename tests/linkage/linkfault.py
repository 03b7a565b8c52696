"""Run :func:`linkage.stage.run_linkage` in a forked child, optionally killed at a write point.

``python linkfault.py --serve`` imports once, then forks one child per request line
``LAKE RUN_ID CRASH [full]`` (a run killed with SIGKILL after its write point CRASH, 0: not
killed; ``CREDLINK_LINKAGE_CRASH_AFTER``; ``full``: a full run) and answers the child's exit status: a fresh process per
run without paying the imports each time. The parent runs no Polars or DuckDB code.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from forkserve import ForkServer, serve

DAY = datetime(2025, 7, 1, tzinfo=UTC)


def _run(fields: list[str]) -> None:
    import credlink.etl.commit
    from credlink.etl.lake import Lake
    from credlink.linkage.stage import run_linkage

    lake, run_id, crash, *mode = fields
    os.environ[credlink.etl.commit.crash_env("linkage")] = crash
    credlink.etl.commit._points.clear()
    run_linkage(Lake(Path(lake)), run_id=run_id, logical_date=DAY, full=mode == ["full"])


def _serve() -> None:
    import splink  # noqa: F401  - imported once, for every child

    import credlink.linkage.stage  # noqa: F401

    serve(_run)


class Forker(ForkServer):
    """The serving process: ``run(lake, run_id, crash_after)`` returns the child's exit code
    (``-9``: killed by SIGKILL)."""

    def __init__(self) -> None:
        super().__init__(Path(__file__).resolve(), "CREDLINK_LINKAGE_CRASH_AFTER")

    def run(self, lake: Path, run_id: str, crash_after: int, full: bool = False) -> int:
        return self.request(lake, run_id, crash_after, *(["full"] if full else []))


if __name__ == "__main__":
    _serve()
