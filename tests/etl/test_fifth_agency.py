"""A fifth agency is a source contract, its conform mapping, its list's publication rules, a
memorandum and a DAG file: no code.

An environmental-protection bureau (a SQLite database this test builds) keeps a list of
seriously dishonest polluters. Its contract, conform mapping and publication rules (severity
grade, publication period, repair, masking: ``law/publication.yaml``) live in a folder of their own
(``$CREDLINK_SCHEMAS_OVERLAY``: the shipped ``schemas/`` is not touched), its memorandum in a
copy of the memoranda folder, its DAG file in a folder of DAG files of its own. The bureau's
database is ingested and conformed beside a tiny world's registries, linked and published by
the code every agency goes through, and the listed firm and its legal representative carry the
memorandum's measures. Nothing in ``linkage/`` or ``publish/`` names a source or a table.
"""

from __future__ import annotations

import ast
import runpy
import shutil
import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest

from credlink import settings
from credlink.etl.conform.mappings import (
    ConformError,
    all_source_contracts,
    conform_mappings,
    list_catalog,
)
from credlink.etl.lake import Lake
from credlink.world.config import WorldConfig
from credlink.world.generate import generate_world

ROOT = Path(__file__).resolve().parents[2]

CONTRACT = """\
source: environment
title: 生态环境执法系统 — seriously dishonest polluters
kind: agency
connection_id: environment_db
default_database: agencies/environment.db
conventions: Dotted dates '2024.05.06'; timestamps 'YYYY-MM-DD HH:MM:SS' local time.
tables:
  - name: WRDW
    title: 严重失信排污单位 seriously dishonest polluters
    grain: one row per listing of a polluting unit; updated in place when removed
    primary_key: [LSH]
    incremental: {column: GXSJ, format: "%Y-%m-%d %H:%M:%S"}
    subject:
      type: organisation
      id_columns: [TYDM]
      name_column: DWMC
    columns:
      - {name: LSH, type: integer, nullable: false, description: 流水号 listing id}
      - {name: JDSH, type: text, nullable: false, description: 决定书号 decision number}
      - {name: DWMC, type: text, nullable: false, description: 单位名称 unit name, pii: true}
      - {name: TYDM, type: text, description: 统一社会信用代码, identifier: [uscc]}
      - {name: FDDBR, type: text, description: 法定代表人, pii: true,
         standardise: {as: person_name, field: legal_rep_name}}
      - {name: FKJE, type: text, description: 罚款金额 fine in yuan,
         standardise: {as: amount, field: fine_amount_yuan}}
      - {name: TCZZ, type: text, nullable: false, description: "停产整治 是/否",
         standardise: {as: vocabulary, vocabulary: yes_no, field: production_halted}}
      - {name: LRRQ, type: text, nullable: false, description: 列入日期,
         standardise: {as: date, field: listed_date, formats: ['%Y.%m.%d']}}
      - {name: YCRQ, type: text, description: 移出日期 (credit repair),
         standardise: {as: date, field: removed_date, formats: ['%Y.%m.%d']}}
      - {name: GXSJ, type: text, nullable: false, description: 更新时间 updated}
"""

MAPPING = """\
source: environment
title: the polluters' list, in business names
tables:
  WRDW:
    subjects:
      legal_rep_name: legal_rep_name
      legal_rep_pinyin: legal_rep_name_pinyin
    lists:
      - list: serious_polluters
        title: 严重失信排污单位 seriously dishonest polluters
        reference: JDSH
        listed_on: listed_date
        effective_from: listed_date
        removed_on: removed_date
        removal_reason: {value: repaired, when: {column: removed_date, present: true}}
        fields:
          fine_yuan: {kind: number, from: fine_amount_yuan, description: "fine, yuan"}
          production_halted:
            {kind: flag, from: {flag: {column: production_halted, is: "yes"}},
             description: ordered to halt production}
"""

