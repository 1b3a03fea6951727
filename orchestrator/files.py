"""The one way govcloud reads a file named from outside: a path argument, a file named by an
environment variable, an entry of a manifest directory.

Before a byte is read the kind is checked (a regular file only: never a directory, FIFO, device
or socket, so ``/dev/zero`` and a FIFO are refused instead of exhausting memory or hanging) and
the size is bounded, before and while reading. A directory walk (:func:`walk`) refuses the
entries that are not plainly files of the tree: symbolic links that leave it, dangling or
looping links, unreadable directories. Every refusal is a :class:`FileRefused` naming the path
(escaped) and the rule.

It sits beside :mod:`orchestrator.errors`, not in a layer: the core's validation, calendar and
policy loaders read through it as much as the services and the CLI do.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable
from pathlib import Path

from orchestrator.core import text
from orchestrator.errors import UsageError

#: Largest file read by default: a manifest, a policy, a calendar, the configuration.
MAX_BYTES = 1024 * 1024
#: Largest ID token file (a JWT is a few KiB).
MAX_TOKEN_BYTES = 64 * 1024
_CHUNK = 64 * 1024


class FileRefused(UsageError):
    """A file govcloud will not read: missing, not a regular file, too large, unreadable, or a
    link out of its tree. ``rule`` names which (``file-readable``, ``file-kind``, ``file-size``,
    ``symlink-outside``)."""

    def __init__(self, path: str | os.PathLike, rule: str, reason: str) -> None:
        super().__init__(f"{shown(path)}: {reason} ({rule})")
        self.path = str(path)
        self.rule = rule
        self.reason = reason


def shown(path: str | os.PathLike | bytes) -> str:
    """``path`` safe to print: quoted, with control and format characters, quotes, backslashes
    and undecodable bytes escaped (``\\n``, ``\\x1b``, ``\\xff``), when it holds any of them."""
    text = os.fsdecode(path)
    out = [_escape(ch) for ch in text]
    return text if all(len(e) == 1 for e in out) else '"' + "".join(out) + '"'


def _escape(ch: str) -> str:
    """A path's character: stricter than :func:`orchestrator.core.text.printable` (every
    non-printable one, spaces other than ' ' included, and the quote and backslash of the quoting)."""
    if ch in '\\"':
        return "\\" + ch
    return ch if ch.isprintable() else text.escape(ch)


def read_bytes(path: str | os.PathLike, *, limit: int = MAX_BYTES, what: str = "file") -> bytes:
    """The content of the regular file ``path``, at most ``limit`` bytes; :class:`FileRefused`
    otherwise. ``what`` names the file in messages (``manifest``, ``ID token``...). A path named
    by the user may be a link (they chose it); :func:`walk` decides which links of a tree count."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise FileRefused(path, "file-readable", _reason(exc, what)) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused(path, "file-kind", f"is {_kind(info.st_mode)}; a {what} is read only from a regular file")
        if info.st_size > limit:
            raise FileRefused(path, "file-size", f"is {info.st_size} bytes; a {what} is at most {limit}")
        chunks, size = [], 0
        while True:
            try:
                chunk = os.read(fd, min(_CHUNK, limit + 1 - size))
            except OSError as exc:
                raise FileRefused(path, "file-readable", _reason(exc, what)) from None
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:  # it grew while being read
                raise FileRefused(path, "file-size", f"is over {limit} bytes; a {what} is at most {limit}")
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_text(path: str | os.PathLike, *, limit: int = MAX_BYTES, what: str = "file") -> str:
    """:func:`read_bytes` decoded as UTF-8 (a BOM is dropped); :class:`FileRefused` if it is not."""
    raw = read_bytes(path, limit=limit, what=what)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise FileRefused(path, "file-readable", f"line {line}: not UTF-8 text") from None


def walk(root: str | os.PathLike, suffixes: Iterable[str]) -> list[Path]:
    """The files under directory ``root`` whose names end in one of ``suffixes``, sorted.

    A symbolic link is listed when it resolves to a regular file inside ``root``; one that leaves
    ``root``, dangles or loops, and a directory that cannot be read, are refused: one
    :class:`FileRefused` naming every such entry. Linked directories are not descended (what
    they hold inside the tree is listed where it lives).
    """
    root = Path(root)
    suffixes = tuple(suffixes)
    found: list[Path] = []
    refused: list[FileRefused] = []

    def unreadable(exc: OSError) -> None:
        refused.append(FileRefused(exc.filename or root, "file-readable", _reason(exc, "directory")))

    for top, dirs, names in os.walk(root, onerror=unreadable, followlinks=False):
        dirs.sort()
        for name in sorted(names + [d for d in dirs if os.path.islink(os.path.join(top, d))]):
            if not name.endswith(suffixes):
                continue
            path = Path(top, name)
            if path.is_symlink():
                try:
                    _inside(path, root)
                    if Path(os.path.realpath(path)).is_dir():
                        continue
                except FileRefused as exc:
                    refused.append(exc)
                    continue
            found.append(path)
    if len(refused) == 1:
        raise refused[0]
    if refused:
        raise FileRefused(root, refused[0].rule, f"{len(refused)} entries refused: " + "; ".join(map(str, refused)))
    return found


def _inside(path: Path, root: Path) -> None:
    """``path`` resolves (every link followed) to something inside ``root``; refuse otherwise."""
    try:
        target = Path(os.path.realpath(path, strict=True))
    except OSError as exc:
        rule = "file-readable"
        if exc.errno == errno.ENOENT and path.is_symlink():
            raise FileRefused(path, rule, "is a symbolic link to nothing (dangling)") from None
        raise FileRefused(path, rule, _reason(exc, "file")) from None
    top = Path(os.path.realpath(root))
    if target != top and top not in target.parents:
        raise FileRefused(
            path,
            "symlink-outside",
            f"is a symbolic link leaving {shown(root)}; only files inside the manifest tree are read",
        )


def _reason(exc: OSError, what: str) -> str:
    if exc.errno == errno.ENOENT:
        return f"no such {what}"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "not readable (permission denied)"
    if exc.errno == errno.ELOOP:
        return "a loop of symbolic links"
    if exc.errno == errno.ENAMETOOLONG:
        return "name too long"
    if exc.errno == errno.ENOTDIR:
        return "a part of the path is not a directory"
    return f"cannot be read: {exc.strerror or exc}"


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"
