"""No import circle among the project's modules.

The graph is read from the source (``ast``), so it holds every import a module makes: at module
level, inside functions (run later, but run) and under ``if TYPE_CHECKING:`` (a type a module
names is a dependency on the module that defines it). ``from package import name`` is an edge to
the submodule ``package.name`` when there is one, else to the package. A package's ``__init__``
that imports its submodules is no circle by itself; a submodule that imports its own package's
``__init__`` back is one.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: The project's packages: the library and the Pulumi program.
PACKAGES = ("orchestrator", "stacks")


def modules(root: Path, packages: Iterable[str]) -> dict[str, tuple[Path, bool]]:
    """Every module of ``packages`` under ``root``: dotted name -> (file, is a package)."""
    found: dict[str, tuple[Path, bool]] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def import_graph(root: Path, packages: Iterable[str] = PACKAGES) -> dict[str, dict[str, int]]:
    """module -> {imported project module: line of the first such import}."""
    known = modules(root, packages)

    def owner(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, dict[str, int]] = {name: {} for name in known}
    for name, (path, is_package) in known.items():
        package = name if is_package else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_bytes(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
            for target in filter(None, map(owner, targets)):
                if target != name:
                    graph[name].setdefault(target, node.lineno)
    return graph


def circles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (each group holds a circle)."""

    def reach(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in graph[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    reachable = {name: reach(name) for name in graph}
    groups: list[list[str]] = []
    placed: set[str] = set()
    for name in sorted(graph):
        if name in placed or name not in reachable[name]:
            continue
        group = sorted(other for other in reachable[name] if name in reachable[other])
        placed.update(group)
        groups.append(group)
    return groups


def test_no_import_circle_among_the_project_modules() -> None:
    graph = import_graph(ROOT)
    files = {name: path.relative_to(ROOT) for name, (path, _) in modules(ROOT, PACKAGES).items()}
    found = [
        " <-> ".join(group)
        + "".join(
            f"\n  {a} -> {b} ({files[a]}:{line})" for a in group for b, line in sorted(graph[a].items()) if b in group
        )
        for group in circles(graph)
    ]
    assert not found, "import circles (move what both sides need down a layer):\n" + "\n".join(found)


def test_the_graph_holds_imports_of_every_kind() -> None:
    """The reader sees what the circle test relies on: module-level, in-function, relative and
    TYPE_CHECKING imports (each edge below exists in the tree today)."""
    graph = import_graph(ROOT)
    assert len(graph) > 100
    assert "orchestrator.core.manifest" in graph["stacks.program"]  # module level
    assert "orchestrator.core.validation" in graph["orchestrator.services.lifecycle"]  # in a function
    assert "orchestrator.core.changes" in graph["orchestrator.services.lifecycle"]  # TYPE_CHECKING


def test_a_circle_through_a_function_or_a_type_import_is_found(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from pkg import a\n")  # a package importing its module: no circle
    (pkg / "a.py").write_text("def f():\n    from pkg.sub import b\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .. import c\n")
    (pkg / "c.py").write_text("from .a import f\n")
    (pkg / "d.py").write_text("import pkg\n")  # back to the package that does not import it
    graph = import_graph(tmp_path, ["pkg"])
    assert graph["pkg.sub.b"] == {"pkg.c": 3}
    assert graph["pkg.c"] == {"pkg.a": 1}
    assert circles(graph) == [["pkg.a", "pkg.c", "pkg.sub.b"]]
