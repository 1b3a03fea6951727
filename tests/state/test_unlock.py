"""``govcloud state unlock``: what a killed process left is cleared only when it is gone, after a person says so."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess

import pytest

from orchestrator.adapters.ledger import Ledger
from orchestrator.services import stacklock

STACK = "rsj.social-security.trial"


@pytest.fixture
def ledger(tmp_path, monkeypatch) -> Ledger:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    monkeypatch.setenv("GOVCLOUD_DATABASE_URL", url)
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "test")
    return Ledger.open(url)


@pytest.fixture
def cleared(monkeypatch) -> list[str]:
    """The stacks whose backend lock ``pulumi cancel`` would clear (the engine is not run)."""
    from orchestrator.adapters import engine

    calls: list[str] = []
    monkeypatch.setattr(engine, "locate", lambda *a, **k: None)
    monkeypatch.setattr(engine, "unlock", lambda stack, located: calls.append(stack))
    return calls


def dead_pid() -> int:
    """The pid of a process that has ended (and was reaped)."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def take(ledger: Ledger, holder: str) -> None:
    assert ledger.acquire(stacklock.lease_name(STACK), holder, dt.timedelta(hours=2))


def test_a_holder_still_running_here_is_never_cleared(ledger, cleared, run_cli) -> None:
    holder = f"ops@{socket.gethostname()} pid {os.getpid()} since 2026-12-05 08:00:00 UTC abc123"
    take(ledger, holder)
    result = run_cli("state", "unlock", STACK, "--yes")
    assert result.exit_code == 1 and "still runs on this host" in result.stderr and "lock-holder-alive" in result.stderr
    assert cleared == [] and ledger.lease(stacklock.lease_name(STACK))[0] == holder


def test_a_killed_holder_is_cleared_after_the_operator_confirms(ledger, cleared, run_cli) -> None:
    holder = f"ops@{socket.gethostname()} pid {dead_pid()} since 2026-12-05 08:00:00 UTC abc123"
    take(ledger, holder)
    result = run_cli("state", "unlock", STACK, input="n\n")
    assert result.exit_code == 2 and "is gone" in result.stderr and "not confirmed" in result.stderr
    assert cleared == [] and ledger.lease(stacklock.lease_name(STACK)) is not None
    result = run_cli("state", "unlock", STACK, input="y\n")
    assert result.exit_code == 0, result.stderr
    assert cleared == [STACK] and ledger.lease(stacklock.lease_name(STACK)) is None
    assert f"cleared the lease of {holder}" in result.stderr


def test_a_holder_on_another_runner_needs_the_operators_word(ledger, cleared, run_cli) -> None:
    holder = "https://gitlab.example.gov.cn/ops/manifests/-/jobs/41 pid 7 since 2026-12-05 08:00:00 UTC abc123"
    take(ledger, holder)
    assert stacklock.holder_gone(holder) is None
    result = run_cli("state", "unlock", STACK, "--yes")
    assert result.exit_code == 0 and cleared == [STACK]


def test_only_a_stack_name_is_accepted(ledger, cleared, run_cli) -> None:
    for hostile in ("../../etc", "rsj.social-security.trial --yes", "rsj.app.staging", ""):
        result = run_cli("state", "unlock", hostile, "--yes")
        assert result.exit_code == 2 and "stack-name" in result.stderr, hostile
    assert cleared == []
