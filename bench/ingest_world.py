"""Ingest a generated world into a lake of its own, in one process, without Airflow.

For evaluating linkage on worlds other than the demo one:

    .venv/bin/credlink world --persons 100000 --out /tmp/w100k
    .venv/bin/python bench/ingest_world.py --world /tmp/w100k --lake /tmp/w100k-lake

Every table of every source contract is extracted as one initial load (all history before
`--end`, default the day after the world's last day), staged and conformed; the DuckDB catalog is
refreshed at the end.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from credlink.etl.conform.apply import conform_partition
from credlink.etl.contracts import source_contracts
from credlink.etl.ingest.extract import connect, source_url
from credlink.etl.ingest.interval import Interval
from credlink.etl.ingest.run import RunContext, ingest_table
from credlink.etl.lake import Lake

log = logging.getLogger("ingest_world")


def ingest_world(world: Path, lake_root: Path, end: datetime | None = None) -> Lake:
    """Stage every table of `world` into the lake at `lake_root`; returns the lake."""
    if end is None:
        last = date.fromisoformat(json.loads((world / "world.json").read_text())["end"])
        end = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=2)
    lake = Lake(lake_root)
    ctx = RunContext(
        run_id="bench", logical_date=end, docs_root=lake_root / "docs", quarantine_limit=1.0
    )
    for source, contract in sorted(source_contracts().items()):
        engine = connect(source_url(None, world / contract.default_database), source)
        for table in contract.tables:
            t0 = time.perf_counter()
            report = ingest_table(contract, table, engine, Interval(None, end), lake, ctx)
            conform_partition(lake, source, table.name, Interval(None, end).key)
            log.info(
                "%s__%s: staged %d, quarantined %d in %.1f s",
                source, table.name, report.staged, report.quarantined, time.perf_counter() - t0,
            )  # fmt: skip
    lake.refresh_catalog()
    return lake


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--world", type=Path, required=True)
    parser.add_argument("--lake", type=Path, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    ingest_world(args.world, args.lake)


if __name__ == "__main__":
    main()
