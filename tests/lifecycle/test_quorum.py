"""Quorum (issue 21): a step the policy gives N approvers takes effect with the N-th distinct one,
on SQLite and PostgreSQL. The same person twice is refused; a withdrawn approval no longer counts;
two approvers acting at once as the 2nd and 3rd of a 2-quorum never both take effect."""

from __future__ import annotations

import multiprocessing

import pytest

import orchestrator.cli.lifecycle  # noqa: F401  (registers the commands)
from orchestrator.adapters.ledger import Ledger
from orchestrator.core import lifecycle as lc
from orchestrator.errors import ConflictError, RuleError, UsageError
from orchestrator.services.lifecycle import Lifecycle

from .conftest import CHIEF, CLERK, EXAMPLES, NEW_SELF_TEST, OPS, ROOT, SOCIAL, at, variant
from .test_timelines import to_trial

DEPUTY = lc.Actor("li", lc.EGOV, "egov")  # a third office member
TWO = {"production": 2, "major-change": 2, "termination": 2}
APP = "social-security"


@pytest.fixture
def quorate(ledger) -> Lifecycle:
    return Lifecycle(ledger, quorum=TWO)


def _to_production(service: Lifecycle) -> None:
    to_trial(service)
    service.approve(APP, "production", CLERK, at("2026-04-11T10:00"))
    service.approve(APP, "production", CHIEF, at("2026-04-11T10:30"))
    service.record_provisioned(APP, "production", OPS, at("2026-04-13T10:00"))


def _types(ledger: Ledger) -> list[str]:
    return [e.type for e in ledger.events(APP)]


def test_production_takes_effect_with_the_second_of_three_approvers(quorate, ledger):
    to_trial(quorate)
    first = quorate.approve(APP, "production", CLERK, at("2026-04-11T10:00"))
    assert (first.type, first.environment) == ("approval-given", "production")
    assert first.payload == {"step": "production", "quorum": 2, "approvers": ["zhang"]}
    state = quorate.state(APP)
    assert "production" not in state.approved
    with pytest.raises(RuleError) as gate:  # one approval of two: production is not approved yet
        quorate.check_provision(APP, "production", state.digest, at("2026-04-11T10:30"))
    assert gate.value.rule == "digest-approved"
    pending = quorate.status(APP, at("2026-04-11T10:30"))["approvals"]
    assert pending == {
        "production": {
            "digest": state.digest,
            "quorum": 2,
            "count": 1,
            "by": [{"actor": "zhang", "at": "2026-04-11T10:00:00", "sequence": 9}],
        }
    }

    second = quorate.approve(APP, "production", CHIEF, at("2026-04-11T11:00"))
    assert (second.type, second.payload) == ("approved", {"quorum": 2, "approvers": ["zhang", "chen"]})
    state = quorate.state(APP)
    assert state.approved["production"] == state.digest and state.approvals == {}
    assert quorate.status(APP, at("2026-04-11T11:30"))["approvals"] == {}
    with pytest.raises(
        RuleError,
        match=r"approved \(production\) of social-security is recorded already for "
        r"digest sha256:\w+: by zhang and chen at 2026-04-11T11:00:00",
    ) as third:
        quorate.approve(APP, "production", DEPUTY, at("2026-04-11T12:00"))
    assert (third.value.rule, third.value.article) == ("decided-once", "Art. 14")
    quorate.record_provisioned(APP, "production", OPS, at("2026-04-13T10:00"))
    assert quorate.state(APP).state == lc.PRODUCTION
    assert _types(ledger)[-3:] == [lc.APPROVAL_GIVEN, "approved", "provisioned"]


def test_the_same_approver_twice_is_refused_naming_when(quorate, ledger):
    to_trial(quorate)
    quorate.approve(APP, "production", CLERK, at("2026-04-11T10:00"))
    with pytest.raises(RuleError) as twice:
        quorate.approve(APP, "production", CLERK, at("2026-04-12T09:00"))
    assert (twice.value.rule, twice.value.article) == ("distinct-approvers", "Art. 14")
    assert (
        "zhang approved the production approval of social-security already, at 2026-04-11T10:00:00 "
        "(event #9); the policy asks for 2 distinct approvers"
    ) in str(twice.value)
    assert ledger.get_state(APP).sequence == 9
    assert lc.steps_open(quorate.state(APP), CLERK) == []  # the portal offers zhang no second approval
    assert [t.environment for t in lc.steps_open(quorate.state(APP), CHIEF) if t.event == "approved"] == ["production"]


