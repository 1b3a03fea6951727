"""``govcloud expire`` (Art. 13): an expired test environment goes the way reclamation removes one.

Two applications in testing over a real (SQLite) ledger and the in-memory cloud, engine and
Keycloak of :mod:`tests.reclaim.fakes`: social-security's test environment expires Sun 15 Mar
10:00, permit-prototype's (extended) Fri 20 Mar 10:00.
"""

from __future__ import annotations

import datetime as dt

import pytest

from orchestrator.core.reclaim import Found
from orchestrator.errors import RuleError
from orchestrator.services.lifecycle import Lifecycle
from orchestrator.services.reclaim import Reclaimer

from .conftest import OPS, at
from .fakes import OURS, environment

MISSING = "the Pulumi CLI (pulumi) was not found in /nowhere/bin or on PATH; install it with scripts/install-pulumi"
PERMIT_LABELS = dict(OURS, unit="zjj", app="permit-prototype")


@pytest.fixture
def testing(testing_ledger) -> Lifecycle:
    return Lifecycle(testing_ledger)


@pytest.fixture
def remover(testing, testing_ledger, cloud, stacks, platform) -> Reclaimer:
    return Reclaimer(
        testing, testing_ledger, cloud, stacks, OPS, platform=platform, workers=4, clock=lambda: at("2099-01-01T00:00")
    )  # expire records at its own --at, not the clock


def _types(lifecycle: Lifecycle, app: str = "social-security") -> list[str]:
    return [e.type for e in lifecycle.history(app)]


def _both_on_the_cloud(cloud, stacks, broken_permit: bool = False) -> None:
    cloud.add_project("test", items=environment("test"))
    permit = [Found("volume", "permit-vol", "permit-data", dict(PERMIT_LABELS, env="test"))]
    cloud.add_project("test", unit="zjj", app="permit-prototype", items=permit)
    stacks.names |= {"rsj.social-security.test", "zjj.permit-prototype.test"}
    if broken_permit:
        cloud.broken["permit-vol"] = "volume is attached to a server of another project"


def test_a_due_test_environment_goes_completely_and_test_expired_is_recorded(
    testing, testing_ledger, remover, cloud, stacks, keycloak
):
    _both_on_the_cloud(cloud, stacks)
    report = remover.expire(at("2026-03-16T09:00"))
    [action] = report.actions
    assert (action.application, action.action, action.done, action.error) == ("social-security", "destroy", True, None)
    assert action.deleted["server"] == 1 and action.deleted["project"] == 1 and action.deleted["auth_client"] == 1
    assert action.deleted["object"] == 2 and action.deleted["snapshot"] == 1  # the data, before the destroy
    # the stack destroyed and removed, leftovers swept, the client and the project deleted
    assert stacks.calls == [("destroy", "rsj.social-security.test"), ("rm", "rsj.social-security.test")]
    assert cloud.deleted_projects == ["rsj-social-security-test"] and "rsj-social-security-test" not in cloud.projects
    assert keycloak.realms["government-test"] == {}
    assert [f.id for f in cloud.items["p-permit-prototype-test"]] == ["permit-vol"]  # not due: untouched
    events = testing.history("social-security")
    steps = [(e.payload["step"], e.payload["status"], str(e.at)) for e in events if e.type == "reclaim-step"]
    assert [s[:2] for s in steps] == [
        ("empty", "done"),
        ("destroy", "done"),
        ("sweep", "done"),
        ("clients", "done"),
        ("project", "done"),
        ("access", "done"),
        ("stack", "done"),
        ("verify", "done"),
    ]
    assert {s[2] for s in steps} == {"2026-03-16 09:00:00"}  # at --at: the ledger's times stay in order
    assert events[-1].type == "test-expired" and events[-1].payload["counts"]["project"] == 1
    state = testing.state("social-security")
    assert state.state == "testing" and "test" not in state.provisioned  # the application itself lives on
    assert testing_ledger.lease("reclaim:social-security") is None  # released


def test_warning_is_as_before_and_needs_no_engine(testing, remover, cloud, stacks, keycloak):
    _both_on_the_cloud(cloud, stacks)
    stacks.missing = MISSING
    report = remover.expire(at("2026-03-12T10:00"))  # three days before 15 Mar 10:00
    assert [(a.application, a.action, a.done) for a in report.actions] == [("social-security", "warn", True)]
    assert _types(testing)[-1] == "expiry-warned" and "reclaim-step" not in _types(testing)
    assert stacks.calls == [] and cloud.listings == 0 and keycloak.deleted == []
    assert remover.expire(at("2026-03-13T10:00")).actions == []  # warned once


