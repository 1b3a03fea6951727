"""Data loss only with an explicit, recorded approval (issue 25), and a failed up that leaves a
recoverable state; on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from orchestrator.core import lifecycle as lc
from orchestrator.errors import RuleError

from .conftest import CHIEF, CLERK, EXAMPLES, NEW_SELF_TEST, OPS, SOCIAL, at, variant
from .test_timelines import to_trial

VOLUMES = ["social-security-app-1-data", "social-security-app-2-data"]


def _rule(exc_info, rule: str, article: str) -> None:
    assert (exc_info.value.rule, exc_info.value.article) == (rule, article), str(exc_info.value)


def change_renaming_the_data_volume(service, tmp_path) -> str:
    """A major change (the rename destroys data), tested and approved; returns its digest."""
    renamed = variant(tmp_path, "renamed", ("          - name: data\n", "          - name: records\n"), NEW_SELF_TEST)
    requested = service.change("social-security", renamed, SOCIAL, at("2026-03-20T09:00"))
    assert requested.payload["kind"] == "major"
    assert any(
        c["reason"].startswith("destroys data: volume social-security-app-1-data") for c in requested.payload["changes"]
    )
    service.test_passed("social-security", "report T-26-040", CLERK, at("2026-03-23T09:00"))
    service.approve_change("social-security", CHIEF, at("2026-03-23T10:00"))
    return requested.digest


def test_the_unit_confirms_with_its_backup_and_the_office_approves_exactly_that(service, tmp_path):
    to_trial(service)
    digest = change_renaming_the_data_volume(service, tmp_path)
    state = service.state("social-security")
    assert lc.approved_data_loss(state, "trial", digest) == frozenset()

    confirmed = service.confirm_data_loss(
        "social-security",
        "trial",
        VOLUMES[::-1] + VOLUMES[:1],
        "backup bk-2026-0323-01 (cinder backups of both volumes)",
        SOCIAL,
        at("2026-03-23T11:00"),
    )
    assert (confirmed.digest, confirmed.payload["resources"]) == (digest, VOLUMES)
    assert lc.approved_data_loss(service.state("social-security"), "trial", digest) == frozenset()

    approved = service.approve_data_loss("social-security", "trial", CLERK, at("2026-03-23T12:00"))
    assert approved.payload["resources"] == VOLUMES and approved.digest == digest
    state = service.state("social-security")
    assert lc.approved_data_loss(state, "trial", digest) == frozenset(VOLUMES)
    assert lc.approved_data_loss(state, "trial", "sha256:" + "0" * 64) == frozenset()
    assert lc.approved_data_loss(state, "production", digest) == frozenset()
    assert state.data_loss["trial"]["evidence"].startswith("backup bk-2026-0323-01")

    # the up that applies it consumes the approval: the next data loss asks again
    service.record_provisioned("social-security", "trial", OPS, at("2026-03-24T09:00"))
    assert service.state("social-security").data_loss == {}


def test_what_a_confirmation_and_an_approval_must_carry(service, tmp_path):
    to_trial(service)
    change_renaming_the_data_volume(service, tmp_path)
    with pytest.raises(RuleError) as none:
        service.approve_data_loss("social-security", "trial", CLERK, at("2026-03-23T11:00"))
    _rule(none, "data-loss-confirmed", "Art. 15")
    with pytest.raises(RuleError) as empty:
        service.confirm_data_loss("social-security", "trial", [], "bk-1", SOCIAL, at("2026-03-23T11:00"))
    _rule(empty, "data-loss-resources", "Art. 15")
    with pytest.raises(RuleError) as evidence:
        service.confirm_data_loss("social-security", "trial", VOLUMES, "", SOCIAL, at("2026-03-23T11:00"))
    _rule(evidence, "backup-evidence", "Art. 15")
    with pytest.raises(RuleError) as office:
        service.confirm_data_loss("social-security", "trial", VOLUMES, "bk-1", CLERK, at("2026-03-23T11:00"))
    _rule(office, "role", "Art. 6-9")
    service.confirm_data_loss("social-security", "trial", VOLUMES, "bk-1", SOCIAL, at("2026-03-23T11:00"))
    with pytest.raises(RuleError) as own:
        service.approve_data_loss("social-security", "trial", lc.Actor("li", lc.EGOV, "rsj"), at("2026-03-23T12:00"))
    _rule(own, "no-self-approval", "Art. 6-9")
    service.approve_data_loss("social-security", "trial", CLERK, at("2026-03-23T12:00"))
    with pytest.raises(RuleError) as twice:
        service.approve_data_loss("social-security", "trial", CHIEF, at("2026-03-23T13:00"))
    _rule(twice, "data-loss-approved", "Art. 15")


def test_a_failed_up_of_an_approved_change_lets_the_unit_request_a_revert(service, tmp_path):
    to_trial(service)
    digest = change_renaming_the_data_volume(service, tmp_path)
    assert service.state("social-security").state == lc.CHANGE_APPROVED
    with pytest.raises(RuleError) as silent:
        service.record_failure("social-security", "trial", OPS, at("2026-03-24T09:00"), digest, "")
    _rule(silent, "failure-reason", "Art. 15")
    failed = service.record_failure(
        "social-security",
        "trial",
        OPS,
        at("2026-03-24T09:00"),
        digest,
        "pulumi up failed: Quota exceeded for resources: ['gigabytes']",
    )
    state = service.state("social-security")
    assert (state.state, state.change) == (lc.TRIAL, None)
    assert state.failed["trial"]["error"] == failed.reason and state.approved["trial"] == digest

    revert = service.change("social-security", EXAMPLES / "social-security.yaml", SOCIAL, at("2026-03-24T10:00"))
    assert revert.type == "change-requested" and revert.digest != digest
    assert service.state("social-security").state == lc.CHANGE_REQUESTED


def test_a_retry_that_succeeds_clears_the_failure(service, tmp_path):
    to_trial(service)
    digest = change_renaming_the_data_volume(service, tmp_path)
    service.record_failure("social-security", "trial", OPS, at("2026-03-24T09:00"), digest, "engine failed")
    service.record_provisioned("social-security", "trial", OPS, at("2026-03-24T11:00"))
    state = service.state("social-security")
    assert state.failed == {} and state.provisioned["trial"] == digest and state.state == lc.TRIAL
