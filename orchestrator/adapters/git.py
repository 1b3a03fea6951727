"""git, through the ``git`` command: changed files, file contents at a commit, exporting a tree.

Every call runs plain ``git`` in the repository; failures become :class:`ExternalError` (git
itself broke) or :class:`UsageError` (an unknown revision), converted once in :func:`_git`.

Paths travel NUL-separated (``-z``) and as literal pathspecs; contents are read by object id,
never by a ``ref:path`` line, so no file name can shift another file's answer. A path git
would quote (:func:`orchestrator.core.gitops.path_problem`) is refused with
:class:`UnsafePath` before anything is read.
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

from orchestrator.core.gitops import path_problem
from orchestrator.errors import ExternalError, RuleError, UsageError
from orchestrator.files import shown


class UnsafePath(RuleError):
    """A path in the repository that govcloud refuses to handle (it names the path, escaped)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(
            f"git path {shown(path)} is refused: {reason}; rename it (newlines, control or "
            "invisible characters, quotes, backslashes, edge spaces and non-UTF-8 names "
            "have no place in the manifest repository)",
            rule="git-path-plain",
        )
        self.path = path


@dataclass(frozen=True)
class FileChange:
    """One changed path: ``status`` is A(dded), M(odified), D(eleted) or R(enamed, from ``old_path``)."""

    status: str
    path: str
    old_path: str | None = None


def _git(repo: Path, *args: str, input: bytes | None = None) -> bytes:
    try:
        done = subprocess.run(
            ["git", "--literal-pathspecs", "-C", str(repo), *args], input=input, capture_output=True, check=False
        )
    except OSError as exc:
        raise ExternalError(f"git could not run: {exc}") from exc
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        text = message[-1] if message else f"exit {done.returncode}"
        if (
            "unknown revision" in text
            or "bad revision" in text
            or "Not a valid" in text
            or "Needed a single revision" in text
        ):
            raise UsageError(f"git: {text}")
        raise ExternalError(f"git {args[0]} failed: {text}")
    return done.stdout


def toplevel(path: Path = Path(".")) -> Path:
    """The root of the work tree that holds ``path``."""
    return Path(_git(path, "rev-parse", "--show-toplevel").decode().strip())


def resolve(repo: Path, ref: str) -> str:
    """The commit id ``ref`` names; :class:`UsageError` when it names none."""
    try:
        done = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
            capture_output=True,
            check=False,
        )
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
    """Paths changed from commit ``base`` to ``head``, renames detected (``git diff -M``);
    :class:`UnsafePath` when any of them is one git would quote."""
    fields = _paths(_git(repo, "diff", "--name-status", "-M", "-z", base, head))
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
    for change in changes:
        for path in filter(None, (change.old_path, change.path)):
            _plain(path)
    return changes


def list_files(repo: Path, ref: str, dirs: Iterable[str]) -> list[str]:
    """Files under ``dirs`` in the tree of ``ref``; :class:`UnsafePath` for a path git would quote."""
    return [_plain(p) for p in _tree(repo, ref, [d.rstrip("/") for d in dirs])]


def read_files(repo: Path, ref: str, paths: Iterable[str]) -> dict[str, bytes | None]:
    """The contents of ``paths`` at ``ref`` (None: not there, or not a file): the blob ids from
    ``git ls-tree -z``, then every blob by its id in one ``git cat-file --batch``."""
    wanted = [_plain(p) for p in dict.fromkeys(paths)]
    if not wanted:
        return {}
    ids = {path: oid for path, oid in _tree(repo, ref, wanted).items() if path in wanted}
    for path, oid in ids.items():
        if oid.startswith("link:"):
            raise UnsafePath(path, "it is a symbolic link; a manifest or policy in git is a regular file")
    found: dict[str, bytes | None] = dict.fromkeys(wanted)
    blobs = list(dict.fromkeys(ids.values()))
    if blobs:
        contents = _blobs(repo, blobs)
        found.update({path: contents.get(oid) for path, oid in ids.items()})
    return found


def _tree(repo: Path, ref: str, specs: list[str]) -> dict[str, str]:
    """``{path: blob id}`` of the files of ``ref`` under the literal pathspecs ``specs``; a
    symbolic link's id is prefixed ``link:``."""
    out = _git(repo, "ls-tree", "-r", "-z", "--full-tree", ref, "--", *specs)
    entries: dict[str, str] = {}
    for record in _paths(out):
        if not record:
            continue
        meta, _, path = record.partition("\t")
        mode, kind, oid = meta.split()
        if kind == "blob":
            entries[path] = f"link:{oid}" if mode == "120000" else oid
    return entries


def _blobs(repo: Path, ids: list[str]) -> dict[str, bytes]:
    """Blob contents by object id: one hexadecimal id per request line, nothing else."""
    out = _git(repo, "cat-file", "--batch", input="".join(f"{oid}\n" for oid in ids).encode())
    found: dict[str, bytes] = {}
    pos = 0
    for oid in ids:
        end = out.index(b"\n", pos)
        header = out[pos:end].split()
        pos = end + 1
        if header[1:] == [b"missing"]:
            continue
        if len(header) != 3 or header[0] != oid.encode():
            raise ExternalError(f"git cat-file answered {b' '.join(header)[:100]!r} for {oid}")
        size = int(header[2])
        if header[1] == b"blob":
            found[oid] = out[pos : pos + size]
        pos += size + 1
    return found


def _paths(out: bytes) -> list[str]:
    """NUL-separated git output as text; bytes that are not UTF-8 kept (``surrogateescape``)
    for :func:`_plain` to refuse."""
    return out.decode("utf-8", "surrogateescape").split("\0")


def _plain(path: str) -> str:
    problem = path_problem(path)
    if problem:
        raise UnsafePath(path, problem)
    return path


@contextlib.contextmanager
def exported(repo: Path, ref: str) -> Iterator[Path]:
    """The tree of ``ref`` written to a temporary directory (``git archive``), removed afterwards."""
    archive = _git(repo, "archive", "--format=tar", ref)
    with tempfile.TemporaryDirectory(prefix="govcloud-base-") as tmp:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(tmp, filter="data")
            else:  # Python before 3.11.4 (Debian 12 has 3.11.2): the data filter's refusals by hand
                for member in tar.getmembers():
                    _check_member(member, Path(tmp))
                tar.extractall(tmp)  # noqa: S202 (each member checked by _check_member above)
        yield Path(tmp)


def _check_member(member: tarfile.TarInfo, root: Path) -> None:
    """Refuse what the ``data`` extraction filter refuses: special files, and names or link
    targets that leave ``root``."""
    if not (member.isfile() or member.isdir() or member.issym()):
        raise UnsafePath(member.name, "is not a file, directory or symbolic link")
    target = (root / member.name).resolve()
    if member.issym():
        target = ((root / member.name).parent / member.linkname).resolve()
    if not target.is_relative_to(root.resolve()):
        raise UnsafePath(member.name, "leaves the tree")


def author(repo: Path, commit: str) -> str:
    """``Name <email>`` of the author of ``commit``."""
    return _git(repo, "show", "-s", "--format=%an <%ae>", commit).decode().strip()


def deleting_commit(repo: Path, base: str, head: str, path: str) -> str:
    """The newest commit in ``base..head`` that deleted ``path`` (``head`` if none is found)."""
    out = _git(repo, "log", "--format=%H", "--diff-filter=D", "-1", f"{base}..{head}", "--", path).decode().strip()
    return out or head
