"""Sharded publishing against one run on the same lake: the seconds of each step, and whether
every warehouse table is the same.

    .venv/bin/python bench/publish_shards.py --lake data/bench-scale/w1000000/lake --shards 4

The lake is copied twice into ``--work`` (the original is never written). One copy is
published as one run (:func:`publish.stage.run_publish`), the other as a sharded run
(:mod:`publish.shards`: plan, every shard, merge), both as of ``--as-of`` (default: the day of
the lake's last publishing run, else its last staged day). The shards run one after the
other in this process; on a cluster they run at once, so a sharded run takes about
plan + the slowest shard + merge. Every table of the two warehouses is compared, rows in any
order. Prints a Markdown table; ``--json`` writes the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scale import copy_tree

ROOT = Path(__file__).resolve().parents[1]


def _day(lake: Any) -> date:
    from credlink.publish.listings import staged_through

    runs = lake.read("publish", "runs")
    if runs.height:
        return runs["as_of"].max()  # type: ignore[no-any-return]
    day = staged_through(lake)
    if day is None:
        raise SystemExit(f"{lake.root}: nothing staged to publish")
    return day


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lake", type=Path, required=True)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--work", type=Path, default=ROOT / "data" / "bench-publish-shards")
    parser.add_argument("--as-of", type=date.fromisoformat, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    from credlink.etl.lake import Lake
    from credlink.publish import shards
    from credlink.publish.stage import run_publish
    from credlink.publish.warehouse import read_tables

    one, many = Lake(args.work / "one" / "lake"), Lake(args.work / "many" / "lake")
    for lake in (one, many):
        copy_tree(args.lake, lake.root)
    day = args.as_of or _day(one)
    run_id = f"bench-publish-{day.isoformat()}"
    t = time.perf_counter()
    expected = run_publish(one, args.work / "one" / "credlink.duckdb", run_id, day)
    figures: dict[str, Any] = {"as_of": day.isoformat(), "shards": args.shards,
                               "unsharded": round(time.perf_counter() - t, 2)}  # fmt: skip
    t = time.perf_counter()
    sizes = shards.plan(many, run_id=run_id, as_of=day, shards=args.shards)
    figures["plan"] = round(time.perf_counter() - t, 2)
    figures["shard_records"] = sizes
    figures["shard"] = []
    for i in range(args.shards):
        t = time.perf_counter()
        shards.publish_shard(many, run_id=run_id, shard=i)
        figures["shard"].append(round(time.perf_counter() - t, 2))
    t = time.perf_counter()
    got = shards.merge(many, args.work / "many" / "credlink.duckdb", run_id=run_id)
    figures["merge"] = round(time.perf_counter() - t, 2)
    figures["published_in_merge"] = got.pop("published_in_merge")
    # the checksum of the warehouse file itself differs (rows in another order)
    a, b = (read_tables(args.work / w / "credlink.duckdb", drop=("warehouse_sha256",))
            for w in ("one", "many"))  # fmt: skip
    differ = sorted(
        n for n in a.keys() | b.keys() if n not in a or n not in b or not a[n].equals(b[n])
    )
    figures.update(tables=len(a), differ=differ, counts_equal=got == expected,
                   restrictions=expected["restrictions"])  # fmt: skip
    figures["sharded_on_a_cluster"] = round(
        figures["plan"] + max(figures["shard"]) + figures["merge"], 2
    )
    table = (f"| as of | shards | one run (s) | plan (s) | shards (s) | merge (s) | plan + slowest "
          f"shard + merge (s) | tables equal |\n|---|---:|---:|---:|---|---:|---:|---|\n"
          f"| {day} | {args.shards} | {figures['unsharded']} | {figures['plan']} | "
          f"{', '.join(map(str, figures['shard']))} | {figures['merge']} | "
          f"{figures['sharded_on_a_cluster']} | {len(a) - len(differ)} of {len(a)} |")  # fmt: skip
    print(table)  # noqa: T201
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")
    return 0 if not differ and figures["counts_equal"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
