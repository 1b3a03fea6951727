"""Adjusting during testing (Art. 21) and what an ``up`` records (Art. 31), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from orchestrator.core import lifecycle as lc
from orchestrator.core.validation import load_manifest
from orchestrator.errors import RuleError

from .conftest import CHIEF, CLERK, EXAMPLES, OPS, SOCIAL, at, variant
from .test_cli import MANIFEST, OFFICE, PROVIDER, UNIT

APP = "social-security"
SOCIAL_SECURITY = EXAMPLES / "social-security.yaml"
BACKUP = ("retentionDays: 180", "retentionDays: 90")


def to_testing(service) -> None:
    """Provisioned for test on Sat 28 Feb 2026 (a make-up working day): the window ends 15 Mar."""
    service.submit(SOCIAL_SECURITY, SOCIAL, at("2026-02-12T10:00"))
    service.accept(APP, CLERK, at("2026-02-24T09:00"))
    service.review(APP, "complete; resources reasonable", CLERK, at("2026-02-26T15:00"))
    service.approve(APP, "test", CHIEF, at("2026-02-27T09:00"))
    service.record_provisioned(APP, "test", OPS, at("2026-02-28T10:00"))


def test_a_revised_manifest_is_reviewed_approved_and_provisioned_during_testing(service, tmp_path):
    to_testing(service)
    first = load_manifest(SOCIAL_SECURITY).digest
    revised = variant(tmp_path, "revised", BACKUP)
    event = service.change(APP, revised, SOCIAL, at("2026-03-03T09:00"))  # the step Art. 15 refused in testing
    assert (event.type, event.payload["kind"]) == ("adjustment-submitted", "minor")
    state = service.state(APP)
    assert (state.state, state.digest, state.approved["test"]) == (lc.ADJUSTMENT_SUBMITTED, event.digest, first)
    with pytest.raises(RuleError) as trial:  # nothing moves on while the revision waits
        service.approve(APP, "trial", CHIEF, at("2026-03-03T10:00"))
    assert trial.value.rule == "transition:approved"
    with pytest.raises(RuleError) as early:  # approval follows the review, as at submission
        service.approve(APP, "test", CHIEF, at("2026-03-03T10:00"))
    assert "allowed from: reviewed, testing" in str(early.value)

    d = {x["name"]: x for x in service.status(APP, at("2026-03-03T12:00"))["deadlines"]}
    assert (d["adjustment-review"]["due"], d["adjustment-review"]["status"], d["adjustment-review"]["article"]) == (
        "2026-03-05",
        "open",
        "Art. 12, 21",
    )

    assert service.review(APP, "revision complete", CLERK, at("2026-03-04T15:00")).type == "adjustment-reviewed"
    assert service.state(APP).state == lc.TESTING
    service.approve(APP, "test", CHIEF, at("2026-03-05T09:00"))
    assert service.state(APP).approved["test"] == event.digest
    recorded = service.record_deployment(
        APP, "test", OPS, at("2026-03-05T10:00"), event.digest, payload={"program": "sha256:p1"}
    )
    assert recorded is not None and recorded.type == "provisioned"

    state = service.state(APP)
    assert (state.state, state.provisioned["test"]) == (lc.TESTING, event.digest)
    assert state.test_expires == at("2026-03-15T10:00")  # the window runs on; the office may extend it (Art. 13)
    d = {x["name"]: x for x in service.status(APP, at("2026-03-05T12:00"))["deadlines"]}
    assert (d["adjustment-review"]["status"], d["adjustment-review"]["done"]) == ("met", "2026-03-04")
    assert (d["adjustment-ready"]["due"], d["adjustment-ready"]["status"], d["adjustment-ready"]["done"]) == (
        "2026-03-06",
        "met",
        "2026-03-05",
    )
    assert d["test-ready"]["status"] == "met" and d["test-window"]["status"] == "open"
    # then on as before: the office records the passed test and approves the trial of the revision
    service.test_passed(APP, "report T-26-040", CLERK, at("2026-03-10T09:00"))
    assert service.approve(APP, "trial", CHIEF, at("2026-03-11T09:00")).digest == event.digest


def test_a_refused_revision_carries_reasons_and_the_unit_submits_another(service, tmp_path):
    to_testing(service)
    service.change(APP, variant(tmp_path, "revised", BACKUP), SOCIAL, at("2026-03-03T09:00"))
    with pytest.raises(RuleError) as bare:
        service.reject(APP, "", CLERK, at("2026-03-04T09:00"))
    assert bare.value.rule == "rejection-reasons"
    with pytest.raises(RuleError) as own:  # the unit does not review its own revision
        service.review(APP, "fine", SOCIAL, at("2026-03-04T09:00"))
    assert own.value.rule == "role"
    assert (
        service.reject(APP, "backups shorter than the MLPS level allows", CLERK, at("2026-03-04T09:00")).type
        == "adjustment-rejected"
    )
    state = service.state(APP)
    assert state.state == lc.ADJUSTMENT_REJECTED and "test" in state.provisioned  # the test environment lives on
    again = service.change(
        APP, variant(tmp_path, "again", ("retentionDays: 180", "retentionDays: 365")), SOCIAL, at("2026-03-04T11:00")
    )
    assert again.type == "adjustment-submitted"
    assert service.review(APP, "fine", CLERK, at("2026-03-05T09:00")).type == "adjustment-reviewed"


def test_an_up_at_the_same_digest_and_program_records_nothing(service):
    to_testing(service)
    digest = load_manifest(SOCIAL_SECURITY).digest
    first = service.record_deployment(
        APP, "test", OPS, at("2026-03-01T09:00"), digest, reason="program changed", payload={"program": "sha256:p1"}
    )
    assert first is not None and first.type == lc.REAPPLIED  # record-provisioned by hand named no program
    sequence = service.state(APP).sequence
    assert (
        service.record_deployment(APP, "test", OPS, at("2026-03-02T09:00"), digest, payload={"program": "sha256:p1"})
        is None
    )
    assert service.state(APP).sequence == sequence
    assert service.check_provision(APP, "test", digest, at("2026-03-02T09:00"), "sha256:p1") == lc.UNCHANGED
    assert service.check_provision(APP, "test", digest, at("2026-03-02T09:00"), "sha256:p2") == lc.REAPPLIED
    with pytest.raises(RuleError) as expired:  # unchanged or not, the gates still hold
        service.check_provision(APP, "test", digest, at("2026-03-20T09:00"), "sha256:p1")
    assert expired.value.rule == "test-expired"
    changed = service.record_deployment(
        APP,
        "test",
        OPS,
        at("2026-03-03T09:00"),
        digest,
        reason="program changed: stacks/x.py",
        payload={"program": "sha256:p2"},
    )
    assert changed is not None and changed.type == lc.REAPPLIED


def test_app_change_during_testing_submits_an_adjustment(run, tmp_path):
    for step in [
        ("app", "submit", MANIFEST, *UNIT, "--at", "2026-02-12T10:00"),
        ("app", "accept", APP, *OFFICE, "--at", "2026-02-24T09:00"),
        ("app", "review", APP, "--opinion", "complete", *OFFICE, "--at", "2026-02-26T09:00"),
        ("app", "approve", APP, "--env", "test", *OFFICE, "--at", "2026-02-26T10:00"),
        ("app", "record-provisioned", APP, "--env", "test", *PROVIDER, "--at", "2026-02-27T10:00"),
    ]:
        run(*step)
    revised = str(variant(tmp_path, "revised", BACKUP))
    out = run("app", "change", APP, revised, *UNIT, "--at", "2026-03-03T09:00").output
    assert out.startswith(f"{APP} #6 adjustment-submitted by zhaogang (unit)"), out
    assert (
        "adjustment-reviewed"
        in run("app", "review", APP, "--opinion", "ok", *OFFICE, "--at", "2026-03-04T09:00").output
    )
    run("app", "approve", APP, "--env", "test", *OFFICE, "--at", "2026-03-04T10:00")
    assert (
        "provisioned [test]"
        in run("app", "record-provisioned", APP, "--env", "test", *PROVIDER, "--at", "2026-03-04T11:00").output
    )
