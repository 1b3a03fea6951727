"""One ledger lease per stack: exactly one of two processes changes it, the other is told who holds it."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import re

import pytest

from orchestrator.adapters.engine import _last_lines
from orchestrator.adapters.ledger import Ledger
from orchestrator.services import stacklock

STACK = "rsj.social-security.trial"


def test_a_second_holder_is_refused_naming_the_first_and_since_when(database_url: str) -> None:
    ledger = Ledger.open(database_url)
    other = "ci.example/jobs/7 pid 42 since 2026-12-05 08:00:00 UTC a1b2c3"
    assert ledger.acquire(stacklock.lease_name(STACK), other, dt.timedelta(minutes=30))
    with pytest.raises(stacklock.StackHeld) as held, stacklock.holding(ledger, STACK):
        pytest.fail("entered a held stack")
    assert f"stack {STACK} is being changed by {other}" in str(held.value)
    assert held.value.exit_code == 1
    assert ledger.lease(stacklock.lease_name(STACK))[0] == other  # the refusal changed nothing


def test_a_process_holds_its_stack_re_entrantly_and_gives_it_back_once(database_url: str) -> None:
    ledger = Ledger.open(database_url)
    name = stacklock.lease_name(STACK)
    with stacklock.holding(ledger, STACK):
        with stacklock.holding(ledger, STACK):  # up inside gitops apply
            assert ledger.lease(name)[0] == stacklock.lease_holder()
        assert ledger.lease(name) is not None  # still held by the outer block
        assert [row[0] for row in ledger.leases("stack:")] == [name]
    assert ledger.lease(name) is None
    assert ledger.leases("stack:") == []


def test_the_holder_says_who_and_since_when() -> None:
    assert re.fullmatch(r"\S+ pid \d+ since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC [0-9a-f]{6}", stacklock.lease_holder())


def _contend(url: str, barrier, results) -> None:
    ledger = Ledger.open(url)
    barrier.wait(timeout=30)
    try:
        with stacklock.holding(ledger, STACK):
            barrier.wait(timeout=30)  # both have tried before either lets go
            results.put("held")
    except stacklock.StackHeld as exc:
        barrier.wait(timeout=30)
        results.put(str(exc))
    finally:
        ledger.close()


def test_of_two_processes_at_once_exactly_one_changes_the_stack(database_url: str) -> None:
    Ledger.open(database_url).close()  # the schema, before the race
    ctx = multiprocessing.get_context("fork")
    for _ in range(10):
        barrier, results = ctx.Barrier(2), ctx.Queue()
        procs = [ctx.Process(target=_contend, args=(database_url, barrier, results)) for _ in range(2)]
        for p in procs:
            p.start()
        outcomes = sorted(results.get(timeout=60) for _ in procs)
        for p in procs:
            p.join(timeout=30)
        assert outcomes[0] == "held", outcomes
        assert outcomes[1].startswith(f"stack {STACK} is being changed by ") and " pid " in outcomes[1], outcomes
    assert Ledger.open(database_url).lease(stacklock.lease_name(STACK)) is None


LOCKED = (  # the engine's message, verbatim
    "\n code: 255\n stdout:\n"
    " stderr: error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end"
    " or delete the lock file with `pulumi cancel`.\n"
    "  s3://govcloud-state/.pulumi/locks/organization/govcloud/rsj.social-security.trial/5f0c.json:"
    " created by ops@runner-2 (pid 31337) at 2026-12-05T08:00:00Z\n"
)


def test_a_lock_of_the_backend_is_named_with_its_holder_and_the_command_that_clears_it() -> None:
    said = _last_lines(LOCKED)
    assert "locked in the state backend by ops@runner-2 (pid 31337) since 2026-12-05T08:00:00Z" in said
    assert said.endswith("clear the lock with: govcloud state unlock rsj.social-security.trial")
