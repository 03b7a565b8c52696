"""The `credlink` command line.

    credlink init                      prepare the ignored Airflow home (secrets, admin password)
    credlink world --persons 10000 --seed 7 --start 2024-01-01 --end 2025-12-31 --out data/world

Run `credlink COMMAND --help` for the options of each command.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from credlink import paths

app = typer.Typer(
    help="credlink: agency records linked to unified social credit codes.",
    no_args_is_help=True,
    add_completion=False,
)
# Wide enough for the summary tables when the output is not a terminal (make, CI logs).
console = Console(width=None if Console().is_terminal else 120)


def _parse_day(value: str) -> date:
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not a date of the form YYYY-MM-DD") from exc


@app.command()
def init() -> None:
    """Prepare the Airflow home: generated secrets, the `admin` password and `env.sh`.

    Example: `credlink init` then `source .airflow/env.sh`.
    """
    from credlink.airflow_home import prepare_airflow_home

    home = prepare_airflow_home(paths.airflow_home(), paths.project_root())
    console.print(f"Airflow home ready: {home.home}")
    console.print(f"  environment: source {home.env_script}")
    console.print(f"  web UI login: admin / {home.admin_password()}")


@app.command()
def world(
    persons: Annotated[int, typer.Option(help="Persons in the population registry.")] = 10_000,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same world.")] = 7,
    start: Annotated[str, typer.Option(help="First day of the period, YYYY-MM-DD.")] = "2024-01-01",
    end: Annotated[str, typer.Option(help="Last day of the period, YYYY-MM-DD.")] = "2025-12-31",
    out: Annotated[Path | None, typer.Option(help="Folder to write (default data/world).")] = None,
) -> None:
    """Generate a synthetic world: two registries, four agency databases and the ground truth.

    Example: `credlink world --persons 10000 --seed 7 --start 2024-01-01 --end 2025-12-31`.
    """
    from world.config import WorldConfig, WorldConfigError
    from world.generate import generate_world

    target = out if out is not None else paths.data_dir() / "world"
    try:
        cfg = WorldConfig(
            persons=persons, seed=seed, start=_parse_day(start), end=_parse_day(end), out=target
        )
    except WorldConfigError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    logging.basicConfig(level=logging.WARNING)
    with console.status("generating") as status:
        try:
            summary = generate_world(cfg, progress=lambda msg: status.update(f"generating {msg}"))
        except WorldConfigError as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from exc
    table = Table(title=f"World written to {summary.out}")
    table.add_column("database")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for db, tables in summary.tables.items():
        for name, rows in tables.items():
            table.add_row(db, name, f"{rows:,}")
    console.print(table)
    console.print(
        f"truth: {summary.truth_rows:,} rows in {summary.out / 'truth'} "
        f"({summary.unregistered_records:,} records of subjects in no registry)"
    )


@app.command()
def staging() -> None:
    """Summarise what the ingest runs staged and quarantined, per source and table.

    Example: `credlink staging` after the ingest DAGs have run.
    """
    import polars as pl

    from etl.lake import Lake

    lake = Lake(paths.data_dir() / "lake")
    runs = lake.read_runs()
    if runs.is_empty():
        console.print(f"[yellow]no ingest runs recorded under {lake.root}[/yellow]")
        raise typer.Exit(1)
    totals = (
        runs.group_by("source", "table")
        .agg(
            pl.len().alias("intervals"),
            pl.col("extracted").sum(),
            pl.col("staged").sum(),
            pl.col("quarantined").sum(),
            (pl.col("status") != "success").sum().alias("failed"),
        )
        .sort("source", "table")
    )
    table = Table(title=f"Staged and quarantined rows ({lake.root})")
    for col in ("source", "table", "intervals", "extracted", "staged", "quarantined", "failed"):
        table.add_column(col, justify="left" if col in ("source", "table") else "right")
    for row in totals.iter_rows():
        table.add_row(*(f"{v:,}" if isinstance(v, int) else str(v) for v in row))
    console.print(table)
    for dataset in lake.datasets("quarantine"):
        q = lake.read("quarantine", dataset)
        if q.is_empty():
            continue
        rules = q.select(pl.col("_failed_rules").explode()).to_series().value_counts(sort=True)
        listed = ", ".join(f"{r} ({n})" for r, n in rules.iter_rows())
        console.print(f"quarantine.{dataset}: {q.height:,} rows — {listed}")
    console.print(f"query: duckdb {lake.catalog_path} -c 'SELECT * FROM ops.ingest_runs'")


if __name__ == "__main__":
    app()
