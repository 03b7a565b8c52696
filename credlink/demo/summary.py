"""The demo's summary: runs per DAG, staging, quality against the truth, restrictions.

:func:`print_summary` prints, after the runs, the reports of :mod:`credlink.reports` that
`credlink staging` and `credlink quality` print (the quality tables measured and stored by
:func:`linkage.quality.measure_linkage_quality` and
:func:`publish.quality.measure_restriction_quality`), then the demo's own figures: the
restrictions against the truth, what the publish runs changed, the README's queries on this
warehouse, the restrictions by memorandum and agency (`credlink publish --summary`) and where
things are.

Example:
    >>> print_summary(result, Console(), os.environ)                      # doctest: +SKIP
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from credlink import settings
from credlink.demo.driver import DemoFailed, DemoResult
from credlink.demo.env import DemoEnv
from credlink.demo.plan import PUBLISH_DAG
from credlink.orchestration.services import VENV_BIN
from credlink.reports import Block, quality_report, show, staging_report

if TYPE_CHECKING:
    from credlink.etl.lake import Lake


def runs_table(result: DemoResult) -> Table:
    """Successful runs per DAG by run type, and the time taken."""
    kinds = sorted({k for types in result.run_types.values() for k in types})
    table = Table(
        title=f"Runs (all succeeded, {result.seconds / 60:.1f} min)", title_justify="left"
    )
    table.add_column("DAG")
    for k in kinds:
        table.add_column(k, justify="right")
    for d in result.dag_ids:
        table.add_row(d, *(str(result.run_types.get(d, {}).get(k, 0)) for k in kinds))
    return table


def publish_summary(result: DemoResult, credlink: Path, env: Mapping[str, str]) -> tuple[bool, str]:
    """The publish hook: `credlink publish --summary` once the publish DAG exists.

    Returns (ran, output or the note saying why it was skipped).
    """
    if PUBLISH_DAG not in result.dag_ids:
        return False, f"restrictions: skipped, the {PUBLISH_DAG} DAG is not in dags/ yet"
    proc = subprocess.run(
        [str(credlink), "publish", "--summary"], env=dict(env), capture_output=True, text=True
    )
    if proc.returncode != 0 and "No such command" in proc.stderr + proc.stdout:
        return False, "restrictions: skipped, `credlink publish --summary` does not exist yet"
    if proc.returncode != 0:
        raise DemoFailed(f"`credlink publish --summary` failed:\n{proc.stderr[-3000:]}")
    return True, proc.stdout


def print_summary(result: DemoResult, console: Console, env: Mapping[str, str]) -> None:
    """Runs, staged and quarantined rows, linkage quality, restrictions, where things are."""
    from credlink.etl.lake import Lake

    where = DemoEnv(env)
    console.rule("summary")
    console.print(runs_table(result))
    lake = Lake(settings.lake_dir())
    show(console, staging_blocks(lake))
    # linkage quality, then the restrictions against the truth (both stored in the lake)
    show(console, quality_blocks(lake, settings.data_dir() / "world", settings.warehouse_path()))
    console.print(Text(restriction_figures(where), style="bold"))
    console.print(Text(history_figures(where.warehouse)))
    console.print(Text(readme_figures(where)))
    _, publish_out = publish_summary(result, VENV_BIN / "credlink", env)
    console.print(Text(publish_out.rstrip()))
    console.print(
        Group(
            Text(f"warehouse (restrictions, DuckDB): {where.warehouse}"),
            Text(f"catalog (DuckDB views over the lake): {where.lake_dir / 'catalog.duckdb'}"),
            Text(f"lake: {where.lake_dir}"),
            Text(f"Airflow logs: {where.logs_dir}"),
            Text("see the runs in the web UI: make ui (then make stop)"),
        )
    )
    for w in result.warnings:
        console.print(f"[yellow]warning:[/yellow] {w}")


def staging_blocks(lake: Lake) -> list[Block]:
    """What `credlink staging` prints: the lake's staged and quarantined rows
    (:func:`credlink.reports.staging_report`)."""
    runs = lake.read_runs()
    if runs.is_empty():
        raise DemoFailed(f"no ingest runs recorded under {lake.url}")
    quarantine = {d: lake.read("quarantine", d) for d in lake.datasets("quarantine")}
    return staging_report(runs, quarantine, lake.location, lake.catalog_location)


def quality_blocks(lake: Lake, world: Path, warehouse: Path) -> list[Block]:
    """What `credlink quality` prints: the links, then the restrictions of `warehouse`, against
    the truth of `world` (:func:`credlink.reports.quality_report`), measured and stored in the
    lake (``linkage.quality``, ``linkage.who_fails``, ``linkage.restriction_quality``)."""
    from credlink.linkage.quality import measure_linkage_quality
    from credlink.publish.quality import measure_restriction_quality

    linkage = measure_linkage_quality(lake, world)
    if linkage is None:
        raise DemoFailed(f"no linkage run under {lake.url}")
    restrictions = measure_restriction_quality(warehouse, lake, world)
    lake.refresh_catalog()
    return quality_report(linkage, world, restrictions, warehouse)


def restriction_figures(where: DemoEnv) -> str:
    """The key figures of the restrictions against the world's truth (wrongful, missed, held in
    review, recall), from the lake's ``linkage.restriction_quality`` that `credlink quality`
    stores; a note when it is absent."""
    from credlink.etl.lake import Lake
    from credlink.publish.quality import DATASET, LAYER, key_figures

    table = Lake(where.lake_dir).read(LAYER, DATASET)
    if table.is_empty():
        return "restrictions against the truth: not measured (no published warehouse)"
    return key_figures(table)


def history_figures(warehouse: Path) -> str:
    """What the publish runs changed over the demo: restrictions imposed, extended, lifted ...
    by the runs' days (from ``publish.restriction_history`` of the warehouse)."""
    import duckdb

    if not warehouse.is_file():
        return "restriction history: no published warehouse"
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        runs = con.execute(
            "SELECT count(*), min(as_of), max(as_of), count(DISTINCT as_of) FROM publish.runs"
        ).fetchone()
        rows = con.execute(
            "SELECT change, count(*), count(DISTINCT as_of) FROM publish.restriction_history "
            "GROUP BY change ORDER BY count(*) DESC"
        ).fetchall()
    finally:
        con.close()
    assert runs is not None
    head = f"restriction history: {runs[0]} publish runs on {runs[3]} days, {runs[1]} .. {runs[2]}"
    parts = [f"{change} {n:,} (on {days} days)" for change, n, days in rows]
    return f"{head}: " + (", ".join(parts) if parts else "no changes")


