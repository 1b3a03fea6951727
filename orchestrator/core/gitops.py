"""What a git change means for the stacks: which paths are manifests, which shared files affect
every stack, and the order in which stacks are applied. Pure; the rules are data.

Manifests: files ending in ``.yaml``/``.yml`` under a manifest directory (``manifests/`` and
``examples/manifests/`` unless configured). Any other file is either shared (a module the Pulumi
program imports, which the caller finds in the code and passes as ``program``, or a file listed in
:data:`SHARED`; then every stack is affected) or irrelevant to the stacks (docs, tests, the CLI).
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Literal, TypeVar

from orchestrator.core.ids import ENVIRONMENTS

#: Where manifests live, relative to the repository root (``--manifests`` overrides).
MANIFEST_DIRS: tuple[str, ...] = ("manifests", "examples/manifests")
MANIFEST_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class SharedPath:
    """A file (glob; ``*`` also crosses ``/``) whose change affects every stack.

    ``program``: the resources of every stack may change, so the base is planned with the base
    program. ``policy``: only the quota result may change; the resources cannot.
    """

    pattern: str
    affects: Literal["program", "policy"]
    reason: str


#: The files besides the program's Python modules that decide what a stack is or may be.
SHARED: tuple[SharedPath, ...] = (
    SharedPath("quotas/policy.yaml", "policy", "the quota policy"),
    SharedPath("orchestrator/core/quota/*", "policy", "the quota rules"),
    SharedPath("stacks/*", "program", "the Pulumi program"),
    SharedPath("Pulumi.yaml", "program", "the Pulumi project"),
    SharedPath("pyproject.toml", "program", "the provider SDK versions"),
    SharedPath("templates/cloud-init/*", "program", "the servers' cloud-init user data"),
)


def is_manifest(path: str, dirs: Sequence[str] = MANIFEST_DIRS) -> bool:
    """Is ``path`` (relative, with ``/``) a manifest? Example: ``is_manifest("manifests/a/b.yaml")``."""
    return path.endswith(MANIFEST_SUFFIXES) and any(path.startswith(d.rstrip("/") + "/") for d in dirs)


_QUOTED = {'"': "a double quote", "\\": "a backslash"}


def path_problem(path: str) -> str | None:
    """Why ``path`` (decoded with ``surrogateescape``) is refused, or None when it is plain.

    Refused: what git quotes even with ``core.quotePath=false`` (control characters, ``"``,
    ``\\``), bytes that are not UTF-8, other invisible characters (format characters such as
    bidirectional overrides, line and paragraph separators), and a path component with leading
    or trailing whitespace. Example: ``path_problem("manifests/a\\nb.yaml")`` names the newline.
    """
    for ch in path:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:
            return "it is not UTF-8"
        if ch in _QUOTED:
            return f"it holds {_QUOTED[ch]}"
        if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"):
            return "it holds a newline" if ch == "\n" else f"it holds the invisible character U+{code:04X}"
    if any(part != part.strip() for part in path.split("/")):
        return "a part of it begins or ends with whitespace"
    return None


#: Why a module the program imports counts (see :func:`shared_hits`).
IMPORTED = SharedPath("(imported by stacks/)", "program", "a module the Pulumi program imports")


def shared_hits(
    paths: Iterable[str], program: Collection[str] = frozenset(), shared: Sequence[SharedPath] = SHARED
) -> list[tuple[str, SharedPath]]:
    """Each changed path that is a shared file, with the rule that says what it affects: the first
    *program* rule of ``shared`` it matches, else :data:`IMPORTED` when it is one of ``program``
    (the modules the program imports), else the first rule it matches."""
    hits = []
    for path in paths:
        rules = [s for s in shared if fnmatchcase(path, s.pattern)]
        rule = next((s for s in rules if s.affects == "program"), None)
        rule = rule or (IMPORTED if path in program else next(iter(rules), None))
        if rule is not None:
            hits.append((path, rule))
    return hits


def is_program(path: str, program: Collection[str] = frozenset(), shared: Sequence[SharedPath] = SHARED) -> bool:
    """Is ``path`` part of the program: one of its modules or a *program* shared file?
    ``__pycache__`` never is."""
    return "__pycache__/" not in path and (
        path in program or any(s.affects == "program" and fnmatchcase(path, s.pattern) for s in shared)
    )


def program_fingerprint(files: Mapping[str, bytes]) -> str:
    """``sha256:`` over the program's files (path and content, in path order): which program an
    environment was applied with. Example: ``program_fingerprint({"stacks/program.py": b"..."})``."""
    outer = hashlib.sha256()
    for path in sorted(files):
        outer.update(f"{path}\0{hashlib.sha256(files[path]).hexdigest()}\n".encode())
    return f"sha256:{outer.hexdigest()}"


T = TypeVar("T")


def apply_chains(stacks: Iterable[T], app_of: Callable[[T], str], env_of: Callable[[T], str]) -> list[list[T]]:
    """Stacks grouped per application, each group in the order environments open (Art. 13-14); groups by application id.

    One group is applied in order (a failure stops the rest of its group); groups are independent.
    """
    groups: dict[str, list[T]] = {}
    for stack in stacks:
        groups.setdefault(app_of(stack), []).append(stack)
    rank = {str(env): i for i, env in enumerate(ENVIRONMENTS)}
    return [sorted(groups[app], key=lambda s: rank.get(env_of(s), len(rank))) for app in sorted(groups)]


def shard_of(app: str, total: int) -> int:
    """Which of ``total`` runners (1-based, as GitLab's ``CI_NODE_INDEX``) applies ``app``: every
    environment of an application goes to one runner, so the Art. 13-14 order holds in it."""
    return int.from_bytes(hashlib.sha256(app.encode()).digest()[:8], "big") % total + 1