def test_a_withdrawn_approval_no_longer_counts(quorate, ledger):
    to_trial(quorate)
    with pytest.raises(RuleError) as nothing:
        quorate.withdraw(APP, "production", CLERK, at("2026-04-11T09:00"))
    assert nothing.value.rule == "approval-withdrawable"
    quorate.approve(APP, "production", CLERK, at("2026-04-11T10:00"))
    withdrawn = quorate.withdraw(APP, "production", CLERK, at("2026-04-11T10:30"), reason="the MLPS filing expired")
    assert (withdrawn.type, withdrawn.payload, withdrawn.reason) == (
        "approval-withdrawn",
        {"step": "production"},
        "the MLPS filing expired",
    )
    assert quorate.status(APP, at("2026-04-11T10:31"))["approvals"] == {}
    # chen's approval is the first that counts again; li's makes two
    assert quorate.approve(APP, "production", CHIEF, at("2026-04-11T11:00")).type == lc.APPROVAL_GIVEN
    with pytest.raises(RuleError) as not_his:
        quorate.withdraw(APP, "production", DEPUTY, at("2026-04-11T11:10"))
    assert not_his.value.rule == "approval-withdrawable"
    done = quorate.approve(APP, "production", DEPUTY, at("2026-04-11T12:00"))
    assert (done.type, done.payload["approvers"]) == ("approved", ["chen", "li"])
    with pytest.raises(RuleError) as late:  # it took effect: nothing is pending to withdraw
        quorate.withdraw(APP, "production", CHIEF, at("2026-04-11T12:30"))
    assert late.value.rule == "approval-withdrawable"
    with pytest.raises(UsageError, match="withdraw names a step: one of production, major-change, termination"):
        quorate.withdraw(APP, "trial", CHIEF, at("2026-04-11T12:30"))
    assert ledger.get_state(APP) == quorate.state(APP)  # the projection folds the same approvals


def test_termination_and_major_change_quorums_a_minor_change_needs_one(quorate, ledger, tmp_path):
    _to_production(quorate)
    minor = variant(tmp_path, "minor", ("retentionDays: 180", "retentionDays: 90"))
    quorate.change(APP, minor, SOCIAL, at("2026-05-04T09:00"))
    assert quorate.approve_change(APP, CHIEF, at("2026-05-06T09:00")).type == "change-approved"
    quorate.record_provisioned(APP, "trial", OPS, at("2026-05-07T09:00"))
    quorate.record_provisioned(APP, "production", OPS, at("2026-05-07T10:00"))
    major = variant(
        tmp_path,
        "pg2",
        ("engine: mysql", "engine: postgresql"),
        NEW_SELF_TEST,
        ("retentionDays: 180", "retentionDays: 90"),
    )
    quorate.change(APP, major, SOCIAL, at("2026-06-01T09:00"))
    quorate.test_passed(APP, "report T-26-101", CLERK, at("2026-06-02T09:00"))
    assert quorate.approve_change(APP, CHIEF, at("2026-06-02T10:00")).type == lc.APPROVAL_GIVEN
    assert quorate.state(APP).state == lc.CHANGE_REQUESTED
    assert quorate.approve_change(APP, DEPUTY, at("2026-06-02T11:00")).payload["approvers"] == ["chen", "li"]
    assert quorate.state(APP).state == lc.CHANGE_APPROVED
    for env in quorate.state(APP).change["environments"]:
        quorate.record_provisioned(APP, env, OPS, at("2026-06-03T10:00"))

    quorate.terminate(APP, SOCIAL, at("2026-07-01T09:00"), reason="replaced")
    quorate.confirm_backup(APP, "archive B-7", SOCIAL, at("2026-07-02T09:00"))
    assert quorate.approve_termination(APP, CLERK, at("2026-07-03T09:00")).type == lc.APPROVAL_GIVEN
    assert quorate.state(APP).state == lc.BACKUP_CONFIRMED
    assert quorate.approve_termination(APP, CHIEF, at("2026-07-03T10:00")).type == "termination-approved"
    with pytest.raises(RuleError) as third:
        quorate.approve_termination(APP, DEPUTY, at("2026-07-03T11:00"))
    assert third.value.rule == "transition:termination-approved"
    assert quorate.state(APP).state == lc.TERMINATION_APPROVED


