"""A published small world with one seeded identifier conflict, for the workbench tests.

A copy of the session's DAG world (3,000 persons, 2024-01-01 .. 2024-06-30) in which the civil
aviation list's first national-ID flight ban carries another person's valid citizen ID (a clerk
typed the wrong number): the passenger's name is the true person's, the number someone else's
of another surname. Ingested (every table, initial load), conformed, linked and published
in-process, as the linkage tests do (about 20 s): the ban is an identifier conflict in review
(candidate: the true passenger on the other fields; identifier holder: the number's owner) and
waits in ``publish.pending_links`` holding ``aviation_ban_2018:no_flights``: nobody is
restricted on it until a reviewer decides.
"""

from __future__ import annotations

import shutil
import sqlite3
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

#: The initial load's end: the day after the DAG world ends.
LOAD_END = datetime(2024, 7, 1, tzinfo=UTC)
#: The publish day.
AS_OF = date(2024, 6, 30)
MEASURE = "aviation_ban_2018:no_flights"


@dataclass(frozen=True)
class Seeded:
    """The seeded data folder and the conflict in it."""

    data: Path  # $CREDLINK_DATA: world/, lake/, warehouse/
    unique_id: str  # the flight ban's record: transport/FlightBan/<Id>
    passenger: str  # the name on the ban
    true_code: str  # the passenger's own citizen ID (the candidate)
    holder_code: str  # the citizen ID typed on the ban (its registry holder)
    holder_name: str

    @property
    def lake(self) -> Path:
        return self.data / "lake"

    @property
    def warehouse(self) -> Path:
        return self.data / "warehouse" / "credlink.duckdb"


def seed(data: Path, dag_world: Path) -> Seeded:
    """Build the seeded world under `data` (a new folder) from the DAG world at `dag_world`."""
    from lakes import stage_world

    from credlink.etl.lake import Lake

    world = data / "world"
    shutil.copytree(dag_world, world)
    bans = sqlite3.connect(world / "agencies" / "transport.db")
    people = sqlite3.connect(world / "registries" / "population.db")
    try:
        ban_id, passenger, true_code = bans.execute(
            "SELECT Id, PassengerName, IdNumber FROM FlightBan WHERE IdType = 'NI' ORDER BY Id"
        ).fetchone()
        (sex,) = people.execute(
            "SELECT sex FROM person WHERE citizen_id = ?", [true_code]
        ).fetchone()
        holder_code, holder_name = people.execute(
            "SELECT citizen_id, name FROM person WHERE sex = ? AND citizen_id <> ? "
            "AND substr(name, 1, 1) <> ? ORDER BY citizen_id",
            [sex, true_code, passenger[0]],
        ).fetchone()
        bans.execute("UPDATE FlightBan SET IdNumber = ? WHERE Id = ?", [holder_code, ban_id])
        bans.commit()
    finally:
        bans.close()
        people.close()
    lake = Lake(data / "lake")
    stage_world(world, lake, LOAD_END, run_id="workbench-seed", docs_root=data / "docs")
    seeded = Seeded(data, f"transport/FlightBan/{ban_id}", passenger, true_code, holder_code,
                    holder_name)  # fmt: skip
    relink_and_publish(seeded, "seed")
    return seeded


def relink_and_publish(seeded: Seeded, run: str) -> dict[str, int]:
    """The next linkage run and publish run, in-process (what the DAGs run); publish counts."""
    from credlink.etl.lake import Lake
    from credlink.linkage.stage import run_linkage
    from credlink.publish.stage import run_publish

    lake = Lake(seeded.lake)
    run_linkage(lake, run_id=f"link-{run}", logical_date=LOAD_END)
    lake.refresh_catalog()
    return run_publish(lake, seeded.warehouse, f"publish-{run}", AS_OF)


def restrictions_on(seeded: Seeded, code: str) -> list[tuple[str, str, str]]:
    """(memorandum, measure, listing records) of the restrictions in force on `code`."""
    import duckdb

    con = duckdb.connect(str(seeded.warehouse), read_only=True)
    try:
        rows = con.execute(
            "SELECT memorandum_id, measure_id, listing_records FROM publish.restrictions "
            "WHERE credit_code = ? ORDER BY ALL",
            [code],
        ).fetchall()
    finally:
        con.close()
    return [(m, x, ",".join(recs)) for m, x, recs in rows]
