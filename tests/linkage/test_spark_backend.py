"""Linkage on Spark (local mode, the machine's Java) against DuckDB, on the small world: the same
SQL meaning, the same trained model file, the same links, bands and best candidates record for
record, probabilities within a bound measured here; a kept spine read by Spark from the lake's
Parquet and folded as the lake folds it; the linkage stage's tables over three runs equal.

One Spark session serves the module (``spark`` fixture) and is stopped at its end, its JVM
with it. Without Java the Spark tests skip, saying so; CI has Java (``.ci/run`` checks).
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from credlink.etl.lake import Lake
from credlink.linkage.backend import (
    BACKEND_ENV,
    BackendError,
    SparkTranslationError,
    default_partitions,
    java_available,
    linkage_backend,
    spark_config,
    spark_session,
    spark_sql,
    stop_spark,
)
from credlink.linkage.deterministic import deterministic_pass
from credlink.linkage.engine import LinkResult, link
from credlink.linkage.model import ALLOWED_FUNCTIONS, current_model_path, load_model
from credlink.linkage.records import read_organisation_records, read_person_records
from credlink.linkage.spine import read_organisation_spine, read_person_spine
from credlink.linkage.train import train_from_lake

NO_JAVA = (
    "Spark needs a Java runtime (17 or 21): no `java` on the PATH and no JAVA_HOME; "
    "install a JDK to run the Spark backend tests (CI has one)"
)
needs_java = pytest.mark.skipif(not java_available(), reason=NO_JAVA)

#: The largest difference allowed between the backends in any probability or match weight.
#: Measured on the small world: at most 1.8e-15 (Spark and DuckDB add the same doubles in
#: another order, and take their logarithms with other libraries).
MAX_DIFF = 1e-12

pytestmark = pytest.mark.filterwarnings(
    "ignore:PySpark does not yet fully support pandas:FutureWarning"
)


@contextmanager
def backend(name: str) -> Iterator[None]:
    """`CREDLINK_LINKAGE_BACKEND=name` inside the block."""
    before = os.environ.get(BACKEND_ENV)
    os.environ[BACKEND_ENV] = name
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(BACKEND_ENV, None)
        else:
            os.environ[BACKEND_ENV] = before


# --- configuration (no Java needed) --------------------------------------------------------------


def test_configuration_in_one_place(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in [k for k in os.environ if k.startswith(("CREDLINK_SPARK_", BACKEND_ENV))]:
        monkeypatch.delenv(key)
    assert linkage_backend() == "duckdb"  # the default, unchanged
    cfg = spark_config()
    assert (cfg.master, cfg.shuffle_partitions, cfg.break_lineage) == ("local[2]", 4, "parquet")
    assert cfg.work_dir.name == "spark" and cfg.python
    monkeypatch.setenv(BACKEND_ENV, "Spark")
    monkeypatch.setenv("CREDLINK_SPARK_MASTER", "spark://head:7077")
    monkeypatch.setenv("CREDLINK_SPARK_DRIVER_MEMORY", "8g")
    monkeypatch.setenv("CREDLINK_SPARK_WORK_DIR", str(tmp_path))
    monkeypatch.setenv("CREDLINK_SPARK_CONF", "spark.executor.cores=4; spark.jars=/x.jar")
    assert linkage_backend() == "spark"
    cfg = spark_config()
    assert (cfg.master, cfg.driver_memory, cfg.work_dir) == ("spark://head:7077", "8g", tmp_path)
    assert cfg.shuffle_partitions == 200 == default_partitions("yarn")
    conf = cfg.conf()
    assert conf["spark.executor.cores"] == "4" and "spark.driver.host" not in conf
    jars = conf["spark.jars"].split(",")
    assert jars[1] == "/x.jar" and jars[0].endswith(".jar") and "similarity" in jars[0]
    assert (default_partitions("local[3]"), default_partitions("local")) == (6, 2)
    for key, value in (
        (BACKEND_ENV, "hadoop"),
        ("CREDLINK_SPARK_SHUFFLE_PARTITIONS", "0"),
        ("CREDLINK_SPARK_BREAK_LINEAGE", "delta"),
        ("CREDLINK_SPARK_CONF", "no-equals-sign"),
    ):
        with monkeypatch.context() as m:
            m.setenv(key, value)
            with pytest.raises(BackendError, match=key):
                linkage_backend()
                spark_config()


def test_spark_sql_is_refused_where_no_equivalent_is_known() -> None:
    assert spark_sql("ELSE") == "ELSE"
    with pytest.raises(SparkTranslationError, match="CAST to INT"):
        spark_sql('TRY_CAST("a_l" AS INTEGER) = 1')
    # DuckDB's byte-wise distances, DuckDB's own Jaro-Winkler
    assert "ISO-8859-1" in spark_sql('levenshtein("a_l", "a_r") <= 1')
    assert (
        "credlink_duckdb_jaro_winkler"
        in spark_sql('jaro_winkler_similarity("a_l", "a_r") > 0.9').lower()
    )


# --- Spark ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The module's Spark session (local[2], a work folder of its own), stopped at the end:
    its JVM ends too."""
    if not java_available():
        pytest.skip(NO_JAVA)
    from pyspark import SparkContext

    work = tmp_path_factory.mktemp("spark-work")
    env = {"CREDLINK_SPARK_WORK_DIR": str(work), "CREDLINK_SPARK_MASTER": "local[2]",
           "CREDLINK_SPARK_SHUFFLE_PARTITIONS": "2"}  # fmt: skip
    saved = {
        k: os.environ.get(k) for k in [*env, "CREDLINK_SPARK_CONF", "CREDLINK_SPARK_BREAK_LINEAGE"]
    }
    os.environ.update(env)
    os.environ.pop("CREDLINK_SPARK_CONF", None)
    os.environ.pop("CREDLINK_SPARK_BREAK_LINEAGE", None)
    jvm = None
    try:
        session = spark_session()
        jvm = SparkContext._gateway.proc  # type: ignore[union-attr]
        yield session
        # Every link and training run removed its own folder.
        assert not any((work / "calls").iterdir())
    finally:
        stop_spark()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    assert jvm is not None and jvm.poll() is not None, "the JVM is still running after stop_spark()"
    assert not (work / "frames").exists() or not any((work / "frames").iterdir())


