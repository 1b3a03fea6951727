"""The test toolchain (toolchain/README.md) stays outside the product: not installed, not imported."""

from __future__ import annotations

import ast
import tomllib

import setuptools

from tests.foundation.test_import_circles import PACKAGES, ROOT, modules


def test_no_module_of_the_product_imports_the_toolchain() -> None:
    found = []
    for name, (path, _) in modules(ROOT, PACKAGES).items():
        for node in ast.walk(ast.parse(path.read_bytes(), str(path))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom) and not node.level
                else []
            )
            found += [f"{name}:{node.lineno} imports {n}" for n in names if n.split(".")[0] == "toolchain"]
    assert not found


def test_the_installed_packages_leave_the_toolchain_out() -> None:
    find = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    installed = setuptools.find_packages(str(ROOT), include=find["include"])
    assert "orchestrator" in installed and "stacks" in installed
    assert not [p for p in installed if p.split(".")[0] == "toolchain"]
    assert (ROOT / "toolchain" / "keycloak_plugin.py").is_file()  # it is there, just not installed
