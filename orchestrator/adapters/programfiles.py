"""Which files of a checkout make up the Pulumi program, read from the code itself.

The program is every file under ``stacks/`` and every module of the project that those import,
at any depth, at module level or inside a function (``ast`` reads the import statements; nothing
is run). Imports under ``if TYPE_CHECKING:`` never run and are not followed. Beside the modules,
:data:`orchestrator.core.gitops.SHARED` lists the other files the program reads (templates,
``Pulumi.yaml``, ``pyproject.toml``).
"""

from __future__ import annotations

import ast
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
#: The project's top-level packages; imports of anything else are not followed.
PACKAGES = ("orchestrator", "stacks")
#: ``ast.parse`` from several threads at once raised SystemError on Python 3.11.7 (up runs in
#: gitops apply's threads): one parse at a time.
_PARSING = threading.Lock()
#: Where the program starts: every module under it is part of it (the authentication platforms
#: under ``stacks/components/auth`` are imported by name at run time).
ENTRY = "stacks"


def program_fingerprint(repo: Path = REPO, roots: Iterable[str] = (ENTRY,)) -> str:
    """``sha256:`` over the program in ``repo`` as it is on disk (what ``up`` runs and the ledger
    records): the modules of :func:`program_modules` and the other files that
    :data:`orchestrator.core.gitops.SHARED` counts as the program. ``roots`` adds code that runs the
    program (the plan cache adds the planner)."""
    from orchestrator.core import gitops

    files = {path: (repo / path).read_bytes() for path in program_modules(repo, roots)}
    for rule in gitops.SHARED:
        start = repo / rule.pattern.split("*", 1)[0]
        candidates = [start] if start.is_file() else start.rglob("*") if start.is_dir() else []
        for path in candidates:
            relative = path.relative_to(repo).as_posix()
            if path.is_file() and relative not in files and gitops.is_program(relative):
                files[relative] = path.read_bytes()
    return gitops.program_fingerprint(files)


def program_modules(repo: Path = REPO, roots: Iterable[str] = (ENTRY,)) -> frozenset[str]:
    """Repository-relative paths (``/``) of every Python file under ``roots`` (folders or files)
    and of every project module they import, transitively, with the packages' ``__init__.py`` on
    the way. Example: ``"orchestrator/core/naming.py" in program_modules()``: the stacks import it.
    """
    starts = [repo / root for root in roots]
    todo = [
        p
        for start in starts
        for p in ([start] if start.is_file() else sorted(start.rglob("*.py")))
        if "__pycache__" not in p.parts
    ]
    seen: set[Path] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        module = _module_name(path.relative_to(repo))
        with _PARSING:
            tree = ast.parse(path.read_bytes(), filename=str(path))
        for name in _imported(tree, module, is_package=path.name == "__init__.py"):
            todo.extend(f for f in _files_of(repo, name) if f not in seen)
    return frozenset(p.relative_to(repo).as_posix() for p in seen)


def _module_name(relative: Path) -> str:
    parts = list(relative.with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(tree: ast.AST, module: str, *, is_package: bool) -> Iterator[str]:
    """Absolute names of the modules (and, for ``from X import y``, the candidates ``X.y``) that
    ``tree`` imports when it runs; relative imports resolved against ``module``."""
    package = module if is_package else module.rpartition(".")[0]
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names if alias.name != "*")


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node of ``tree`` except the bodies of ``if TYPE_CHECKING:``."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _files_of(repo: Path, name: str) -> list[Path]:
    """The files that importing ``name`` runs: its parents' ``__init__.py`` and itself."""
    parts = name.split(".")
    if parts[0] not in PACKAGES:
        return []
    files = []
    for depth in range(1, len(parts) + 1):
        base = repo.joinpath(*parts[:depth])
        for candidate in (base / "__init__.py", base.with_suffix(".py")):
            if candidate.is_file():
                files.append(candidate)
                break
    return files
