"""Measuring the benchmark's processes (in the parent): wall time, peak memory, repetitions.

:func:`run_stage` runs one stage of :mod:`bench_stages` in a fresh ``bench/run.py stage ...``
process; :func:`measure_process` times any command and samples its process tree's memory,
killing it when the machine runs short (:data:`MIN_AVAILABLE_MIB`); :func:`repeated` and
:class:`Stat` repeat a measurement and summarise it by medians.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
#: The harness's entry point, which runs a stage when given ``stage <name> <args> <result>``.
ENTRY = Path(__file__).resolve().with_name("run.py")


@dataclass
class Measure:
    """One process: its wall time, the stage's own time, peak memory, details."""

    wall: float
    seconds: float
    peak_mib: float
    detail: dict[str, Any] = field(default_factory=dict)


#: A stage is killed when the machine's available memory falls below this (MiB): the machine
#: is shared, and a runaway stage must not take the others' processes down with it.
MIN_AVAILABLE_MIB = 1536


def _sample_tree(pid: int, stop: threading.Event, peak: list[float], why: list[str]) -> None:
    import psutil

    try:
        proc = psutil.Process(pid)
    except psutil.Error:
        return
    while not stop.is_set():
        if psutil.virtual_memory().available < MIN_AVAILABLE_MIB * 2**20:
            why.append(f"killed: less than {MIN_AVAILABLE_MIB} MiB of memory left")
            for p in [*proc.children(recursive=True), proc]:
                with contextlib.suppress(psutil.Error):
                    p.kill()
            return
        try:
            rss = proc.memory_info().rss
            for ch in proc.children(recursive=True):
                with contextlib.suppress(psutil.Error):  # a child that just ended
                    rss += ch.memory_info().rss
            peak[0] = max(peak[0], rss / 2**20)
        except psutil.Error:
            return
        stop.wait(0.1)


def measure_process(argv: Sequence[str], log: Path, env: dict[str, str] | None = None,
                    result: Path | None = None) -> Measure:  # fmt: skip
    """Run `argv` in a fresh process (output to `log`); its wall time and peak memory."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        out.write(f"\n$ {shlex.join(argv)}\n".encode())
        out.flush()
        t = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        stop, sampled, why = threading.Event(), [0.0], []
        sampler = threading.Thread(target=_sample_tree, args=(proc.pid, stop, sampled, why))
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
        stop.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(
            f"{shlex.join(argv)} failed ({proc.returncode}{', ' if why else ''}{''.join(why)}); "
            f"see {log}"
        )
    peak = max(usage.ru_maxrss / 1024, sampled[0])  # ru_maxrss is in KiB on Linux
    if result is None:
        return Measure(wall=wall, seconds=wall, peak_mib=peak)
    r = json.loads(result.read_text())
    return Measure(wall=wall, seconds=float(r["seconds"]), peak_mib=peak, detail=r["detail"])


def run_stage(name: str, args: dict[str, Any], work: Path) -> Measure:
    result = work / "results" / f"{name}.json"
    result.parent.mkdir(parents=True, exist_ok=True)
    result.unlink(missing_ok=True)
    argv = [sys.executable, str(ENTRY), "stage", name, json.dumps(args),
            str(result)]  # fmt: skip
    return measure_process(argv, work / "logs" / f"{name}.log", result=result)


@dataclass
class Stat:
    """Repetitions of one measurement, summarised by medians."""

    runs: list[Measure]

    @property
    def wall(self) -> float:
        return statistics.median(m.wall for m in self.runs)

    @property
    def seconds(self) -> float:
        return statistics.median(m.seconds for m in self.runs)

    @property
    def peak_mib(self) -> float:
        return max(m.peak_mib for m in self.runs)

    def as_dict(self) -> dict[str, Any]:
        return {"wall": self.wall, "seconds": self.seconds, "peak_mib": self.peak_mib,
                "reps": len(self.runs), "runs": [asdict(m) for m in self.runs]}  # fmt: skip


def repeated(fn: Callable[[], Measure], reps: int, under: float,
             before: Callable[[], None] | None = None) -> Stat:  # fmt: skip
    """`fn` once, and up to `reps` times while its first run took less than `under` s."""
    runs: list[Measure] = []
    while True:
        if before is not None:
            before()
        runs.append(fn())
        if len(runs) >= reps or runs[0].wall >= under:
            return Stat(runs)
