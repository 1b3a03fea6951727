"""Finding and validating manifest files."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from orchestrator import files
from orchestrator.core.validation import Report, validate_file
from orchestrator.errors import UsageError

MANIFEST_SUFFIXES = (".yaml", ".yml")


def manifest_files(paths: Iterable[Path]) -> list[Path]:
    """Expand directories (recursively) into their YAML files, in a stable order. A file named
    itself is kept whatever it is (reading it says what is wrong); a directory's entries go
    through :func:`orchestrator.files.walk`, which refuses links leaving it, dangling or
    looping links and unreadable directories."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(files.walk(path, MANIFEST_SUFFIXES))
        elif path.exists() or path.is_symlink():
            found.append(path)
        else:
            raise UsageError(f"{files.shown(path)}: no such file or directory")
    return found


def validate_paths(paths: Iterable[Path]) -> list[Report]:
    return [validate_file(p) for p in paths]


#: Where application ids are looked up when neither ``--manifests`` nor ``GOVCLOUD_MANIFESTS`` is set.
DEFAULT_MANIFEST_DIRS = (Path("manifests"), Path(__file__).resolve().parents[2] / "examples" / "manifests")


def manifest_dirs(explicit: Iterable[Path] = (), root: Path | None = None) -> list[Path]:
    """The manifest directories, the one way every command finds them: ``--manifests``
    directories, else ``GOVCLOUD_MANIFESTS`` (``:``-separated), else ``./manifests`` and the
    repository's ``examples/manifests`` (those that exist). Relative paths start at ``root``
    (default: the working directory)."""
    import os

    dirs = list(explicit)
    if not dirs and os.environ.get("GOVCLOUD_MANIFESTS"):
        dirs = [Path(p) for p in os.environ["GOVCLOUD_MANIFESTS"].split(os.pathsep) if p]
    if root is not None:
        dirs = [root / d for d in dirs]  # an absolute d stays itself
    return dirs or [d for d in ((root or Path()) / d for d in DEFAULT_MANIFEST_DIRS) if d.is_dir()]


def find_manifest(app: str, dirs: Iterable[Path] = ()) -> Path:
    """The manifest of ``app``: a path to a file, or an application id (``metadata.id``) looked
    up in :func:`manifest_dirs`. Raises :class:`NotFound` or, when two files claim the id,
    :class:`UsageError`."""
    from orchestrator.errors import NotFound

    candidate = Path(app)
    if candidate.suffix in MANIFEST_SUFFIXES or "/" in app:
        if not candidate.exists() and not candidate.is_symlink():
            raise NotFound(f"{files.shown(app)}: no such manifest file")
        return candidate  # whatever it is, reading it says what is wrong
    searched = manifest_dirs(dirs)
    matches = [p for p in manifest_files(d for d in searched if d.is_dir()) if _declared_id(p) == app]
    if not matches:
        where = ", ".join(str(d) for d in searched) or "no manifest directory"
        raise NotFound(
            f"no manifest declares application id {app!r} (searched {where}; use --manifests DIR or GOVCLOUD_MANIFESTS)"
        )
    if len(matches) > 1:
        raise UsageError(
            f"application id {app!r} is declared by several manifests: " + ", ".join(str(p) for p in matches)
        )
    return matches[0]


def _declared_id(path: Path) -> str | None:
    """``metadata.id`` as written, without full validation (None if unreadable)."""
    from orchestrator.core.yamlsource import ParseFailed, parse

    try:
        data = parse(files.read_bytes(path, what="manifest"))
    except (files.FileRefused, ParseFailed):
        return None
    metadata = data.get("metadata")
    return str(metadata.get("id")) if isinstance(metadata, dict) else None
