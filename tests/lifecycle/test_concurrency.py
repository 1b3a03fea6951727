"""Two office members approve at once: exactly one approval is recorded, on SQLite and PostgreSQL.

A repeated one-shot step (the same approval, passed test, provisioning) is refused by the core
(rule ``decided-once``); two writers of the same step at the same moment are told apart by the
ledger's unique (application, sequence): the loser gets ``changed meanwhile`` and, retrying,
the refusal that names the approval on record.
"""

from __future__ import annotations

import multiprocessing

import pytest

from orchestrator.adapters.ledger import Ledger
from orchestrator.errors import ConflictError, RuleError
from orchestrator.services.lifecycle import Lifecycle

from .conftest import CHIEF, CLERK, EXAMPLES, OPS, SOCIAL, at, variant

RACES = 20  #: the issue's campaign saw two winners in 15 of 20 trials


class _Racing:
    """A ledger whose appends wait at a barrier: both writers decide on the same state first."""

    def __init__(self, ledger: Ledger, barrier) -> None:
        self.ledger, self.barrier = ledger, barrier

    def __getattr__(self, name):
        return getattr(self.ledger, name)

    def append(self, *args):
        self.barrier.wait(timeout=60)
        return self.ledger.append(*args)


def _approve(url: str, application: str, who: int, barrier, results, at_append: bool) -> None:
    ledger = Ledger.open(url)
    try:
        store = _Racing(ledger, barrier) if at_append else ledger
        if not at_append:
            barrier.wait(timeout=60)  # both start the whole step together, as two people would
        event = Lifecycle(store).approve(application, "test", (CLERK, CHIEF)[who], at("2026-03-02T09:00"))
        results.put((who, "ok", event.sequence))
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        results.put((who, type(exc).__name__, str(exc)))
    finally:
        ledger.close()


def _race(database_url: str, application: str, at_append: bool) -> list[tuple]:
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    workers = [
        ctx.Process(target=_approve, args=(database_url, application, who, barrier, results, at_append))
        for who in (0, 1)
    ]
    for w in workers:
        w.start()
    outcomes = sorted(results.get(timeout=120)[1:] for _ in workers)
    for w in workers:
        w.join(timeout=60)
        assert w.exitcode == 0
    return outcomes


def _reviewed(service: Lifecycle, path) -> str:
    application = service.submit(path, SOCIAL, at("2026-02-12T10:00")).application
    service.accept(application, CLERK, at("2026-02-24T09:00"))
    service.review(application, "ok", CLERK, at("2026-02-26T09:00"))
    return application


def test_two_processes_approving_at_once(service, ledger, database_url):
    application = _reviewed(service, EXAMPLES / "social-security.yaml")
    outcomes = _race(database_url, application, at_append=True)
    assert outcomes[0][0] == "ConflictError" and "changed meanwhile, retry" in outcomes[0][1]
    assert outcomes[1] == ("ok", 4)
    assert [e.type for e in ledger.events(application)] == ["submitted", "accepted", "reviewed", "approved"]
    assert ledger.get_state(application).sequence == 4
    # the loser retries on the new state: the approval on record is named, nothing is recorded
    with pytest.raises(
        RuleError,
        match=r"approved \(test\) of social-security is recorded already for digest "
        r"sha256:\w+: by (zhang|chen) at 2026-03-02T09:00:00 \(event #4, approved\)",
    ):
        service.approve(application, "test", CHIEF, at("2026-03-02T09:30"))
    assert ledger.get_state(application).sequence == 4
    service.record_provisioned(application, "test", OPS, at("2026-03-02T10:00"))
    assert service.state(application).state == "testing"


def test_concurrent_approvals_repeated_have_exactly_one_winner(service, ledger, database_url, tmp_path):
    """The issue's trial, repeated: two approvers start at the same moment, each on an application
    of its own; every time exactly one approval is recorded and the other is refused."""
    for n in range(RACES):
        path = variant(tmp_path, f"s{n}", ("id: social-security", f"id: social-security-{n}"))
        application = _reviewed(service, path)
        outcomes = _race(database_url, application, at_append=False)
        winners = [o for o in outcomes if o[0] == "ok"]
        losers = [o for o in outcomes if o[0] != "ok"]
        assert len(winners) == 1 and len(losers) == 1, (n, outcomes)
        assert losers[0][0] in (ConflictError.__name__, RuleError.__name__), (n, outcomes)
        assert [e.type for e in ledger.events(application)].count("approved") == 1, n
        assert ledger.get_state(application).sequence == 4


def test_every_one_shot_step_is_refused_a_second_time(service, ledger):
    """approve (per environment and digest), test-passed, provisioned at the digest it runs:
    once; the steps that move the state (accept, reject, review, approve-change,
    approve-termination, ...) are refused again by the transition table."""
    application = _reviewed(service, EXAMPLES / "social-security.yaml")
    with pytest.raises(RuleError, match="reviewed is not allowed in state reviewed"):
        service.review(application, "again", CHIEF, at("2026-02-26T09:30"))
    with pytest.raises(RuleError, match="accepted is not allowed in state reviewed"):
        service.accept(application, CHIEF, at("2026-02-26T09:30"))
    service.approve(application, "test", CLERK, at("2026-02-26T10:00"))
    service.record_provisioned(application, "test", OPS, at("2026-02-26T11:00"))
    with pytest.raises(RuleError, match=r"test of social-security is provisioned already at sha256:\w+ \(event #5"):
        service.record_provisioned(application, "test", OPS, at("2026-02-26T12:00"))
    service.test_passed(application, "report 1", CLERK, at("2026-03-02T09:00"))
    with pytest.raises(
        RuleError,
        match=r"test-passed of social-security is recorded already .* by zhang at "
        r"2026-03-02T09:00:00 \(event #6, test-passed\)",
    ):
        service.test_passed(application, "report 1 again", CHIEF, at("2026-03-02T09:05"))
    service.approve(application, "trial", CLERK, at("2026-03-02T10:00"))
    with pytest.raises(RuleError, match=r"approved \(trial\) .* recorded already"):
        service.approve(application, "trial", CHIEF, at("2026-03-02T10:05"))
    assert [e.type for e in ledger.events(application)][-3:] == ["provisioned", "test-passed", "approved"]
