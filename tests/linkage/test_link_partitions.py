"""The big linkage tables are delta tables: a daily run writes only its own partition, and every
reader sees the table a writer of whole tables would have left (issue 13)."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest
from identities import legal_entities, masked, person_listing, population, ric, stage
from linkfault import DAY, FIRMS, LI_SI, PEOPLE, WANG_WEI, ZHANG_SAN

import credlink.linkage.partitions
from credlink.etl.lake import DELTA_DELETED, Lake, delta_metadata
from credlink.linkage import engine
from credlink.linkage.stage import run_linkage
from credlink.linkage.tables import read_record_links

ZHAO_LEI = ric("32010219900101003")
NEXT_DAY = "20250701T000000Z_20250702T000000Z"
DELTA_DATASETS = ("record_links", "legal_representatives", "person_spine", "organisation_spine")
ALL = (*DELTA_DATASETS, "review_queue", "spine_manifest", "runs")

ROWS = [
    {"id": "1", "name": "张三", "number": ZHANG_SAN},
    {"id": "2", "name": "张三", "number": LI_SI},  # a conflict: in review
    {"id": "4", "name": "李四", "number": LI_SI},
]
DAY2 = [*ROWS, {"id": "3", "name": "王伟", "number": masked(WANG_WEI)}]
#: day 3: record 4 left staging (a tombstone), a person joined the registry
DAY3 = [r for r in DAY2 if r["id"] != "4"]


def _stage_day(lake: Lake, rows: list[dict[str, str]], registries: bool = False) -> None:
    """The day's listing records (the history partition, replaced); the registries too."""
    tables = {"courts__ZXAJ": person_listing("courts", "ZXAJ", rows)}
    if registries:
        tables["population__person"] = population(PEOPLE)
        tables["legal_entities__legal_entity"] = legal_entities(FIRMS)
    stage(lake, tables)


def _days(lake: Lake) -> None:
    _stage_day(lake, ROWS, registries=True)
    run_linkage(lake, run_id="r1", logical_date=DAY)
    _stage_day(lake, DAY2)
    run_linkage(lake, run_id="r2", logical_date=DAY)
    _stage_day(lake, DAY3)
    # a person joins the registry in a later partition: the kept spine is updated, not rebuilt
    newcomer = population({ZHAO_LEI: ("赵磊", "M", "320102")}).with_columns(
        _record_id=pl.lit("9"), _updated_utc=pl.col("_updated_utc").dt.offset_by("1mo")
    )
    lake.write("staging", "population__person", NEXT_DAY, newcomer)
    run_linkage(lake, run_id="r3", logical_date=DAY)


def _files(lake: Lake, dataset: str) -> dict[str, tuple[int, int]]:
    folder = lake.root / "linkage" / dataset
    return {
        p.parent.name: (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in folder.glob("interval=*/data.parquet")
    }


def _tables(lake: Lake) -> dict[str, pl.DataFrame]:
    out = {}
    for name in ALL:
        frame = lake.read("linkage", name).drop("seconds", "mtime_ns", strict=False)
        out[name] = frame
    return out


@pytest.fixture(scope="module")
def lakes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Lake]:
    """The same three days linked twice: with delta tables, and every table written whole."""
    root = tmp_path_factory.mktemp("partitions")
    delta = Lake(root / "delta")
    _days(delta)
    whole = Lake(root / "whole")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(credlink.linkage.partitions, "MAX_DELTAS", 0)  # every run compacts: whole tables
        _days(whole)
    return {"delta": delta, "whole": whole}


