"""The `credlink` command line.

    credlink init                      prepare the ignored Airflow home (secrets, admin password)
    credlink world --persons 10000 --seed 7 --start 2024-01-01 --end 2025-12-31 --out data/world
    credlink ingest --through DAY      the ingest DAGs' work without Airflow: the world's sources
    credlink conform                   the conformed layer again from staging (a changed mapping)
    credlink link [--full]             link new and changed staged records now (record_links)
    credlink review list | show ID | accept KEY | reject KEY [--reviewer NAME --note TEXT]
    credlink review agreement          how often two reviewers agreed (blind double review)
    credlink review sample draw --size N --seed S | list | show ID | decide KEY | estimate
    credlink train person --on DAY      a new model version in data/linkage/models/
    credlink models promote FILE | show  make a reviewed model the production model
    credlink quality                   links against the world's ground truth
    credlink demo --days 2             the whole chain through Airflow's scheduler (make demo)
    credlink publish [--summary]       apply the memoranda: restrictions in the warehouse
    credlink explain CODE              a subject's restrictions and why
    credlink repair apply CODE --listing ID --evidence TEXT [--commitment]   credit repair
    credlink repair list [CODE]        the applications and their assessment
    credlink objection file CODE --listing ID [--link] --reason TEXT | decide ID | list
    credlink ui start | stop | status  the Airflow web UI in the background (make ui / make stop)

Run `credlink COMMAND --help` for the options of each command.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from credlink import reports, settings
from credlink.reports import literal
from credlink.settings import ACCEPT, REVIEW

if TYPE_CHECKING:
    from credlink.etl.lake import Lake

app = typer.Typer(
    help="credlink: agency records linked to unified social credit codes.",
    no_args_is_help=True,
    add_completion=False,
)
# Wide enough for the summary tables when the output is not a terminal (make, CI logs).
console = Console(width=None if Console().is_terminal else 120)


def _say(*parts: object) -> None:
    """Print `parts` on one line: Text parts as they are, others shown literally."""
    console.print(reports.line(*parts), highlight=False, soft_wrap=True)


def _error(message: object) -> None:
    _say(Text("error: ", style="red"), str(message))


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

    home = prepare_airflow_home(settings.airflow_home(), settings.project_root())
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
    identity_errors: Annotated[
        float,
        typer.Option(
            help="Multiply every identity-error rate (another person's or firm's valid ID, "
            "relatives, namesakes, look-alikes; world.config.IDENTITY_ERRORS) by this factor, "
            "capped at 1; 0 turns them off."
        ),
    ] = 1.0,
) -> None:
    """Generate a synthetic world: two registries, five agency databases and the ground truth.

    Example: `credlink world --persons 10000 --seed 7 --start 2024-01-01 --end 2025-12-31`;
    `--identity-errors 20` for a world with 20 times the identity errors, to test linkage.
    """
    from credlink.world.config import NoiseConfig, WorldConfig, WorldConfigError
    from credlink.world.generate import generate_world

    target = out if out is not None else settings.data_dir() / "world"
    try:
        cfg = WorldConfig(
            persons=persons,
            seed=seed,
            start=_parse_day(start),
            end=_parse_day(end),
            out=target,
            noise=NoiseConfig.with_identity_errors(identity_errors),
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
def ingest(
    through: Annotated[
        str, typer.Option(help="Ingest every row up to the end of this day, YYYY-MM-DD.")
    ],
    day: Annotated[
        bool,
        typer.Option(
            "--day",
            help="Only the day itself (a daily run), not the initial load of all history.",
        ),
    ] = False,
    source: Annotated[
        list[str] | None, typer.Option(help="Only this source (repeatable; default every one).")
    ] = None,
    world: Annotated[
        Path | None, typer.Option(help="The generated world (default data/world).")
    ] = None,
    run_id: Annotated[str | None, typer.Option(help="Run id (default manual__<day>).")] = None,
) -> None:
    """Ingest the world's agency databases into the lake now, as the ingest DAGs do: an initial
    load of all history up to the end of `--through` (or, with `--day`, that day only), then the
    staging summary.

    Example: `credlink world --persons 2000 --out data/world`, then
    `credlink ingest --through 2025-12-31`, `credlink link`, `credlink publish --on 2025-12-31`.
    """
    from datetime import timedelta

    from credlink.etl.ingest.run import RunContext, ingest_sources
    from credlink.orchestration.runtime import docs_root

    last = _parse_day(through)
    start = settings.day_start(last)
    end = start + timedelta(days=1)
    lake = _lake()
    ctx = RunContext(
        run_id=run_id or f"manual__{last.isoformat()}",
        logical_date=start,
        docs_root=docs_root(lake),
    )
    logging.basicConfig(level=logging.WARNING)
    try:
        with console.status(f"ingesting through {last}"):
            report = ingest_sources(
                world or settings.data_dir() / "world",
                lake,
                start,
                end,
                initial=not day,
                ctx=ctx,
                sources=source,
            )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    console.print(
        f"extracted {report.extracted:,} rows: {report.staged:,} staged, "
        f"{report.quarantined:,} quarantined"
    )
    _show_staging(lake)


@app.command()
def staging() -> None:
    """Summarise what the ingest runs staged and quarantined, per source and table.

    Example: `credlink staging` after the ingest DAGs have run.
    """
    _show_staging(_lake())


def _show_staging(lake: Lake) -> None:
    """Print the staging report of `lake` (:func:`credlink.reports.staging_report`); exit 1
    before the first ingest run."""
    runs = lake.read_runs()
    if runs.is_empty():
        reports.show(console, [reports.no_ingest_runs(lake.location)])
        raise typer.Exit(1)
    quarantine = {d: lake.read("quarantine", d) for d in lake.datasets("quarantine")}
    reports.show(
        console, reports.staging_report(runs, quarantine, lake.location, lake.catalog_location)
    )


review_app = typer.Typer(
    help="Review the uncertain links: list, show, accept, reject; agreement; the quality sample.",
    no_args_is_help=True,
)
app.add_typer(review_app, name="review")
sample_app = typer.Typer(
    help="Estimate linkage precision without ground truth: a blind review of a random sample "
    "of accepted links (draw, list, show, decide, estimate).",
    no_args_is_help=True,
)
review_app.add_typer(sample_app, name="sample")


def _lake() -> Lake:
    from credlink.etl.lake import Lake

    return Lake(settings.lake_dir())


def _now() -> datetime:
    from datetime import UTC

    return datetime.now(UTC)


@app.command()
def conform() -> None:
    """Conform every staged partition again with the conform mappings
    (``schemas/conform/<source>.yaml``): after a mapping changed, or for a lake staged before
    the conformed layer existed (linkage and publishing refuse such a lake until then).

    Example: `credlink conform`, then `credlink link --full`.
    """
    from credlink.etl.conform.apply import conform_lake

    lake = _lake()
    with console.status("conforming the staged tables"):
        done = conform_lake(lake)
        lake.refresh_catalog()
    console.print(f"conformed {done:,} staged partitions into {lake.location / 'conformed'}")
    console.print(reports.catalog_query(lake.catalog_location, "SHOW TABLES FROM conformed"))


@app.command()
def link(
    accept: Annotated[float, typer.Option(help="Link probability of the accept band.")] = ACCEPT,
    review: Annotated[float, typer.Option(help="Link probability of the review band.")] = REVIEW,
    models_dir: Annotated[
        Path | None, typer.Option(help="Trained models (default linkage/models).")
    ] = None,
    full: Annotated[
        bool, typer.Option("--full", help="Link every record again, not only new and changed.")
    ] = False,
) -> None:
    """Link the staged records now: writes linkage.record_links and linkage.review_queue.

    Incremental: only records new or changed since the last run (and those a registry change
    concerns) are linked again; `--full` links everything. Example: `credlink link` after the
    ingest DAGs have run; then `credlink review list`.
    """
    from credlink.linkage.stage import Thresholds, run_linkage

    lake = _lake()
    now = _now()
    try:
        th = Thresholds(accept=accept, review=review)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    logging.basicConfig(level=logging.WARNING)
    with console.status("linking"):
        counts = run_linkage(
            lake,
            run_id=f"manual__{now:%Y-%m-%dT%H:%M:%S}",
            logical_date=now,
            models_dir=models_dir,
            thresholds=th,
            full=full,
        )
        lake.refresh_catalog()
    reports.show(console, reports.linkage_run_report(counts, lake.location, lake.catalog_location))


@review_app.command("list")
def review_list(
    reviewer: Annotated[
        str | None,
        typer.Option(
            help="Whose list (default: the login name): under double review, the "
            "items this reviewer may decide now."
        ),
    ] = None,
) -> None:
    """List the open review items (number, item key, candidate, link probability).

    Under blind double review (schemas/review/review_policy.yaml) the list is the reviewer's:
    without the items they decided, and the disagreements only for a senior reviewer; it never
    shows another reviewer's decision. Example: `credlink review list`, then `credlink review
    show 1`; decide by the item key (`credlink review accept courts/SXBZXR/7@3f2a9c1e07bd`): a
    number is only for looking.
    """
    from credlink.linkage.review import open_items

    items = open_items(_lake(), _reviewer(reviewer))
    if items.is_empty():
        console.print("nothing to review")
        return
    table = Table(title=f"{items.height} open review item(s); decide by item key")
    cols = ("#", "item key", "subject", "candidate", "link probability", "match weight", "why")
    for col in cols:
        table.add_column(
            col,
            justify="right" if col in ("#", "link probability") else "left",
            no_wrap=col == "item key",  # copied whole into `review accept KEY`
        )
    for i, row in enumerate(items.iter_rows(named=True), start=1):
        table.add_row(
            str(i),
            literal(row["item_key"]),
            literal(row["subject_type"]),
            literal(row["candidate_code"]),
            _number(row["link_probability"], ".4f"),
            _number(row["match_weight"], ".2f"),
            literal(row.get("reason") or "link probability in the review band"),
        )
    console.print(table)


def _reviewer(name: str | None) -> str:
    import getpass

    return name or getpass.getuser()


def _number(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _item(name: str, reviewer: str | None = None) -> dict[str, Any]:
    from credlink.linkage.review import ReviewItemNotFound, find_item

    try:
        return find_item(_lake(), name, reviewer)
    except ReviewItemNotFound as exc:
        _error(exc.args[0])
        raise typer.Exit(1) from exc


@review_app.command("show")
def review_show(
    item_id: Annotated[str, typer.Argument(metavar="ID", help="Record id or list number.")],
    out: Annotated[
        Path | None, typer.Option(help="Folder of the waterfall chart (default data/review).")
    ] = None,
    reviewer: Annotated[
        str | None, typer.Option(help="Who looks (default: the login name).")
    ] = None,
) -> None:
    """Explain a review item: its item key, both records side by side, the match weight of
    each comparison, and a waterfall chart as offline HTML. Under blind double review, one of
    the reviewer's items, and nothing of another reviewer's decision (a senior reviewer
    settling a disagreement is shown both decisions).

    Example: `credlink review show 1`, `credlink review show courts/SXBZXR/7`; then decide by
    the item key it prints.
    """
    from credlink.linkage.model import ModelError
    from credlink.linkage.review import (
        NotASenior,
        comparison_weights,
        consequences,
        disagreement,
        side_by_side,
        waterfall,
    )
    from credlink.linkage.review_policy import load_review_policy
    from credlink.publish.explain import printable

    who = _reviewer(reviewer)
    item = _item(item_id, who)
    _say("item key: ", Text(printable(item["item_key"]), style="bold"))
    _say(
        item["unique_id"],
        " -> ",
        item["candidate_code"],
        f": link probability {_number(item['link_probability'], '.4f')}, match weight "
        f"{_number(item['match_weight'], '.2f')} (",
        item["model_version"],
        ")",
    )
    if item.get("reason"):
        _say("why in review: ", item["reason"])
    evidence = ", ".join(item.get("evidence") or []) or "none"
    _say(
        "identity evidence of the candidate: name ",
        item.get("name_agreement") or "missing",
        "; independent facts that agree: ",
        evidence,
    )
    conflict = item.get("conflict_code")
    title = "Record and candidate" + (" and identifier holder" if conflict else "")
    fields = Table(title=title)
    for col in ("field", "record", "candidate", *(["holder " + conflict] if conflict else [])):
        fields.add_column(literal(col))
    for name, mine, theirs, holder in side_by_side(item):
        style = "" if mine == theirs else "yellow"
        fields.add_row(literal(name), literal(mine), literal(theirs),
                       *([literal(holder)] if conflict else []), style=style)  # fmt: skip
    console.print(fields)
    held = consequences(settings.warehouse_path(), item["unique_id"])
    if held:
        _say(
            "accepting would impose on the candidate: ",
            ", ".join(held),
            " (and, where the memorandum extends to them, on a listed organisation's legal "
            "representative)",
        )
    weights = Table(title="Match weight of each comparison")
    weights.add_column("comparison")
    weights.add_column("match weight", justify="right")
    for name, w in comparison_weights(item):
        weights.add_row(literal(name), "null" if w is None else f"{w:+.2f}")
    console.print(weights)
    policy = load_review_policy()
    if policy.is_senior(who):
        try:
            both = disagreement(_lake(), item["unique_id"], who, policy=policy)
        except NotASenior:
            both = None
        if both is not None and both.height:
            _say("the reviewers disagree; as senior reviewer your decision settles it:")
            for d in both.iter_rows(named=True):
                _say("  ", d["reviewer"], ": ", d["decision"], " ", d["candidate_code"],
                     *([" (", d["note"], ")"] if d["note"] else []))  # fmt: skip
    decide = f"credlink review accept {item['item_key']}"
    if conflict:
        decide += f" [--candidate {conflict}]"
    _say("to decide: ", decide, " (or reject); the key refuses the decision if the item changes")
    try:
        path = waterfall(_lake(), item, out or settings.data_dir() / "review")
    except ModelError as exc:
        _say("no waterfall chart: ", str(exc))
    except Exception as exc:  # the chart is an aid: its failure hides nothing else
        _say("no waterfall chart: ", f"{type(exc).__name__}: {exc}")
    else:
        _say("waterfall chart: ", str(path))


def _decide(
    key: str,
    decision: str,
    reviewer: str | None,
    note: str | None,
    candidate: str | None = None,
) -> None:
    from credlink.linkage.review import DecisionConflict, ItemChanged, NotAKey, decide
    from credlink.linkage.review_policy import load_review_policy

    who = _reviewer(reviewer)
    policy = load_review_policy()
    try:
        row = decide(_lake(), key, decision, reviewer=who, decided_at=_now(), note=note,
                     candidate_code=candidate, policy=policy)  # fmt: skip
    except (NotAKey, ItemChanged, DecisionConflict, ValueError) as exc:
        _error(exc)
        raise typer.Exit(1) from exc
    if "queue" in row.columns and row["queue"].item() == "sample":
        _say("verdict ", decision, " recorded on the sampled link ", row["unique_id"].item(),
             " (by ", who, "); `credlink review sample estimate` counts it once its review "
             "settles")  # fmt: skip
        return
    if policy.mode == "double":
        # Nothing about whether it settled: the reviewers of an item stay blind to each other.
        _say(
            f"{decision} recorded on ",
            row["unique_id"].item(),
            " -> ",
            row["candidate_code"].item(),
            " (by ",
            who,
            "; item ",
            key,
            "). Under blind double review an item takes effect once two reviewers agree or a "
            "senior reviewer settles their disagreement; until then it waits and restricts "
            "nobody",
        )
        return
    _say(
        f"{decision}ed ",
        row["unique_id"].item(),
        " -> ",
        row["candidate_code"].item(),
        " (by ",
        who,
        "; item ",
        key,
        "); it takes effect on the next linkage run (`credlink link` or the link_credit_codes DAG)",
    )


Reviewer = Annotated[str | None, typer.Option(help="Who decides (default: the login name).")]
Note = Annotated[str | None, typer.Option(help="Why.")]
ItemKeyArg = Annotated[
    str,
    typer.Argument(
        metavar="KEY",
        help="The item key that `review list` / `review show` print (<record>@<12 hex digits>).",
    ),
]
Candidate = Annotated[
    str | None,
    typer.Option(
        help="Decide on this code instead of the candidate: an identifier conflict's holder."
    ),
]


@review_app.command("accept")
def review_accept(
    key: ItemKeyArg, reviewer: Reviewer = None, note: Note = None, candidate: Candidate = None
) -> None:
    """Accept the item's candidate: the record is linked to it on every run from now on (under
    blind double review, once a second reviewer agrees or a senior reviewer settles it). A key
    of the quality sample records the verdict "the same subject".

    Refused when the item changed since `review show` printed its key, or was decided already.
    Example: `credlink review accept courts/SXBZXR/7@3f2a9c1e07bd --reviewer li --note "same
    person, moved"`; for an identifier conflict, `--candidate CODE` accepts the identifier's
    holder instead.
    """
    _decide(key, "accept", reviewer, note, candidate)


@review_app.command("reject")
def review_reject(
    key: ItemKeyArg, reviewer: Reviewer = None, note: Note = None, candidate: Candidate = None
) -> None:
    """Reject the item's candidate: the record is never linked to it (under blind double
    review, once the item's review settles). A key of the quality sample records the verdict
    "not the same subject".

    Example: `credlink review reject courts/SXBZXR/7@3f2a9c1e07bd --reviewer li --note
    "different person"`.
    """
    _decide(key, "reject", reviewer, note, candidate)


@review_app.command("agreement")
def review_agreement(
    queue: Annotated[
        str | None, typer.Option(help="uncertain or sample (default: both, apart).")
    ] = None,
) -> None:
    """How often the two reviewers of an item agreed under blind double review: items decided
    by two reviewers, agreed, percent agreement and Cohen's kappa (first decision against
    second), per queue.

    Example: `credlink review agreement`, `credlink review agreement --queue sample`.
    """
    from credlink.linkage.decisions import read_rounds
    from credlink.linkage.review import agreement

    rounds = read_rounds(_lake())
    queues = [queue] if queue else ["uncertain", "sample"]
    for q in queues:
        if q not in ("uncertain", "sample"):
            raise typer.BadParameter(f"queue is uncertain or sample, got {q!r}")
        got = agreement(rounds, q)
        kappa = "undefined" if got.kappa is None else f"{got.kappa:.3f}"
        percent = "-" if got.percent_agreement is None else f"{got.percent_agreement:.1%}"
        _say(f"{q}: {got.pairs} item(s) decided by two reviewers, {got.agreed} agreed "
             f"({percent}), Cohen's kappa {kappa}"
             + (f"; {got.different_candidates} accepted different candidates"
                if got.different_candidates else ""))  # fmt: skip
        if got.pairs:
            table = Table(title=f"{q}: first reviewer (rows) x second reviewer")
            for col in ("first", "second: accept", "second: reject"):
                table.add_column(col, justify="left" if col == "first" else "right")
            for first, acc, rej in got.table.iter_rows():
                table.add_row(first, str(acc), str(rej))
            console.print(table)


@sample_app.command("draw")
def sample_draw(
    seed: Annotated[int, typer.Option(help="Seed of the draw: the same seed draws the same.")],
    size: Annotated[
        int | None, typer.Option(help="Links to draw (default: the review policy's).")
    ] = None,
) -> None:
    """Draw a blind quality sample of the accepted links of the last linkage run, stratified by
    source, subject type and method as the review policy says; it becomes the sample under
    review.

    Example: `credlink review sample draw --size 200 --seed 7`, then `credlink review sample
    list`.
    """
    import polars as pl

    from credlink.linkage.estimated_quality import STRATUM, draw_sample

    lake = _lake()
    try:
        drawn = draw_sample(lake, seed=seed, size=size, drawn_at=_now())
    except ValueError as exc:
        _error(exc)
        raise typer.Exit(1) from exc
    lake.refresh_catalog()
    table = Table(title=f"sample {drawn['sample_id'][0]}: {drawn.height} accepted link(s)")
    for col in (*STRATUM, "accepted links", "drawn"):
        table.add_column(col, justify="right" if col in ("accepted links", "drawn") else "left")
    strata = drawn.group_by(STRATUM).agg(
        pl.col("stratum_population").first(), pl.col("stratum_sampled").first()
    )
    for row in strata.sort(STRATUM).iter_rows():
        table.add_row(*[literal(v) for v in row[:3]], f"{row[3]:,}", str(row[4]))
    console.print(table)
    _say("to review: credlink review sample list (the reviewer sees the record and the linked "
         "entry only)")  # fmt: skip


@sample_app.command("list")
def sample_list(reviewer: Reviewer = None) -> None:
    """List the open items of the sample under review, blind: the record's source and subject
    type and the item key, nothing of how or how surely it was linked.

    Example: `credlink review sample list`, then `credlink review sample show 1`.
    """
    from credlink.linkage.estimated_quality import sample_items

    items = sample_items(_lake(), _reviewer(reviewer))
    if items.is_empty():
        console.print("nothing to review in the quality sample")
        return
    table = Table(title=f"{items.height} sampled link(s) to review; decide by item key")
    for col in ("#", "item key", "subject", "source"):
        table.add_column(col, justify="right" if col == "#" else "left", no_wrap=col != "#")
    for i, row in enumerate(items.iter_rows(named=True), start=1):
        table.add_row(str(i), literal(row["item_key"]), literal(row["subject_type"]),
                      literal(row["source"]))  # fmt: skip
    console.print(table)


@sample_app.command("show")
def sample_show(
    item_id: Annotated[str, typer.Argument(metavar="ID", help="Item key, record id or number.")],
    reviewer: Reviewer = None,
) -> None:
    """Show a sampled link blind: the record and the registry entry side by side (no
    probability, no method, nothing that says it was accepted), and how to decide.

    Example: `credlink review sample show 1`, then `credlink review sample decide KEY accept`
    (the same subject) or `reject` (not the same).
    """
    import json

    from credlink.linkage.estimated_quality import sample_items

    items = sample_items(_lake(), _reviewer(reviewer))
    hit = (
        items.slice(int(item_id) - 1, 1)
        if item_id.isdigit() and int(item_id) >= 1
        else items.filter((items["item_key"] == item_id) | (items["unique_id"] == item_id))
    )
    if hit.is_empty():
        _error(f"{item_id[:200]!r} is not an open item of the quality sample")
        raise typer.Exit(1)
    item = hit.row(0, named=True)
    _say("item key: ", Text(str(item["item_key"]), style="bold"))
    record, entry = json.loads(item["record"] or "{}"), json.loads(item["entry"] or "{}")
    fields = Table(title="Record and registry entry: the same subject?")
    for col in ("field", "record", "registry entry"):
        fields.add_column(col)
    for name in [*record, *[k for k in entry if k not in record]]:
        mine, theirs = record.get(name), entry.get(name)
        fields.add_row(literal(name), literal(mine), literal(theirs),
                       style="" if mine == theirs else "yellow")  # fmt: skip
    console.print(fields)
    _say("to decide: credlink review sample decide ", item["item_key"],
         " accept (the same subject) | reject (not the same)")  # fmt: skip


@sample_app.command("decide")
def sample_decide(
    key: ItemKeyArg,
    verdict: Annotated[str, typer.Argument(help="accept (the same subject) or reject (not).")],
    reviewer: Reviewer = None,
    note: Note = None,
) -> None:
    """Record a verdict on a sampled link (as `credlink review accept/reject KEY` does).

    Example: `credlink review sample decide courts/SXBZXR/7@3f2a9c1e07bd accept --reviewer li`.
    """
    if verdict not in ("accept", "reject"):
        raise typer.BadParameter(f"the verdict is accept or reject, got {verdict!r}")
    _decide(key, verdict, reviewer, note)


@sample_app.command("estimate")
def sample_estimate() -> None:
    """Estimate the precision of the accepted links from the settled verdicts on the sample
    under review: per stratum with a Wilson score interval, per subject type and overall
    weighted by the strata's accepted links; stored as linkage.estimated_quality.

    Example: `credlink review sample estimate`; `credlink quality` shows it beside the truth.
    """
    from credlink.linkage.estimated_quality import found_wrong, measure_estimated_quality

    lake = _lake()
    table = measure_estimated_quality(lake, estimated_at=_now())
    if table is None:
        _error("no quality sample drawn yet: `credlink review sample draw --size N --seed S`")
        raise typer.Exit(1)
    lake.refresh_catalog()
    console.print(_estimate_table(table, f"estimated precision, sample "
                                         f"{table['sample_id'][0]}"))  # fmt: skip
    wrong = found_wrong(lake)
    if wrong.height:
        _say(f"{wrong.height} sampled link(s) found wrong (a verdict does not unlink them: "
             "correct them as any accepted link):")  # fmt: skip
        for row in wrong.iter_rows(named=True):
            _say("  ", row["unique_id"], " -> ", row["credit_code"])


def _estimate_table(table: Any, title: str) -> Table:
    """A rich table of ``linkage.estimated_quality`` rows (with the truth, ``true_precision``
    and ``inside``, when those columns are there)."""
    confidence = table["confidence"][0] if table.height else 0.95
    out = Table(title=f"{title} ({confidence:.0%} Wilson intervals)")
    cols = ["subject", "source", "method", "accepted", "sampled", "settled", "right",
            "estimate", "interval"]  # fmt: skip
    has_truth = "true_precision" in table.columns
    if has_truth:
        cols += ["truth", "inside"]
    for col in cols:
        out.add_column(col, justify="left" if col in ("subject", "source", "method") else "right")
    for r in table.iter_rows(named=True):
        interval = "-" if r["ci_low"] is None else f"{r['ci_low']:.3f}-{r['ci_high']:.3f}"
        cells: list[str | Text] = [
            literal(r["subject_type"]), literal(r["source"]), literal(r["method"]),
            f"{r['population']:,}", str(r["sampled"]), str(r["decided"]), str(r["correct"]),
            _number(r["precision"], ".3f"), interval,
        ]  # fmt: skip
        if has_truth:
            inside = r.get("inside")
            cells += [_number(r["true_precision"], ".3f"),
                      "-" if inside is None else ("yes" if inside else "NO")]  # fmt: skip
        out.add_row(*cells)
    return out


@app.command()
def train(
    subject_type: Annotated[str, typer.Argument(help="person or organisation")],
    on: Annotated[str, typer.Option(help="Training date in the model version, YYYY-MM-DD.")],
    models_dir: Annotated[
        Path | None,
        typer.Option(help="Where to write the model (default data/linkage/models, a work folder)."),
    ] = None,
) -> None:
    """Train a linkage model by EM on the staged records and write a new model version with its
    charts (match weights, m and u) as HTML, into a work folder: it is not used until promoted.

    Example: `credlink train person --on 2026-01-01`; review the JSON and charts, then
    `credlink models promote data/linkage/models/person-20260101-<hash>.json` and commit.
    """
    from credlink.linkage.model import ModelError
    from credlink.linkage.train import train_from_lake

    if subject_type not in ("person", "organisation"):
        raise typer.BadParameter(f"{subject_type!r}: say person or organisation")
    logging.basicConfig(level=logging.WARNING)
    try:
        with console.status(f"training the {subject_type} model"):
            result = train_from_lake(
                subject_type,
                _lake(),
                on=_parse_day(on),
                models_dir=models_dir,  # None: the work folder (linkage.model.work_models_dir)
                charts_dir=settings.data_dir() / "linkage" / "charts",
            )
    except (ModelError, ValueError) as exc:  # the tracked folder, nothing to train on ...
        _error(exc)
        raise typer.Exit(1) from exc
    console.print(f"model {result.version}: {result.model_path}")
    console.print(
        f"  not in production until promoted: credlink models promote {result.model_path}"
    )
    console.print(f"trained on {result.records:,} records against {result.spine:,} registry rows")
    for name, chart in result.charts.items():
        console.print(f"  chart {name}: {chart}")


models_app = typer.Typer(
    help="The production linkage models: promote a reviewed model file, show what is in force.",
    no_args_is_help=True,
)
app.add_typer(models_app, name="models")


ModelsDir = Annotated[
    Path | None,
    typer.Option(help="The production models and their promotion record (default linkage/models)."),
]


@models_app.command("promote")
def models_promote(
    model_file: Annotated[Path, typer.Argument(help="A trained model file (credlink train).")],
    by: Annotated[str | None, typer.Option(help="Who promotes (default: the login name).")] = None,
    note: Annotated[str | None, typer.Option(help="Why (the review).")] = None,
    models_dir: ModelsDir = None,
) -> None:
    """Make a reviewed model file the production model of its subject type: checked, copied
    into linkage/models/ and recorded with its SHA-256 in linkage/models/production.json.

    Example: `credlink models promote data/linkage/models/person-20260101-3f2a9c1e.json --note
    "charts reviewed"`; then commit linkage/models/. The next linkage run is a full one.
    """
    import getpass

    from credlink.linkage.model import MODELS_DIR, ModelError, promote

    try:
        entry = promote(model_file, promoted_by=by or getpass.getuser(), promoted_at=_now(),
                        note=note, models_dir=models_dir or MODELS_DIR)  # fmt: skip
    except (ModelError, OSError) as exc:
        _error(exc)
        raise typer.Exit(1) from exc
    _say("promoted ", entry["model_version"], " (sha256 ", entry["sha256"], ")")
    _say("commit linkage/models/ with it; the next linkage run links everything again")


@models_app.command("show")
def models_show(models_dir: ModelsDir = None) -> None:
    """Print the production model of each subject type, checked against its recorded hash.

    Example: `credlink models show`.
    """
    from credlink.linkage.model import (
        MODELS_DIR,
        SUBJECT_TYPES,
        ModelError,
        current_model_path,
        load_model,
    )

    failed = False
    for subject in SUBJECT_TYPES:
        try:
            model = load_model(current_model_path(subject, models_dir or MODELS_DIR))
        except ModelError as exc:
            _error(exc)
            failed = True
        else:
            _say(subject, ": ", model.version, " (", str(model.path), ")")
    if failed:
        raise typer.Exit(1)


@app.command()
def quality(
    world: Annotated[
        Path | None, typer.Option(help="The generated world (default data/world).")
    ] = None,
) -> None:
    """Compare the last linkage run to the world's ground truth; print and store the table
    (linkage.quality). Then measure the published restrictions against the truth, per
    memorandum and per enforcing agency: imposed, wrongful, missed, held in review, recall
    (linkage.restriction_quality; skipped with a note before the first publish run).

    Example: `credlink link`, `credlink publish`, then `credlink quality`.
    """
    from credlink.linkage.quality import measure_linkage_quality
    from credlink.publish.quality import measure_restriction_quality

    lake = _lake()
    truth_dir = world or settings.data_dir() / "world"
    linkage = measure_linkage_quality(lake, truth_dir)  # stores linkage.quality, who_fails
    if linkage is None:
        reports.show(console, [reports.no_linkage_run(lake.location)])
        raise typer.Exit(1)
    warehouse = settings.warehouse_path()
    restrictions = measure_restriction_quality(warehouse, lake, truth_dir)
    lake.refresh_catalog()
    reports.show(console, reports.quality_report(linkage, truth_dir, restrictions, warehouse))
    _estimate_beside_truth(lake, truth_dir)


def _estimate_beside_truth(lake: Lake, truth_dir: Path) -> None:
    """Print linkage.estimated_quality (the blind sample's estimate) beside the truth."""
    from credlink.linkage.quality import estimate_beside_truth, read_truth
    from credlink.linkage.tables import read_record_links

    estimated = lake.read("linkage", "estimated_quality")
    if estimated.is_empty():
        _say("no estimate without truth yet (`credlink review sample draw`, review, then "
             "`credlink review sample estimate`)")  # fmt: skip
        return
    beside = estimate_beside_truth(estimated, read_record_links(lake), read_truth(truth_dir))
    title = f"estimated precision (sample {estimated['sample_id'][0]}) beside the truth"
    console.print(_estimate_table(beside, title))


@app.command()
def demo(
    days: Annotated[
        int, typer.Option(help="Demo days at the world's end: the initial load, then daily runs.")
    ] = 30,
    world: Annotated[
        Path | None,
        typer.Option(help="The world whose last day ends the demo (default data/world)."),
    ] = None,
    port: Annotated[int | None, typer.Option(help="API server port (default: a free one).")] = None,
    timeout: Annotated[float, typer.Option(help="Give up after this many seconds.")] = 3600,
) -> None:
    """Run the whole chain through Airflow's scheduler: reset the demo state, backfill the ingest
    DAGs over the world's last DAYS days (linkage and publishing follow through their Assets),
    wait with progress, stop Airflow and print the summary. See credlink/demo/.

    Example: `make world airflow-db` then `credlink demo --days 2` (what `make demo` runs).
    """
    from credlink.demo import main
    from credlink.demo.driver import DemoFailed
    from credlink.demo.plan import DemoPlan, world_end

    world_dir = world or settings.data_dir() / "world"
    if not (world_dir / "world.json").is_file():
        console.print(f"[red]error:[/red] no world in {world_dir}: run `make world` first")
        raise typer.Exit(2)
    try:
        plan = DemoPlan.for_world_end(world_end(world_dir), days=days)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    try:
        main(plan, port=port, timeout=timeout)
    except DemoFailed as exc:
        console.print(f"[bold red]demo FAILED:[/bold red] {exc}", highlight=False)
        raise typer.Exit(1) from exc
    except KeyboardInterrupt as exc:
        console.print("[yellow]demo interrupted; Airflow was stopped[/yellow]")
        raise typer.Exit(130) from exc


ui_app = typer.Typer(
    help="The Airflow web UI (scheduler, DAG processor, API server) in the background.",
    no_args_is_help=True,
)
app.add_typer(ui_app, name="ui")


def _show_ui(ui: Any, title: str) -> None:
    from credlink.ui import registered

    console.print(f"{title}: [bold]{ui.url}[/bold]  (process group {ui.pgid})")
    console.print(f"  login: {ui.user} / {ui.password}", highlight=False)
    try:
        dags, errors = registered(ui)
    except OSError as exc:
        console.print(f"  [yellow]the REST API does not answer yet ({exc})[/yellow]")
    else:
        paused = [d["dag_id"] for d in dags if d["is_paused"]]
        console.print(
            f"  {len(dags)} DAGs ({len(paused)} paused{': ' + ', '.join(paused) if paused else ''})"
        )
        for err in errors:
            last = str(err.get("stack_trace", "")).strip().splitlines()[-1:]
            console.print(f"  [red]import error[/red] {err.get('filename')}: {''.join(last)}")
    console.print(f"  logs: {ui.log_dir}; stop with `make stop` (or `credlink ui stop`)")


@ui_app.command("start")
def ui_start(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.", envvar="UI_PORT")] = 8080,
    timeout: Annotated[float, typer.Option(help="Give up after this many seconds.")] = 300,
) -> None:
    """Start the metadata DB, then Airflow's scheduler, DAG processor, triggerer and API server
    (the web UI) in the background on 127.0.0.1, wait until they are healthy and print the URL
    and the `admin` login.

    Example: `credlink ui start --port 8080` (what `make ui` runs); `credlink ui stop` ends it.
    """
    from credlink import ui as ui_mod

    already = ui_mod.running(settings.airflow_home())
    if already is not None:
        _show_ui(already, "Airflow is already running")
        return
    try:
        with console.status("starting Airflow") as status:
            ui = ui_mod.start(
                settings.airflow_home(), port, timeout=timeout, progress=lambda m: status.update(m)
            )
    except ui_mod.UiError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from exc
    _show_ui(ui, "Airflow UI")


@ui_app.command("stop")
def ui_stop() -> None:
    """Stop every process of the Airflow started by `credlink ui start` (its process group),
    then the embedded PostgreSQL metadata DB server of the Airflow home.

    Example: `credlink ui stop` (what `make stop` runs).
    """
    from credlink import ui as ui_mod

    stopped = ui_mod.stop(settings.airflow_home())
    console.print(
        f"stopped Airflow and its metadata DB ({stopped} processes)"
        if stopped
        else "Airflow is not running"
    )


@ui_app.command("status")
def ui_status() -> None:
    """Say whether the UI is running, where, with which login, and its components' health.

    Example: `credlink ui status`; exits 1 when it is not running.
    """
    from credlink import ui as ui_mod
    from credlink.orchestration.services import health

    ui = ui_mod.running(settings.airflow_home())
    if ui is None:
        console.print("Airflow is not running (start it with `make ui`)")
        raise typer.Exit(1)
    _show_ui(ui, "Airflow UI")
    answer = health(ui.url) or {}
    parts = [f"{k} {v.get('status')}" for k, v in answer.items() if isinstance(v, dict)]
    console.print(f"  health: {', '.join(parts) or 'no answer'}")


db_app = typer.Typer(
    help="Airflow's metadata DB: the embedded PostgreSQL server in the Airflow home (default), "
    "or SQLite with CREDLINK_METADATA_DB=sqlite.",
    no_args_is_help=True,
)
app.add_typer(db_app, name="metadata-db")


@db_app.command("start")
def metadata_db_start(
    migrate: Annotated[bool, typer.Option(help="Create or upgrade Airflow's tables too.")] = False,
) -> None:
    """Start the metadata DB server (initialised on first start) and print where it listens.

    Example: `credlink metadata-db start --migrate` (what `make airflow-db` runs); `make ui` and
    the demo start it themselves, `make stop` stops it.
    """
    from credlink import metadata_db

    home = settings.airflow_home()
    try:
        url = metadata_db.prepare(home)
    except metadata_db.MetadataDBError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from exc
    if migrate and not metadata_db.migrated(url):
        done = subprocess.run([str(Path(sys.executable).parent / "airflow"), "db", "migrate"])
        if done.returncode != 0:
            raise typer.Exit(done.returncode)
    console.print(f"metadata DB ({metadata_db.backend()}): {_masked(url)}", highlight=False)


@db_app.command("stop")
def metadata_db_stop() -> None:
    """Stop the embedded PostgreSQL server of the Airflow home (fast shutdown).

    Example: `credlink metadata-db stop`; `make stop` also stops Airflow first.
    """
    from credlink.metadata_db import EmbeddedPostgres

    stopped = EmbeddedPostgres(settings.airflow_home()).stop()
    console.print(
        "stopped the metadata DB server" if stopped else "the metadata DB server is not running"
    )


@db_app.command("status")
def metadata_db_status() -> None:
    """Which metadata DB Airflow uses, and whether the embedded server runs (exit 1 if not).

    Example: `credlink metadata-db status`.
    """
    from credlink import metadata_db

    home = settings.airflow_home()
    chosen = metadata_db.backend()
    url = _masked(metadata_db.configured_url(home))
    console.print(f"metadata DB: {chosen}, {url}", highlight=False)
    if chosen == "postgres":
        server = metadata_db.EmbeddedPostgres(home)
        if server.pid() is None:
            console.print(f"the server of {server.data} is not running (`make ui` starts it)")
            raise typer.Exit(1)
        console.print(
            f"server running: pid {server.pid()}, 127.0.0.1:{server.port()}, log {server.log}"
        )


def _masked(url: str) -> str:
    """A database URL with its password hidden."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@app.command()
def publish(
    on: Annotated[
        str | None, typer.Option(help="The day to publish for, YYYY-MM-DD (default: today).")
    ] = None,
    run_id: Annotated[str | None, typer.Option(help="Run id (default manual__<day>).")] = None,
    summary: Annotated[
        bool, typer.Option("--summary", help="Only print the published warehouse's summary.")
    ] = False,
    approve_mass_lift: Annotated[
        bool,
        typer.Option(
            "--approve-mass-lift",
            help="Approve this run lifting more restrictions at once than the mass-lift guard "
            "allows (check the sources first).",
        ),
    ] = False,
) -> None:
    """Apply the memoranda to the linked listings now and publish the warehouse; print the
    restrictions by memorandum and by enforcing agency (`--summary`: print them for the
    warehouse already published, e.g. by the `publish_joint_punishment` DAG, without a run).

    Example: `credlink publish --on 2025-07-01`, then
    `duckdb -readonly data/warehouse/credlink.duckdb "FROM enforce.caac"`.
    """
    import duckdb

    from credlink.publish.guard import MassLiftHeld
    from credlink.publish.stage import run_publish

    warehouse = settings.warehouse_path()
    if summary:
        if not warehouse.exists():
            console.print(f"[yellow]no warehouse at {warehouse}: run `credlink publish`[/yellow]")
            raise typer.Exit(1)
    else:
        day = _parse_day(on) if on else date.today()
        rid = run_id or f"manual__{day.isoformat()}"
        logging.basicConfig(level=logging.WARNING)
        try:
            with console.status(f"publishing restrictions as of {day}"):
                counts = run_publish(_lake(), warehouse, rid, day,
                                     approve_mass_lift=approve_mass_lift)  # fmt: skip
        except MassLiftHeld as exc:
            _say(Text("held: ", style="red"), str(exc))
            raise typer.Exit(1) from exc
        console.print(f"run {rid}, as of {day}: {counts}")
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        last = con.execute("SELECT run_id, as_of FROM publish.runs ORDER BY seq DESC").fetchone()
        if last is not None:
            console.print(f"last run {last[0]}, as of {last[1]}: {warehouse}", soft_wrap=True)
        for title, sql in reports.WAREHOUSE_QUERIES.items():
            console.print(reports.frame_table(title, con.sql(sql).pl()))
    finally:
        con.close()


@app.command()
def explain(
    code: Annotated[str, typer.Argument(help="Credit code: citizen identity number or USCC.")],
) -> None:
    """Print a subject's credit record: each restriction with its memorandum, measure, clause,
    agency and dates, the listing records behind it, the link evidence, and the history.

    Example: `credlink explain 11010519491231002X`.
    """
    from credlink.publish.explain import (
        CodeShapeError,
        check_code_shape,
        credit_record,
        format_credit_record,
    )

    try:
        checked = check_code_shape(code)
    except CodeShapeError as exc:
        _error(exc)
        raise typer.Exit(2) from exc
    warehouse = settings.warehouse_path()
    if not warehouse.exists():
        console.print(f"[yellow]no warehouse at {warehouse}: run `credlink publish`[/yellow]")
        raise typer.Exit(1)
    record = credit_record(warehouse, checked)
    # every value is escaped by format_credit_record; no markup, no highlighting
    console.print(format_credit_record(record), markup=False, highlight=False)


repair_app = typer.Typer(
    help="Credit repair: apply for a listing's repair (or a former legal representative's "
    "lifting), list the applications and their assessment.",
    no_args_is_help=True,
)
app.add_typer(repair_app, name="repair")
objection_app = typer.Typer(
    help="Objections to a listing or a link: file, decide, list.", no_args_is_help=True
)
app.add_typer(objection_app, name="objection")

CodeArg = Annotated[str, typer.Argument(help="Credit code: citizen identity number or USCC.")]
ListingOpt = Annotated[
    str, typer.Option("--listing", help="The listing's unique_id, e.g. courts/SXBZXR/7.")
]
OnOpt = Annotated[
    str | None, typer.Option("--on", help="The filing day, YYYY-MM-DD (default: today, China).")
]


def _case_day(on: str | None) -> date:
    from credlink.settings import ZONE

    return _parse_day(on) if on else datetime.now(ZONE).date()


def _checked_code(code: str) -> str:
    from credlink.publish.explain import CodeShapeError, check_code_shape

    try:
        return check_code_shape(code)
    except CodeShapeError as exc:
        _error(exc)
        raise typer.Exit(2) from exc


def _effects(lake: Lake, day: date) -> Any:
    """The cases' effects on `day` (:func:`publish.cases.case_effects` on the lake as it is:
    the cases recorded, the listings known on `day` with their publication rules, the last
    linkage run's links and legal representatives), or None with the reason printed when the
    lake cannot be read for them."""
    from credlink.etl.conform.apply import NotConformedError
    from credlink.publish.cases import CaseError, case_effects, read_cases
    from credlink.publish.listings import read_listings
    from credlink.publish.publication import PublicationError, with_publication
    from credlink.publish.stage import legal_representatives, read_record_links

    try:
        listings = with_publication(read_listings(lake, day), day)
        links, reps = read_record_links(lake), legal_representatives(lake)
        return case_effects(listings, links, reps, read_cases(lake), day)
    except (NotConformedError, PublicationError, CaseError) as exc:
        _say(Text("cannot assess: ", style="yellow"), str(exc))
        return None


def _login() -> str | None:
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # no login name (a container): the record says nobody
        return None


@repair_app.command("apply")
def repair_apply(
    code: CodeArg,
    listing: ListingOpt,
    evidence: Annotated[
        str, typer.Option(help="What the application rests on: the conduct corrected, ...")
    ],
    commitment: Annotated[
        bool,
        typer.Option(
            "--commitment/--no-commitment", help="A public credit commitment is filed with it."
        ),
    ] = False,
    on: OnOpt = None,
    representative_change: Annotated[
        bool,
        typer.Option(
            "--representative-change",
            help="A former legal representative applies to have the restriction they bear "
            "through the listed organisation lifted (CODE: the representative).",
        ),
    ] = False,
) -> None:
    """Record an application for the credit repair of a listing, then print its assessment:
    eligible (the next publishing run lifts every restriction the listing caused, in every
    memorandum, from the filing day) or refused with the reason and the day from which it may
    apply. The application is recorded either way; nothing is ever deleted.

    Example: `credlink repair apply 91110000600037341L --listing tax/zdsswfaj/7 --evidence
    "tax and fines paid, receipt 2026-03-02" --commitment --on 2026-04-02`.
    """
    from credlink.publish.cases import CaseError, file_repair

    applicant = _checked_code(code)
    day = _case_day(on)
    lake = _lake()
    try:
        filing = file_repair(lake, applicant, listing, evidence, commitment=commitment, on=day,
                             representative_change=representative_change,
                             recorded_by=_login())  # fmt: skip
    except CaseError as exc:
        _error(exc)
        raise typer.Exit(1) from exc
    what = (
        "application of a former legal representative"
        if representative_change
        else "repair application"
    )
    _say(
        Text("recorded ", style="bold"),
        Text(filing.case_id, style="bold"),
        f": {what} by ",
        filing.applicant_code,
        " for listing ",
        filing.unique_id,
        f", filed {filing.filed_on}, "
        + ("credit commitment filed" if filing.commitment else "no credit commitment"),
    )
    _say("evidence: ", filing.text)
    effects = _effects(lake, day)
    row = effects.repair(filing.case_id) if effects is not None else None
    if row is not None:
        _say("assessment: ", *_repair_assessment(row))


def _repair_assessment(row: dict[str, Any]) -> list[object]:
    """An assessment (a ``publish.repairs`` row) in words."""
    if row["outcome"] == "accepted":
        if row["kind"] == "representative_change":
            return [
                Text("eligible", style="green"),
                f": the restriction {row['applicant_code']} bears through the listing as a "
                f"former legal representative is lifted from {row['effective_from']} in the "
                "next publishing run (representative_changed)",
            ]
        return [
            Text("eligible", style="green"),
            f": every restriction the listing caused is lifted from {row['effective_from']}, "
            "in every memorandum, in the next publishing run (repaired)",
        ]
    parts: list[object] = [Text("refused", style="red"), ": ", row["refusal_reason"]]
    if row["may_apply_from"] is not None:
        parts.append(f"; may apply from {row['may_apply_from']}")
    return parts


@repair_app.command("list")
def repair_list(
    code: Annotated[str | None, typer.Argument(help="Only this applicant's.")] = None,
    on: Annotated[
        str | None, typer.Option("--on", help="As of this day (default: today, China).")
    ] = None,
) -> None:
    """List the repair applications (and the repairs the listing agencies report) with their
    assessment as of the day.

    Example: `credlink repair list 91110000600037341L`.
    """
    import polars as pl

    applicant = _checked_code(code) if code is not None else None
    day = _case_day(on)
    effects = _effects(_lake(), day)
    if effects is None:
        raise typer.Exit(1)
    rows = effects.repairs
    if applicant is not None:
        rows = rows.filter(pl.col("applicant_code") == applicant)
    if rows.is_empty():
        console.print(f"no repair applications as of {day}")
        return
    _say(f"{rows.height} repair case(s) as of {day}:")
    for r in rows.iter_rows(named=True):
        what = ("application of a former legal representative" if r["kind"] ==
                "representative_change" else "repair application")  # fmt: skip
        if r["origin"] == "source":
            who = ["repair decided by the listing agency of ", r["list_id"], " for listing ",
                   r["unique_id"], f", from {r['effective_from']}"]  # fmt: skip
        else:
            who = [f"{what} by ", r["applicant_code"], " for listing ", r["unique_id"],
                   f", filed {r['filed_on']}"]  # fmt: skip
        _say(Text(r["case_id"], style="bold"), ": ", *who)
        _say("  ", *_repair_assessment(r))


@objection_app.command("file")
def objection_file(
    code: CodeArg,
    listing: ListingOpt,
    reason: Annotated[str, typer.Option(help="Why the listing (or the link) is wrong.")],
    link: Annotated[
        bool,
        typer.Option(
            "--link", help="Object to the listing's link to CODE (it is not CODE's listing)."
        ),
    ] = False,
    on: OnOpt = None,
) -> None:
    """Record an objection to a listing (or, with `--link`, to its link to CODE), then print its
    status: open (the restrictions it concerns show under_objection until it is decided) or
    refused with the reason.

    Example: `credlink objection file 11010519491231002X --listing transport/FlightBan/1
    --link --reason "not me: I was abroad on that day" --on 2026-04-02`.
    """
    from credlink.publish.cases import CaseError, file_objection

    objector = _checked_code(code)
    day = _case_day(on)
    lake = _lake()
    try:
        filing = file_objection(lake, objector, listing, reason, link=link, on=day,
                                recorded_by=_login())  # fmt: skip
    except CaseError as exc:
        _error(exc)
        raise typer.Exit(1) from exc
    _say(
        Text("recorded ", style="bold"),
        Text(filing.case_id, style="bold"),
        ": objection by ",
        filing.applicant_code,
        " to the link of listing " if link else " to listing ",
        filing.unique_id,
        f", filed {filing.filed_on}",
    )
    _say("reason: ", filing.text)
    effects = _effects(lake, day)
    row = effects.objection(filing.case_id) if effects is not None else None
    if row is not None:
        _say("status: ", *_objection_status(row))


def _objection_status(row: dict[str, Any]) -> list[object]:
    """An objection's state (a ``publish.objections`` row) in words."""
    status = row["status"]
    link = row["scope"] == "link"
    if status == "open":
        what = f"the link to {row['objector_code']}" if link else "every subject"
        return [
            Text("open", style="yellow"),
            f": the restrictions of the listing ({what}) show under_objection until it is "
            f"decided (credlink objection decide {row['objection_id']} --upheld|--rejected "
            "--reason ...)",
        ]
    if status == "refused":
        return [Text("refused", style="red"), ": ", row["refusal_reason"]]
    if status == "upheld":
        effect = (
            f"the listing's link to {row['objector_code']} stops binding"
            if link
            else "the listing is withdrawn and never restricts again"
        )
        return [Text("upheld", style="green"), f" on {row['decided_on']}: {effect} from "
                f"{row['decided_on']}"]  # fmt: skip
    return [Text("rejected", style="bold"), f" on {row['decided_on']}: the restrictions are "
            "restored"]  # fmt: skip


@objection_app.command("decide")
def objection_decide(
    objection_id: Annotated[str, typer.Argument(metavar="OBJECTION_ID", help="O-<day>-<n>.")],
    reason: Annotated[str, typer.Option(help="Why it is upheld or rejected.")],
    upheld: Annotated[bool, typer.Option("--upheld", help="The objection is upheld.")] = False,
    rejected: Annotated[
        bool, typer.Option("--rejected", help="The objection is rejected.")
    ] = False,
    on: Annotated[
        str | None, typer.Option("--on", help="The decision day (default: today, China).")
    ] = None,
) -> None:
    """Record the decision on an open objection: upheld (the listing is withdrawn, or for a
    link objection the link stops binding, from the decision day) or rejected (the restrictions
    are restored). One decision per objection; a refused objection has nothing to decide.

    Example: `credlink objection decide O-20260402-1 --upheld --reason "the court corrected
    the entry" --on 2026-04-09`.
    """
    from credlink.publish.cases import CaseError, decide_objection

    if upheld == rejected:
        raise typer.BadParameter("say either --upheld or --rejected")
    day = _case_day(on)
    lake = _lake()
    effects = _effects(lake, day)
    if effects is None:
        raise typer.Exit(1)
    current = effects.objection(objection_id.strip())
    if current is not None and current["status"] == "refused":
        _error(f"objection {objection_id} was refused ({current['refusal_reason']}): there is "
               "nothing to decide")  # fmt: skip
        raise typer.Exit(1)
    outcome = "upheld" if upheld else "rejected"
    try:
        filing = decide_objection(lake, objection_id, outcome, reason, on=day,
                                  recorded_by=_login())  # fmt: skip
    except CaseError as exc:
        _error(exc)
        raise typer.Exit(1) from exc
    _say(
        Text("recorded ", style="bold"),
        Text(filing.case_id, style="bold"),
        ": objection ",
        filing.objection_id,
        f" {outcome} on {filing.filed_on}",
    )
    _say("reason: ", filing.text)
    after = _effects(lake, day)
    row = after.objection(objection_id.strip()) if after is not None else None
    if row is not None:
        _say("status: ", *_objection_status(row))


@objection_app.command("list")
def objection_list(
    on: Annotated[
        str | None, typer.Option("--on", help="As of this day (default: today, China).")
    ] = None,
) -> None:
    """List the objections (and those the listing agencies upheld in their objection windows)
    with their status as of the day: open, upheld, rejected or refused.

    Example: `credlink objection list`.
    """
    day = _case_day(on)
    effects = _effects(_lake(), day)
    if effects is None:
        raise typer.Exit(1)
    rows = effects.objections
    if rows.is_empty():
        console.print(f"no objections as of {day}")
        return
    _say(f"{rows.height} objection(s) as of {day}:")
    for r in rows.iter_rows(named=True):
        to = " to the link of listing " if r["scope"] == "link" else " to listing "
        if r["origin"] == "source":
            who = ["objection upheld by the listing agency of ", r["list_id"], " in its window,"]
        else:
            who = ["objection by ", r["objector_code"], f", filed {r['filed_on']},"]
        _say(Text(r["objection_id"], style="bold"), ": ", *who, to, r["unique_id"])
        if r["reason"] is not None:
            _say("  reason: ", r["reason"])
        _say("  ", *_objection_status(r))
        if r["decision_id"] is not None and r["status"] in ("upheld", "rejected"):
            _say("  decision ", r["decision_id"], ": ", r["decision_reason"])


if __name__ == "__main__":
    app()
