"""Complete timelines replayed with stated times, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest

from orchestrator.core import lifecycle as lc
from orchestrator.errors import ConflictError, NotFound, RuleError
from tests.reclaim.fakes import FakeStacks, reclaimer

from .conftest import CHIEF, CLERK, EXAMPLES, NEW_SELF_TEST, OPS, PORTAL, SOCIAL, at, variant

SOCIAL_SECURITY = EXAMPLES / "social-security.yaml"
PERMIT = lc.Actor("wu", lc.UNIT, "zjj")


def _rule(exc_info, rule: str, article: str) -> None:
    assert (exc_info.value.rule, exc_info.value.article) == (rule, article), str(exc_info.value)


def _deadlines(service, app: str, when: str) -> dict[str, lc.Deadline]:
    return {d["name"]: d for d in service.status(app, at(when))["deadlines"]}


def to_trial(service) -> None:
    """social-security from submission (before the Spring Festival) to its trial run."""
    service.submit(SOCIAL_SECURITY, SOCIAL, at("2026-02-12T10:00"))
    service.accept("social-security", CLERK, at("2026-02-24T09:00"))
    service.review("social-security", "complete; resources reasonable", CLERK, at("2026-02-26T15:00"))
    service.approve("social-security", "test", CHIEF, at("2026-02-27T09:00"))
    service.record_provisioned("social-security", "test", OPS, at("2026-02-28T10:00"))
    service.test_passed("social-security", "report T-26-031", CLERK, at("2026-03-10T09:00"))
    service.approve("social-security", "trial", CHIEF, at("2026-03-11T09:00"))
    service.record_provisioned("social-security", "trial", OPS, at("2026-03-12T10:00"))


def to_production(service) -> None:
    to_trial(service)
    service.approve("social-security", "production", CHIEF, at("2026-04-11T10:00"))
    service.record_provisioned("social-security", "production", OPS, at("2026-04-13T10:00"))


def test_submission_to_production_across_the_spring_festival(service):
    to_trial(service)
    state = service.state("social-security")
    assert state.state == lc.TRIAL
    assert state.test_expires == at("2026-03-15T10:00")
    assert state.production_opens == at("2026-04-11T10:00")
    d = _deadlines(service, "social-security", "2026-03-12T12:00")
    # submitted Thu 12 Feb: Fri 13, Sat 14 (make-up), holiday 15-23, Tue 24
    assert (d["accept-or-reject"]["due"], d["accept-or-reject"]["status"]) == ("2026-02-24", "met")
    assert (d["review"]["due"], d["review"]["status"]) == ("2026-02-26", "met")
    # reviewed Thu 26 Feb: Fri 27, Sat 28 (make-up)
    assert (d["test-ready"]["due"], d["test-ready"]["status"]) == ("2026-02-28", "met")
    assert d["trial-minimum"]["status"] == "open"

    with pytest.raises(RuleError) as early:
        service.approve("social-security", "production", CHIEF, at("2026-04-10T10:00"))
    _rule(early, "trial-30-days", "Art. 14")
    service.approve("social-security", "production", CHIEF, at("2026-04-11T10:00"))
    with pytest.raises(RuleError) as other:
        service.record_provisioned(
            "social-security", "production", OPS, at("2026-04-12T10:00"), digest="sha256:" + "0" * 64
        )
    _rule(other, "digest-approved", "Art. 14")
    digest = service.state("social-security").digest
    service.check_provision("social-security", "production", digest, at("2026-04-13T10:00"))
    with pytest.raises(RuleError) as expired:
        service.check_provision("social-security", "test", digest, at("2026-04-13T10:00"))
    _rule(expired, "test-expired", "Art. 13")
    service.record_provisioned("social-security", "production", OPS, at("2026-04-13T10:00"))

    state = service.state("social-security")
    assert state.state == lc.PRODUCTION
    assert set(state.approved) == {"test", "trial", "production"}
    assert len({*state.approved.values()}) == 1 == len({*state.provisioned.values()})
    assert _deadlines(service, "social-security", "2026-04-14")["trial-minimum"]["status"] == "met"
    history = service.history("social-security")
    assert [e.sequence for e in history] == list(range(1, 11))
    assert history[0].payload["manifest"]["metadata"]["id"] == "social-security"
    assert service.manifest("social-security").digest == state.digest  # the snapshot is self-contained


def test_rejected_and_resubmitted(service, tmp_path):
    portal = EXAMPLES / "citizen-portal.yaml"
    with pytest.raises(RuleError) as foreign:
        service.submit(portal, SOCIAL, at("2026-05-06T09:00"))
    _rule(foreign, "own-unit", "Art. 6-9")
    first = service.submit(portal, PORTAL, at("2026-05-06T09:00"))
    with pytest.raises(RuleError) as twice:
        service.submit(portal, PORTAL, at("2026-05-06T10:00"))
    _rule(twice, "transition:submitted", "Art. 11")
    with pytest.raises(RuleError) as bare:
        service.reject("citizen-portal", "", CLERK, at("2026-05-07T09:00"))
    _rule(bare, "rejection-reasons", "Art. 12")
    service.reject("citizen-portal", "self-test report lacks load test", CLERK, at("2026-05-07T09:00"))
    with pytest.raises(RuleError) as accept:
        service.accept("citizen-portal", CLERK, at("2026-05-07T10:00"))
    assert "in state rejected" in str(accept.value)
    _rule(accept, "transition:accepted", "Art. 12")

    fixed = variant(
        tmp_path,
        "portal-v2",
        ("9a8b7c6d5e4f30211f2e3d4c5b6a79881122334455667788990011aabbccddee", "e" * 64),
        source="citizen-portal",
    )
    second = service.submit(fixed, PORTAL, at("2026-05-11T09:00"))
    assert second.digest != first.digest and second.sequence == 3
    d = _deadlines(service, "citizen-portal", "2026-05-11T10:00")
    # the clock restarts at the resubmission: Mon 11 May + 3 working days
    assert (d["accept-or-reject"]["due"], d["accept-or-reject"]["status"]) == ("2026-05-14", "open")
    service.accept("citizen-portal", CLERK, at("2026-05-12T09:00"))
    assert service.state("citizen-portal").digest == second.digest


def test_test_extension_and_expiry(service):
    permit = EXAMPLES / "permit-prototype.yaml"
    service.submit(permit, PERMIT, at("2026-09-14T09:00"))
    service.accept("permit-prototype", CLERK, at("2026-09-15T09:00"))
    service.review("permit-prototype", "ok", CLERK, at("2026-09-16T09:00"))
    with pytest.raises(RuleError) as undeclared:
        service.approve("permit-prototype", "trial", CHIEF, at("2026-09-17T09:00"))
    assert "in state reviewed" in str(undeclared.value) or undeclared.value.rule == "environment-declared"
    service.approve("permit-prototype", "test", CHIEF, at("2026-09-17T09:00"))
    with pytest.raises(RuleError) as role:
        service.record_provisioned("permit-prototype", "test", CLERK, at("2026-09-20T09:00"))
    _rule(role, "role", "Art. 6-9")
    service.record_provisioned("permit-prototype", "test", OPS, at("2026-09-20T09:00"))  # Sun 20 Sep: make-up day
    assert service.state("permit-prototype").test_expires == at("2026-10-05T09:00")
    service.extend("permit-prototype", 5, "load test needs another week", CHIEF, at("2026-09-30T09:00"))
    assert service.state("permit-prototype").test_expires == at("2026-10-10T09:00")

    stacks = FakeStacks("zjj.permit-prototype.test")
    fake = reclaimer(service, service.store, OPS, stacks=stacks)
    assert fake.expire(at("2026-10-06T09:00")).actions == []
    dry = fake.expire(at("2026-10-07T09:00"), dry_run=True)
    assert [(a.application, a.action, a.done) for a in dry.actions] == [("permit-prototype", "warn", False)]
    assert service.state("permit-prototype").sequence == 6
    warned = fake.expire(at("2026-10-07T09:00"))
    assert [(a.action, a.done) for a in warned.actions] == [("warn", True)]
    assert fake.expire(at("2026-10-08T09:00")).actions == []  # warned once
    with pytest.raises(RuleError) as late:
        service.record_provisioned("permit-prototype", "test", OPS, at("2026-10-10T09:00"))
    _rule(late, "test-expired", "Art. 13")
    gone = fake.expire(at("2026-10-10T09:30"))
    assert [(a.action, a.done) for a in gone.actions] == [("destroy", True)]
    assert stacks.calls == [("destroy", "zjj.permit-prototype.test"), ("rm", "zjj.permit-prototype.test")]
    state = service.state("permit-prototype")
    types = [e.type for e in service.history("permit-prototype")]
    assert "test" not in state.provisioned and types[-1] == "test-expired" and "expiry-warned" in types[-6:]
    assert _deadlines(service, "permit-prototype", "2026-10-12")["test-window"]["status"] == "met"
    assert fake.expire(at("2026-10-11T09:00")).actions == []


def test_expiry_failure_is_reported_and_the_run_goes_on(service, tmp_path):
    twin = variant(tmp_path, "twin", ("id: permit-prototype", "id: permit-twin"), source="permit-prototype")
    for path, app in ((EXAMPLES / "permit-prototype.yaml", "permit-prototype"), (twin, "permit-twin")):
        service.submit(path, PERMIT, at("2026-06-01T09:00"))
        service.accept(app, CLERK, at("2026-06-01T10:00"))
        service.review(app, "ok", CLERK, at("2026-06-01T11:00"))
        service.approve(app, "test", CHIEF, at("2026-06-01T12:00"))
        service.record_provisioned(app, "test", OPS, at("2026-06-02T09:00"))

    stacks = FakeStacks("zjj.permit-prototype.test", "zjj.permit-twin.test")
    stacks.fail_destroy.add("zjj.permit-prototype.test")  # the engine: stack is locked
    report = reclaimer(service, service.store, OPS, stacks=stacks).expire(at("2026-06-20T09:00"))
    assert report.failed == 1 and "pulumi destroy of stack zjj.permit-prototype.test failed" in report.actions[0].error
    assert {(a.application, a.done) for a in report.actions} == {("permit-prototype", False), ("permit-twin", True)}
    assert "test" in service.state("permit-prototype").provisioned
    assert "test" not in service.state("permit-twin").provisioned


def test_major_change_across_national_day(service, tmp_path):
    to_production(service)
    same_tests = variant(tmp_path, "pg", ("engine: mysql", "engine: postgresql"))
    with pytest.raises(RuleError) as materials:
        service.change("social-security", same_tests, SOCIAL, at("2026-09-30T11:00"))
    _rule(materials, "major-change-materials", "Art. 15")
    major = variant(tmp_path, "pg2", ("engine: mysql", "engine: postgresql"), NEW_SELF_TEST)
    with pytest.raises(RuleError) as wrong_state:
        service.approve_change("social-security", CHIEF, at("2026-09-30T11:00"))
    assert "in state production" in str(wrong_state.value)
    requested = service.change("social-security", major, SOCIAL, at("2026-09-30T11:00"))
    assert requested.payload["kind"] == "major"
    assert any(
        c["what"] == "database benefits engine mysql -> postgresql" and c["kind"] == "major"
        for c in requested.payload["changes"]
    )
    with pytest.raises(RuleError) as untested:
        service.approve_change("social-security", CHIEF, at("2026-10-08T09:00"))
    _rule(untested, "major-change-tested", "Art. 15")
    d = _deadlines(service, "social-security", "2026-10-09T09:00")
    # Wed 30 Sep + 5 working days: Thu 8, Fri 9, Sat 10 (make-up), Mon 12, Tue 13
    assert (d["change-review"]["due"], d["change-review"]["status"]) == ("2026-10-13", "open")
    service.test_passed("social-security", "report T-26-101", CLERK, at("2026-10-09T09:00"))
    service.approve_change("social-security", CHIEF, at("2026-10-09T15:00"))
    state = service.state("social-security")
    assert state.state == lc.CHANGE_APPROVED
    assert state.change["environments"] == ["production", "trial"]  # the test window is long over
    assert state.approved["production"] == requested.digest
    # Fri 9 Oct + 3 working days: Sat 10 (make-up), Mon 12, Tue 13
    assert _deadlines(service, "social-security", "2026-10-10")["change-applied"]["due"] == "2026-10-13"
    service.record_provisioned("social-security", "trial", OPS, at("2026-10-10T10:00"))
    assert service.state("social-security").state == lc.CHANGE_APPROVED
    service.record_provisioned("social-security", "production", OPS, at("2026-10-12T10:00"))
    state = service.state("social-security")
    assert state.state == lc.PRODUCTION and state.change is None
    d = _deadlines(service, "social-security", "2026-10-20")
    assert d["change-review"]["status"] == d["change-applied"]["status"] == "met"


def test_minor_change_needs_no_test_pass(service, tmp_path):
    to_trial(service)
    minor = variant(tmp_path, "minor", ("retentionDays: 180", "retentionDays: 90"))
    same = service.manifest("social-security")
    with pytest.raises(RuleError) as nothing:
        service.change("social-security", SOCIAL_SECURITY, SOCIAL, at("2026-03-20T09:00"))
    _rule(nothing, "change-differs", "Art. 15")
    event = service.change("social-security", minor, SOCIAL, at("2026-03-20T09:00"))
    assert event.payload["kind"] == "minor"
    service.approve_change("social-security", CHIEF, at("2026-03-23T09:00"))
    service.record_provisioned("social-security", "trial", OPS, at("2026-03-24T09:00"))
    state = service.state("social-security")
    assert state.state == lc.TRIAL and state.digest != same.digest


def test_termination(service):
    to_production(service)
    with pytest.raises(RuleError) as other_unit:
        service.terminate("social-security", PORTAL, at("2026-06-01T09:00"))
    _rule(other_unit, "own-unit", "Art. 6-9")
    service.terminate("social-security", SOCIAL, at("2026-06-01T09:00"), reason="replaced by the provincial system")
    with pytest.raises(RuleError) as before_backup:
        service.approve_termination("social-security", CHIEF, at("2026-06-02T09:00"))
    assert "in state termination-requested" in str(before_backup.value)
    _rule(before_backup, "transition:termination-approved", "Art. 16")
    with pytest.raises(RuleError) as no_evidence:
        service.confirm_backup("social-security", "", SOCIAL, at("2026-06-02T09:00"))
    _rule(no_evidence, "backup-evidence", "Art. 16")
    service.confirm_backup("social-security", "exported to archive B-2026-06", SOCIAL, at("2026-06-02T09:00"))
    with pytest.raises(RuleError) as unit_approves:
        service.approve_termination("social-security", SOCIAL, at("2026-06-03T09:00"))
    _rule(unit_approves, "role", "Art. 6-9")
    service.approve_termination("social-security", CHIEF, at("2026-06-05T09:00"))
    service.record_reclaimed("social-security", OPS, at("2026-06-09T09:00"))
    state = service.state("social-security")
    assert state.state == lc.RECLAIMED and state.provisioned == {}
    d = _deadlines(service, "social-security", "2026-06-30")
    # Mon 1 Jun + 5 working days = Mon 8 Jun; Fri 5 Jun + 3 = Wed 10 Jun
    assert (d["termination-review"]["due"], d["termination-review"]["status"]) == ("2026-06-08", "met")
    assert (d["reclamation"]["due"], d["reclamation"]["status"]) == ("2026-06-10", "met")
    with pytest.raises(RuleError) as after:
        service.terminate("social-security", SOCIAL, at("2026-07-01T09:00"))
    assert "in state reclaimed" in str(after.value)


def test_overdue_deadlines_across_applications(service, tmp_path):
    service.submit(EXAMPLES / "citizen-portal.yaml", PORTAL, at("2026-02-12T10:00"))
    service.submit(SOCIAL_SECURITY, SOCIAL, at("2026-02-13T10:00"))
    service.accept("social-security", CLERK, at("2026-02-14T10:00"))
    assert service.deadlines(at("2026-02-24T18:00"), overdue=True).found == []
    overdue = service.deadlines(at("2026-02-25T09:00"), overdue=True).found
    assert [(d.application, d.name, d.due) for d in overdue] == [
        ("citizen-portal", "accept-or-reject", dt.date(2026, 2, 24))
    ]
    running = service.deadlines(at("2026-02-25T09:00")).found
    assert [(d.application, d.name) for d in running] == [
        ("citizen-portal", "accept-or-reject"),
        ("social-security", "review"),
    ]
    assert len(service.deadlines(at("2026-03-01T09:00"), overdue=True).found) == 2


def test_unknown_application_and_stale_write(service, ledger):
    with pytest.raises(NotFound):
        service.accept("nothing-here", CLERK, at("2026-02-24T09:00"))
    with pytest.raises(NotFound):
        service.status("nothing-here", at("2026-02-24T09:00"))
    service.submit(SOCIAL_SECURITY, SOCIAL, at("2026-02-12T10:00"))
    stale = lc.fold(ledger.events("social-security"))
    service.accept("social-security", CLERK, at("2026-02-13T10:00"))
    event = lc.decide(stale, "rejected", CHIEF, at("2026-02-13T11:00"), reason="late")
    with pytest.raises(ConflictError, match="changed meanwhile, retry"):
        ledger.append(event, lc.apply(stale, event), None)
    assert [e.type for e in ledger.events("social-security")] == ["submitted", "accepted"]


def test_expire_decides_before_destroying(service):
    """A step the ledger would refuse is refused before the engine destroys anything."""
    permit = EXAMPLES / "permit-prototype.yaml"
    service.submit(permit, PERMIT, at("2026-06-01T09:00"))
    service.accept("permit-prototype", CLERK, at("2026-06-01T10:00"))
    service.review("permit-prototype", "ok", CLERK, at("2026-06-01T11:00"))
    service.approve("permit-prototype", "test", CHIEF, at("2026-06-01T12:00"))
    service.record_provisioned("permit-prototype", "test", OPS, at("2026-06-02T09:00"))
    service.terminate("permit-prototype", PERMIT, at("2026-06-03T09:00"))
    stacks = FakeStacks("zjj.permit-prototype.test")
    report = reclaimer(service, service.store, CLERK, stacks=stacks).expire(at("2026-06-20T09:00"))
    assert report.failed == 1
    assert report.actions[0].error == "test-expired is for role provider, not egov-office (Art. 6-9)"
    assert stacks.calls == []
    report = reclaimer(service, service.store, OPS, stacks=stacks).expire(at("2026-06-20T09:00"))
    assert report.failed == 0 and ("destroy", "zjj.permit-prototype.test") in stacks.calls  # during termination too
    assert service.state("permit-prototype").state == lc.TERMINATION_REQUESTED
