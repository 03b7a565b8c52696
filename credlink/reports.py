"""Reports: what the command line and the demo print about the lake and the warehouse.

A report is computed from the frames it is about by pure functions (the figures, as a frame)
and rendered as rich tables and lines (:class:`Block`); :func:`show` prints the blocks on any
console. Nothing here reads or writes a table: the callers (the commands of :mod:`credlink.cli`,
the summary of :mod:`credlink.demo`) read what they report on, and the library functions that
measure quality store what they measure (:func:`linkage.quality.measure_linkage_quality`,
:func:`publish.quality.measure_restriction_quality`).

- :func:`staging_report`: staged and quarantined rows per source and table, from
  ``ops.ingest_runs`` (:func:`staging_totals`), and the rules that quarantined rows broke;
- :func:`linkage_run_report`: the counts of one linkage run;
- :func:`quality_report`: the links against the world's truth (``linkage.quality``), who fails
  to link (``linkage.who_fails``) and the restrictions against the truth
  (``linkage.restriction_quality``);
- :data:`WAREHOUSE_QUERIES` and :func:`frame_table`: the published warehouse's summary.

Values from the data are shown literally (:func:`literal`, :func:`cell`): control characters
escaped, rich markup printed as written.

Example:
    >>> show(console, staging_report(lake.read_runs(), {}, lake.root, lake.catalog_path))
    ...                                                                    # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    import polars as pl

    from credlink.etl.storage import Location
    from credlink.linkage.quality import LinkageQuality

__all__ = [
    "WAREHOUSE_QUERIES",
    "Block",
    "catalog_query",
    "cell",
    "frame_table",
    "linkage_quality_table",
    "linkage_run_report",
    "literal",
    "no_ingest_runs",
    "no_linkage_run",
    "no_warehouse",
    "quality_report",
    "restriction_quality_table",
    "show",
    "staging_report",
    "staging_totals",
    "who_fails_table",
]


@dataclass(frozen=True)
class Block:
    """One thing a report prints: a rich renderable (a str is rich markup, our own words).

    `width` is the width it needs when the output is not a terminal (default: the console's;
    a terminal's own width is always used as it is); `soft_wrap` keeps a long line whole.
    """

    body: RenderableType
    width: int | None = None
    soft_wrap: bool = False


def show(console: Console, blocks: Iterable[Block]) -> None:
    """Print `blocks` on `console`, one after the other."""
    for block in blocks:
        target = console
        if block.width is not None and not console.is_terminal:
            target = Console(file=console.file, width=block.width)
        target.print(block.body, soft_wrap=block.soft_wrap)


def literal(value: object, style: str = "") -> Text:
    """`value` as literal text for the terminal: control characters escaped
    (:func:`publish.explain.printable`), rich markup such as ``[red]`` printed as written."""
    from credlink.publish.explain import printable

    return Text(printable(value), style=style)


def line(*parts: object) -> Text:
    """`parts` as one line of text: Text parts as they are, any other shown literally."""
    out = Text()
    for part in parts:
        out.append_text(part if isinstance(part, Text) else literal(part))
    return out


def cell(value: object) -> Text:
    """A table cell, data shown literally (no markup, control characters escaped)."""
    if value is None:
        return Text("-")
    if isinstance(value, float):
        return Text(f"{value:.4f}")
    if isinstance(value, int):
        return Text(f"{value:,}")
    return literal(value)


# --------------------------------------------------------------------------- staging


def no_ingest_runs(lake_root: Location) -> Block:
    """The note printed instead of the staging report before the first ingest run."""
    return Block(f"[yellow]no ingest runs recorded under {lake_root}[/yellow]")


def catalog_query(catalog: Location, sql: str) -> str:
    """How to run `sql` on the lake's catalog: the DuckDB command line on a local catalog; from
    Python on a lake on an object store (the DuckDB command line here cannot read it:
    docs/storage.md, "Reading the catalog of an object-store lake")."""
    if isinstance(catalog, Path):
        return f"query: duckdb {catalog} -c '{sql}'"
    return (
        "query (Python; the catalog is on the object store): with "
        f"Lake(settings.lake_dir()).open_catalog() as con: con.sql({sql!r})"
    )


def staging_totals(runs: pl.DataFrame) -> pl.DataFrame:
    """Per source and table of ``ops.ingest_runs`` (`runs`): the intervals run, rows extracted,
    staged and quarantined, and the runs that failed."""
    import polars as pl

    return (
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


def _quarantine_line(dataset: str, rows: pl.DataFrame) -> str:
    """`quarantine.<dataset>: N rows — rule (n), ...`: the rules its rows broke, most first."""
    import polars as pl

    rules = rows.select(pl.col("_failed_rules").explode()).to_series().value_counts(sort=True)
    listed = ", ".join(f"{r} ({n})" for r, n in rules.iter_rows())
    return f"quarantine.{dataset}: {rows.height:,} rows — {listed}"


def staging_report(
    runs: pl.DataFrame,
    quarantine: Mapping[str, pl.DataFrame],
    lake_root: Location,
    catalog_path: Location,
) -> list[Block]:
    """What the ingest runs staged and quarantined (:func:`staging_totals` of `runs`, the lake's
    ``ops.ingest_runs``), then a line per quarantine table of `quarantine` (name -> its rows)
    holding rows, and how to query the runs."""
    table = Table(title=f"Staged and quarantined rows ({lake_root})")
    for col in ("source", "table", "intervals", "extracted", "staged", "quarantined", "failed"):
        table.add_column(col, justify="left" if col in ("source", "table") else "right")
    for row in staging_totals(runs).iter_rows():
        table.add_row(*(cell(v) for v in row))
    blocks = [Block(table)]
    blocks += [Block(_quarantine_line(d, q)) for d, q in quarantine.items() if not q.is_empty()]
    blocks.append(Block(catalog_query(catalog_path, "SELECT * FROM ops.ingest_runs")))
    return blocks


# --------------------------------------------------------------------------- linkage


def linkage_run_report(
    counts: Mapping[str, int], lake_root: Location, catalog_path: Location
) -> list[Block]:
    """The counts of one linkage run (:func:`linkage.stage.run_linkage`) and how to query the
    links."""
    table = Table(title=f"Linkage run ({lake_root})")
    table.add_column("count")
    table.add_column("records", justify="right")
    for key, value in counts.items():
        table.add_row(key, f"{value:,}")
    return [Block(table), Block(catalog_query(catalog_path, "SELECT * FROM linkage.record_links"))]


def no_linkage_run(lake_root: Location) -> Block:
    """The note printed instead of the quality report before the first linkage run."""
    return Block(f"[yellow]no linkage run under {lake_root}: run `credlink link`[/yellow]")


def no_warehouse(warehouse: Path) -> Block:
    """The note printed when the restrictions cannot be measured: nothing is published."""
    return Block(
        f"[yellow]no published warehouse at {warehouse}: run `credlink publish` to measure "
        "the restrictions too[/yellow]"
    )


def linkage_quality_table(quality: pl.DataFrame, truth_dir: Path) -> Table:
    """``linkage.quality`` (:func:`linkage.quality.quality_table`) as a table."""
    table = Table(
        title=f"Linkage quality against {truth_dir / 'truth'} (accept band)",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    labels = ("subject_type", "source", "table")
    for col in quality.columns:
        table.add_column(col, justify="left" if col in labels else "right", no_wrap=True)
    for row in quality.iter_rows():
        table.add_row(*(cell(v) for v in row))
    return table


def who_fails_table(who_fails: pl.DataFrame, reference_year: int) -> Table:
    """``linkage.who_fails`` (:func:`linkage.quality.who_fails`) as a table: provinces only
    where some records are missed."""
    import polars as pl

    shown = who_fails.filter((pl.col("dimension") != "province") | (pl.col("missed") > 0))
    table = Table(
        title=f"Who fails to link (recall of linkable records; age at {reference_year}; "
        "provinces listed where some are missed; all in linkage.who_fails)",
        box=box.SIMPLE_HEAD,
    )
    for col in shown.columns:
        table.add_column(
            col, justify="left" if col in ("subject_type", "dimension", "value") else "right"
        )
    for row in shown.iter_rows():
        table.add_row(*(cell(v) for v in row))
    return table


def restriction_quality_table(quality: pl.DataFrame, world: Path) -> Table:
    """``linkage.restriction_quality`` (:func:`publish.quality.restriction_quality`) as a
    table: memoranda, then agencies, then the total."""
    from credlink.publish.quality import ALL

    as_of = quality["as_of"][0] if quality.height else None
    table = Table(
        title=f"Restrictions against {world / 'truth'}, publish run as of {as_of} "
        "(linkage.restriction_quality)",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    labels = ("memorandum_id", "enforcing_agency")
    shown = [c for c in quality.columns if c != "as_of"]
    rows = [[cell(v) for v in row] for row in quality.select(shown).iter_rows()]
    for i, col in enumerate(shown):
        if col in labels:
            table.add_column(col, no_wrap=True)
        else:  # headers wrap at the underscores, never inside a word
            words = col.split("_")
            width = max(len(str(w)) for w in [*words, *(r[i] for r in rows)])
            table.add_column(" ".join(words), justify="right", width=width)
    previous = None
    for row, cells in zip(quality.iter_rows(named=True), rows, strict=True):
        by_agency = row["memorandum_id"] == ALL
        level = (2 if row["enforcing_agency"] == ALL else 1) if by_agency else 0
        if previous is not None and level != previous:
            table.add_section()
        previous = level
        table.add_row(*cells)
    return table


def quality_report(
    linkage: LinkageQuality,
    truth_dir: Path,
    restrictions: pl.DataFrame | None,
    warehouse: Path,
) -> list[Block]:
    """The last linkage run against the truth of `truth_dir` (`linkage`, as measured by
    :func:`linkage.quality.measure_linkage_quality`), then who fails to link, then the
    restrictions of the published `warehouse` against the truth (`restrictions`, from
    :func:`publish.quality.measure_restriction_quality`; None: nothing published, a note
    first). Without records of a registry's subject there is no one to fail and the report
    ends with the quality table."""
    from credlink.publish.quality import key_figures

    blocks = [] if restrictions is not None else [no_warehouse(warehouse)]
    # 13 columns: wider than the 120 of non-terminal output, so that no header is cut
    blocks.append(Block(linkage_quality_table(linkage.quality, truth_dir), width=170))
    if linkage.who_fails.is_empty():
        return blocks
    blocks.append(Block(who_fails_table(linkage.who_fails, linkage.reference_year)))
    if restrictions is not None:
        # 16 columns: wider than the 120 of non-terminal output, so that no figure is cut
        blocks.append(Block(restriction_quality_table(restrictions, truth_dir), width=190))
        blocks.append(Block(line(key_figures(restrictions)), soft_wrap=True))
    return blocks


# --------------------------------------------------------------------------- the warehouse

#: The published warehouse's summary (`credlink publish`): title -> DuckDB query.
WAREHOUSE_QUERIES = {
    "Restrictions by memorandum": (
        "SELECT memorandum_id, status, count(*) AS restrictions, "
        "count(DISTINCT credit_code) AS subjects FROM publish.restrictions "
        "GROUP BY ALL ORDER BY ALL"
    ),
    "Restrictions by enforcing agency": (
        "SELECT r.enforcing_agency, a.agency_name, count(*) AS restrictions, "
        "count(DISTINCT credit_code) AS subjects FROM publish.restrictions r "
        "JOIN (SELECT DISTINCT enforcing_agency, agency_name FROM publish.measures) a "
        "USING (enforcing_agency) WHERE r.status = 'active' GROUP BY ALL ORDER BY ALL"
    ),
    "Listings by outcome": (
        "SELECT list_id, outcome, count(*) AS listings FROM publish.listings "
        "GROUP BY ALL ORDER BY ALL"
    ),
    "Public disclosure by list and grade": (
        "SELECT list_id, severity, count(*) AS listings FROM publish.public_disclosure "
        "GROUP BY ALL ORDER BY ALL"
    ),
    "Credit repairs and objections": (
        "SELECT 'repair' AS case_type, kind, origin, outcome AS state, count(*) AS cases "
        "FROM publish.repairs GROUP BY ALL "
        "UNION ALL SELECT 'objection', scope, origin, status, count(*) FROM publish.objections "
        "GROUP BY ALL ORDER BY ALL"
    ),
    "Joint incentives by agency": (
        "SELECT enforcing_agency, status, count(*) AS incentives, "
        "count(DISTINCT credit_code) AS subjects FROM publish.incentives "
        "GROUP BY ALL ORDER BY ALL"
    ),
}


def frame_table(title: str, frame: pl.DataFrame) -> Table:
    """`frame` as a table titled `title`: numbers to the right."""
    table = Table(title=title, box=box.SIMPLE_HEAD)
    for col in frame.columns:
        table.add_column(col, justify="right" if frame[col].dtype.is_numeric() else "left")
    for row in frame.iter_rows():
        table.add_row(*(cell(v) for v in row))
    return table
