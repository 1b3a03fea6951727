"""Plans kept on disk, so that planning an unchanged manifest with an unchanged program is instant.

``govcloud plan`` keeps each manifest file's plans (the resources, totals and quotas of its stacks,
never their admission: the lifecycle gate and the quota verdict depend on the ledger and the
clock, and are decided afresh on every plan) in ``.govcloud/plan-cache/`` (under ``GOVCLOUD_HOME``
when set; ``GOVCLOUD_PLAN_CACHE`` names the directory itself), one file per key. The key covers
everything a plan is computed from:

- the manifest file's bytes and its path (plans name their source), and the environment asked for;
- the plan's placeholders for what it cannot know (external network, provider config);
- the program and the planner: every module the program and the planner import (read from their
  import statements, :mod:`orchestrator.adapters.programfiles`) and the program's other files
  (cloud-init templates, ``Pulumi.yaml``...), the Python version, and every installed distribution
  with its version (which pins the Pulumi SDK and providers, pydantic, ruamel.yaml, Jinja2...).

Change any of these and the key changes: nothing is ever invalidated, stale entries are simply
never read again (``rm -r .govcloud/plan-cache`` reclaims the space). ``govcloud plan --no-cache``
neither reads nor writes it. Entries are pickles: the cache directory is as trusted as the code.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import pickle
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orchestrator.core.manifest import Application
    from orchestrator.core.stackplan import StackPlan

#: Bumped when the cached value's shape changes.
FORMAT = "1"
_ROOT = Path(__file__).resolve().parents[2]
#: The module that runs the program under mocks; it and what it imports are part of the key.
PLANNER = "orchestrator/services/plan.py"


def default_directory() -> Path:
    """``$GOVCLOUD_PLAN_CACHE``, else ``$GOVCLOUD_HOME/plan-cache``, else ``./.govcloud/plan-cache``."""
    if os.environ.get("GOVCLOUD_PLAN_CACHE"):
        return Path(os.environ["GOVCLOUD_PLAN_CACHE"])
    return Path(os.environ.get("GOVCLOUD_HOME") or Path.cwd() / ".govcloud") / "plan-cache"


#: Largest cache entry read back (a plan of a large manifest is a few hundred KiB).
MAX_ENTRY_BYTES = 64 * 1024 * 1024


class PlanCache:
    """A directory of cached plans, one file per key."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or default_directory()

    def key(self, path: str, raw: bytes, env: str | None, settings: Any) -> str:
        """The key of ``path`` (content ``raw``) planned for ``env`` (None: all) with ``settings``."""
        h = hashlib.sha256()
        for part in (FORMAT, cache_fingerprint(), path, env or "", repr(settings)):
            h.update(part.encode() + b"\0")
        h.update(raw)
        return h.hexdigest()

    def get(self, key: str) -> tuple[Application, list[StackPlan]] | None:
        from orchestrator import files

        try:
            entry = files.read_bytes(self.directory / key, limit=MAX_ENTRY_BYTES, what="plan cache entry")
            return pickle.loads(entry)  # noqa: S301 (the cache is as trusted as the code: see the module docstring)
        except (files.FileRefused, EOFError, pickle.UnpicklingError, AttributeError, ImportError):
            return None  # absent, or written by a program that no longer unpickles: plan again

    def put(self, key: str, value: tuple[Application, list[StackPlan]]) -> None:
        """Store atomically (a concurrent reader sees the whole entry or none)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-")
        with os.fdopen(fd, "wb") as out:
            pickle.dump(value, out, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, self.directory / key)


@functools.cache
def cache_fingerprint() -> str:
    """What a plan is computed from besides its inputs: the program and the planner that runs it
    (:func:`~orchestrator.adapters.programfiles.program_fingerprint`), the interpreter and the
    installed distributions."""
    from orchestrator.adapters.programfiles import ENTRY, program_fingerprint

    h = hashlib.sha256(sys.version.encode())
    h.update(program_fingerprint(_ROOT, roots=(ENTRY, PLANNER)).encode())
    installed: set[str] = set()
    for entry in sys.path:
        with contextlib.suppress(OSError):
            installed.update(n for n in os.listdir(entry or ".") if n.endswith((".dist-info", ".egg-info")))
    h.update("\0".join(sorted(installed)).encode())
    return h.hexdigest()
