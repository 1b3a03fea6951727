"""Two processes approve the same application at once: exactly one wins, the other must retry."""

from __future__ import annotations

import multiprocessing

from orchestrator.adapters.ledger import Ledger
from orchestrator.services.lifecycle import Lifecycle

from .conftest import CHIEF, CLERK, EXAMPLES, OPS, SOCIAL, at


class _Racing:
    """A ledger whose appends wait at a barrier: both writers decide on the same state first."""

    def __init__(self, ledger: Ledger, barrier) -> None:
        self.ledger, self.barrier = ledger, barrier

    def __getattr__(self, name):
        return getattr(self.ledger, name)

    def append(self, *args):
        self.barrier.wait(timeout=60)
        return self.ledger.append(*args)


def _approve(url: str, who: int, barrier, results) -> None:
    ledger = Ledger.open(url)
    try:
        event = Lifecycle(_Racing(ledger, barrier)).approve("social-security", "test", (CLERK, CHIEF)[who], at("2026-03-02T09:00"))
        results.put((who, "ok", event.sequence))
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        results.put((who, type(exc).__name__, str(exc)))
    finally:
        ledger.close()


def test_two_processes_approving_at_once(service, ledger, database_url):
    service.submit(EXAMPLES / "social-security.yaml", SOCIAL, at("2026-02-12T10:00"))
    service.accept("social-security", CLERK, at("2026-02-24T09:00"))
    service.review("social-security", "ok", CLERK, at("2026-02-26T09:00"))
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    workers = [ctx.Process(target=_approve, args=(database_url, who, barrier, results)) for who in (0, 1)]
    for w in workers:
        w.start()
    outcomes = sorted(results.get(timeout=120)[1:] for _ in workers)
    for w in workers:
        w.join(timeout=60)
        assert w.exitcode == 0
    assert outcomes[0][0] == "ConflictError" and "changed meanwhile, retry" in outcomes[0][1]
    assert outcomes[1] == ("ok", 4)
    events = ledger.events("social-security")
    assert [e.type for e in events] == ["submitted", "accepted", "reviewed", "approved"]
    assert ledger.get_state("social-security").sequence == 4
    # the loser retries on the new state: approving test again is allowed and recorded after
    assert service.approve("social-security", "test", CHIEF, at("2026-03-02T09:00")).sequence == 5
    service.record_provisioned("social-security", "test", OPS, at("2026-03-02T10:00"))
    assert service.state("social-security").state == "testing"
