"""Legal representatives come from linkage: only an accepted representative link binds one."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
from handmade import ORG, REGISTRY, REP, court, in_force, link, links, staged

from credlink.etl.conform.apply import conform_frames
from credlink.etl.lake import Lake
from credlink.publish.history import HISTORY_COLUMNS
from credlink.publish.listings import build_listings
from credlink.publish.memoranda import Memorandum
from credlink.publish.stage import legal_representatives, publish_tables

OTHER_ORG = "91110000600037342J"
OTHER_REP = "360426199101010071"


def test_only_accepted_representative_links_bind(
    tmp_path: Path, memoranda: list[Memorandum]
) -> None:
    lake = Lake(tmp_path / "lake")
    lake.write_whole(
        "linkage",
        "legal_representatives",
        pl.DataFrame(
            {
                "organisation_code": [ORG, OTHER_ORG],
                "credit_code": [REP, None],
                "candidate_code": [REP, OTHER_REP],
                "band": ["accept", "review"],
                "method": ["probabilistic", "probabilistic"],
                "link_probability": [0.995, 0.6],
            }
        ),
    )
    reps = legal_representatives(lake)
    assert reps.select("credit_code", "legal_rep_code").rows() == [(ORG, REP)]

    rows = [court(1, subject_type="organisation"), court(2, subject_type="organisation")]
    run = publish_tables(
        build_listings(
            conform_frames({"courts__SXBZXR": staged("courts", "SXBZXR", rows)}), date(2024, 6, 1)
        ),
        links(link("courts/SXBZXR/1", ORG), link("courts/SXBZXR/2", OTHER_ORG)),
        memoranda,
        legal_reps=reps,
        registry=REGISTRY,
        history=pl.DataFrame(schema=HISTORY_COLUMNS),
        run_id="r1",
        as_of=date(2024, 6, 1),
    )
    restricted = set(in_force(run)["credit_code"])
    assert {ORG, OTHER_ORG, REP} <= restricted
    assert OTHER_REP not in restricted  # the representative's link awaits review
    rep_flights = in_force(run, "court_defaulters_2016").filter(
        (pl.col("credit_code") == REP) & (pl.col("measure_id") == "no_flights")
    )
    # the weaker link of the two (listing deterministic 1.0, representative 0.995)
    assert rep_flights["link_probability"].to_list() == [0.995]


def test_staged_through_is_the_last_day_every_list_is_ingested_through(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from credlink.publish.listings import staged_through

    lake = Lake(tmp_path / "lake")
    assert staged_through(lake) is None

    def ran(source: str, table: str, end: datetime) -> None:
        row = pl.DataFrame({"source": [source], "table": [table], "interval_end": [end]})
        lake.write_run(f"{source}__{table}", end.strftime("%Y%m%d"), row)

    # daily intervals end at midnight China time (16:00 UTC the day before)
    ran("courts", "SXBZXR", datetime(2024, 6, 30, 16, tzinfo=UTC))
    ran("courts", "SXBZXR", datetime(2024, 7, 1, 16, tzinfo=UTC))
    ran("transport", "FlightBan", datetime(2024, 6, 30, 16, tzinfo=UTC))
    ran("courts", "ZXAJ", datetime(2024, 8, 1, 16, tzinfo=UTC))  # not a list: ignored
    assert staged_through(lake) == date(2024, 6, 30)


def test_staged_through_stops_at_a_gap(tmp_path: Path) -> None:
    """A scheduled run of today while last month is still being backfilled: the days in between
    are not staged, so publishing stays at the end of the unbroken stretch."""
    from datetime import UTC, datetime, timedelta

    from credlink.publish.listings import LISTS, staged_through

    lake = Lake(tmp_path / "lake")

    def ran(dataset: str, start: datetime | None, end: datetime) -> None:
        source, table = dataset.split("__")
        row = pl.DataFrame(
            {
                "source": [source],
                "table": [table],
                "interval_start": [start],
                "interval_end": [end],
            },
            schema_overrides={"interval_start": pl.Datetime("us", "UTC")},
        )
        lake.write_run(dataset, f"{end:%Y%m%d}-{start is None}", row)

    midnight = datetime(2024, 6, 30, 16, tzinfo=UTC)  # 2024-07-01 00:00 China time
    day = timedelta(days=1)
    for dataset in sorted({d for spec in LISTS.values() for d in spec.datasets}):
        ran(dataset, None, midnight)  # the initial load: everything before 2024-07-01
        ran(dataset, midnight, midnight + day)  # 2024-07-01
        ran(dataset, midnight + 400 * day, midnight + 401 * day)  # today's scheduled run
    assert staged_through(lake) == date(2024, 7, 1)
    for dataset in sorted({d for spec in LISTS.values() for d in spec.datasets}):
        for n in range(1, 400):  # the backfill fills the gap
            ran(dataset, midnight + n * day, midnight + (n + 1) * day)
    assert staged_through(lake) == date(2024, 7, 1) + 400 * day