def test_a_daily_run_writes_only_its_own_partition(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    _stage_day(lake, ROWS, registries=True)
    run_linkage(lake, run_id="r1", logical_date=DAY)
    first = {d: _files(lake, d) for d in DELTA_DATASETS}
    assert all(set(f) == {"interval=all"} for f in first.values()), first
    links_before = read_record_links(lake)

    _stage_day(lake, DAY2)
    run_linkage(lake, run_id="r2", logical_date=DAY)
    links = _files(lake, "record_links")
    # the base is the very file r1 wrote; r2 added one partition, with the new record only
    assert links["interval=all"] == first["record_links"]["interval=all"]
    assert set(links) == {"interval=all", "interval=delta-00000001"}
    delta = pl.read_parquet(lake.partition("linkage", "record_links", "delta-00000001"))
    assert delta["unique_id"].to_list() == ["courts/ZXAJ/3"]
    assert not delta[DELTA_DELETED].any()
    # the spines and representatives did not change: their files are r1's, untouched
    for dataset in ("legal_representatives", "person_spine", "organisation_spine"):
        files = _files(lake, dataset)
        assert {k: v for k, v in files.items() if k == "interval=all"} == first[dataset]
        for name in set(files) - {"interval=all"}:  # at most an empty delta (the overlay)
            assert pl.read_parquet(lake.partition("linkage", dataset, name[9:])).is_empty()
    # readers see every record's current link, the run that wrote the table on every row
    now = read_record_links(lake)
    assert now.height == links_before.height + 1
    assert set(now["run_id"]) == {"r2"}
    kept = now.filter(pl.col("unique_id") != "courts/ZXAJ/3").drop("run_id", "logical_date")
    assert kept.equals(links_before.drop("run_id", "logical_date"))


def test_delta_tables_read_as_the_whole_tables(lakes: dict[str, Lake]) -> None:
    delta, whole = _tables(lakes["delta"]), _tables(lakes["whole"])
    for name in ALL:
        assert delta[name].equals(whole[name]), name
    for name in DELTA_DATASETS:  # some columns only (as publishing reads the spines)
        some = lakes["delta"].read("linkage", name, columns=["unique_id", "name", "band"])
        want = delta[name].select(
            [c for c in ("unique_id", "name", "band") if c in delta[name].columns]
        )
        assert some.sort("unique_id").equals(want.sort("unique_id")), name
    # day 3: record 4 left staging (a tombstone) and the person spine gained an entry
    folder = lakes["delta"].root / "linkage"
    tomb = pl.read_parquet(folder / "record_links" / "interval=delta-00000002" / "data.parquet")
    assert tomb.filter(pl.col(DELTA_DELETED))["unique_id"].to_list() == ["courts/ZXAJ/4"]
    assert "courts/ZXAJ/4" not in delta["record_links"]["unique_id"].to_list()
    spine = pl.read_parquet(folder / "person_spine" / "interval=delta-00000001" / "data.parquet")
    assert spine["unique_id"].to_list() == [ZHAO_LEI]
    assert set(lakes["delta"].read("linkage", "runs").filter(
        pl.col("run_id") == "r3")["spine_mode"]) == {"updated", "unchanged"}  # fmt: skip
    assert not list((lakes["whole"].root / "linkage").glob("*/interval=delta-*"))


def test_the_catalog_views_show_the_current_tables(lakes: dict[str, Lake]) -> None:
    lake = lakes["delta"]
    lake.refresh_catalog()
    con = duckdb.connect(str(lake.catalog_path), read_only=True)
    try:
        for name in DELTA_DATASETS:
            got = con.sql(f'SELECT * FROM linkage."{name}"').pl()
            # the partition folder as a column, as in the view of a whole table
            assert set(got["interval"]) == {"all"}, name
            got = got.drop("interval").with_columns(  # DuckDB names UTC 'Etc/UTC'
                pl.col(pl.Datetime("us", "*")).dt.convert_time_zone("UTC")
            )
            want = lake.read("linkage", name)
            assert got.columns == want.columns, name
            key = ["unique_id"]
            assert got.sort(key).equals(want.sort(key)), name
    finally:
        con.close()


def test_a_full_run_compacts_every_delta_table(lakes: dict[str, Lake], tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    shutil.copytree(lakes["delta"].root, lake.root)
    before = _tables(lake)
    run_linkage(lake, run_id="r4", logical_date=DAY, full=True)
    assert not list((lake.root / "linkage").glob("*/interval=delta-*"))
    after = _tables(lake)
    links = ["unique_id", "credit_code", "band", "method"]
    assert after["record_links"].select(links).equals(before["record_links"].select(links))
    assert set(after["record_links"]["run_id"]) == {"r4"}


def test_pre_blocking_pairs_the_same_entries_whatever_the_rule_shape() -> None:
    """One orientation for a symmetric rule, both for a one-sided one: the entries some rule
    pairs with some record, as a cross join finds them."""
    records = pl.DataFrame({"unique_id": ["r1", "r2"], "a": ["x", "y"], "b": ["p", "q"]})
    spine = pl.DataFrame(
        {"unique_id": ["s1", "s2", "s3", "s4", "s5"], "a": ["x", "q", "z", "w", "m"],
         "b": ["z", "z", "x", "p", "n"]}
    )  # fmt: skip
    rules = ["l.a = r.a", "l.b = r.a", "SUBSTRING(l.b, 1, 1) = SUBSTRING(r.b, 1, 1)"]
    assert [engine._symmetric(r) for r in rules] == [True, False, True]
    pairs = records.join(spine, how="cross", suffix="_s")
    want = set(
        pairs.filter(
            (pl.col("a") == pl.col("a_s"))
            | (pl.col("b") == pl.col("a_s"))  # records as l, spine as r
            | (pl.col("b_s") == pl.col("a"))  # spine as l, records as r
            | (pl.col("b").str.head(1) == pl.col("b_s").str.head(1))
        )["unique_id_s"]
    )
    # s2 only by the one-sided rule with records as l, s3 only with the spine as l
    assert want == {"s1", "s2", "s3", "s4"}
    got = engine.blocked_entries(records, spine, rules)["unique_id"].to_list()
    assert got == [u for u in spine["unique_id"] if u in want]
    assert set(engine.blocked_entries(records, spine, rules[:1])["unique_id"]) == {"s1"}


def test_a_base_that_folds_in_the_deltas_beside_it_hides_them(
    lakes: dict[str, Lake], tmp_path: Path
) -> None:
    """Mid-compaction (the new base renamed, its deltas not yet removed), readers see the base."""
    lake = Lake(tmp_path / "lake")
    shutil.copytree(lakes["delta"].root, lake.root)
    current = lake.read("linkage", "record_links")
    folded = lake.next_delta("linkage", "record_links") - 1
    assert folded >= 2
    # a base that differs from base + deltas, so that a reader applying them would show it
    base = current.with_columns(pl.lit("compacted").alias("reason"))
    base.write_parquet(
        lake.partition("linkage", "record_links", "all"),
        metadata=delta_metadata("unique_id", sort=["subject_type", "unique_id"], through=folded),
    )
    assert lake.read("linkage", "record_links").equals(base)
    assert lake.next_delta("linkage", "record_links") == folded + 1
    lake.refresh_catalog()
    con = duckdb.connect(str(lake.catalog_path), read_only=True)
    try:
        reasons = con.sql('SELECT DISTINCT reason FROM linkage."record_links"').fetchall()
    finally:
        con.close()
    assert reasons == [("compacted",)]
