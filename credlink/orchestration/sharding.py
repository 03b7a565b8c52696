"""How many shards a sharded DAG runs in: a whole number from an environment variable, read
when the DAG file is parsed (the scheduler and every worker must parse the same value)."""

from __future__ import annotations

import os

from credlink.etl.shard_limit import MAX_SHARDS


def shard_count(env: str) -> int:
    """`$<env>` as a number of shards (default 1: one task, as without sharding); a value that
    is not a whole number in 1 .. :data:`MAX_SHARDS` is refused, naming the variable."""
    raw = os.environ.get(env, "").strip() or "1"
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if not 1 <= n <= MAX_SHARDS:
        raise ValueError(f"{env}={raw!r}: need a whole number of shards, 1 .. {MAX_SHARDS}")
    return n
