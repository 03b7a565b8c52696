"""How many shards a sharded stage (linkage, publishing) may run in: a module without imports,
so that the DAG files read it when they are parsed without loading the stages' libraries."""

from __future__ import annotations

#: At most this many shards (Airflow maps at most 1,024 task instances by default,
#: `max_map_length`).
MAX_SHARDS = 1024


def check_shards(shards: int) -> None:
    """Refuse a number of shards outside 1 .. :data:`MAX_SHARDS` (ValueError)."""
    if not 1 <= shards <= MAX_SHARDS:
        raise ValueError(f"shards must be 1 .. {MAX_SHARDS}, got {shards}")