#: A README SQL block and the file it is for (its first line: `-- duckdb -readonly FILE`).
README_BLOCK = re.compile(r"```sql\n(.*?)```", re.S)
README_TARGET = re.compile(r"^-- duckdb -readonly (\S+)$", re.M)


def readme_query_rows(root: Path, data_dir: Path) -> list[tuple[str, int | str]]:
    """Run every SQL block of the README against this demo's files, as a user would (read-only);
    for each block its first question line and the rows it answered (or the error)."""
    import duckdb

    out: list[tuple[str, int | str]] = []
    for block in README_BLOCK.findall((root / "README.md").read_text(encoding="utf-8")):
        target = README_TARGET.search(block)
        if target is None:
            continue
        path = data_dir / Path(target.group(1)).relative_to("data")
        sql = README_TARGET.sub("", block).strip()
        first = next(
            (ln.strip() for ln in sql.splitlines() if ln.strip() and not ln.startswith("--")), ""
        )
        try:
            con = duckdb.connect(str(path), read_only=True)
            try:
                out.append((first, len(con.execute(sql).fetchall())))
            finally:
                con.close()
        except duckdb.Error as exc:
            out.append((first, f"error: {str(exc).splitlines()[0]}"))
    return out


def readme_figures(where: DemoEnv) -> str:
    """One line per README query: how many rows it answers on this demo's warehouse."""
    rows = readme_query_rows(where.root, where.data_dir)
    answered = sum(1 for _, n in rows if isinstance(n, int) and n > 0)
    lines = [f"README queries on this warehouse: {answered} of {len(rows)} answer with rows"]
    lines += [f"  {n if isinstance(n, str) else f'{n:,} rows'}: {q[:80]}" for q, n in rows]
    return "\n".join(lines)


def source_counts(runs: Any) -> dict[str, dict[str, int]]:
    """Extracted / staged / quarantined rows per source from `ops.ingest_runs` (a Polars frame)."""
    import polars as pl

    if runs.is_empty():
        return {}
    totals = runs.group_by("source").agg(
        pl.col("extracted").sum(), pl.col("staged").sum(), pl.col("quarantined").sum()
    )
    return {
        r["source"]: {k: int(r[k]) for k in ("extracted", "staged", "quarantined")}
        for r in totals.iter_rows(named=True)
    }
