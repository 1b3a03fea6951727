"""Art. 37 (issue 21): the office suspends a system for a high-risk finding, orders a rectification
by a date for a lower one; the running-time deadlines pause while suspended; a missed
rectification reaches the office; on SQLite and PostgreSQL. The program's side (servers off,
public ingress withdrawn): ``tests/stacks/test_suspension_plan.py``; on the cloud:
``tests/e2e/test_suspension.py``."""

from __future__ import annotations

import datetime as dt

import pytest

from orchestrator.core import lifecycle as lc
from orchestrator.core import notices as nt
from orchestrator.core.workdays import Calendar
from orchestrator.errors import RuleError, UsageError

from .conftest import CHIEF, CLERK, EXAMPLES, OPS, SOCIAL, at

APP = "social-security"


@pytest.fixture
def testing(service):
    """social-security with a live test environment (its 15-day window running from 2026-02-15)."""
    service.submit(EXAMPLES / "social-security.yaml", SOCIAL, at("2026-02-12T10:00"))
    service.accept(APP, CLERK, at("2026-02-13T09:00"))
    service.review(APP, "complete", CLERK, at("2026-02-14T09:00"))
    service.approve(APP, "test", CHIEF, at("2026-02-14T10:00"))
    digest = service.state(APP).digest
    service.record_deployment(APP, "test", OPS, at("2026-02-15T10:00"), digest, payload={"program": "p1"})
    return service


def test_a_high_risk_finding_suspends_and_pauses_the_running_clocks(testing):
    event = testing.suspend(
        APP, "high", "SQL injection in the login form", "INSP-2026-007", CHIEF, at("2026-02-17T09:00")
    )
    assert (event.type, event.reason, event.payload["reference"]) == (
        "suspended",
        "SQL injection in the login form",
        "INSP-2026-007",
    )
    state = testing.state(APP)
    assert state.suspension["reference"] == "INSP-2026-007" and state.state == lc.TESTING
    [window] = [d for d in testing.deadlines(at("2026-03-10T09:00")).found if d.application == APP]
    assert (window.name, window.status) == ("test-window", "paused")  # past its due date, yet not missed
    with pytest.raises(RuleError, match="suspended already"):
        testing.suspend(APP, "high", "again", "INSP-2026-008", CHIEF, at("2026-02-18T09:00"))
    testing.resume(APP, "patched, retested: report R-7", CHIEF, at("2026-02-20T09:00"))
    assert testing.state(APP).suspension is None
    [window] = [d for d in testing.deadlines(at("2026-03-10T09:00")).found if d.application == APP]
    assert window.status == "missed"


def test_only_the_office_suspends_with_finding_and_reference(testing):
    with pytest.raises(RuleError, match="role egov-office"):
        testing.suspend(APP, "high", "weak TLS", "INSP-1", OPS, at("2026-02-17T09:00"))
    with pytest.raises(RuleError, match="reference"):
        testing.suspend(APP, "high", "weak TLS", "  ", CHIEF, at("2026-02-17T09:00"))
    with pytest.raises(UsageError, match="--due"):
        testing.suspend(APP, "high", "weak TLS", "INSP-1", CHIEF, at("2026-02-17T09:00"), due="2026-03-01")
    with pytest.raises(UsageError, match="--due"):
        testing.suspend(APP, "low", "weak TLS", "INSP-1", CHIEF, at("2026-02-17T09:00"))
    with pytest.raises(RuleError, match="neither suspended"):
        testing.resume(APP, "nothing to rectify", CHIEF, at("2026-02-17T09:00"))


def test_a_low_risk_finding_gets_a_deadline_that_reaches_the_office_when_missed(testing):
    with pytest.raises(RuleError, match="not after the order"):
        testing.suspend(APP, "low", "verbose errors", "INSP-2", CHIEF, at("2026-02-17T09:00"), due="2026-02-17")
    with pytest.raises(RuleError, match="not a date"):
        testing.suspend(APP, "low", "verbose errors", "INSP-2", CHIEF, at("2026-02-17T09:00"), due="soon")
    order = testing.suspend(APP, "low", "verbose errors", "INSP-2", CHIEF, at("2026-02-17T09:00"), due="2026-02-24")
    assert order.type == "rectification-ordered" and order.payload["due"] == "2026-02-24"
    state = testing.state(APP)
    assert state.suspension is None and state.rectification["due"] == "2026-02-24"
    found = {d.name: d for d in testing.deadlines(at("2026-02-25T09:00")).found if d.application == APP}
    assert (found["rectification"].due, found["rectification"].status) == (dt.date(2026, 2, 24), "missed")
    assert found["rectification"].article == "Art. 37"
    missed = [
        n
        for n in nt.scan(state, Calendar(), at("2026-02-25T09:00"))
        if n.kind == "deadline-missed" and n.topic == "rectification"
    ]
    assert missed and nt.OFFICE in missed[0].audience and nt.UNIT in missed[0].audience
    with pytest.raises(RuleError, match="rectification open already"):
        testing.suspend(APP, "low", "another", "INSP-3", CHIEF, at("2026-02-18T09:00"), due="2026-03-24")
    assert testing.resume(APP, "error pages fixed", CHIEF, at("2026-02-26T09:00")).type == "rectified"
    done = {d.name: d for d in lc.deadlines(testing.state(APP), Calendar(), at("2026-02-27T09:00"))}
    assert done["rectification"].status == "missed" and done["rectification"].done == dt.date(2026, 2, 26)


def test_the_up_of_a_suspended_environment_is_recorded_reapplied_and_its_payload_says_so(testing):
    digest = testing.state(APP).digest
    testing.suspend(APP, "high", "exposed admin console", "INSP-4", CHIEF, at("2026-02-17T09:00"))
    event = testing.record_deployment(
        APP,
        "test",
        OPS,
        at("2026-02-17T10:00"),
        digest,
        reason="Art. 37: suspended",
        payload={"program": "p1", "suspended": True},
        remedies=True,
    )
    assert event.type == "reapplied" and testing.state(APP).deployed["test"]["suspended"] is True


def test_the_projection_and_its_rebuild_agree_after_a_suspension(testing):
    testing.suspend(APP, "high", "exposed admin console", "INSP-4", CHIEF, at("2026-02-17T09:00"))
    testing.resume(APP, "console closed", CHIEF, at("2026-02-18T09:00"))
    assert testing.check_projection() == []