def test_a_new_change_request_is_approved_anew(quorate, tmp_path):
    _to_production(quorate)
    major = variant(tmp_path, "pg2", ("engine: mysql", "engine: postgresql"), NEW_SELF_TEST)
    quorate.change(APP, major, SOCIAL, at("2026-06-01T09:00"))
    quorate.test_passed(APP, "report T-26-101", CLERK, at("2026-06-02T09:00"))
    quorate.approve_change(APP, CHIEF, at("2026-06-02T10:00"))
    assert quorate.state(APP).approvals["major-change"]["by"][0]["actor"] == "chen"
    # the approval was of that request's digest: a production approval of the old digest is moot too
    assert set(lc.pending_approvals(quorate.state(APP))) == {"major-change"}


def _approve_production(
    url: str, who: lc.Actor, barrier, results, application: str = APP, at_append: bool = True
) -> None:
    ledger = Ledger.open(url)
    try:
        if not at_append:
            barrier.wait(timeout=60)  # both start the whole step together, as two people would
        service = Lifecycle(_AtAppend(ledger, barrier) if at_append else ledger, quorum=TWO)
        event = service.approve(application, "production", who, at("2026-04-11T11:00"))
        results.put((who.name, "ok", event.type))
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        results.put((who.name, type(exc).__name__, str(exc)))
    finally:
        ledger.close()


class _AtAppend:
    """A ledger whose appends wait at a barrier: both approvers decide on the same state first."""

    def __init__(self, ledger: Ledger, barrier) -> None:
        self.ledger, self.barrier = ledger, barrier

    def __getattr__(self, name):
        return getattr(self.ledger, name)

    def append(self, *args, **kwargs):
        self.barrier.wait(timeout=60)
        return self.ledger.append(*args, **kwargs)


def test_second_and_third_approvers_at_once_take_effect_once(quorate, ledger, database_url):
    to_trial(quorate)
    quorate.approve(APP, "production", CLERK, at("2026-04-11T10:00"))
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    workers = [
        ctx.Process(target=_approve_production, args=(database_url, who, barrier, results)) for who in (CHIEF, DEPUTY)
    ]
    for w in workers:
        w.start()
    outcomes = sorted(results.get(timeout=120) for _ in workers)
    for w in workers:
        w.join(timeout=60)
        assert w.exitcode == 0
    winners = [o for o in outcomes if o[1] == "ok"]
    losers = [o for o in outcomes if o[1] != "ok"]
    assert len(winners) == 1 and winners[0][2] == "approved", outcomes
    assert losers[0][1] == ConflictError.__name__ and "changed meanwhile, retry" in losers[0][2], outcomes
    assert _types(ledger)[-2:] == [lc.APPROVAL_GIVEN, "approved"]
    assert _types(ledger).count("approved") == 3  # test, trial, production once
    # the loser, retrying, is told the step took effect and by whom
    loser = CHIEF if losers[0][0] == "chen" else DEPUTY
    with pytest.raises(RuleError, match=rf"by zhang and {winners[0][0]} at 2026-04-11T11:00:00") as retried:
        quorate.approve(APP, "production", loser, at("2026-04-11T11:05"))
    assert retried.value.rule == "decided-once"


def test_cli_counts_approvals_refuses_a_second_and_withdraws(run, tmp_path, monkeypatch):
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        (ROOT / "quotas" / "policy.yaml").read_text(encoding="utf-8") + "\nquorum:\n  production: 2\n", encoding="utf-8"
    )
    monkeypatch.setenv("GOVCLOUD_QUOTA_POLICY", str(policy))
    office = ["--role", "egov-office", "--unit", "egov"]
    zhang, chen = ["--as", "zhang", *office], ["--as", "chen", *office]
    provider = ["--as", "ops", "--role", "provider"]
    for step in (
        (
            "submit",
            str(EXAMPLES / "social-security.yaml"),
            "--as",
            "zhaogang",
            "--role",
            "unit",
            "--unit",
            "rsj",
            "--at",
            "2026-02-12T10:00",
        ),
        ("accept", APP, *zhang, "--at", "2026-02-24T09:00"),
        ("review", APP, "--opinion", "complete", *zhang, "--at", "2026-02-26T09:00"),
        ("approve", APP, "--env", "test", *zhang, "--at", "2026-02-26T10:00"),
        ("record-provisioned", APP, "--env", "test", *provider, "--at", "2026-02-27T10:00"),
        ("approve", APP, "--env", "trial", *zhang, "--at", "2026-03-10T10:00"),
        ("record-provisioned", APP, "--env", "trial", *provider, "--at", "2026-03-11T10:00"),
    ):
        run("app", *step)
    first = run("app", "approve", APP, "--env", "production", *zhang, "--at", "2026-04-10T10:00").output
    assert "approval-given [production] by zhang" in first and "(1 of 2 approvals: zhang)" in first
    status = run("app", "status", APP, "--at", "2026-04-10T11:00").output
    assert "production approval: 1 of 2 approvals (zhang at 2026-04-10T10:00:00)" in status
    assert "approved production" not in status
    twice = run("app", "approve", APP, "--env", "production", *zhang, "--at", "2026-04-10T12:00", code=1).output
    assert "already, at 2026-04-10T10:00:00 (event #8)" in twice and twice.endswith(
        "(Art. 14) [rule distinct-approvers]\n"
    )
    run(
        "app",
        "withdraw",
        APP,
        "--step",
        "production",
        *zhang,
        "--reason",
        "second thoughts",
        "--at",
        "2026-04-10T13:00",
    )
    assert "approval:" not in run("app", "status", APP, "--at", "2026-04-10T14:00").output
    assert "nope" in run("app", "withdraw", APP, "--step", "nope", *zhang, code=2).output
    run("app", "approve", APP, "--env", "production", *chen, "--at", "2026-04-10T15:00")
    done = run("app", "approve", APP, "--env", "production", *zhang, "--at", "2026-04-10T16:00").output
    assert "approved [production] by zhang" in done and "(2 of 2 approvals: chen, zhang)" in done
    assert "approved production:" in run("app", "status", APP, "--at", "2026-04-10T17:00").output


