"""Benchmark: how long a world takes to generate, stage by stage, and its peak memory.

    .venv/bin/python bench/bench_world.py --persons 1000000            # prints a table of figures

Not part of the tests. Peak memory is the process's maximum resident set size.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from datetime import date
from pathlib import Path

from rich.console import Console
from rich.table import Table

from credlink.world.config import WorldConfig
from credlink.world.generate import generate_world


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--start", default="2024-01-01")
    parser.add_argument("--end", default="2025-12-31")
    parser.add_argument("--out", type=Path, default=None, help="default: a temporary folder")
    args = parser.parse_args()
    console = Console()

    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp) / "world"
        cfg = WorldConfig(
            persons=args.persons,
            seed=args.seed,
            start=date.fromisoformat(args.start),
            end=date.fromisoformat(args.end),
            out=out,
        )
        marks: list[tuple[str, float]] = []

        def progress(msg: str) -> None:
            marks.append((msg, time.perf_counter()))
            console.log(msg)

        t0 = time.perf_counter()
        summary = generate_world(cfg, progress=progress)
        total = time.perf_counter() - t0
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    table = Table(title=f"credlink world --persons {args.persons:,} (seed {args.seed})")
    table.add_column("stage")
    table.add_column("seconds", justify="right")
    ends = [t for _, t in marks[1:]] + [t0 + total]
    for (name, start), end in zip(marks, ends, strict=True):
        table.add_row(name, f"{end - start:.1f}")
    table.add_row("total", f"{total:.1f}")
    console.print(table)
    rows = sum(sum(t.values()) for t in summary.tables.values())
    console.print(f"rows written: {rows:,}; truth rows: {summary.truth_rows:,}")
    console.print(f"peak memory (max RSS): {peak_mib:,.0f} MiB")


if __name__ == "__main__":
    main()
