"""The Celery app's configuration for Airflow's CeleryExecutor, with the tasks' imports preloaded.

airflow.cfg's `[celery] celery_config_options` names :data:`CELERY_CONFIG`: Airflow's own
default configuration (built from the `[celery]` section: the broker, the metadata DB as result
backend, `result_extended`...), unchanged, plus one thing. A Celery worker's pool processes are
forked from the worker's main process, and each task process is forked from a pool process (by
Airflow's task supervisor), so, as :class:`credlink.orchestration.executor.
PreloadingLocalExecutor` does in the scheduler, the worker imports the tasks' heavy third-party
modules once (:func:`credlink.orchestration.executor.preload`, import only) when it starts, on
Celery's `worker_init` signal (in the main process, before the pool is forked). Each task then
starts with Great Expectations, pandas, Polars and DuckDB loaded instead of importing them
again (5-10 s of CPU per task here).

Example (what the workers of `credlink ui start` and the tests load):
    >>> from credlink.orchestration.celery_config import CELERY_CONFIG  # doctest: +SKIP
    >>> CELERY_CONFIG["result_backend"].startswith("db+postgresql")  # doctest: +SKIP
    True
"""

from __future__ import annotations

import logging
import time
from typing import Any

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG
from celery.signals import worker_init

log = logging.getLogger(__name__)

#: Airflow's default Celery configuration (read from airflow.cfg's `[celery]` section).
CELERY_CONFIG: dict[str, Any] = dict(DEFAULT_CELERY_CONFIG)


@worker_init.connect
def preload_tasks_modules(**_kwargs: Any) -> None:
    """Import the tasks' modules in the worker's main process, before the pool forks."""
    from credlink.orchestration.executor import preload

    t0 = time.perf_counter()
    took = preload()
    slowest = sorted(took.items(), key=lambda kv: -kv[1])[:3]
    log.info(
        "preloaded the tasks' modules in %.1fs (slowest: %s)",
        time.perf_counter() - t0,
        ", ".join(f"{m} {s:.1f}s" for m, s in slowest),
    )


__all__ = ["CELERY_CONFIG", "preload_tasks_modules"]
