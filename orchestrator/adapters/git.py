"""git, through the ``git`` command: changed files, file contents at a commit, exporting a tree.

Every call runs plain ``git`` in the repository; failures become :class:`ExternalError` (git
itself broke) or :class:`UsageError` (an unknown revision), converted once in :func:`_git`.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import tarfile
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from orchestrator.errors import ExternalError, UsageError


@dataclass(frozen=True)
class FileChange:
    """One changed path: ``status`` is A(dded), M(odified), D(eleted) or R(enamed, from ``old_path``)."""

    status: str
    path: str
    old_path: str | None = None


def _git(repo: Path, *args: str, input: bytes | None = None) -> bytes:
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], input=input, capture_output=True, check=False)
    except OSError as exc:
        raise ExternalError(f"git could not run: {exc}") from exc
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        text = message[-1] if message else f"exit {done.returncode}"
        if "unknown revision" in text or "bad revision" in text or "Not a valid" in text or "Needed a single revision" in text:
            raise UsageError(f"git: {text}")
        raise ExternalError(f"git {args[0]} failed: {text}")
    return done.stdout


def toplevel(path: Path = Path(".")) -> Path:
    """The root of the work tree that holds ``path``."""
    return Path(_git(path, "rev-parse", "--show-toplevel").decode().strip())


def resolve(repo: Path, ref: str) -> str:
    """The commit id ``ref`` names; :class:`UsageError` when it names none."""
    try:
        done = subprocess.run(["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
                              capture_output=True, check=False)
    except OSError as exc:
        raise ExternalError(f"git could not run: {exc}") from exc
    if done.returncode != 0:
        if b"not a git repository" in done.stderr.lower():
            raise UsageError(f"{repo}: not a git repository")
        raise UsageError(f"git: {ref!r} names no commit here (CI: fetch the history, e.g. fetch-depth: 0)")
    return done.stdout.decode().strip()


def merge_base(repo: Path, base: str, head: str) -> str:
    """The best common ancestor of two commits: what ``head`` changed is relative to it."""
    return _git(repo, "merge-base", base, head).decode().strip()


def changed_files(repo: Path, base: str, head: str) -> list[FileChange]:
    """Paths changed from commit ``base`` to ``head``, renames detected (``git diff -M``)."""
    out = _git(repo, "diff", "--name-status", "-M", "-z", base, head).decode()
    fields = out.split("\0")
    changes: list[FileChange] = []
    i = 0
    while i < len(fields) and fields[i]:
        status = fields[i][0]
        if status == "R":
            changes.append(FileChange("R", fields[i + 2], fields[i + 1]))
            i += 3
        else:
            changes.append(FileChange("M" if status == "T" else status, fields[i + 1]))
            i += 2
    return changes


def list_files(repo: Path, ref: str, dirs: Iterable[str]) -> list[str]:
    """Files under ``dirs`` in the tree of ``ref``."""
    specs = [d.rstrip("/") for d in dirs]
    out = _git(repo, "ls-tree", "-r", "-z", "--name-only", ref, "--", *specs).decode()
    return [p for p in out.split("\0") if p]


def read_files(repo: Path, ref: str, paths: Iterable[str]) -> dict[str, bytes | None]:
    """The contents of ``paths`` at ``ref`` in one ``git cat-file --batch`` (None: not there)."""
    wanted = list(dict.fromkeys(paths))
    if not wanted:
        return {}
    request = "".join(f"{ref}:{p}\n" for p in wanted).encode()
    out = _git(repo, "cat-file", "--batch", input=request)
    found: dict[str, bytes | None] = {}
    pos = 0
    for path in wanted:
        end = out.index(b"\n", pos)
        header = out[pos:end].split()
        pos = end + 1
        if len(header) < 3:  # "<ref>:<path> missing"
            found[path] = None
            continue
        size = int(header[2])
        found[path] = out[pos:pos + size] if header[1] == b"blob" else None
        pos += size + 1
    return found


@contextlib.contextmanager
def exported(repo: Path, ref: str) -> Iterator[Path]:
    """The tree of ``ref`` written to a temporary directory (``git archive``), removed afterwards."""
    archive = _git(repo, "archive", "--format=tar", ref)
    with tempfile.TemporaryDirectory(prefix="govcloud-base-") as tmp:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        yield Path(tmp)


def author(repo: Path, commit: str) -> str:
    """``Name <email>`` of the author of ``commit``."""
    return _git(repo, "show", "-s", "--format=%an <%ae>", commit).decode().strip()


def deleting_commit(repo: Path, base: str, head: str, path: str) -> str:
    """The newest commit in ``base..head`` that deleted ``path`` (``head`` if none is found)."""
    out = _git(repo, "log", "--format=%H", "--diff-filter=D", "-1", f"{base}..{head}", "--", path).decode().strip()
    return out or head
