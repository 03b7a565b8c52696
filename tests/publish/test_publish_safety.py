"""Publishing fails safe: a kill at any write point, two runs at once, a stale DuckDB WAL and a
mass lift never lose, move or lift a restriction (issue 12, items 3, 4 and 12).

The scenario (:mod:`faultcase`): run r1 on DAY1 publishes 38 restrictions; run r2 on DAY2
lifts 14 (a defaulter performed) and imposes 15 (a new defaulter, a ban out of its objection
window). Runs killed with SIGKILL are children of one serving process (:class:`Forker`).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from faultcase import DAY1, DAY2, Forker, install, run_elsewhere

from credlink.etl.lake import Lake
from credlink.publish.carry import basis_path, read_carry
from credlink.publish.commit import PublishLockedError, publish_lock
from credlink.publish.guard import LiftLimits, MassLiftHeld, approve_mass_lift, early_ends
from credlink.publish.history import HISTORY_COLUMNS
from credlink.publish.stage import read_history, run_publish
from credlink.publish.warehouse import read_tables

#: Write points of a run (publish.commit.write_point): 7 staged files (warehouse, extracts,
#: checksums, history, runs, incentive history, restriction basis), the commit record,
#: 8 operations (stale WAL, warehouse, extracts link, checksums, history, runs, incentive
#: history, restriction basis), record removed.
POINTS = 17
COMMIT_POINT = 8
#: The last write point before the runs are renamed: the history's rename.
HISTORY_RENAMED = COMMIT_POINT + 5
NO_SHA = {"publish.runs": ["warehouse_sha256"]}


@dataclass(frozen=True)
class Place:
    """One lake and warehouse."""

    root: Path

    @property
    def lake(self) -> Lake:
        return Lake(self.root / "lake")

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse" / "credlink.duckdb"

    def copy(self, to: Path) -> Place:
        shutil.copytree(self.root, to, symlinks=True)
        return Place(to)

    def run(self, run_id: str, day: date, **kwargs: object) -> dict[str, int]:
        return run_publish(self.lake, self.warehouse, run_id, day, **kwargs)  # type: ignore[arg-type]


def snapshot(place: Place) -> dict[str, pl.DataFrame]:
    """What a run leaves, checksums aside: warehouse tables, extracts, the lake's history and
    runs; and the invariants of a sealed, committed state."""
    folder = place.warehouse.parent
    assert not Path(f"{place.warehouse}.wal").exists()
    leftovers = [p for p in folder.rglob(".*tmp*")] + list(place.lake.root.rglob(".*tmp*"))
    assert leftovers == []
    assert not (place.lake.root / "publish" / ".commit.json").exists()
    assert [p.name for p in folder.glob("enforce.v*")] == [(folder / "enforce").resolve().name]
    sums = dict(
        reversed(line.split("  ", 1))
        for line in Path(f"{place.warehouse}.sha256").read_text().splitlines()
    )
    for name, digest in sums.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name
    runs = pl.read_parquet(place.lake.partition("publish", "runs", "all"))
    assert runs.sort("seq")["warehouse_sha256"][-1] == sums["credlink.duckdb"]
    out = read_tables(place.warehouse, NO_SHA)
    for f in sorted((folder / "enforce").glob("*.parquet")):
        out[f"file:{f.name}"] = pl.read_parquet(f)
    out["lake:history"] = read_history(place.lake).sort("seq", "restriction_id")
    out["lake:runs"] = runs.drop("warehouse_sha256").sort("seq")
    # the basis of the next run's carry-over belongs to this warehouse (publish.carry)
    out["lake:restriction_basis"] = pl.read_parquet(basis_path(place.lake))
    assert read_carry(place.lake) is not None
    return out


def assert_same(got: dict[str, pl.DataFrame], want: dict[str, pl.DataFrame]) -> None:
    assert sorted(got) == sorted(want)
    for name in want:
        assert got[name].equals(want[name]), name


@pytest.fixture(autouse=True)
def _scenario(monkeypatch: pytest.MonkeyPatch) -> None:
    import credlink.publish.stage as stage

    for name in ("read_listings", "read_record_links", "legal_representatives"):
        monkeypatch.setattr(stage, name, getattr(stage, name))
    monkeypatch.setattr(stage, "registry_subjects", stage.registry_subjects)
    install()  # undone by monkeypatch after each test


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """r1 published; and the uninterrupted states r1+r2, r1+r3, r1+r2+r3."""
    import credlink.publish.stage as stage

    saved = {n: getattr(stage, n) for n in ("read_listings", "read_record_links",
                                             "legal_representatives", "registry_subjects")}  # fmt: skip
    install()
    try:
        root = tmp_path_factory.mktemp("publish-safety")
        first = Place(root / "r1")
        first.run("r1", DAY1)
        two = first.copy(root / "r1r2")
        two.run("r2", DAY2)
        other = first.copy(root / "r1r3")
        other.run("r3", DAY2)
        three = two.copy(root / "r1r2r3")
        three.run("r3", DAY2)
        yield {
            "r1": first,
            "r1r2": snapshot(two),
            "r1r3": snapshot(other),
            "r1r2r3": snapshot(three),
        }
    finally:
        for n, f in saved.items():
            setattr(stage, n, f)


@pytest.fixture(scope="module")
def forker() -> Iterator[Forker]:
    f = Forker()
    yield f
    f.close()


@pytest.mark.parametrize("k", range(1, POINTS + 2))
def test_a_kill_at_any_write_point_then_the_next_run_equals_an_uninterrupted_one(
    k: int, base: dict, forker: Forker, tmp_path: Path
) -> None:
    killed = base["r1"].copy(tmp_path / "killed")
    code = forker.run(killed.lake.root, killed.warehouse, "r2", DAY2, crash_after=k)
    if k > POINTS:  # past the last write point: the run completes
        assert code == 0
        assert_same(snapshot(killed), base["r1r2"])
        return
    assert code == -9, f"not killed at write point {k}"
    # the retry of the same run (Airflow's) equals the uninterrupted run
    retry = killed.copy(tmp_path / "retry")
    retry.run("r2", DAY2)
    assert_same(snapshot(retry), base["r1r2"])
    # another run id next: the killed run happened iff it reached its commit record
    other = killed.copy(tmp_path / "other")
    other.run("r3", DAY2)
    assert_same(snapshot(other), base["r1r2r3"] if k >= COMMIT_POINT else base["r1r3"])


def test_the_wedge_of_issue_12_kill_after_history_before_runs(
    base: dict, forker: Forker, tmp_path: Path
) -> None:
    """Killed between the history and the runs renames: the next runs go on."""
    killed = base["r1"].copy(tmp_path / "killed")
    assert (
        forker.run(killed.lake.root, killed.warehouse, "r2", DAY2, crash_after=HISTORY_RENAMED)
        == -9
    )
    assert (killed.lake.root / "publish" / ".commit.json").exists()
    killed.run("r3", DAY2)
    history = read_history(killed.lake)
    assert history.select("restriction_id", "seq").is_duplicated().sum() == 0
    assert_same(snapshot(killed), base["r1r2r3"])


def _wait_for(proc: subprocess.Popen[str], text: str) -> None:
    assert proc.stderr is not None
    for line in proc.stderr:
        if text in line:
            return
    raise AssertionError(f"the process ended without saying {text!r}: {proc.wait()}")


def test_two_runs_at_once_one_waits_and_no_record_is_lost(base: dict, tmp_path: Path) -> None:
    place = base["r1"].copy(tmp_path / "both")
    with publish_lock(place.lake.root, "the test"):
        a = run_elsewhere(place.lake.root, place.warehouse, "a", DAY2, wait=False)
        b = run_elsewhere(place.lake.root, place.warehouse, "b", DAY2, wait=False)
        _wait_for(a, "waits for the lock held by run the test")
        _wait_for(b, "waits for the lock held by run the test")
    assert a.wait(timeout=60) == 0 and b.wait(timeout=60) == 0
    runs = pl.read_parquet(place.lake.partition("publish", "runs", "all")).sort("seq")
    assert runs["seq"].to_list() == [1, 2, 3]
    assert runs["run_id"][0] == "r1" and set(runs["run_id"][1:]) == {"a", "b"}
    # the first of them made r2's changes, the second none: it saw the first's record
    assert runs["changes"].to_list()[1:] == [29, 0]
    first = runs["run_id"][1]
    history = read_history(place.lake)
    assert set(history["run_id"]) == {"r1", first}
    want = base["r1r2"]["lake:history"].with_columns(
        pl.when(pl.col("run_id") == "r2").then(pl.lit(first)).otherwise("run_id").alias("run_id")
    )
    assert history.sort("seq", "restriction_id").equals(want)
    snapshot(place)


def test_a_run_that_cannot_get_the_lock_fails_clearly(base: dict, tmp_path: Path) -> None:
    place = base["r1"].copy(tmp_path / "locked")
    before = place.warehouse.read_bytes()
    with (
        publish_lock(place.lake.root, "scheduled__2024-06-10"),
        pytest.raises(PublishLockedError, match=r"run scheduled__2024-06-10, pid \d+"),
    ):
        place.run("r2", DAY2, lock_timeout=0.3)
    assert place.warehouse.read_bytes() == before


def test_a_stale_wal_of_a_dead_session_is_not_replayed_onto_the_next_version(
    base: dict, tmp_path: Path
) -> None:
    place = base["r1"].copy(tmp_path / "wal")
    assert place.warehouse.stat().st_mode & 0o222 == 0  # published read-only
    place.warehouse.chmod(0o644)  # a user with the publisher's rights, as root has
    session = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import duckdb, sys
                con = duckdb.connect({str(place.warehouse)!r})
                con.execute("DELETE FROM enforce.caac")
                con.execute("DELETE FROM publish.restrictions WHERE memorandum_id <> 'x'")
                print("changed", flush=True)
                sys.stdin.readline()
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert session.stdout is not None
    assert session.stdout.readline().strip() == "changed"
    session.kill()  # SIGKILL: no checkpoint, the WAL stays
    session.wait(timeout=30)
    wal = Path(f"{place.warehouse}.wal")
    assert wal.exists() and wal.stat().st_size > 0
    place.run("r2", DAY2)
    assert not wal.exists()
    got = read_tables(place.warehouse, NO_SHA)  # opened read-only, as the README says
    want = {k: v for k, v in base["r1r2"].items() if ":" not in k}
    assert_same(got, want)
    assert got["enforce.caac"].height > 0
    assert place.warehouse.stat().st_mode & 0o222 == 0


def test_each_agency_gets_a_file_with_its_list_only(base: dict) -> None:
    want = base["r1r2"]
    agencies = sorted(k.split(".", 1)[1] for k in want if k.startswith("enforce."))
    files = sorted(k.removeprefix("file:").removesuffix(".parquet") for k in want if "file:" in k)
    assert files == agencies and "caac" in files
    for agency in agencies:
        assert want[f"file:{agency}.parquet"].equals(want[f"enforce.{agency}"]), agency
    columns = ["credit_code", "subject_type", "name", "measure_id", "measure", "valid_from",
               "valid_to"]  # fmt: skip
    assert want["file:caac.parquet"].columns == columns


def test_a_mass_lift_is_held_until_an_operator_approves(base: dict, tmp_path: Path) -> None:
    place = base["r1"].copy(tmp_path / "held")
    limits = LiftLimits(max_share=0.2, min_in_force=10)
    before = place.warehouse.read_bytes()
    with pytest.raises(MassLiftHeld) as held:
        place.run("r2", DAY2, lift_limits=limits)
    message = str(held.value)
    assert "would lift 14 of the 38 restrictions in force (36.8%)" in message
    assert "mass-lift limit of 20%" in message and "approve_mass_lift" in message
    assert place.warehouse.read_bytes() == before  # nothing new published
    assert set(read_history(place.lake)["run_id"]) == {"r1"}
    assert (place.lake.root / "publish" / "held" / "r2.json").exists()
    # an operator approves the held run (as many lifts as were held); its retry publishes
    approve_mass_lift(place.lake, "r2", by="operator")
    place.run("r2", DAY2, lift_limits=limits)
    assert_same(snapshot(place), base["r1r2"])


def test_approve_mass_lift_argument(base: dict, tmp_path: Path) -> None:
    place = base["r1"].copy(tmp_path / "approved")
    limits = LiftLimits(max_share=0.2, min_in_force=10)
    place.run("r2", DAY2, lift_limits=limits, approve_mass_lift=True)
    assert_same(snapshot(place), base["r1r2"])


def test_an_expiry_on_its_recorded_day_is_not_a_lift() -> None:
    def row(rid: str, status: str, valid_to: date | None) -> dict[str, object]:
        return {"restriction_id": rid, "status": status, "valid_to": valid_to}

    day = date(2025, 1, 1)
    previous = pl.DataFrame(
        [row("due", "active", day), row("open", "active", None),
         row("later", "active", date(2026, 1, 1))],
        schema_overrides={"valid_to": pl.Date},
    )  # fmt: skip
    made = pl.DataFrame(
        [row("due", "ended", day), row("open", "ended", day), row("later", "ended", day)],
        schema_overrides={"valid_to": pl.Date},
    )
    assert sorted(early_ends(previous, made, day)["restriction_id"]) == ["later", "open"]
    assert set(HISTORY_COLUMNS) >= {"restriction_id", "status", "valid_to"}


def test_an_approval_covers_only_as_many_lifts_as_were_held() -> None:
    from credlink.publish.guard import check_lifts

    day = date(2025, 1, 1)
    previous = pl.DataFrame(
        {"restriction_id": [f"r{i}" for i in range(10)], "status": ["active"] * 10,
         "valid_to": [None] * 10},
        schema_overrides={"valid_to": pl.Date},
    )  # fmt: skip
    made = previous.head(4).with_columns(
        pl.lit("ended").alias("status"), pl.lit(day).alias("valid_to")
    )
    limits = LiftLimits(max_share=0.3, min_in_force=10)
    kw = {"run_id": "r", "as_of": day, "limits": limits}
    assert check_lifts(previous, made.head(3), approved=None, **kw) == 3  # 30%: not above
    with pytest.raises(MassLiftHeld, match=r"an approval covers 3, fewer than 4"):
        check_lifts(previous, made, approved=3, **kw)
    assert check_lifts(previous, made, approved=4, **kw) == 4
    small = LiftLimits(max_share=0.3, min_in_force=11)  # fewer in force than the guard needs
    assert check_lifts(previous, made, approved=None, **{**kw, "limits": small}) == 4


def test_write_warehouse_removes_a_stale_wal(tmp_path: Path) -> None:
    from credlink.publish.warehouse import write_warehouse

    path = tmp_path / "w.duckdb"
    contracts = tmp_path / "contracts"
    contracts.mkdir()
    (contracts / "t.rows.yaml").write_text(
        "table: t.rows\ngrain: one row per test row\nkey: [i]\n"
        "columns:\n  - {name: i, type: BIGINT, not_null: true, description: i}\n"
    )
    frame = pl.DataFrame({"i": [1, 2, 3]}, schema={"i": pl.Int64})
    write_warehouse(path, {"t.rows": frame}, contracts)
    session = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import duckdb, os; c = duckdb.connect({str(path)!r}); "
            "c.execute('DELETE FROM t.rows'); os._exit(9)",
        ],
        check=False,
    )
    assert session.returncode == 9 and Path(f"{path}.wal").exists()
    write_warehouse(path, {"t.rows": frame}, contracts)
    assert not Path(f"{path}.wal").exists()
    assert read_tables(path)["t.rows"]["i"].to_list() == [1, 2, 3]


def test_stray_temporaries_of_publishing_are_removed_on_the_next_start(
    base: dict, tmp_path: Path
) -> None:
    place = base["r1"].copy(tmp_path / "strays")
    folder = place.warehouse.parent
    history = place.lake.partition("publish", "restriction_history", "all").parent
    strays = [
        folder / ".credlink.duckdb.0a1b.tmp",
        folder / ".credlink.duckdb.0a1b.tmp.wal",
        folder / ".credlink.duckdb.sha256.0a1b.tmp",
        folder / ".enforce.0a1b.tmp",
        history / ".data.parquet.0a1b.tmp",
    ]
    for p in strays:
        p.write_bytes(b"left by a killed run")
    (folder / "enforce.v9-0a1b").mkdir()  # a staged extract folder never committed
    (folder / "enforce.v9-0a1b" / "caac.parquet").write_bytes(b"x")
    other = folder / "notes.txt"  # not publishing's
    other.write_text("mine")
    place.run("r2", DAY2)
    assert [p for p in strays if p.exists()] == []
    assert other.read_text() == "mine"
    other.unlink()
    assert_same(snapshot(place), base["r1r2"])


def test_the_command_line_says_a_run_is_held_and_takes_the_approval(
    base: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`credlink publish` names a held run and exits 1; `--approve-mass-lift` publishes it."""
    from typer.testing import CliRunner

    from credlink.cli import app

    place = base["r1"].copy(tmp_path / "cli")
    monkeypatch.setenv("CREDLINK_DATA", str(place.root))
    monkeypatch.delenv("CREDLINK_WAREHOUSE", raising=False)
    monkeypatch.setenv("CREDLINK_MASS_LIFT_SHARE", "0.2")
    monkeypatch.setenv("CREDLINK_MASS_LIFT_MIN", "10")
    runner = CliRunner()
    args = ["publish", "--on", DAY2.isoformat(), "--run-id", "r2"]
    held = runner.invoke(app, args)
    assert held.exit_code == 1, held.output
    assert "held:" in held.output and "would lift 14 of the 38" in held.output
    assert set(read_history(place.lake)["run_id"]) == {"r1"}
    approved = runner.invoke(app, [*args, "--approve-mass-lift"])
    assert approved.exit_code == 0, approved.output
    assert_same(snapshot(place), base["r1r2"])