def test_the_steps_are_one_list_for_the_core_the_policy_and_the_cli():
    from orchestrator.cli import cli
    from orchestrator.core.quota.policy import Quorum

    withdraw = cli.commands["app"].commands["withdraw"]
    [choice] = [p.type.choices for p in withdraw.params if p.name == "quorum_step"]
    assert list(choice) == list(lc.QUORUM_STEPS) == list(Quorum().of())
    assert {s.event for s in lc.QUORUM_STEPS.values()} == {"approved", "change-approved", "termination-approved"}


def test_second_and_third_approvers_started_together_repeatedly(quorate, ledger, database_url, tmp_path):
    """Without a barrier at the append: the real timing of two people, five times; each time the
    step is recorded once and the other approver is refused (raced, or told it is recorded)."""
    ctx = multiprocessing.get_context("fork")
    for n in range(5):
        application = f"social-security-{n}"
        path = variant(tmp_path, f"s{n}", ("id: social-security", f"id: {application}"))
        quorate.submit(path, SOCIAL, at("2026-02-12T10:00"))
        quorate.accept(application, CLERK, at("2026-02-24T09:00"))
        quorate.review(application, "ok", CLERK, at("2026-02-26T15:00"))
        quorate.approve(application, "test", CHIEF, at("2026-02-27T09:00"))
        quorate.record_provisioned(application, "test", OPS, at("2026-02-28T10:00"))
        quorate.approve(application, "trial", CHIEF, at("2026-03-11T09:00"))
        quorate.record_provisioned(application, "trial", OPS, at("2026-03-12T10:00"))
        quorate.approve(application, "production", CLERK, at("2026-04-11T10:00"))
        barrier, results = ctx.Barrier(2), ctx.Queue()
        workers = [
            ctx.Process(target=_approve_production, args=(database_url, who, barrier, results, application, False))
            for who in (CHIEF, DEPUTY)
        ]
        for w in workers:
            w.start()
        outcomes = [results.get(timeout=120) for _ in workers]
        for w in workers:
            w.join(timeout=60)
            assert w.exitcode == 0
        assert [o[1:] for o in outcomes if o[1] == "ok"] == [("ok", "approved")], (n, outcomes)
        assert {o[1] for o in outcomes} - {"ok"} <= {ConflictError.__name__, RuleError.__name__}, (n, outcomes)
        assert [e.type for e in ledger.events(application)].count("approved") == 3, n  # test, trial, production


def test_a_hand_edited_approval_is_named_not_a_traceback():
    from orchestrator.errors import HistoryInvalid

    state = lc.AppState(APP, state=lc.BACKUP_CONFIRMED, sequence=7)
    edited = lc.Event(
        APP,
        8,
        "approval-given",
        "zhang",
        lc.EGOV,
        at("2026-07-03T09:00"),
        actor_unit="egov",
        payload={"step": "everything", "quorum": 2, "approvers": ["zhang"]},
    )
    with pytest.raises(HistoryInvalid, match=r"event #8 \('approval-given'\) .* 'everything' is not a quorum step"):
        lc.apply_recorded(state, edited)