def test_a_failed_step_is_reported_nothing_recorded_and_the_next_application_goes(testing, remover, cloud, stacks):
    _both_on_the_cloud(cloud, stacks, broken_permit=True)
    report = remover.expire(at("2026-03-21T09:00"))
    permit, social = report.actions  # in order of application: the failed one first
    assert (permit.application, permit.done) == ("permit-prototype", False) and report.failed == 1
    assert permit.error.startswith("the test environment of permit-prototype is not gone, 1 failed: volume permit-vol")
    assert "attached to a server of another project" in permit.error
    assert "test-expired" not in _types(testing, "permit-prototype")
    assert "test" in testing.state("permit-prototype").provisioned
    failed = [
        e.payload["step"]
        for e in testing.history("permit-prototype")
        if e.type == "reclaim-step" and e.payload["status"] == "failed"
    ]
    assert failed == ["sweep", "verify"]  # for the operator: what failed, in the ledger
    assert "zjj-permit-prototype-test" in cloud.projects  # kept: ours remain in it
    assert (social.application, social.done) == ("social-security", True)
    assert _types(testing)[-1] == "test-expired" and cloud.deleted_projects == ["rsj-social-security-test"]
    # once the cause is gone, the next run finishes the job
    del cloud.broken["permit-vol"]
    again = remover.expire(at("2026-03-21T10:00"))
    assert [(a.application, a.done) for a in again.actions] == [("permit-prototype", True)]
    assert cloud.deleted_projects[-1] == "zjj-permit-prototype-test"


def test_dry_run_touches_nothing(testing, testing_ledger, remover, cloud, stacks, keycloak):
    _both_on_the_cloud(cloud, stacks)
    stacks.missing = MISSING
    before = {app: len(testing.history(app)) for app in ("social-security", "permit-prototype")}
    report = remover.expire(at("2026-03-21T09:00"), dry_run=True)
    assert [(a.application, a.action, a.done) for a in report.actions] == [
        ("permit-prototype", "destroy", False),
        ("social-security", "destroy", False),
    ]
    assert stacks.calls == [] and cloud.listings == 0 and cloud.deleted == [] and keycloak.deleted == []
    assert {app: len(testing.history(app)) for app in before} == before
    assert testing_ledger.lease("reclaim:social-security") is None


def test_a_missing_engine_fails_every_removal_untouched_and_warnings_still_go_out(testing, remover, cloud, stacks):
    _both_on_the_cloud(cloud, stacks)
    stacks.missing = MISSING
    before = len(testing.history("social-security"))
    report = remover.expire(at("2026-03-17T10:00"))  # social-security due, permit-prototype to warn
    assert [(a.application, a.action, a.done, a.error) for a in report.actions] == [
        ("permit-prototype", "warn", True, None),
        ("social-security", "destroy", False, MISSING),
    ]
    assert report.failed == 1
    assert len(testing.history("social-security")) == before and stacks.calls == [] and cloud.listings == 0
    assert _types(testing, "permit-prototype")[-1] == "expiry-warned"


def test_expire_waits_for_a_reclamation_of_the_same_application(testing, testing_ledger, remover, cloud, stacks):
    _both_on_the_cloud(cloud, stacks)
    assert testing_ledger.acquire("reclaim:social-security", "wang@host-b:2", dt.timedelta(minutes=15))
    report = remover.expire(at("2026-03-16T09:00"))
    assert "reclaim:social-security is held by wang@host-b:2" in report.actions[0].error
    assert stacks.calls == [] and cloud.deleted == [] and _types(testing)[-1] == "provisioned"


def test_only_the_test_environment_of_a_living_application_is_removed_so(testing, remover, cloud, stacks):
    cloud.add_project("production", items=environment("production"))
    with pytest.raises(RuleError) as refused:
        remover.remove_environment("social-security", "production", at("2026-03-16T09:00"))
    assert refused.value.rule == "transition:reclaim-step" and "in state testing" in str(refused.value)
    assert stacks.calls == [] and cloud.deleted == []
