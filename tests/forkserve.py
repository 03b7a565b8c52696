"""A process that imports once and forks one child per request, for the crash tests of the
linkage and publishing stages (tests/linkage/linkfault.py, tests/publish/faultcase.py).

The serving process (``python <script> --serve``) reads one request a line (fields separated by
spaces), forks, runs the script's handler on the fields in the child and answers the child's
exit status on a line of its own (``-9``: killed by SIGKILL at a write point): a fresh process
per run without paying the imports each time. The parent runs no Polars or DuckDB code (no
threads to fork).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


def python_path(folder: Path) -> str:
    """A child Python's PYTHONPATH: `folder` (a test's helpers), tests/ and the project."""
    return os.pathsep.join([str(folder), str(TESTS), str(ROOT)])


def serve(handle: Callable[[list[str]], None]) -> None:
    """Answer each line of stdin with the exit status of a forked child running
    ``handle(fields)``; an exception in the child is printed to stderr (exit status 1)."""
    for line in sys.stdin:
        fields = line.split()
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                handle(fields)
            except BaseException as e:
                print(f"{type(e).__name__}: {e}", file=sys.stderr, flush=True)
                code = 1
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status), flush=True)


class ForkServer:
    """The serving process of `script` (``python <script> --serve``), started without the
    crash variable `crash_env` set: :meth:`request` returns a child's exit status."""

    def __init__(self, script: Path, crash_env: str, close_timeout: float = 60) -> None:
        environ = dict(os.environ)
        environ["PYTHONPATH"] = python_path(script.parent)
        environ.pop(crash_env, None)
        self.close_timeout = close_timeout
        self.proc = subprocess.Popen(
            [sys.executable, str(script), "--serve"],
            env=environ,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def request(self, *fields: object) -> int:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(" ".join(str(f) for f in fields) + "\n")
        self.proc.stdin.flush()
        while True:  # the child's own prints come first
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("the serving process ended")
            if line.strip().lstrip("-").isdigit():
                return int(line)

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=self.close_timeout)
