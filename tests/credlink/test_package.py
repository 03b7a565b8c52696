"""The package installs and runs on its own: one import name (`credlink`), the reviewed files
inside it, and the whole chain (world, ingest, link, publish) from a wheel in an empty venv,
run from a folder outside the checkout.

The venv is filled offline from uv's cache (which `make setup` filled) with the locked versions,
so the test needs no network.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("etl", "linkage", "publish", "world")
SKIP_DIRS = {".venv", ".tools", ".airflow", "data", ".git", "node_modules"}


def _python_files() -> list[Path]:
    out = []
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).parts
        if SKIP_DIRS.isdisjoint(parts) and parts[0] != "credlink":  # credlink/etl -> ../etl
            out.append(path)
    return out


def test_no_module_imports_a_layer_by_its_bare_name() -> None:
    """`import etl` would work only in the source tree: everything imports `credlink.etl`."""
    bare = []
    for path in _python_files() + sorted((ROOT / "credlink").glob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            bare += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in LAYERS]
    assert len(_python_files()) > 150  # the scan saw the tree
    assert bare == []


def _uv() -> str:
    found = shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv")
    if not Path(found).exists():
        pytest.skip("uv is not installed (make setup installs it into .tools/)")
    return found


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [_uv(), "build", "--wheel", "--offline", "--quiet", "--out-dir", str(out)],
        cwd=ROOT,
        check=True,
    )
    (built,) = out.glob("credlink-*.whl")
    return built


def test_the_wheel_holds_one_package_with_its_reviewed_files(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"credlink"}
    for layer in LAYERS:
        assert f"credlink/{layer}/__init__.py" in names
    for needed in (
        "credlink/schemas/sources/courts.yaml",
        "credlink/schemas/publish/tables/publish.restrictions.yaml",
        "credlink/schemas/memoranda/court_defaulters_2016.yaml",
        "credlink/schemas/vocabularies/sex.yaml",
        "credlink/schemas/linkage/identity_evidence.yaml",
        "credlink/linkage/models/production.json",
    ):
        assert needed in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


@pytest.mark.slow
def test_the_wheel_runs_the_chain_from_outside_the_checkout(wheel: Path, tmp_path: Path) -> None:
    uv = _uv()
    lock = tmp_path / "pylock.toml"
    subprocess.run(
        [uv, "export", "--frozen", "--no-dev", "--no-emit-project", "--quiet",
         "--format", "pylock.toml", "-o", str(lock)],
        cwd=ROOT, check=True,
    )  # fmt: skip
    venv = tmp_path / "venv"
    subprocess.run([uv, "venv", "--quiet", "--python", "python3", str(venv)], check=True)
    py = str(venv / "bin" / "python")
    install = [uv, "pip", "install", "--quiet", "--offline", "--python", py]
    subprocess.run([*install, "-r", str(lock)], check=True)
    subprocess.run([*install, "--no-deps", str(wheel)], check=True)

    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CREDLINK_", "AIRFLOW", "VIRTUAL_ENV", "PYTHON"))}  # fmt: skip
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"

    def run(*args: str) -> str:
        done = subprocess.run(
            ["credlink", *args], cwd=work, env=env, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    run("world", "--persons", "2000", "--seed", "7", "--start", "2024-01-01",
        "--end", "2025-12-31")  # fmt: skip
    assert "staged" in run("ingest", "--through", "2025-12-31")
    run("link")
    run("publish", "--on", "2025-12-31")

    # Everything landed under the folder it ran in, none of it in the checkout.
    warehouse = work / "data" / "warehouse" / "credlink.duckdb"
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        restrictions = con.sql("SELECT count(*) FROM publish.restrictions").fetchone()
        links = con.sql("SELECT count(*) FROM publish.subjects").fetchone()
    finally:
        con.close()
    assert restrictions is not None and restrictions[0] > 0
    assert links is not None and links[0] > 0
    # The generic names are not importable from the installed package.
    for layer in LAYERS:
        probe = subprocess.run([py, "-c", f"import {layer}"], cwd=work, env=env,
                               capture_output=True, text=True)  # fmt: skip
        assert probe.returncode != 0, f"`import {layer}` works in the venv"
