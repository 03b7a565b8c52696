"""Where Splink runs: DuckDB inside this process (the default) or Spark, chosen by configuration.

:func:`linkage.engine.link` and :func:`linkage.train.train` ask this module for a Splink
backend; nothing else changes between the two: the same reviewed model files, the same
deterministic pass before them, the same result frames after them.

**Configuration** (environment variables, read here and nowhere else, :func:`spark_config`):

=================================== ===================================================
``CREDLINK_LINKAGE_BACKEND``        ``duckdb`` (default) or ``spark``
``CREDLINK_SPARK_MASTER``           the master URL, default ``local[2]``
                                    (``spark://host:7077``, ``yarn``, ``k8s://...``)
``CREDLINK_SPARK_DRIVER_MEMORY``    default ``2g``
``CREDLINK_SPARK_EXECUTOR_MEMORY``  unset: Spark's default (a cluster sets it)
``CREDLINK_SPARK_SHUFFLE_PARTITIONS`` ``spark.sql.shuffle.partitions``; default twice the
                                    cores of a local master (``local[2]``: 4), else 200
                                    (a cluster sets about 2-3 times its cores)
``CREDLINK_SPARK_WORK_DIR``         default ``<data>/spark``: Splink's checkpoints, the
                                    Parquet handed to Spark and read back, Spark's scratch
                                    space. On a cluster every executor and the driver must
                                    see it (a shared file system).
``CREDLINK_SPARK_BREAK_LINEAGE``    how Splink cuts Spark's query plans between steps:
                                    ``parquet`` (Splink's default: files in the work
                                    folder), ``persist`` (memory) or ``checkpoint``
``CREDLINK_SPARK_PYTHON``           the Python of Spark's Python workers (default:
                                    ``$PYSPARK_PYTHON``, else this interpreter; on a
                                    cluster, one with credlink and DuckDB installed)
``CREDLINK_SPARK_CONF``             more Spark settings, ``key=value`` separated by ``;``
                                    (they win over the above)
=================================== ===================================================

**One Spark session per process** (:func:`spark_session`), made on first use with Splink's
Scala UDF jar (``damerau_levenshtein`` and Splink's other string distances; it ships in the
Splink wheel) and stopped when the process exits (or by :func:`stop_spark`).

**Data in and out.** A spine kept in the lake (``linkage.person_spine``,
``linkage.organisation_spine``: a daily run's spine, unchanged or updated with the registries'
new rows) is read by Spark from the lake's own Parquet partitions and folded in Spark as the
lake folds a delta table (base, deltas, tombstones), with the run's changes to it (the delta
its commit will write) as one small file in the work folder: the driver does not write the
spine again. Other tables go to Spark as Parquet written by Polars into the work folder and
read with ``spark.read.parquet`` (no Python objects through Spark's ``createDataFrame``): the
records (standardised in Polars from the conformed tables, :mod:`linkage.records`), a spine the
run rebuilt (written once per spine frame: persons and legal representatives share it), the
term-frequency tables. Results come back the same way: Spark writes Parquet, Polars reads it.

**The models' SQL on Spark** (:func:`spark_sql`). Model files are DuckDB SQL and stay so; each
condition is translated with sqlglot, and where a DuckDB function has no Spark function of the
same meaning, an equivalent is used, so that every comparison level gives what it gives on
DuckDB:

* ``levenshtein`` and ``damerau_levenshtein``: DuckDB counts **bytes** of UTF-8 (one Han
  character is three: ``levenshtein('张伟', '张玮')`` is 3), Spark counts characters; both
  sides are handed to Spark's function (the jar's for Damerau-Levenshtein, NULL for a NULL
  side as DuckDB has it) as one Latin-1 character per byte
  (``decode(encode(x, 'UTF-8'), 'ISO-8859-1')``), which gives DuckDB's numbers exactly;
* ``jaro_winkler_similarity``, ``jaro_similarity``, ``jaccard``, ``hamming``, ``lower``,
  ``upper``: the jar's and Java's disagree with DuckDB's (another matching window, another
  empty-string rule, other case rules: ``upper('straße')``), so they are DuckDB's own, run
  on Arrow batches inside Spark's Python workers (``credlink_duckdb_*``);
* ``concat`` skips NULLs and casts to text, ``a / 0`` is IEEE's (infinity), ``a // 0`` and
  ``a % 0`` are NULL, as in DuckDB; a cast to anything but text is refused on Spark
  (DuckDB rounds ``'1.5'`` to 2, Spark does not): :class:`SparkTranslationError`;
* Splink's deterministic sampling and chunking (u by random sampling, EM samples) hash the
  record ids: on Spark they hash with DuckDB's ``hash`` (``credlink_duckdb_hash``), so that
  training samples the same pairs on both backends and gives the same model.

``tests/linkage/test_spark_backend.py`` evaluates every function a model may call
(:data:`linkage.model.ALLOWED_FUNCTIONS`) on both engines and compares.

A trained model is written in the DuckDB form whatever the backend (:func:`duckdb_form`):
the same file, the same version.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import shutil
import subprocess
import sys
import threading
import uuid
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import polars as pl
import pyarrow as pa
import sqlglot
from sqlglot import exp

from credlink.settings import data_dir

if TYPE_CHECKING:  # pragma: no cover - types only
    from pyspark.sql import DataFrame as SparkFrame
    from pyspark.sql import SparkSession
    from splink.internals.splink_dataframe import SplinkDataFrame

    from credlink.linkage.spine_store import LakeSpine

__all__ = [
    "BACKENDS",
    "BACKEND_ENV",
    "SparkConfig",
    "SplinkBackend",
    "duckdb_form",
    "java_available",
    "linkage_backend",
    "open_backend",
    "spark_config",
    "spark_session",
    "spark_settings",
    "spark_sql",
    "stop_spark",
]

log = logging.getLogger(__name__)

BACKEND_ENV = "CREDLINK_LINKAGE_BACKEND"
BACKENDS = ("duckdb", "spark")
Backend = Literal["duckdb", "spark"]


class BackendError(RuntimeError):
    """The configured backend cannot run (an unknown name, no Java for Spark ...)."""


def linkage_backend() -> Backend:
    """The configured backend: ``$CREDLINK_LINKAGE_BACKEND``, ``duckdb`` when unset."""
    name = os.environ.get(BACKEND_ENV, "").strip().lower() or "duckdb"
    if name not in BACKENDS:
        raise BackendError(f"{BACKEND_ENV}={name!r}: expected one of {', '.join(BACKENDS)}")
    return name  # type: ignore[return-value]


# --- Spark configuration -----------------------------------------------------------------------


@dataclass(frozen=True)
class SparkConfig:
    """The Spark settings of a deployment (see the module doc for the variables)."""

    master: str = "local[2]"
    driver_memory: str = "2g"
    executor_memory: str | None = None
    shuffle_partitions: int = 4
    work_dir: Path = field(default_factory=lambda: data_dir() / "spark")
    break_lineage: str = "parquet"
    python: str = sys.executable
    extra: dict[str, str] = field(default_factory=dict)

    def conf(self) -> dict[str, str]:
        """The Spark settings the session is built with (``extra`` last: it wins)."""
        from splink.backends.spark import similarity_jar_location

        out = {
            "spark.master": self.master,
            "spark.app.name": "credlink-linkage",
            "spark.driver.memory": self.driver_memory,
            "spark.sql.shuffle.partitions": str(self.shuffle_partitions),
            "spark.default.parallelism": str(self.shuffle_partitions),
            "spark.local.dir": str(self.work_dir / "scratch"),
            "spark.sql.warehouse.dir": str(self.work_dir / "warehouse"),
            "spark.sql.session.timeZone": "UTC",
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            "spark.pyspark.python": self.python,
            "spark.sql.execution.arrow.pyspark.enabled": "true",
        }
        if self.master.startswith("local"):
            # One machine: the driver on the loopback (not whatever the host name resolves to).
            out["spark.driver.host"] = "127.0.0.1"
            out["spark.driver.bindAddress"] = "127.0.0.1"
        if self.executor_memory:
            out["spark.executor.memory"] = self.executor_memory
        jars = [similarity_jar_location()]
        if "spark.jars" in self.extra:
            jars += [j for j in self.extra["spark.jars"].split(",") if j]
        out.update(self.extra)
        out["spark.jars"] = ",".join(jars)
        return out


def _positive_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise BackendError(f"{name}={raw!r}: expected a positive whole number")
    return value


def default_partitions(master: str) -> int:
    """Shuffle partitions when none are configured: twice the cores of a local master
    (``local[2]`` -> 4, ``local[*]`` -> twice this machine's), else Spark's own 200."""
    m = re.fullmatch(r"local(?:\[(\d+|\*)(?:,\s*\d+)?\])?", master.strip())
    if not m:
        return 200
    cores = m.group(1) or "1"
    return 2 * ((os.cpu_count() or 1) if cores == "*" else int(cores))


def spark_config() -> SparkConfig:
    """The Spark settings from the environment (every ``CREDLINK_SPARK_*`` variable)."""
    env = os.environ
    extra: dict[str, str] = {}
    for item in env.get("CREDLINK_SPARK_CONF", "").split(";"):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise BackendError(f"CREDLINK_SPARK_CONF: {item!r} is not key=value")
        extra[key.strip()] = value.strip()
    lineage = env.get("CREDLINK_SPARK_BREAK_LINEAGE", "").strip() or "parquet"
    if lineage not in ("parquet", "persist", "checkpoint"):
        raise BackendError(
            f"CREDLINK_SPARK_BREAK_LINEAGE={lineage!r}: expected parquet, persist or checkpoint"
        )
    work = env.get("CREDLINK_SPARK_WORK_DIR", "").strip()
    master = env.get("CREDLINK_SPARK_MASTER", "").strip() or "local[2]"
    return SparkConfig(
        master=master,
        driver_memory=env.get("CREDLINK_SPARK_DRIVER_MEMORY", "").strip() or "2g",
        executor_memory=env.get("CREDLINK_SPARK_EXECUTOR_MEMORY", "").strip() or None,
        shuffle_partitions=_positive_int(
            "CREDLINK_SPARK_SHUFFLE_PARTITIONS", default_partitions(master)
        ),
        work_dir=Path(work).resolve() if work else data_dir() / "spark",
        break_lineage=lineage,
        python=(
            env.get("CREDLINK_SPARK_PYTHON", "").strip()
            or env.get("PYSPARK_PYTHON", "").strip()
            or sys.executable
        ),
        extra=extra,
    )


def java_available() -> bool:
    """Whether a Java runtime is there for Spark (``java`` on the PATH or in ``$JAVA_HOME``)."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return True
    return shutil.which("java") is not None


# --- the session ---------------------------------------------------------------------------------

_LOCK = threading.RLock()
_SESSION: SparkSession | None = None
_SESSION_CONFIG: SparkConfig | None = None


def spark_session(config: SparkConfig | None = None) -> SparkSession:
    """The process's Spark session, made on first use (with `config`, by default
    :func:`spark_config`) and stopped at exit. Asking again with other session settings
    raises: stop the session first (:func:`stop_spark`). The work folder and the
    break-lineage method are settings of each run (the session keeps its first scratch
    space)."""
    global _SESSION, _SESSION_CONFIG
    cfg = config or spark_config()
    with _LOCK:
        if _SESSION is not None:
            if _SESSION_CONFIG is None or _jvm_conf(cfg) != _jvm_conf(_SESSION_CONFIG):
                raise BackendError(
                    "a Spark session with another configuration is running in this process: "
                    "stop it first (linkage.backend.stop_spark)"
                )
            return _SESSION
        if not java_available():
            raise BackendError(
                f"{BACKEND_ENV}=spark needs a Java runtime (17 or 21): none on the PATH or "
                "in JAVA_HOME"
            )
        from pyspark.sql import SparkSession

        for sub in ("scratch", "warehouse", "calls", "frames"):
            (cfg.work_dir / sub).mkdir(parents=True, exist_ok=True)
        # The Python of Spark's workers: PySpark reads it from the environment.
        os.environ["PYSPARK_PYTHON"] = cfg.python
        builder = SparkSession.builder
        for key, value in cfg.conf().items():
            builder = builder.config(key, value)
        session = builder.getOrCreate()
        session.sparkContext.setLogLevel("ERROR")
        _register_functions(session)
        _SESSION, _SESSION_CONFIG = session, cfg
        log.info("Spark %s session on %s (work folder %s)", session.version, cfg.master,
                 cfg.work_dir)  # fmt: skip
        return session


def _jvm_conf(config: SparkConfig) -> dict[str, str]:
    """The settings a running session cannot change (all but its folders)."""
    folders = ("spark.local.dir", "spark.sql.warehouse.dir")
    return {k: v for k, v in config.conf().items() if k not in folders}


def stop_spark() -> None:
    """Stop the process's Spark session and end its JVM, if there is one."""
    global _SESSION, _SESSION_CONFIG
    with _LOCK:
        session, _SESSION, _SESSION_CONFIG = _SESSION, None, None
        for folder in _FRAMES.values():
            _remove(folder)
        _FRAMES.clear()
        if session is None:
            return
        from pyspark import SparkContext

        session.stop()
        # PySpark keeps the JVM for a next session until this process ends; end it now. It
        # exits when its stdin closes.
        gateway = SparkContext._gateway
        if gateway is None:
            return
        proc = getattr(gateway, "proc", None)
        try:
            gateway.shutdown()
        except Exception:
            log.debug("Spark gateway shutdown failed", exc_info=True)
        if proc is not None:
            if proc.stdin is not None:
                proc.stdin.close()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        SparkContext._gateway = None
        SparkContext._jvm = None


atexit.register(stop_spark)


# --- DuckDB's functions inside Spark -----------------------------------------------------------

#: Spark name -> (DuckDB SQL over the arguments a0, a1 ..., their number, Spark return type).
#: Each is DuckDB's own function; NULL where DuckDB would raise (``try``): Spark evaluates a
#: Python function on every row, also where DuckDB's ``AND`` or ``CASE`` would not have.
_DUCKDB_FUNCTIONS: dict[str, tuple[str, int, str]] = {
    "credlink_duckdb_jaro_winkler": ("try(jaro_winkler_similarity(a0, a1))", 2, "double"),
    "credlink_duckdb_jaro": ("try(jaro_similarity(a0, a1))", 2, "double"),
    "credlink_duckdb_jaccard": ("try(jaccard(a0, a1))", 2, "double"),
    "credlink_duckdb_hamming": ("try(hamming(a0, a1))", 2, "bigint"),
    "credlink_duckdb_lower": ("lower(a0)", 1, "string"),
    "credlink_duckdb_upper": ("upper(a0)", 1, "string"),
    # DuckDB's hash is a UBIGINT: as DECIMAL(20, 0), Spark keeps every value exactly.
    "credlink_duckdb_hash": ("CAST(hash(a0) AS DECIMAL(20, 0))", 1, "decimal(20,0)"),
}

_WORKER_DUCKDB: Any = None


def _duckdb_eval(sql: str, *arrays: pa.Array) -> pa.Array:
    """``SELECT <sql> FROM`` the arrays as columns ``a0, a1 ...``, in DuckDB (one thread: the
    rows come back in order). Runs in Spark's Python workers."""
    global _WORKER_DUCKDB
    import duckdb

    if _WORKER_DUCKDB is None:
        con = duckdb.connect()
        con.execute("SET autoinstall_known_extensions = false")
        con.execute("SET threads = 1")
        _WORKER_DUCKDB = con
    con = _WORKER_DUCKDB
    con.register("credlink_batch", pa.table({f"a{i}": a for i, a in enumerate(arrays)}))
    try:
        out = con.execute(f"SELECT {sql} AS v FROM credlink_batch").fetch_arrow_table()
    finally:
        con.unregister("credlink_batch")
    return out.column("v").combine_chunks()


def _duckdb_function(sql: str, arity: int) -> Any:
    """A function of `arity` Arrow arrays evaluating `sql` in DuckDB (:func:`_duckdb_eval`)."""
    if arity == 2:

        def two(a0: pa.Array, a1: pa.Array) -> pa.Array:
            return _duckdb_eval(sql, a0, a1)

        return two

    def one(a0: pa.Array) -> pa.Array:
        return _duckdb_eval(sql, a0)

    return one


def _register_functions(spark: SparkSession) -> None:
    """Splink's jar functions (``damerau_levenshtein`` ...) and DuckDB's, for Spark SQL."""
    from pyspark.sql.functions import arrow_udf
    from splink.internals.spark.jar_location import get_scala_udfs

    for udf in get_scala_udfs():
        spark.udf.registerJavaFunction(*udf)

    scalar: Any = arrow_udf  # a scalar Arrow function by the type hints (pa.Array -> pa.Array)
    for name, (sql, arity, returns) in _DUCKDB_FUNCTIONS.items():
        spark.udf.register(name, scalar(_duckdb_function(sql, arity), returns))


# --- DuckDB SQL to Spark SQL ---------------------------------------------------------------------


def _bytes(node: exp.Expression) -> exp.Expression:
    """`node` as one Latin-1 character per UTF-8 byte (DuckDB's string distances count bytes)."""
    encoded = exp.Anonymous(this="encode", expressions=[node, exp.Literal.string("UTF-8")])
    return exp.Anonymous(this="decode", expressions=[encoded, exp.Literal.string("ISO-8859-1")])


def _call(name: str, *args: exp.Expression) -> exp.Expression:
    return exp.Anonymous(this=name, expressions=list(args))


def _args(node: exp.Expression) -> list[exp.Expression]:
    if isinstance(node, exp.Anonymous):
        return list(node.expressions)
    return [a for a in (node.this, node.args.get("expression")) if a is not None]


class SparkTranslationError(ValueError):
    """A model's SQL has no Spark equivalent here."""


#: DuckDB function (lower-case, as a model writes it) -> Spark function of the same meaning,
#: for functions sqlglot leaves untyped.
_ANONYMOUS = {
    "prefix": "startswith",
    "suffix": "endswith",
    "starts_with": "startswith",
    "ends_with": "endswith",
    "strlen": "octet_length",
}


_STRING_TYPES = (exp.DataType.Type.VARCHAR, exp.DataType.Type.TEXT, exp.DataType.Type.CHAR,
                 exp.DataType.Type.NVARCHAR, exp.DataType.Type.NCHAR)  # fmt: skip


def _by_zero(node: exp.Expression) -> exp.Expression:
    """`a / b`, `a // b`, `a % b` where `b` is 0 as DuckDB has them (Spark raises): ``a / 0``
    is IEEE's (+-infinity, NaN for 0 / 0), ``a // 0`` and ``a % 0`` are NULL."""
    divisor = node.args["expression"]
    if isinstance(divisor, exp.Literal) and not divisor.is_string and float(divisor.this) != 0:
        return node
    zero = exp.EQ(this=divisor.copy(), expression=exp.Literal.number(0))
    by_zero: exp.Expression = exp.Null()
    if isinstance(node, exp.Div):
        by_zero = exp.Mul(
            this=exp.Cast(this=node.this.copy(), to=exp.DataType.build("double")),
            expression=exp.Cast(this=exp.Literal.string("Infinity"),
                                to=exp.DataType.build("double")),
        )  # fmt: skip
    return exp.Case(ifs=[exp.If(this=zero, true=by_zero)], default=node)


def _null_if_either_null(args: list[exp.Expression], call: exp.Expression) -> exp.Expression:
    """`call` where no argument is NULL, else NULL (DuckDB's rule; the jar's functions give a
    number for NULL: ``damerau_levenshtein(NULL, 'a')`` is 100 there)."""
    either = exp.or_(*(exp.Is(this=a.copy(), expression=exp.Null()) for a in args))
    return exp.Case(ifs=[exp.If(this=either, true=exp.Null())], default=call)


def _to_spark(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Levenshtein):
        extra = {k for k, v in node.args.items() if v is not None} - {"this", "expression"}
        if extra:
            raise SparkTranslationError(f"levenshtein with {sorted(extra)} has no Spark form")
        return _call("levenshtein", *map(_bytes, _args(node)))
    if isinstance(node, exp.JarowinklerSimilarity):
        return _call("credlink_duckdb_jaro_winkler", *_args(node))
    if isinstance(node, exp.Lower | exp.Upper):
        return _call(f"credlink_duckdb_{type(node).__name__.lower()}", node.this)
    if isinstance(node, exp.Concat):
        # DuckDB's concat skips NULLs and casts to text (Spark's raises on '' as a number)
        parts = [
            exp.Coalesce(
                this=exp.Cast(this=a, to=exp.DataType.build("text")),
                expressions=[exp.Literal.string("")],
            )
            for a in node.expressions
        ]
        return _call("concat", *parts)
    if isinstance(node, exp.Div | exp.IntDiv | exp.Mod):
        return _by_zero(node)
    if isinstance(node, exp.Cast | exp.TryCast):
        to = node.args["to"]
        if to.this not in _STRING_TYPES:
            raise SparkTranslationError(
                f"CAST to {to.sql(dialect='duckdb')} has no Spark equivalent of the same "
                "meaning here (DuckDB rounds, Spark truncates or refuses): only casts to text"
            )
        return node
    if isinstance(node, exp.Anonymous):
        name = str(node.name).lower()
        args = list(node.expressions)
        if name == "levenshtein":
            return _call(name, *map(_bytes, args))
        if name == "damerau_levenshtein":
            return _null_if_either_null(args, _call(name, *map(_bytes, args)))
        if name in ("jaro_similarity", "jaro_winkler_similarity", "jaccard", "hamming"):
            short = {"jaro_similarity": "jaro", "jaro_winkler_similarity": "jaro_winkler"}
            return _call(f"credlink_duckdb_{short.get(name, name)}", *args)
        if name in ("lower", "upper"):
            return _call(f"credlink_duckdb_{name}", *args)
        if name in _ANONYMOUS:
            return _call(_ANONYMOUS[name], *args)
        if name in ("length", "substr", "substring", "coalesce", "contains", "abs"):
            return node
        raise SparkTranslationError(f"function {name!r} has no Spark equivalent here")
    return node


def _translate(node: exp.Expression) -> exp.Expression:
    """`node` in Spark SQL, children first (each node is translated once)."""
    for key, value in list(node.args.items()):
        if isinstance(value, exp.Expression):
            node.set(key, _translate(value))
        elif isinstance(value, list):
            node.set(key, [_translate(v) if isinstance(v, exp.Expression) else v for v in value])
    return _to_spark(node)


def spark_sql(sql: str) -> str:
    """One SQL condition of a model (DuckDB SQL: a comparison level or a blocking rule) as
    Spark SQL of the same meaning (see the module doc); raises
    :class:`SparkTranslationError` for what has no such equivalent here.

    Example: ``levenshtein("name_l", "name_r") <= 1`` -> ``LEVENSHTEIN(DECODE(ENCODE(`name_l`,
    'UTF-8'), 'ISO-8859-1'), DECODE(ENCODE(`name_r`, 'UTF-8'), 'ISO-8859-1')) <= 1``.
    """
    if sql.strip().upper() == "ELSE":
        return sql
    try:
        tree: Any = sqlglot.parse_one(sql, read="duckdb")
        return _translate(tree).sql(dialect="spark")
    except SparkTranslationError as e:
        raise SparkTranslationError(f"{sql!r}: {e}") from None


def spark_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Splink settings (a model's, DuckDB SQL) with every comparison level and blocking rule in
    Spark SQL (:func:`spark_sql`); `settings` is not changed."""
    import copy

    out = copy.deepcopy(settings)
    out.pop("sql_dialect", None)
    for comp in out.get("comparisons", []):
        for level in comp.get("comparison_levels", []):
            level["sql_condition"] = spark_sql(level["sql_condition"])
    rules = []
    for rule in out.get("blocking_rules_to_generate_predictions", []):
        sql = rule["blocking_rule"] if isinstance(rule, dict) else rule
        rules.append({"blocking_rule": spark_sql(str(sql)), "sql_dialect": "spark"})
    out["blocking_rules_to_generate_predictions"] = rules
    return out


def duckdb_form(trained: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    """A model trained on Spark (`trained`, Splink's ``save_model_to_json``) as training on
    DuckDB writes it: the SQL of `settings` (the model's, DuckDB SQL) as Splink renders it for
    DuckDB, everything else (the trained probabilities) from `trained`, in Splink's key order.
    Raises :class:`BackendError` when a level differs in anything but SQL and probabilities."""
    from splink.internals.settings_creator import SettingsCreator

    template = SettingsCreator.from_path_or_dict(settings).get_settings("duckdb").as_dict()
    mine, theirs = trained["comparisons"], template["comparisons"]
    if len(mine) != len(theirs):
        raise BackendError("trained model: another number of comparisons than its settings")
    comparisons = []
    for got, want in zip(mine, theirs, strict=True):
        name = want.get("output_column_name")
        if len(got["comparison_levels"]) != len(want["comparison_levels"]):
            raise BackendError(f"trained model: comparison {name} has other levels")
        levels = []
        for lv, ref in zip(got["comparison_levels"], want["comparison_levels"], strict=True):
            level = {k: ref["sql_condition"] if k == "sql_condition" else v for k, v in lv.items()}
            trained_only = ("m_probability", "u_probability")
            rest = {k: v for k, v in level.items() if k not in trained_only}
            if rest != {k: v for k, v in ref.items() if k not in trained_only}:
                raise BackendError(
                    f"trained model: a level of comparison {name} differs from its settings "
                    f"beyond the probabilities: {rest}"
                )
            levels.append(level)
        comparisons.append({**got, "comparison_levels": levels})
    duckdb_sql = ("sql_dialect", "blocking_rules_to_generate_predictions")
    return {
        k: comparisons if k == "comparisons" else template[k] if k in duckdb_sql else v
        for k, v in trained.items()
    }


# --- one link or training run ------------------------------------------------------------------


class SplinkBackend:
    """Splink's database for one link or training run: :attr:`api` for the Linker, and the
    few operations the engine needs that differ between the backends."""

    name: Backend
    api: Any

    def register(self, table: pl.DataFrame | pa.Table, name: str) -> SplinkDataFrame:
        """`table` as a Splink input table (``name``: its display name)."""
        raise NotImplementedError

    def register_lookup(self, table: pl.DataFrame | pa.Table, name: str) -> SplinkDataFrame:
        """`table` under the table name `name` (a term-frequency lookup)."""
        raise NotImplementedError

    def settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        """A model's settings in this backend's SQL."""
        return settings

    def rule(self, sql: str) -> str:
        """A blocking rule (EM) in this backend's SQL."""
        return sql

    def fetch(self, table: SplinkDataFrame, columns: list[str]) -> pl.DataFrame:
        """`columns` of a Splink result table as a Polars frame."""
        raise NotImplementedError

    def close(self) -> None:
        """Free what this run holds."""


class DuckDBBackend(SplinkBackend):
    """Splink's DuckDB in this process, as the engine has always used it."""

    name: Backend = "duckdb"

    def __init__(self, *, threads: int | None = None) -> None:
        from splink import DuckDBAPI

        self.api = DuckDBAPI()
        self.api.duckdb_con.execute("SET autoinstall_known_extensions = false")
        if threads is not None:
            self.api.duckdb_con.execute(f"SET threads = {int(threads)}")

    @staticmethod
    def _arrow(table: pl.DataFrame | pa.Table) -> pa.Table:
        return table.to_arrow() if isinstance(table, pl.DataFrame) else table

    def register(self, table: pl.DataFrame | pa.Table, name: str) -> SplinkDataFrame:
        return self.api.register(self._arrow(table), dataset_display_name=name)

    def register_lookup(self, table: pl.DataFrame | pa.Table, name: str) -> SplinkDataFrame:
        return self.api.register(self._arrow(table), table_name=name)

    def fetch(self, table: SplinkDataFrame, columns: list[str]) -> pl.DataFrame:
        select = ", ".join('"' + c.replace('"', '""') + '"' for c in columns)
        out = pl.from_arrow(
            self.api.duckdb_con.sql(f"SELECT {select} FROM {table.physical_name}").to_arrow_table()
        )
        assert isinstance(out, pl.DataFrame)
        return out


def _parquet_ready(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with the types Spark cannot read from Parquet made readable: an all-null
    column typed Null becomes String (still all null), categoricals become strings."""
    casts = {
        c: pl.String()
        for c, t in frame.schema.items()
        if t == pl.Null or isinstance(t, pl.Categorical | pl.Enum)
    }
    return frame.cast(casts) if casts else frame  # type: ignore[arg-type]


def _spine_file(frame: pl.DataFrame, owner: pl.DataFrame, folder: Path) -> Path:
    """`frame` written as Parquet into `folder`, removed when `owner` is."""
    path = folder / f"{uuid.uuid4().hex}.parquet"
    _parquet_ready(frame).write_parquet(path)
    weakref.finalize(owner, _remove, path)
    return path


def _frames_folder(config: SparkConfig) -> Path:
    """Where this session keeps the Parquet of frames written once, in the work folder of
    `config` (removed when the session stops)."""
    folder = _FRAMES.get(config.work_dir)
    if folder is None:
        folder = config.work_dir / "frames" / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        folder.mkdir(parents=True)
        _FRAMES[config.work_dir] = folder
    return folder


#: work folder -> this session's folder of frames there
_FRAMES: dict[Path, Path] = {}


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


class SparkBackend(SplinkBackend):
    """Splink's Spark backend on the process's session, with a work folder of its own for this
    run (removed by :meth:`close`)."""

    name: Backend = "spark"

    def __init__(self, config: SparkConfig | None = None) -> None:
        from splink import SparkAPI

        self.config = config or spark_config()
        self.spark = spark_session(self.config)
        self.folder = self.config.work_dir / "calls" / uuid.uuid4().hex
        self.folder.mkdir(parents=True)  # (and "calls" with it, for a new work folder)
        self._n = 0
        self._views: list[str] = []
        # Splink's "parquet" lineage breaks write into the context's checkpoint folder.
        self.spark.sparkContext.setCheckpointDir(str(self.folder / "checkpoints"))
        self.api = SparkAPI(
            spark_session=self.spark,
            break_lineage_method=self.config.break_lineage,
            register_udfs_automatically=False,  # the session has them (spark_session)
        )
        # Sampling and chunking hash the ids as DuckDB does (the same sample on both backends).
        self.api.sql_dialect = _duckdb_hash_dialect()

    def _path(self, stem: str) -> Path:
        self._n += 1
        return self.folder / f"{self._n:03d}-{stem}"

    def read(self, table: pl.DataFrame | pa.Table, stem: str) -> SparkFrame:
        """`table` written as Parquet by Polars, read by Spark."""
        frame = table if isinstance(table, pl.DataFrame) else pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        path = self._path(stem).with_suffix(".parquet")
        _parquet_ready(frame).write_parquet(path)
        return self.spark.read.parquet(str(path))

    def read_spine(self, spine: pl.DataFrame, base: pl.DataFrame, key: str) -> SparkFrame:
        """The (prepared) `spine` as Spark reads it. A spine kept in the lake (`base` is a
        run's spine whose rows the lake holds, :func:`linkage.spine_store.lake_spine`) is read
        from the lake's own Parquet by Spark and folded there (:func:`_fold_delta`), with the
        run's changes to it, if any, as one more small file; any other spine is written once
        per spine frame `base` and `key` (persons and legal representatives link to the same
        spine in a run)."""
        from credlink.linkage.spine import derived
        from credlink.linkage.spine_store import lake_spine

        folder = _frames_folder(self.config)
        source = lake_spine(base)
        if source is not None:
            frame = self._read_lake_spine(source, spine, base, f"{folder}:{key}")
            if frame is not None:
                return frame
        path = derived(base, f"spark-parquet:{folder}:{key}",
                       lambda: _spine_file(spine, base, folder))  # fmt: skip
        return self.spark.read.parquet(str(path))

    def _read_lake_spine(
        self, source: LakeSpine, spine: pl.DataFrame, base: pl.DataFrame, key: str
    ) -> SparkFrame | None:
        """`spine` read by Spark from the lake partitions of `source` (and its pending changes,
        written once per `base` and `key`), or None where that would not give `spine` exactly:
        a partition whose columns are not `spine`'s in the same types (a spine cast for the
        model, an older file), an overlay column among them, or a model that does not compare
        the table's key. Or a lake on an object store: Spark would need the store's Hadoop
        connector (``s3a://``, hadoop-aws), which this deployment does not configure."""
        from credlink.etl.lake import DELTA_DELETED
        from credlink.linkage.spine import derived

        schema = spine.schema
        if source.key not in schema or not source.lake.is_local:
            return None
        files = source.files
        for d in files:
            got = pl.read_parquet_schema(d.path)
            if any(got.get(c) != schema[c] for c in spine.columns):
                return None
        overlay = files[-1].meta.get("overlay") if files else None
        if not files or (isinstance(overlay, dict) and set(overlay) & set(spine.columns)):
            return None
        parts = [(str(d.path), d.seq) for d in files]
        if source.pending is not None:
            upserts, gone = source.pending()
            if upserts.height or gone.height:
                rows = pl.concat(
                    [upserts.select(spine.columns).cast(schema).with_columns(
                        pl.lit(False).alias(DELTA_DELETED)),
                     gone.select(pl.col(source.key).cast(schema[source.key]),
                                 pl.lit(True).alias(DELTA_DELETED))],
                    how="diagonal",
                )  # fmt: skip
                folder = _frames_folder(self.config)
                path = derived(base, f"spark-lake-changes:{key}",
                               lambda: _spine_file(rows, base, folder))  # fmt: skip
                parts.append((str(path), max(seq for _, seq in parts) + 1))
        log.info("spine read by Spark from the lake: %d partition(s)%s", len(files),
                 " and this run's changes" if len(parts) > len(files) else "")  # fmt: skip
        return _fold_delta(self.spark, parts, source.key, spine.columns)

    def register(self, table: pl.DataFrame | pa.Table | SparkFrame, name: str) -> SplinkDataFrame:
        frame = table if _is_spark_frame(table) else self.read(table, name)
        sdf = self.api.register(frame, dataset_display_name=name)
        self._views.append(sdf.physical_name)
        return sdf

    def register_lookup(self, table: pl.DataFrame | pa.Table, name: str) -> SplinkDataFrame:
        sdf = self.api.register(self.read(table, name), table_name=name)
        self._views.append(sdf.physical_name)
        return sdf

    def view(self, frame: SparkFrame, stem: str) -> str:
        """`frame` as a temporary view of this run; its name."""
        name = f"credlink_{stem}_{self.folder.name[:8]}"
        frame.createOrReplaceTempView(name)
        self._views.append(name)
        return name

    def settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        return spark_settings(settings)

    def rule(self, sql: str) -> str:
        return spark_sql(sql)

    def to_polars(self, frame: SparkFrame, stem: str) -> pl.DataFrame:
        """`frame` written as Parquet by Spark, read by Polars (same column order)."""
        path = self._path(stem)
        frame.write.mode("overwrite").parquet(str(path))
        files = sorted(path.glob("*.parquet"))
        if not files:
            empty = pl.from_arrow(frame.limit(0).toArrow())
            assert isinstance(empty, pl.DataFrame)
            return empty
        out = pl.read_parquet(files).select(frame.columns)
        _remove(path)
        return out

    def fetch(self, table: SplinkDataFrame, columns: list[str]) -> pl.DataFrame:
        select = ", ".join("`" + c.replace("`", "``") + "`" for c in columns)
        return self.to_polars(self.spark.sql(f"SELECT {select} FROM {table.physical_name}"),
                              "result")  # fmt: skip

    def close(self) -> None:
        # Splink's tables of this run are temporary views of the session: what they hold
        # (persisted data, Parquet in this run's folder) goes here; the names are left.
        for name in self._views:
            self.spark.catalog.dropTempView(name)
        self.spark.catalog.clearCache()
        _remove(self.folder)


def _fold_delta(
    spark: SparkSession, parts: list[tuple[str, int]], key: str, columns: list[str]
) -> SparkFrame:
    """The current rows of a delta table in Spark, as :meth:`etl.lake.Lake.read` folds it:
    `parts` are its Parquet files with their sequence numbers (0: the base), each later one
    holding whole rows that replace the rows of the same `key` and tombstones
    (``_delta_deleted``) for keys that left; only `columns` are kept."""
    from functools import reduce

    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from credlink.etl.lake import DELTA_DELETED

    base = [path for path, seq in parts if seq == 0]
    deltas = [(path, seq) for path, seq in parts if seq > 0]
    current = spark.read.parquet(*base).select(*columns) if base else None
    if not deltas:
        assert current is not None
        return current
    frames = []
    for path, seq in deltas:
        frame = spark.read.parquet(path)
        if DELTA_DELETED not in frame.columns:
            frame = frame.withColumn(DELTA_DELETED, F.lit(False))
        frames.append(frame.select(*columns, DELTA_DELETED).withColumn("_delta_seq", F.lit(seq)))
    changed = reduce(lambda a, b: a.unionByName(b), frames)
    newest = F.max("_delta_seq").over(Window.partitionBy(key))
    latest = changed.withColumn("_newest", newest).filter(F.col("_delta_seq") == F.col("_newest"))
    live = latest.filter(~F.coalesce(F.col(DELTA_DELETED), F.lit(False))).select(*columns)
    if current is None:
        return live
    kept = current.join(latest.select(key), on=key, how="left_anti")
    return kept.unionByName(live)


def _is_spark_frame(obj: object) -> bool:
    return type(obj).__module__.startswith("pyspark.")


def _duckdb_hash_dialect() -> Any:
    """Splink's Spark dialect, hashing ids with DuckDB's ``hash`` (see the module doc)."""
    from splink.internals.dialects import SparkDialect

    class DuckDBHashSparkDialect(SparkDialect):
        def hash_function_expression(self, col_expression: str) -> str:
            return f"credlink_duckdb_hash({col_expression})"

        def hash_bucket_expression(self, col_expression: str, modulus: int) -> str:
            # DuckDB's bucket (splink's DuckDBDialect): hash(x) % modulus on the UBIGINT
            if modulus <= 0:
                raise ValueError("modulus must be positive")
            return f"({self.hash_function_expression(col_expression)} % {modulus})"

    global _HASH_DIALECT
    if _HASH_DIALECT is None:
        _HASH_DIALECT = DuckDBHashSparkDialect()
    return _HASH_DIALECT


_HASH_DIALECT: Any = None


@contextmanager
def open_backend(*, threads: int | None = None) -> Iterator[SplinkBackend]:
    """The configured backend (:func:`linkage_backend`) for one run, closed afterwards.
    `threads`: DuckDB's thread count (training uses 1: the same data gives the same file)."""
    spark = linkage_backend() == "spark"
    backend: SplinkBackend = SparkBackend() if spark else DuckDBBackend(threads=threads)
    try:
        yield backend
    finally:
        backend.close()