MEMORANDUM = """\
id: polluters_test_2026
title: hypothetical joint punishment of seriously dishonest polluters (a test memorandum)
document_number: 测试〔2026〕2号
issued_on: 2026-01-01
signatories: [生态环境部, 国家发展和改革委员会]
basis: a test memorandum on a hypothetical list
targets:
  - list: serious_polluters
    subject_types: [organisation]
    when: [{fine_yuan: {min: 100000}}, {production_halted: {is: true}}]
    extend_to: [legal_representative]
duration: {starts: listed_on, ends: term, term: {years: 3}}
lifted_by: [repaired]
measures:
  - {id: no_government_procurement, clause: "art. 1", category: market_access,
     enforcing_agency: finance, applies_to: [organisation],
     text: 限制参与政府采购 barred from government procurement}
  - {id: no_honours, clause: "art. 2", category: honours, enforcing_agency: honours,
     applies_to: [person, organisation], text: 不得授予荣誉称号 no honours}
"""

DAG_FILE = '''\
"""ingest_environment: stage the environmental-protection bureau's database, one day at a time."""

from credlink.orchestration.ingest_dag import ingest_dag

dag = ingest_dag("ingest_environment", sources=["environment"], doc_md=__doc__,
                 tags=["environment", "agency"])
'''

END = datetime(2024, 7, 1, tzinfo=UTC)  # after the tiny world ends


PUBLICATION = """\
lists:
  serious_polluters:
    basis: 环境保护法 and the bureau's listing rules (a test's simulation)
    starts: listed_on
    severity:
      default: {grade: serious, period: {years: 3}}
    repair:
      repairable: true
      reason: the bureau repairs its own listings after the minimum period
    obligations_met:
      none_owed: true
      note: the fine is not on the list
    masking:
      person: {keep_first: 4, keep_last: 4}
      organisation: {keep_all: true}
"""


def _site(tmp_path: Path) -> Path:
    """The agency's reviewed files, in an overlay folder of their own."""
    site = tmp_path / "site-schemas"
    (site / "sources").mkdir(parents=True)
    (site / "conform").mkdir()
    (site / "law").mkdir()
    (site / "sources" / "environment.yaml").write_text(CONTRACT, encoding="utf-8")
    (site / "conform" / "environment.yaml").write_text(MAPPING, encoding="utf-8")
    (site / "law" / "publication.yaml").write_text(PUBLICATION, encoding="utf-8")
    return site


def _bureau(world: Path) -> tuple[str, str, str]:
    """The bureau's database: three listings of firms of the world's legal-entity registry.
    Returns (listed firm, its legal representative's citizen ID, the firm fined too little)."""
    reg = sqlite3.connect(world / "registries" / "legal_entities.db")
    try:
        firms = reg.execute(
            "SELECT uscc, name, legal_rep_name, legal_rep_id FROM legal_entity "
            "WHERE status = '存续' AND entity_type = '91' ORDER BY uscc LIMIT 3"
        ).fetchall()
    finally:
        reg.close()
    (a, b, c) = firms
    db = sqlite3.connect(world / "agencies" / "environment.db")
    try:
        db.execute(
            "CREATE TABLE WRDW (LSH INTEGER PRIMARY KEY, JDSH TEXT NOT NULL, DWMC TEXT NOT NULL, "
            "TYDM TEXT, FDDBR TEXT, FKJE TEXT, TCZZ TEXT NOT NULL, LRRQ TEXT NOT NULL, YCRQ TEXT, "
            "GXSJ TEXT NOT NULL)"
        )
        db.executemany(
            "INSERT INTO WRDW VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                # fined 500,000 yuan: listed and restricted
                (1, "环罚〔2024〕1号", a[1], a[0], a[2], "500,000.00", "否", "2024.05.06", None,
                 "2024-05-06 10:00:00"),
                # fined 20,000 yuan, no halt: listed, below the memorandum's conditions
                (2, "环罚〔2024〕2号", b[1], b[0], b[2], "20,000.00", "否", "2024.05.07", None,
                 "2024-05-07 10:00:00"),
                # halted, then removed after credit repair
                (3, "环罚〔2024〕3号", c[1], c[0], c[2], None, "是", "2024.04.01", "2024.06.01",
                 "2024-06-01 09:00:00"),
            ],
        )  # fmt: skip
        db.commit()
    finally:
        db.close()
    return a[0], a[3], b[0]