#: Values that tell the engines apart: Han (three UTF-8 bytes a character), combining marks,
#: German and Turkish case rules, empty strings, NULLs, digits.
VALUES = ["zhang wei", "zhang wie", "张伟", "张玮", "王小明", "王晓明", "", None, "Müller",
          "muller", "e\u0301", "é", "ÄİΣ", "straße", "  a ", "abc", "ab", "110101199003071234",
          "11010119900307123X", "1.5", "a%b", "lü"]  # fmt: skip

#: Every function a model may call (linkage.model.ALLOWED_FUNCTIONS and the typed ones), with
#: the constructs around them.
EXPRESSIONS = [
    "levenshtein(a_l, a_r)", "damerau_levenshtein(a_l, a_r)", "jaro_similarity(a_l, a_r)",
    "jaro_winkler_similarity(a_l, a_r)", "jaro_winkler_similarity(a_l, a_r) >= 0.92",
    "CASE WHEN length(a_l) > 2 AND length(a_r) > 2 THEN jaccard(a_l, a_r) END",
    "hamming(a_l || 'ab', a_l || 'ba')",
    "length(a_l)", "strlen(a_l)", "lower(a_l)", "upper(a_l)", "substr(a_l, 2, 3)",
    "substring(a_l, 1, 2)", "coalesce(a_l, 'x')", "prefix(a_l, a_r)", "suffix(a_l, a_r)",
    "starts_with(a_l, a_r)", "ends_with(a_l, a_r)", "contains(a_l, a_r)", "abs(n_l - n_r)",
    "concat(a_l, a_r)", "concat(a_l, n_l)", "a_l || a_r", "left(a_l, 2)", "right(a_l, 2)",
    "trim(a_l)", "nullif(a_l, a_r)", "least(n_l, n_r)", "greatest(n_l, n_r)",
    "least(a_l, a_r)", "round(n_l / 3, 2)", "round(n_l / 2)", "floor(n_l / 3)",
    "ceil(n_l / 3)", "year(d_l)", "month(d_l)", "day(d_l)", "a_l IS NOT DISTINCT FROM a_r",
    "CAST(n_l AS VARCHAR)", "CAST(d_l AS VARCHAR)", "n_l // 3", "n_l % 3", "n_l / n_r",
    "n_l // n_r", "n_l % n_r", "IF(n_l > 2, 'a', 'b')", "a_l ILIKE 'zh%'", "a_l LIKE '%a%'",
    "a_l IN ('abc', 'ab')", "n_l BETWEEN -5 AND 5", "NOT (a_l = a_r)", "a_l <> a_r",
    "length(a_l) = length(a_r) AND levenshtein(a_l, a_r) = 1",
    "(CASE WHEN n_l IS NULL THEN a_l = a_r ELSE n_l = n_r END)",
]  # fmt: skip


