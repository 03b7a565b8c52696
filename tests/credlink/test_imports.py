"""No import circles among credlink's modules.

Read statically (ast) from the package's files, the layers' folders linked into it included:
every ``import`` and ``from ... import`` of a credlink module, at module level or inside a
function, is an edge from the importing module to the imported one (``from credlink.x import y``
to ``credlink.x.y`` when that is a module, else to ``credlink.x``; relative imports resolved).
Imports under ``if TYPE_CHECKING:`` never run and are left out. The graph must have no cycle.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

import credlink

PACKAGE = Path(credlink.__file__).parent
ROOT_NAME = "credlink"


def package_modules(package: Path = PACKAGE) -> dict[str, Path]:
    """Every module of the package (``credlink.linkage.stage`` -> its file), symlinked folders
    followed."""
    out: dict[str, Path] = {}
    for dirpath, dirs, files in os.walk(package, followlinks=True):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__" and not d.startswith("."))
        for name in files:
            if not name.endswith(".py"):
                continue
            path = Path(dirpath) / name
            parts = [ROOT_NAME, *path.relative_to(package).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """The import statements of `node`, at any depth, but those under TYPE_CHECKING."""
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
        return
    if isinstance(node, ast.If) and _type_checking(node):
        for other in node.orelse:
            yield from _import_nodes(other)
        return
    for child in ast.iter_child_nodes(node):
        yield from _import_nodes(child)


def imported(module: str, path: Path, modules: Mapping[str, Path]) -> set[str]:
    """The credlink modules `module` (its file `path`) imports."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            parts = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join([*parts, *([node.module] if node.module else [])])
        for alias in node.names:
            full = f"{base}.{alias.name}"
            names.add(full if full in modules else base)
    out = set()
    for name in names:
        while name and name not in modules:  # an attribute of a module: the module
            name = name.rpartition(".")[0]
        if name and name != module:
            out.add(name)
    return out


def import_graph() -> dict[str, set[str]]:
    modules = package_modules()
    return {name: imported(name, path, modules) for name, path in modules.items()}


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_graph_covers_the_package_and_its_linked_layers() -> None:
    graph = import_graph()
    for module in ("credlink.cli", "credlink.reports", "credlink.demo.summary",
                   "credlink.linkage.stage", "credlink.publish.stage", "credlink.etl.lake"):  # fmt: skip
        assert module in graph
    # module-level and function-level imports both count
    assert "credlink.linkage.decisions" in graph["credlink.linkage.stage"]
    assert "credlink.linkage.stage" in graph["credlink.cli"]  # inside `link`


def test_imports_are_read_at_every_level_but_type_checking(tmp_path: Path) -> None:
    source = tmp_path / "example.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "from . import settings\n"
        "if TYPE_CHECKING:\n"
        "    from credlink.etl.lake import Lake\n"
        "def f():\n"
        "    from credlink.linkage.stage import run_linkage\n"
        "    import credlink.reports\n",
        encoding="utf-8",
    )
    found = imported("credlink.example", source, package_modules())
    assert found == {"credlink.settings", "credlink.linkage.stage", "credlink.reports"}


def test_cycles_are_found() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles() -> None:
    found = cycles(import_graph())
    assert found == [], "import cycles among credlink's modules: " + "; ".join(
        " <-> ".join(c) for c in found
    )
