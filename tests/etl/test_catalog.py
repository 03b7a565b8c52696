"""Every table of every layer held to its contract: a small world through the whole chain
(ingest, link, a reviewer's decision, link again, publish, quality), then each contract of the
catalog against its table in the lake or the warehouse, each staged and quarantined table
against its source contract, and every table present against the catalog (none without a
contract). Plus the catalog's own rules: conform, read and write by name, malformed files.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest
from typer.testing import CliRunner

from credlink.etl.catalog import (
    TableContract,
    TableContractError,
    check_frame,
    check_table,
    conform,
    contract_for,
    read_table,
    table_contracts,
    write_table,
)
from credlink.etl.conform.contracts import conformed_contracts
from credlink.etl.contracts import source_contracts
from credlink.etl.ingest.run import RunContext, ingest_sources
from credlink.etl.lake import Lake
from credlink.world.generate import WorldSummary

END = datetime(2025, 7, 1, tzinfo=UTC)  # the day after the small world ends
CONTRACTS = sorted(table_contracts())
#: Columns the ingest adds to every staged row (etl.ingest.run).
STAGED_META = ("_source", "_table", "_record_id", "_updated_utc", "_interval", "_run_id")
#: Folders of the lake that hold no tables: Data Docs, the ingest bookkeeping's own layout,
#: linkage's model-quality charts.
NOT_TABLES = {"docs", "catalog.duckdb"}


@dataclass(frozen=True)
class Chain:
    lake: Lake
    warehouse: Path


@pytest.fixture(scope="module")
def chain(small_world: WorldSummary, tmp_path_factory: pytest.TempPathFactory) -> Chain:
    """The small world ingested, linked, decided on, linked again, published and measured."""
    import os

    from credlink.cli import app
    from credlink.linkage.decisions import record_decision
    from credlink.linkage.review_keys import ItemKey
    from credlink.linkage.stage import run_linkage
    from credlink.publish.stage import run_publish

    data = tmp_path_factory.mktemp("catalog-data")
    lake = Lake(data / "lake")
    ctx = RunContext(run_id="catalog", logical_date=END, docs_root=lake.root / "docs",
                     quarantine_limit=1.0)  # fmt: skip
    ingest_sources(small_world.out, lake, END - timedelta(days=1), END, initial=True, ctx=ctx)
    run_linkage(lake, run_id="catalog-link-1", logical_date=END)
    queue = lake.read("linkage", "review_queue")
    assert not queue.is_empty(), "the small world gives review items"
    row = queue.row(0, named=True)
    record_decision(lake, row["unique_id"], row["candidate_code"], "accept",
                    reviewer="catalog-test", decided_at=END, seen=ItemKey.of(row))  # fmt: skip
    run_linkage(lake, run_id="catalog-link-2", logical_date=END)
    # the blind quality sample: a draw, one verdict (a round of review) and the estimate
    from credlink.linkage.estimated_quality import decide_sample, draw_sample
    from credlink.linkage.estimated_quality import measure_estimated_quality as estimate

    drawn = draw_sample(lake, seed=1, size=5, drawn_at=END).row(0, named=True)
    decide_sample(lake, f"{drawn['unique_id']}@{drawn['item_fingerprint']}", "accept",
                  reviewer="catalog-test", decided_at=END)  # fmt: skip
    estimate(lake, estimated_at=END)
    warehouse = data / "warehouse" / "credlink.duckdb"
    run_publish(lake, warehouse, "catalog-publish", date(2025, 6, 30))
    env = {"CREDLINK_DATA": str(data), "CREDLINK_WAREHOUSE": str(warehouse)}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        result = CliRunner().invoke(app, ["quality", "--world", str(small_world.out)])
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    assert result.exit_code == 0, result.output
    lake.refresh_catalog()
    return Chain(lake, warehouse)


def _warehouse_tables(path: Path) -> list[str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall()
    finally:
        con.close()
    return sorted(f"{s}.{t}" for s, t in rows)


@pytest.mark.slow
@pytest.mark.parametrize("name", CONTRACTS)
def test_every_contracted_table_holds_to_its_contract(chain: Chain, name: str) -> None:
    contract = table_contracts()[name]
    checked = 0
    if "lake" in contract.stored_in:
        if name == "ops.ingest_runs":
            frame = chain.lake.read_runs()
        else:
            frame = chain.lake.read(contract.layer, contract.dataset)
        assert frame.height > 0, f"{name}: the chain left it empty or absent"
        assert check_frame(frame, contract) == []
        checked += 1
    if "warehouse" in contract.stored_in:
        con = duckdb.connect(str(chain.warehouse), read_only=True)
        try:
            tables = [t for t in _warehouse_tables(chain.warehouse) if contract_for(t) is contract]
            assert tables, f"{name}: not in the warehouse"
            for table in tables:
                assert check_table(con, table, contract) == []
                checked += 1
        finally:
            con.close()
    assert checked > 0


@pytest.mark.slow
def test_every_table_present_has_a_contract(chain: Chain) -> None:
    lake_tables = set()
    for layer in sorted(p for p in chain.lake.root.iterdir() if p.is_dir()):
        # staged and quarantined tables hold to their source contracts (below)
        if layer.name in NOT_TABLES | {"staging", "quarantine"}:
            continue
        for dataset in sorted(p for p in layer.iterdir() if p.is_dir()):
            if layer.name == "linkage" and dataset.name == "charts":
                continue  # HTML charts of the model, not a table
            lake_tables.add(f"{layer.name}.{dataset.name}")
    contracted = {n for n, c in table_contracts().items() if "lake" in c.stored_in}
    uncontracted = sorted(lake_tables - contracted - set(conformed_contracts()))
    assert uncontracted == []
    assert {
        "linkage.record_links",
        "linkage.decisions",
        "publish.restriction_history",
        "conformed.listings__court_defaulters",
    } <= lake_tables
    missing = [t for t in _warehouse_tables(chain.warehouse) if contract_for(t) is None]
    assert missing == []


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(conformed_contracts()))
def test_every_conformed_table_holds_to_the_contract_its_mapping_makes(
    chain: Chain, name: str
) -> None:
    contract = conformed_contracts()[name]
    assert contract.grain.startswith("one row per staged version")
    frame = chain.lake.read(contract.layer, contract.dataset)
    assert frame.columns, f"{name}: the chain left it absent"
    assert check_frame(frame, contract) == []


def _staged_tables() -> list[tuple[str, str]]:
    return [(s, t.name) for s, c in sorted(source_contracts().items()) for t in c.tables]


@pytest.mark.slow
@pytest.mark.parametrize(("source", "table"), _staged_tables())
def test_staged_and_quarantined_tables_hold_to_their_source_contract(
    chain: Chain, source: str, table: str
) -> None:
    contract = source_contracts()[source].table(table)
    dataset = f"{source}__{table}"
    staged = chain.lake.read("staging", dataset)
    quarantined = chain.lake.read("quarantine", dataset)
    columns = [c.name for c in contract.columns]
    for layer, frame in (("staging", staged), ("quarantine", quarantined)):
        assert frame.columns, f"{layer}.{dataset}: absent"
        absent = [c for c in (*STAGED_META, *columns) if c not in frame.columns]
        assert absent == [], f"{layer}.{dataset}: columns of the source contract missing"
    assert "_failed_rules" in quarantined.columns
    assert staged["_record_id"].null_count() == 0
    assert staged.select("_record_id", "_interval").is_duplicated().sum() == 0
    assert set(staged["_source"]) <= {source} and set(staged["_table"]) <= {table}


def test_contracts_open_with_their_grain_and_name_their_file() -> None:
    contracts = table_contracts()
    assert len(contracts) >= 20
    for contract in contracts.values():
        assert contract.grain.startswith("one row per ")
        assert all(k in contract.polars_schema for k in contract.key)


def test_conform_gives_the_contract_columns_in_order() -> None:
    contract = table_contracts()["publish.runs"]
    out = conform(pl.DataFrame({"seq": [1], "run_id": ["r1"], "extra": [0]}), contract)
    assert out.columns == ["run_id", "as_of", "seq", "changes", "warehouse_sha256"]
    assert out.schema["seq"] == pl.Int64() and out.schema["as_of"] == pl.Date()
    assert out.row(0) == ("r1", None, 1, None, None)
    empty = conform(pl.DataFrame(), contract)
    assert empty.height == 0 and empty.columns == out.columns


def test_write_table_refuses_a_breach_and_writes_nothing(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    contract = table_contracts()["publish.runs"]
    good = conform(
        pl.DataFrame({"run_id": ["r1"], "as_of": [date(2025, 1, 1)], "seq": [1], "changes": [3]}),
        contract,
    )
    write_table(lake, "publish.runs", good)
    assert read_table(lake, "publish.runs").equals(good)
    bad = good.with_columns(pl.lit(None, pl.String()).alias("run_id"))
    with pytest.raises(TableContractError, match=r"publish.runs.run_id: 1 null"):
        write_table(lake, "publish.runs", bad)
    twice = pl.concat([good, good])
    with pytest.raises(TableContractError, match=r"duplicate key"):
        write_table(lake, "publish.runs", twice)
    assert read_table(lake, "publish.runs").equals(good)  # the breaches wrote nothing
    with pytest.raises(TableContractError, match=r"publish.restrictions: no lake table"):
        read_table(lake, "publish.restrictions")  # a warehouse table


def test_a_malformed_contract_names_the_file_and_the_field(tmp_path: Path) -> None:
    folder = tmp_path / "linkage" / "tables"
    folder.mkdir(parents=True)
    path = folder / "linkage.thing.yaml"
    path.write_text(
        "table: linkage.thing\ngrain: one row per thing\nkey: [id]\nstored_in: [lake]\n"
        "columns:\n  - {name: id, type: TEXT, description: the id}\n"
    )
    with pytest.raises(TableContractError, match=r"linkage.thing.yaml: column id: type 'TEXT'"):
        table_contracts(tmp_path)
    path.write_text(
        "table: linkage.thing\ngrain: a thing\nkey: [id]\n"
        "columns:\n  - {name: id, type: VARCHAR, description: the id}\n"
    )
    with pytest.raises(TableContractError, match=r"(?s)linkage.thing.yaml.*grain"):
        table_contracts(tmp_path)
    assert isinstance(table_contracts()["linkage.runs"], TableContract)