@needs_java
def test_spark_sql_means_what_duckdb_sql_means(spark: Any, tmp_path: Path) -> None:
    """Each expression over every pair of the values, on DuckDB and translated on Spark."""
    from datetime import date as d

    untested = {n for n in ALLOWED_FUNCTIONS if not any(f"{n}(" in e for e in EXPRESSIONS)}
    assert not untested, f"allowed in a model, not compared here: {sorted(untested)}"
    rows = [
        (i * len(VALUES) + j, a, b, (i * 7 - 40) if i % 5 else None, j - 3,
         d(2000 + i, 1 + j % 12, 1 + (i + j) % 28))
        for i, a in enumerate(VALUES)
        for j, b in enumerate(VALUES)
    ]  # fmt: skip
    table = pl.DataFrame(
        rows, orient="row",
        schema={"i": pl.Int64, "a_l": pl.String, "a_r": pl.String, "n_l": pl.Int64,
                "n_r": pl.Int64, "d_l": pl.Date},
    )  # fmt: skip
    path = tmp_path / "values.parquet"
    table.write_parquet(path)
    spark.read.parquet(str(path)).createOrReplaceTempView("credlink_values")
    cols = ", ".join(f"{e} AS v{k}" for k, e in enumerate(EXPRESSIONS))
    con = duckdb.connect()
    con.register("credlink_values", table)
    want = con.sql(f"SELECT i, {cols} FROM credlink_values ORDER BY i").pl()
    spark_cols = ", ".join(f"{spark_sql(e)} AS v{k}" for k, e in enumerate(EXPRESSIONS))
    got = pl.from_arrow(
        spark.sql(f"SELECT i, {spark_cols} FROM credlink_values ORDER BY i").toArrow()
    )
    assert isinstance(got, pl.DataFrame)
    for k, expr in enumerate(EXPRESSIONS):
        a, b = want[f"v{k}"], got[f"v{k}"]
        if a.dtype.is_numeric() and b.dtype.is_numeric():  # Int32 on one side, Int64 on the other
            a, b = a.cast(pl.Float64), b.cast(pl.Float64)
        differ = [(rows[n][1:], x, y) for n, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        assert not differ, f"{expr}: DuckDB and Spark differ, e.g. {differ[:3]}"


def _train_both(lake: Lake, subject: str, root: Path) -> dict[str, Any]:
    out = {}
    for name in ("duckdb", "spark"):
        with backend(name):
            # Splink's steps kept in memory, not written as Parquet: a third less time here,
            # and the Parquet path (the default) is the linking's below.
            os.environ["CREDLINK_SPARK_BREAK_LINEAGE"] = "persist"
            try:
                out[name] = train_from_lake(subject, lake, on=date(2025, 7, 1),
                                            models_dir=root / name)  # fmt: skip
            finally:
                os.environ.pop("CREDLINK_SPARK_BREAK_LINEAGE", None)
    return out


def _link_both(records: pl.DataFrame, spine: pl.DataFrame, model: Path) -> dict[str, LinkResult]:
    out = {}
    for name in ("duckdb", "spark"):
        with backend(name):
            out[name] = link(records, spine, model)
    return out


def _same_links(duck: LinkResult, spark: LinkResult) -> float:
    """Assert `spark` gives what `duck` gives (links, bands, best candidates, blocking counts,
    the model version, the frames' columns, types and order); the largest difference of a
    probability or match weight."""
    uid = duck.id_column
    assert spark.model_version == duck.model_version and spark.id_column == uid
    assert spark.blocking.equals(duck.blocking)
    for frame in ("pairs", "best"):
        a, b = getattr(duck, frame), getattr(spark, frame)
        assert a.schema == b.schema, frame
    # best: one row per record, in the records' order, the same candidate and band
    exact = [uid, "spine_id", "candidates", "band"]
    assert spark.best.select(exact).equals(duck.best.select(exact))
    # pairs: the same pairs, sorted alike (record, weight descending)
    keys = [uid, "spine_id"]
    a, b = duck.pairs.sort(keys), spark.pairs.sort(keys)
    assert b.select(keys).equals(a.select(keys))
    assert spark.pairs[uid].equals(duck.pairs[uid])
    worst = 0.0
    for frame, x, y in (("pairs", a, b), ("best", duck.best, spark.best)):
        for col in x.columns:
            if col in exact or col in keys or not x.schema[col].is_float():
                continue
            assert x[col].is_null().equals(y[col].is_null()), (frame, col)
            diff = (x[col] - y[col]).abs().max()
            worst = max(worst, float(diff) if diff is not None else 0.0)  # type: ignore[arg-type]
    assert worst <= MAX_DIFF, worst
    return worst


@pytest.mark.slow
@needs_java
def test_training_and_linking_on_spark_equal_duckdb(
    spark: Any, small_lake: Lake, tmp_path: Path
) -> None:
    """Persons: trained on both backends (the same file, so the same version), then the same
    links with it; the daily path (a few records: the spine pre-blocked) included.
    Organisations (the production model: contains, Damerau-Levenshtein on identifiers, Jaro-
    Winkler on names): the whole spine, no pre-blocking."""
    trained = _train_both(small_lake, "person", tmp_path)
    duck, on_spark = trained["duckdb"], trained["spark"]
    assert on_spark.version == duck.version
    assert on_spark.model_path.read_bytes() == duck.model_path.read_bytes()
    # the file holds DuckDB SQL, whatever trained it
    saved = json.loads(on_spark.model_path.read_text(encoding="utf-8"))
    assert saved["sql_dialect"] == "duckdb" and load_model(on_spark.model_path).is_trained
    assert "credlink_duckdb" not in on_spark.model_path.read_text(encoding="utf-8")

    records, spine = read_person_records(small_lake), read_person_spine(small_lake)
    rest = deterministic_pass(records, spine, "person").to_model
    worst = []
    for batch in (rest, rest.head(12)):
        both = _link_both(batch, spine, on_spark.model_path)
        assert "pre_block" in both["spark"].seconds  # a spine 20 times the records
        assert both["duckdb"].best.filter(pl.col("band") == "accept").height > 0
        worst.append(_same_links(both["duckdb"], both["spark"]))

    orgs, org_spine = read_organisation_records(small_lake), read_organisation_spine(small_lake)
    org_rest = deterministic_pass(orgs, org_spine, "organisation").to_model
    both = _link_both(org_rest, org_spine, current_model_path("organisation"))
    assert "pre_block" not in both["spark"].seconds
    worst.append(_same_links(both["duckdb"], both["spark"]))
    print(f"largest probability or weight difference, Spark vs DuckDB: {max(worst):.3g}")


# --- spines read from the lake by Spark ------------------------------------------------------


def _spine_partition(lake: Lake, key: str, frame: pl.DataFrame, meta: dict[str, str]) -> None:
    """A partition of ``linkage.person_spine`` with its delta metadata, written atomically as
    the lake writes (linkage's writer stages these through its commit)."""
    import credlink.etl.lake as lake_module

    where = lake.partition_location("linkage", "person_spine", key)
    lake_module._atomic_parquet(where, frame, metadata=meta)


def _rows(frame: pl.DataFrame) -> list[tuple[Any, ...]]:
    return sorted(frame.rows(), key=repr)


@needs_java
def test_spark_reads_a_kept_spine_from_the_lake_and_folds_it_as_the_lake_does(
    spark: Any, tmp_path: Path
) -> None:
    """A kept spine of a base and two deltas (a change, a tombstone, a new entry), and a run's
    pending changes to it: Spark reads the lake's three files and one file of the changes, and
    gives exactly the spine the run links against. A spine in other types than the lake's is
    written to the work folder instead, as before."""
    from credlink.etl.lake import DELTA_DELETED, WHOLE, delta_metadata
    from credlink.linkage.backend import SparkBackend
    from credlink.linkage.spine import remember
    from credlink.linkage.spine_store import LAKE_SOURCE, LakeSpine

    lake = Lake(tmp_path / "lake")
    meta = delta_metadata("unique_id", sort=["unique_id"])
    schema = {"unique_id": pl.String, "name_pinyin": pl.String, "birth_date": pl.Date,
              "fingerprint": pl.UInt64}  # fmt: skip
    d = date(1980, 1, 1)
    base = pl.DataFrame(
        [("1", "zhang wei", d, 1), ("2", "li na", d, 2), ("3", "wang fang", None, 3),
         ("4", "张伟", d, 4)], schema=schema, orient="row",
    )  # fmt: skip
    delta1 = pl.DataFrame(
        [("2", "li na", date(1981, 2, 3), 5, False), ("3", None, None, None, True)],
        schema={**schema, DELTA_DELETED: pl.Boolean}, orient="row",
    )  # fmt: skip
    delta2 = pl.DataFrame([("0", "chen jie", d, 6, False)],
                          schema={**schema, DELTA_DELETED: pl.Boolean}, orient="row")  # fmt: skip
    _spine_partition(lake, WHOLE, base, meta)
    _spine_partition(lake, "delta-00000001", delta1, meta)
    _spine_partition(lake, "delta-00000002", delta2, meta)
    files = tuple(lake.delta_files("linkage", "person_spine"))
    assert [f.seq for f in files] == [0, 1, 2]

    # this run: entry 4 changed, entry 1 gone
    upserts = pl.DataFrame([("4", "zhang wei", d, 7)], schema=schema, orient="row")
    gone = pl.DataFrame({"unique_id": ["1"], "fingerprint": [1]},
                        schema={"unique_id": pl.String, "fingerprint": pl.UInt64})  # fmt: skip
    kept = lake.read("linkage", "person_spine")
    ids = upserts.select("unique_id").vstack(gone.select("unique_id"))
    run_spine = pl.concat([kept.join(ids, on="unique_id", how="anti"), upserts])
    columns = ["unique_id", "name_pinyin", "birth_date"]
    spine = run_spine.select(columns)
    source = LakeSpine(lake, "person_spine", "unique_id", lambda: (upserts, gone))
    assert source.files == list(files)
    remember(spine, LAKE_SOURCE, source)
    before = {f.path: f.path.read_bytes() for f in files}

    db = SparkBackend()
    try:
        frame = db.read_spine(spine, spine, "prepared")
        read = [Path(uri.removeprefix("file:")) for uri in frame.inputFiles()]
        assert {p for p in read if p in before} == set(before)  # the lake's own files
        changes = [p for p in read if p not in before]
        assert len(changes) == 1 and changes[0].is_relative_to(db.config.work_dir / "frames")
        assert _rows(db.to_polars(frame, "lake-spine")) == _rows(spine)
        assert _rows(spine) == [
            ("0", "chen jie", d), ("2", "li na", date(1981, 2, 3)), ("4", "zhang wei", d),
        ]  # fmt: skip

        # the model's types differ from the lake's: the prepared spine is written instead
        cast = spine.with_columns(pl.col("birth_date").cast(pl.String))
        other = db.read_spine(cast, spine, "cast")
        paths = [Path(uri.removeprefix("file:")) for uri in other.inputFiles()]
        assert paths and not set(paths) & set(before)
        assert _rows(db.to_polars(other, "cast-spine")) == _rows(cast)
        # a model that does not compare the key: the lake's rows cannot be folded by it
        keyless = spine.select("name_pinyin", "birth_date")
        paths = [Path(u.removeprefix("file:")) for u in db.read_spine(keyless, spine, "no-key")
                 .inputFiles()]  # fmt: skip
        assert paths and not set(paths) & set(before)
    finally:
        db.close()
    assert {f.path: f.path.read_bytes() for f in files} == before  # the lake is only read


@pytest.mark.slow
@needs_java
def test_the_linkage_stage_on_spark_equals_duckdb_with_spines_kept_in_the_lake(
    spark: Any, small_world: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Three linkage runs on each backend, on two copies of the same lake: the history (the
    spines built), then two months of new and changed records (the spines updated: on Spark
    read from the lake's partitions, a base and then a delta, with the run's changes). Every
    linkage table is the same on both, apart from the time each run took."""
    import logging

    from lakes import stage_world

    from credlink.linkage.runs import read_runs
    from credlink.linkage.stage import run_linkage

    varies = ["seconds", "mtime_ns", "size"]
    bounds = [None, datetime(2025, 5, 1, tzinfo=UTC), datetime(2025, 6, 1, tzinfo=UTC),
              datetime(2025, 7, 1, tzinfo=UTC)]  # fmt: skip
    lakes = {}
    lake_reads = []
    for name in ("duckdb", "spark"):
        lake = Lake(tmp_path / name)
        for start, end in itertools.pairwise(bounds):
            assert end is not None
            stage_world(small_world.out, lake, end, start=start, run_id=f"stage-{end:%Y%m}",
                        docs_root=tmp_path / "docs")  # fmt: skip
            caplog.clear()
            with backend(name), caplog.at_level(logging.INFO, "credlink.linkage.backend"):
                run_linkage(lake, run_id=f"link-{end:%Y%m}", logical_date=end)
            if name == "spark":
                lake_reads.append(sum("spine read by Spark from the lake" in r.getMessage()
                                      for r in caplog.records))  # fmt: skip
        lakes[name] = lake
    runs = read_runs(lakes["spark"])
    modes = runs.group_by("run_id").agg(pl.col("spine_mode").unique().sort()).sort("run_id")
    assert modes["spine_mode"].to_list() == [["rebuilt"], ["updated"], ["updated"]]
    # the history built the spines; each month's run read them from the lake
    assert lake_reads[0] == 0 and all(n >= 1 for n in lake_reads[1:]), lake_reads
    compared, worst = 0, 0.0
    for dataset in lakes["duckdb"].datasets("linkage"):
        # how long a run took; the staged registry files' times and sizes (spine manifest)
        a = lakes["duckdb"].read("linkage", dataset).drop(varies, strict=False)
        b = lakes["spark"].read("linkage", dataset).drop(varies, strict=False)
        assert a.schema == b.schema, dataset
        worst = max(worst, _same_rows(a, b, dataset))
        compared += a.height
    assert compared > 1000
    print(f"{compared} rows equal; largest probability or weight difference: {worst:.3g}")


def _same_rows(a: pl.DataFrame, b: pl.DataFrame, name: str) -> float:
    """Assert `a` and `b` hold the same rows in any order: every column exactly but the
    floating-point ones (probabilities, weights), which may differ by :data:`MAX_DIFF`; the
    largest difference."""
    floats = [c for c, t in a.schema.items() if t.is_float()]
    exact = [c for c in a.columns if c not in floats]

    def ordered(frame: pl.DataFrame) -> pl.DataFrame:
        keys = [repr(r) for r in frame.select(exact).rows()]
        return frame[sorted(range(frame.height), key=keys.__getitem__)]

    x, y = ordered(a), ordered(b)
    assert x.select(exact).rows() == y.select(exact).rows(), name
    worst = 0.0
    for col in floats:
        assert x[col].is_null().equals(y[col].is_null()), (name, col)
        diff = (x[col] - y[col]).abs().max()
        worst = max(worst, float(diff) if diff is not None else 0.0)  # type: ignore[arg-type]
    assert worst <= MAX_DIFF, (name, worst)
    return worst
