"""Run :func:`linkage.stage.run_linkage` in a forked child, optionally killed at a write point.

``python linkfault.py --serve`` imports once, then forks one child per request line
``LAKE RUN_ID CRASH [full]`` (a run killed with SIGKILL after its write point CRASH, 0: not
killed; ``CREDLINK_LINKAGE_CRASH_AFTER``; ``full``: a full run) and answers the child's exit status: a fresh process per
run without paying the imports each time. The parent runs no Polars or DuckDB code. Also the
small two-day lake the crash tests link, and what a run leaves in it (:func:`snapshot`).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from forkserve import ForkServer, serve
from identities import legal_entities, masked, person_listing, population, ric, stage, uscc

from credlink.etl.lake import Lake

DAY = datetime(2025, 7, 1, tzinfo=UTC)
ZHANG_SAN = ric("37082719800512001")
LI_SI = ric("11010519491231002")
WANG_WEI = ric("44010619751010004")
PEOPLE = {
    ZHANG_SAN: ("张三", "M", "370827"),
    LI_SI: ("李四", "M", "110105"),
    WANG_WEI: ("王伟", "M", "440106"),
}
FIRMS = {uscc("91", "110105", "60003734"): ("北京华兴科技有限公司", "张三", ZHANG_SAN)}
#: what linkage writes (spines and manifest included); a run's ``seconds`` is wall time and
#: the manifest's ``mtime_ns`` the staged files' (each copy stages its second day anew)
#: How a run went (full or incremental, what it linked again): a retry of a run killed after
#: it had finished finds nothing left to do, and says so in its own row.
EXECUTION = (
    "mode",
    "full_reason",
    "relinked",
    "kept",
    "relinked_new",
    "relinked_changed",
    "relinked_spine_changed",
    "relinked_not_accepted",
    "spine_mode",
    "spine_changed",
)
#: the delta tables (linkage.partitions): r2 wrote a delta of each
DELTA_DATASETS = ("record_links", "legal_representatives")
DATASETS = ("record_links", "legal_representatives", "review_queue", "person_spine",
            "organisation_spine", "spine_manifest", "runs")  # fmt: skip


def two_day_lake(where: Path | Lake, second_day: bool) -> Lake:
    """A lake (a local folder, or a `Lake` anywhere) staged with the first day's records: two
    persons named 张三, one of them with another's number (a conflict, in review), a firm;
    with `second_day`, also a record of 王伟 with a masked number and a case number."""
    lake = where if isinstance(where, Lake) else Lake(where)
    rows = [
        {"id": "1", "name": "张三", "number": ZHANG_SAN},
        {"id": "2", "name": "张三", "number": LI_SI},  # a conflict: in review
    ]
    if second_day:
        rows.append(
            {"id": "3", "name": "王伟", "number": masked(WANG_WEI), "case": "(2024)粤0106执1号"}
        )
    stage(lake, {
        "population__person": population(PEOPLE),
        "legal_entities__legal_entity": legal_entities(FIRMS),
        "courts__ZXAJ": person_listing("courts", "ZXAJ", rows),
    })  # fmt: skip
    return lake


def snapshot(lake: Lake) -> dict[str, pl.DataFrame]:
    """What linkage left in `lake` (:data:`DATASETS`), rows sorted, without wall times, the
    staged files' times and how a run went."""
    out = {}
    for name in DATASETS:
        frame = lake.read("linkage", name).drop("seconds", "mtime_ns", strict=False)
        if name == "runs":
            frame = frame.drop(EXECUTION)
        out[name] = frame.sort(frame.columns) if frame.width else frame
    return out


def same(got: dict[str, pl.DataFrame], want: object) -> bool:
    assert isinstance(want, dict)
    for name in DATASETS:
        assert got[name].equals(want[name]), name
    return True


def _run(fields: list[str]) -> None:
    import credlink.etl.commit
    from credlink.linkage.stage import run_linkage

    lake, run_id, crash, *mode = fields
    os.environ[credlink.etl.commit.crash_env("linkage")] = crash
    credlink.etl.commit._points.clear()
    run_linkage(Lake(lake), run_id=run_id, logical_date=DAY, full=mode == ["full"])


def _serve() -> None:
    import splink  # noqa: F401  - imported once, for every child

    import credlink.linkage.stage  # noqa: F401

    serve(_run)


class Forker(ForkServer):
    """The serving process: ``run(lake, run_id, crash_after)`` returns the child's exit code
    (``-9``: killed by SIGKILL)."""

    def __init__(self) -> None:
        super().__init__(Path(__file__).resolve(), "CREDLINK_LINKAGE_CRASH_AFTER")

    def run(self, lake: Path | str, run_id: str, crash_after: int, full: bool = False) -> int:
        return self.request(lake, run_id, crash_after, *(["full"] if full else []))


if __name__ == "__main__":
    _serve()
