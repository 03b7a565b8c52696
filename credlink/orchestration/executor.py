"""The project's executor: Airflow's LocalExecutor with the tasks' heavy imports done once.

Every task process pays for its imports: `great_expectations` alone takes 5-8 s here, pandas,
Polars and SQLAlchemy about 2 s more, Airflow's task runner another second; an ingest task spent
most of its 25 s on them, whatever its interval held. On Linux Airflow 3.3's LocalExecutor
forks its workers from the scheduler (`multiprocessing` start method `fork`, at `start()`), a
worker's task supervisor forks the task process with a bare `os.fork` (airflow/sdk/
execution_time/supervisor.py), and a forked process inherits its parent's imported modules. So
:class:`PreloadingLocalExecutor` imports the third-party modules the tasks use (:data:`PRELOAD`)
in the scheduler just before the workers are forked; each task then starts with them loaded
(copy-on-write: the pages are shared, not copied).

What is preloaded, and what not:

- **Import only.** Nothing is run: no Polars, pandas or DuckDB computation, no DuckDB
  connection, no GX context, so no thread pool or connection exists in the scheduler when it
  forks (Polars' and DuckDB's thread pools start on first use, in the task; an import starts only
  allocator threads, whose allocators handle fork themselves). tests/dags/test_executor.py
  checks that forked children compute with them.
- **Third-party code only.** The project's task modules are imported for what they import,
  then forgotten (their own modules, `etl`, `linkage`, `publish`, `credlink`..., leave
  `sys.modules`): each task imports the project's code afresh (about 0.1 s) and parses its DAG
  file as before, so a change to the project's code reaches the next task without restarting
  the scheduler. A change to an installed package needs a scheduler restart, as it would anyway.
- Only with the `fork` start method (Linux): elsewhere workers are spawned, re-import
  everything, and preloading would only cost the scheduler memory.

Configured in airflow.cfg:
`[core] executor = credlink.orchestration.executor.PreloadingLocalExecutor` (Airflow loads an
executor by its module path; it is a local executor, like the LocalExecutor it extends).
"""

from __future__ import annotations

import importlib
import logging
import sys
import time

from airflow.executors.local_executor import LocalExecutor

log = logging.getLogger(__name__)

#: The modules the tasks import: the DAG files' and the task bodies' entry points (project
#: modules, imported for their third-party imports, then dropped again, see :func:`preload`) and
#: what Airflow's task runner needs.
PRELOAD = (
    # Airflow's task side: the task runner, the DAG bag it parses the DAG file with
    "airflow.sdk",
    "airflow.sdk.execution_time.task_runner",
    "airflow.dag_processing.dagbag",
    "airflow.providers.standard.decorators.python",
    # the DAG files and the task bodies
    "credlink.orchestration.ingest_dag",
    "credlink.orchestration.linkage_dag",
    "credlink.orchestration.publish_dag",
    "credlink.orchestration.runtime",
    "credlink.orchestration.linkage_runtime",
    "credlink.orchestration.publish_runtime",
    # validation: imported inside etl.validate's functions, so named here
    "pandas",
    "great_expectations",
    "great_expectations.expectations",
    "great_expectations.checkpoint",
    "great_expectations.core.run_identifier",
    "great_expectations.data_context.types.base",
    "great_expectations.render.view.view",
    "jinja2",
    "duckdb",
)


def _is_project_module(name: str) -> bool:
    """The project's own modules are the `credlink` package and everything in it (the layers
    are inside it: `credlink.etl`, `credlink.linkage`, ...)."""
    return name == "credlink" or name.startswith("credlink.")


def preload(modules: tuple[str, ...] = PRELOAD) -> dict[str, float]:
    """Import `modules` (import only), then forget the project's own modules they brought in
    (kept: the third-party ones); returns the seconds each import took.

    A module that fails to import is logged and skipped: an optional part (linkage, publishing)
    must not stop the scheduler. GX's INFO chatter at import stays out of the scheduler's log.
    """
    before = set(sys.modules)
    gx_log = logging.getLogger("great_expectations")
    level = gx_log.level
    gx_log.setLevel(logging.WARNING)
    took: dict[str, float] = {}
    try:
        for name in modules:
            t0 = time.perf_counter()
            try:
                importlib.import_module(name)
            except Exception as exc:  # optional parts must not stop the scheduler
                log.warning("preload: %s not imported (%s: %s)", name, type(exc).__name__, exc)
                continue
            took[name] = time.perf_counter() - t0
    finally:
        gx_log.setLevel(level)
    for name in set(sys.modules) - before:
        if _is_project_module(name):
            _forget(name)
    return took


def _forget(name: str) -> None:
    """Remove module `name` from `sys.modules` and from its parent package's attributes (else
    `from package import name` would still find the old module there)."""
    module = sys.modules.pop(name)
    parent_name, _, child = name.rpartition(".")
    parent = sys.modules.get(parent_name) if parent_name else None
    if parent is not None and getattr(parent, child, None) is module:
        delattr(parent, child)


class PreloadingLocalExecutor(LocalExecutor):
    """LocalExecutor whose forked workers (and so every task) inherit :data:`PRELOAD`'s
    third-party modules."""

    def start(self) -> None:
        if self.is_mp_using_fork:
            t0 = time.perf_counter()
            took = preload()
            slowest = sorted(took.items(), key=lambda kv: -kv[1])[:3]
            log.info(
                "preloaded the tasks' modules in %.1fs (slowest: %s)",
                time.perf_counter() - t0,
                ", ".join(f"{m} {s:.1f}s" for m, s in slowest),
            )
        super().start()


__all__ = ["PRELOAD", "PreloadingLocalExecutor", "preload"]
