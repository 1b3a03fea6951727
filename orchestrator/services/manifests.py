"""Finding and validating manifest files."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from orchestrator.core.validation import Report, validate_file
from orchestrator.errors import UsageError

MANIFEST_SUFFIXES = (".yaml", ".yml")


def manifest_files(paths: Iterable[Path]) -> list[Path]:
    """Expand directories (recursively) into their YAML files, in a stable order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.suffix in MANIFEST_SUFFIXES and p.is_file()))
        elif path.exists():
            found.append(path)
        else:
            raise UsageError(f"{path}: no such file or directory")
    return found


def validate_paths(paths: Iterable[Path]) -> list[Report]:
    return [validate_file(p) for p in paths]
