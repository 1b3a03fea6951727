"""Reclamation's destroy under the real Pulumi engine lifts ``protect`` (issue 24, with issue 25's
protected data-bearing resources): a throwaway project whose program protects one of two
resources; plain ``pulumi destroy`` refuses it, :func:`orchestrator.adapters.engine.destroy_stack`
(what ``govcloud reclaim`` and ``expire`` run) unprotects and destroys, and the state it reads
before and after (:func:`stack_resources`) says what it held. Marker ``engine``: needs the engine
of ``scripts/install-pulumi`` (``GOVCLOUD_ENGINE_DIR``), no cloud; fails without it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from orchestrator.adapters import engine
from orchestrator.errors import ExternalError

pytestmark = pytest.mark.engine

PROGRAM = """\
import pulumi
import pulumi_random as random

random.RandomPassword("kept", length=12, opts=pulumi.ResourceOptions(protect=True))
random.RandomPassword("plain", length=12)
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch) -> tuple[Path, engine.Engine]:
    """A project with the program above, a file backend of its own, and the engine."""
    work = tmp_path / "project"
    work.mkdir()
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", os.environ.get("PULUMI_CONFIG_PASSPHRASE", "test"))
    monkeypatch.setenv("PULUMI_BACKEND_URL", f"file://{tmp_path / 'state'}")
    (work / "Pulumi.yaml").write_text(
        "name: protect-test\nruntime:\n  name: python\n  options:\n    toolchain: pip\n"
        f"    virtualenv: {Path(sys.prefix)}\n",
        encoding="utf-8",
    )
    (work / "__main__.py").write_text(PROGRAM, encoding="utf-8")
    return work, engine.locate()


def test_destroy_lifts_protection_and_the_state_says_what_it_held(project):
    from pulumi import automation as auto

    work, found = project
    workspace = engine._workspace(found, work)
    stack = auto.Stack.create("reclaim", workspace)
    stack.up()
    held = {r.urn.rsplit("::", 1)[-1]: r for r in engine.stack_resources("reclaim", found, work)}
    assert set(held) == {"kept", "plain"} and held["kept"].protected and not held["plain"].protected
    assert held["kept"].type == "random:index/randomPassword:RandomPassword"

    with pytest.raises(auto.errors.CommandError, match="protected"):
        stack.destroy()  # what a plain destroy says: the department's data is protected

    result = engine.destroy_stack("reclaim", found, repo=work)
    assert result.changes.get("unprotect") == 1 and result.changes.get("delete") == 2  # the refusal deleted nothing
    assert engine.stack_resources("reclaim", found, work) == []
    engine.remove_stack("reclaim", found, repo=work)
    assert not engine.stack_exists("reclaim", found, work)


def test_forgetting_removes_a_state_that_still_holds_resources_only_when_forced(project):
    from pulumi import automation as auto

    work, found = project
    auto.Stack.create("orphan", engine._workspace(found, work)).up()
    with pytest.raises(ExternalError, match="still has resources"):
        engine.remove_stack("orphan", found, repo=work)
    engine.remove_stack("orphan", found, repo=work, force=True)
    assert not engine.stack_exists("orphan", found, work)


def _lock(state: Path, stack: str, pid: int, host: str) -> Path:
    """A lock as the file backend writes it while ``pulumi`` works on ``stack``."""
    import json
    import uuid

    lock = state / ".pulumi" / "locks" / "organization" / "protect-test" / stack / f"{uuid.uuid4()}.json"
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text(
        json.dumps({"pid": pid, "username": "root", "hostname": host, "timestamp": "2026-12-05T14:00:00Z"}),
        encoding="utf-8",
    )
    return lock


def test_a_lock_left_by_a_killed_run_is_removed_and_a_living_ones_kept(project, tmp_path):
    """The end-to-end story's killed reclaim left its ``pulumi destroy``'s lock: the re-run's
    destroy said "the stack is currently locked". A dead process's lock on this host goes; a
    living process's, or another host's, stays."""
    import socket
    import subprocess

    from pulumi import automation as auto

    work, found = project
    auto.Stack.create("locked", engine._workspace(found, work)).up()
    state = tmp_path / "state"
    gone = subprocess.Popen(["true"])
    gone.wait()
    alive = _lock(state, "locked", os.getpid(), socket.gethostname())
    elsewhere = _lock(state, "locked", gone.pid, "another-host")
    with pytest.raises(ExternalError, match="locked"):
        engine.destroy_stack("locked", found, repo=work)
    alive.unlink()
    elsewhere.unlink()
    stale = _lock(state, "locked", gone.pid, socket.gethostname())
    result = engine.destroy_stack("locked", found, repo=work)
    assert result.changes["stale_lock"] == 1 and not stale.exists()
    assert engine.stack_resources("locked", found, work) == []