@pytest.fixture
def overlay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    site = _site(tmp_path)
    monkeypatch.setenv(settings.SCHEMAS_OVERLAY_ENV, str(site))
    return site


def test_the_agency_is_known_by_its_files_alone(overlay: Path) -> None:
    assert "environment" in all_source_contracts()
    assert "environment" in conform_mappings()
    spec = list_catalog()["serious_polluters"]
    assert (spec.source, spec.table, spec.datasets) == (
        "environment",
        "WRDW",
        ("environment__WRDW",),
    )
    assert {n: f.kind for n, f in spec.fields.items()} == {
        "fine_yuan": "number",
        "production_halted": "flag",
    }
    # the shipped schemas/ are not touched: without the overlay the agency is unknown
    assert not (settings.SCHEMAS_DIR / "sources" / "environment.yaml").exists()
    assert "environment" not in all_source_contracts((settings.SCHEMAS_DIR,))


def test_a_mapping_naming_a_column_the_contract_lacks_is_refused(overlay: Path) -> None:
    path = overlay / "conform" / "environment.yaml"
    path.write_text(MAPPING.replace("reference: JDSH", "reference: JDSBH"), encoding="utf-8")
    with pytest.raises(ConformError, match=r"(?s)environment.yaml.*lists\.0\.reference.*'JDSBH'"):
        conform_mappings((settings.SCHEMAS_DIR, overlay))


def test_its_dag_file_builds_with_the_ingest_dag_factory(overlay: Path, tmp_path: Path) -> None:
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "ingest_environment.py").write_text(DAG_FILE, encoding="utf-8")
    dag = runpy.run_path(str(dags / "ingest_environment.py"))["dag"]
    assert dag.dag_id == "ingest_environment"
    assert {t.task_id for t in dag.tasks} == {
        "check_environment",
        "ingest_environment__WRDW",
        "publish_environment",
    }
    outlets = {a.name for t in dag.tasks for a in t.outlets}
    assert outlets == {"staging.environment"}


