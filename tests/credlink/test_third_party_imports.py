"""A process that imports the heavy libraries keeps its own exit status.

With PySpark installed, Great Expectations imports ``pyspark.sql.connect``, whose
``check_dependencies`` takes a ``python -c`` process (a main module without ``__spec__`` or
``__file__``) for a doctest run and ends it with ``sys.exit(0)`` when Spark Connect's
requirements are missing: every such child "succeeded" without doing anything (the kill-point
tests' children did). PySpark's ``connect`` extra is a dependency for that reason.
"""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", ["great_expectations", "pyspark.sql.connect.utils", "splink"])
def test_importing_does_not_end_a_python_c_process(module: str) -> None:
    code = f"import {module}; import sys; print('imported', flush=True); sys.exit(17)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 17, (done.returncode, done.stderr[-2000:])
    assert "imported" in done.stdout
