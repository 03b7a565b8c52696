"""Run :func:`linkage.stage.run_linkage` in a forked child, optionally killed at a write point.

``python linkfault.py --serve`` imports once, then forks one child per request line
``LAKE RUN_ID CRASH [full]`` (a run killed with SIGKILL after its write point CRASH, 0: not
killed; ``CREDLINK_LINKAGE_CRASH_AFTER``; ``full``: a full run) and answers the child's exit status: a fresh process per
run without paying the imports each time. The parent runs no Polars or DuckDB code.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DAY = datetime(2025, 7, 1, tzinfo=UTC)


def _serve() -> None:
    import splink  # noqa: F401  - imported once, for every child

    import credlink.etl.commit
    from credlink.etl.lake import Lake
    from credlink.linkage.stage import run_linkage

    for line in sys.stdin:
        lake, run_id, crash, *mode = line.split()
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                os.environ[credlink.etl.commit.crash_env("linkage")] = crash
                credlink.etl.commit._points.clear()
                run_linkage(Lake(Path(lake)), run_id=run_id, logical_date=DAY,
                            full=mode == ["full"])  # fmt: skip
            except BaseException as e:
                print(f"{type(e).__name__}: {e}", file=sys.stderr, flush=True)
                code = 1
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status), flush=True)


class Forker:
    """The serving process: ``run(lake, run_id, crash_after)`` returns the child's exit code
    (``-9``: killed by SIGKILL)."""

    def __init__(self) -> None:
        environ = dict(os.environ)
        environ["PYTHONPATH"] = os.pathsep.join([str(HERE), str(ROOT)])
        environ.pop("CREDLINK_LINKAGE_CRASH_AFTER", None)
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__)), "--serve"],
            env=environ,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def run(self, lake: Path, run_id: str, crash_after: int, full: bool = False) -> int:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"{lake} {run_id} {crash_after}{' full' if full else ''}\n")
        self.proc.stdin.flush()
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("the serving process ended")
            if line.strip().lstrip("-").isdigit():
                return int(line)

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=60)


if __name__ == "__main__":
    _serve()