@pytest.mark.slow
def test_ingested_conformed_linked_and_published_without_code(
    overlay: Path, tmp_path: Path
) -> None:
    from credlink.etl.ingest.run import RunContext, ingest_sources
    from credlink.linkage.stage import run_linkage
    from credlink.linkage.tables import read_record_links
    from credlink.publish.memoranda import MEMORANDA_DIR, load_memoranda
    from credlink.publish.stage import run_publish

    world = tmp_path / "world"
    generate_world(
        WorldConfig(out=world, persons=300, seed=3, start=date(2024, 1, 1), end=date(2024, 6, 30))
    )
    firm, rep, small_fine = _bureau(world)
    memoranda = tmp_path / "memoranda"
    shutil.copytree(MEMORANDA_DIR, memoranda)
    (memoranda / "polluters_test_2026.yaml").write_text(MEMORANDUM, encoding="utf-8")
    assert "polluters_test_2026" in {m.id for m in load_memoranda(memoranda)}

    lake = Lake(tmp_path / "data" / "lake")
    ctx = RunContext(run_id="fifth", logical_date=END, docs_root=lake.root / "docs",
                     quarantine_limit=1.0)  # fmt: skip
    report = ingest_sources(world, lake, END - timedelta(days=1), END, initial=True, ctx=ctx,
                            sources=["environment", "legal_entities", "population"])  # fmt: skip
    assert report.staged > 3
    subjects = lake.read("conformed", "subjects__environment__WRDW")
    assert subjects.height == 3 and {firm, small_fine} <= set(subjects["uscc"])
    assert (subjects["id_class"] == "uscc").all()
    listed = lake.read("conformed", "listings__serious_polluters")
    assert listed.select("unique_id", "list_id", "fine_yuan", "production_halted").rows() == [
        ("environment/WRDW/1", "serious_polluters", 500_000.0, False),
        ("environment/WRDW/2", "serious_polluters", 20_000.0, False),
        ("environment/WRDW/3", "serious_polluters", None, True),
    ]
    assert listed["removal_reason"].to_list() == [None, None, "repaired"]

    run_linkage(lake, run_id="fifth-link", logical_date=END)
    links = read_record_links(lake).filter(pl.col("source") == "environment")
    assert links.select("record_id", "band").sort("record_id").rows() == [
        ("1", "accept"), ("2", "accept"), ("3", "accept"),
    ]  # fmt: skip

    warehouse = tmp_path / "data" / "warehouse" / "credlink.duckdb"
    run_publish(lake, warehouse, "fifth-publish", date(2024, 6, 30), memoranda_dir=memoranda)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        got = con.sql(
            "SELECT credit_code, measure_id, valid_from, valid_to FROM publish.restrictions "
            "WHERE memorandum_id = 'polluters_test_2026' ORDER BY ALL"
        ).fetchall()
        listings = con.sql(
            "SELECT unique_id, outcome FROM publish.listings WHERE list_id = 'serious_polluters' "
            "ORDER BY ALL"
        ).fetchall()
    finally:
        con.close()
    # the firm fined 500,000 yuan and its legal representative; not the small fine, not the
    # one removed after credit repair
    assert got == sorted(
        [
            (firm, "no_government_procurement", date(2024, 5, 6), date(2027, 5, 6)),
            (firm, "no_honours", date(2024, 5, 6), date(2027, 5, 6)),
            (rep, "no_honours", date(2024, 5, 6), date(2027, 5, 6)),
        ]
    )
    # the repaired listing says so (publish.listings outcome repaired, not just ended)
    assert listings == [("environment/WRDW/1", "restricting"), ("environment/WRDW/3", "repaired")]


def _code_strings(path: Path) -> set[str]:
    """The string constants of a module's code (its docstrings left out)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        first = body[0] if isinstance(body, list) and body else None
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
            docs.add(id(first.value))
    return {
        n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs
    }


def test_no_source_or_table_is_named_in_linkage_or_publish() -> None:
    contracts = all_source_contracts((settings.SCHEMAS_DIR,))
    agencies = {s: c for s, c in contracts.items() if c.kind == "agency"}
    names = set(agencies) | {t.name for c in agencies.values() for t in c.tables}
    names |= {f"{s}__{t.name}" for s, c in agencies.items() for t in c.tables}
    found = []
    for layer in ("linkage", "publish"):
        for path in sorted((ROOT / layer).glob("*.py")):
            strings = _code_strings(path)
            found += [f"{path.relative_to(ROOT)}: {s!r}" for s in sorted(strings & names)]
            found += [
                f"{path.relative_to(ROOT)}: {s!r}"
                for s in sorted(strings)
                if any(f"{n}__" in s or f"{n}." in s for n in agencies) and len(s) < 60
            ]
    assert found == []


def test_an_overlay_cannot_change_a_shipped_lists_publication_rules(overlay: Path) -> None:
    from credlink.publish.publication import PublicationError, load_publication

    assert load_publication().for_list("serious_polluters").severity.default.grade == "serious"
    rules = overlay / "law" / "publication.yaml"
    rules.write_text(PUBLICATION.replace("serious_polluters:", "court_defaulters:"), "utf-8")
    with pytest.raises(PublicationError, match=r"lists.court_defaulters: the list's rules are"):
        load_publication()
