"""The pure lifecycle core: transition table, forbidden transitions, roles, deadlines, gates."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from orchestrator.core import lifecycle as lc
from orchestrator.core.workdays import default_calendar
from orchestrator.errors import RuleError, UsageError

from .conftest import CHIEF, CLERK, OPS, PORTAL, SOCIAL, at


def test_every_transition_is_declared_completely():
    for t in lc.TRANSITIONS:
        assert t.sources and t.sources <= set(lc.STATES), t
        assert t.target in (None, lc.RESUME) or t.target in lc.STATES, t
        assert t.roles and t.roles <= set(lc.ROLES), t
        assert t.article.startswith("Art. "), t
        assert t.doc, t
    for rule in lc.DEADLINE_RULES.values():
        assert rule.article.startswith("Art. ") and (rule.days > 0) != (rule.name in lc.DATED) and rule.doc


def test_every_state_but_the_last_has_a_way_forward():
    reachable = {lc.NEW} | {t.target for t in lc.TRANSITIONS if t.target not in (None, lc.RESUME)}
    assert reachable == set(lc.STATES)
    leaving = set().union(*(t.sources for t in lc.TRANSITIONS if t.target))
    assert set(lc.STATES) - leaving == {lc.RECLAIMED}


def _allowed(state: str, event: str, env: str | None) -> bool:
    return any(t.event == event and t.environment in (None, env) and state in t.sources for t in lc.TRANSITIONS)


#: (event, environment) as the CLI can ask for them: per environment where the table says so.
STEPS = sorted({(t.event, t.environment) for t in lc.TRANSITIONS}, key=lambda s: (s[0], s[1] or ""))
FORBIDDEN = [
    (state, event, env)
    for state, (event, env) in itertools.product(lc.STATES, STEPS)
    if not _allowed(state, event, env)
]


@pytest.mark.parametrize("state,event,env", FORBIDDEN)
def test_every_forbidden_transition_names_the_state_and_article(state, event, env):
    with pytest.raises(RuleError) as caught:
        lc.transition(state, event, env)
    assert f"in state {state}" in str(caught.value)
    assert caught.value.article.startswith("Art. 1") or caught.value.article in ("Art. 21", "Art. 31", "Art. 37")
    assert caught.value.rule == f"transition:{event}"


def test_forbidden_transitions_cover_every_state():
    assert {s for s, _, _ in FORBIDDEN} == set(lc.STATES)
    assert len(FORBIDDEN) > 200


def test_unknown_event_is_a_usage_error():
    with pytest.raises(UsageError):
        lc.transition(lc.SUBMITTED, "teleported")


def _state(state: str, unit: str = "rsj", **kw) -> lc.AppState:
    return lc.AppState("social-security", unit=unit, state=state, sequence=3, last_at="2026-03-01T09:00:00", **kw)


@pytest.mark.parametrize(
    "state,event,actor,rule",
    [
        (lc.SUBMITTED, "accepted", SOCIAL, "role"),  # a unit may not accept
        (lc.SUBMITTED, "accepted", OPS, "role"),
        (lc.ACCEPTED, "reviewed", SOCIAL, "role"),
        (lc.TERMINATION_APPROVED, "reclaimed", CLERK, "role"),  # only the provider reclaims
        (lc.TRIAL, "change-requested", CLERK, "role"),  # only the unit requests changes
        (lc.TRIAL, "change-requested", PORTAL, "own-unit"),  # another unit may not
        (lc.TERMINATION_REQUESTED, "backup-confirmed", PORTAL, "own-unit"),
        (lc.SUBMITTED, "accepted", lc.Actor("li", lc.EGOV, "rsj"), "no-self-approval"),
        (lc.BACKUP_CONFIRMED, "termination-approved", lc.Actor("li", lc.EGOV, "rsj"), "no-self-approval"),
    ],
)
def test_role_rules(state, event, actor, rule):
    with pytest.raises(RuleError) as caught:
        lc.decide(_state(state), event, actor, at("2026-03-02T09:00"), reason="x")
    assert caught.value.rule == rule
    assert caught.value.article == "Art. 6-9"


def test_the_requester_may_not_decide_on_their_own_request():
    state = _state(lc.SUBMITTED, requested_by="chen")
    with pytest.raises(RuleError, match="may not decide"):
        lc.decide(state, "accepted", CHIEF, at("2026-03-02T09:00"))
    assert lc.decide(state, "accepted", CLERK, at("2026-03-02T09:00")).type == "accepted"


def test_actor_needs_a_known_role_and_a_unit_actor_its_unit():
    with pytest.raises(UsageError):
        lc.Actor("x", "mayor")
    with pytest.raises(UsageError):
        lc.Actor("x", lc.UNIT)


def test_stated_time_may_not_go_backwards():
    with pytest.raises(UsageError, match="precedes"):
        lc.decide(_state(lc.SUBMITTED), "accepted", CLERK, at("2026-02-01T09:00"))


def test_step_rules_reasons_and_extension_days():
    with pytest.raises(RuleError) as caught:
        lc.decide(_state(lc.SUBMITTED), "rejected", CLERK, at("2026-03-02"))
    assert (caught.value.rule, caught.value.article) == ("rejection-reasons", "Art. 12")
    testing = _state(lc.TESTING, test_started="2026-03-01T09:00:00")
    with pytest.raises(RuleError, match="positive number of days"):
        lc.decide(testing, "extended", CLERK, at("2026-03-02"), reason="more", payload={"days": 0})


def _ev(seq, kind, actor, when, **kw):
    return lc.Event("social-security", seq, kind, actor.name, actor.role, at(when), actor_unit=actor.unit, **kw)


def test_deadlines_cross_the_spring_festival():
    cal = default_calendar()
    events = [
        _ev(1, "submitted", SOCIAL, "2026-02-12T10:00", digest="d1", payload={"unit": "rsj"}),
        _ev(2, "accepted", CLERK, "2026-02-24T16:00"),
    ]
    state = lc.fold(events)
    found = {d.name: d for d in lc.deadlines(state, cal, at("2026-02-25T09:00"))}
    # Thu 12 Feb + 3 working days: Fri 13, Sat 14 (make-up day), holiday 15-23, Tue 24
    assert found["accept-or-reject"].due == dt.date(2026, 2, 24)
    assert found["accept-or-reject"].status == "met"
    assert found["accept-or-reject"].working_days == 3
    # Tue 24 + 2 working days: Wed 25, Thu 26
    assert found["review"].due == dt.date(2026, 2, 26) and found["review"].status == "open"
    assert lc.next_due(state, cal) == dt.date(2026, 2, 26)
    late = {d.name: d for d in lc.deadlines(state, cal, at("2026-02-27T09:00"))}
    assert late["review"].status == "missed" and late["review"].overdue


def test_deadlines_cross_national_day_with_the_make_up_saturday():
    cal = default_calendar()
    state = lc.AppState(
        "a", unit="rsj", state=lc.CHANGE_REQUESTED, clocks={"change-review": ["2026-09-30T11:00:00", None]}
    )
    (review,) = lc.deadlines(state, cal, at("2026-10-09T12:00"))
    # Wed 30 Sep + 5 working days: Thu 8, Fri 9, Sat 10 (make-up), Mon 12, Tue 13
    assert review.due == dt.date(2026, 10, 13)
    assert review.working_days == 2 and review.status == "open" and not review.provisional
    state.clocks["change-applied"] = ["2026-09-30T12:00:00", None]
    applied = next(d for d in lc.deadlines(state, cal, at("2026-10-11T09:00")) if d.name == "change-applied")
    assert applied.due == dt.date(2026, 10, 10) and applied.overdue


def test_deadlines_in_an_unpublished_year_are_provisional():
    state = lc.AppState("a", clocks={"review": ["2031-03-03T09:00:00", None]})
    (review,) = lc.deadlines(state, default_calendar(), at("2031-03-03T10:00"))
    assert review.provisional and review.due == dt.date(2031, 3, 5)


def test_production_gate_needs_thirty_days_of_trial_and_the_materials():
    state = _state(
        lc.TRIAL,
        trial_started="2026-04-01T10:00:00",
        materials={"third_party_test_report": "a" * 64, "mlps_filing_certificate": None},
    )
    with pytest.raises(RuleError) as early:
        lc.production_gate(state, at("2026-04-30T10:00"))
    assert (early.value.rule, early.value.article) == ("trial-30-days", "Art. 14")
    assert "2026-05-01T10:00" in str(early.value)
    with pytest.raises(RuleError) as missing:
        lc.production_gate(state, at("2026-05-01T10:00"))
    assert (missing.value.rule, missing.value.article) == ("production-materials", "Art. 40")
    assert "mlps_filing_certificate" in str(missing.value)
    state.materials["mlps_filing_certificate"] = "b" * 64
    lc.production_gate(state, at("2026-05-01T10:00"))


def test_provision_gate_digest_and_test_window():
    state = _state(lc.TESTING, approved={"test": "d1"}, test_started="2026-03-01T09:00:00")
    with pytest.raises(RuleError, match="approved for d1, not d2") as other:
        lc.provision_gate(state, "test", "d2", at("2026-03-02"))
    assert other.value.rule == "digest-approved"
    with pytest.raises(RuleError, match="is not approved"):
        lc.provision_gate(state, "trial", "d1", at("2026-03-02"))
    lc.provision_gate(state, "test", "d1", at("2026-03-15T23:59"))
    with pytest.raises(RuleError) as expired:
        lc.provision_gate(state, "test", "d1", at("2026-03-16T09:00"))
    assert (expired.value.rule, expired.value.article) == ("test-expired", "Art. 13")
    state.test_days += 5
    lc.provision_gate(state, "test", "d1", at("2026-03-20T09:00"))


def test_an_up_of_a_live_environment_at_its_digest_is_a_reapplication():
    state = _state(
        lc.PRODUCTION,
        approved={"test": "d1", "trial": "d1", "production": "d2"},
        provisioned={"test": "d1", "trial": "d1"},
        test_started="2026-03-01T09:00:00",
        test_days=120,
        trial_started="2026-03-05T09:00:00",
        materials={"third_party_test_report": "a" * 64, "mlps_filing_certificate": "b" * 64},
    )
    when = at("2026-05-01T09:00")
    assert lc.check_deployment(state, "test", "d1", when) == lc.REAPPLIED  # test is long past, the state moved on
    assert lc.check_deployment(state, "production", "d2", when) == "provisioned"
    with pytest.raises(RuleError) as no_reason:
        lc.decide(state, lc.REAPPLIED, OPS, when, environment="trial", digest="d1")
    assert (no_reason.value.rule, no_reason.value.article) == ("reapply-reason", "Art. 31")
    event = lc.decide(
        state,
        lc.REAPPLIED,
        OPS,
        when,
        environment="trial",
        reason="program changed: stacks/x.py",
        payload={"program": "sha256:p2"},
    )
    assert (event.digest, event.environment) == ("d1", "trial")  # the digest it runs
    after = lc.apply(state, event)
    assert (after.state, after.provisioned, after.clocks) == (state.state, state.provisioned, state.clocks)
    assert after.deployed["trial"] == {
        "event": lc.REAPPLIED,
        "at": "2026-05-01T09:00:00",
        "sequence": 4,
        "program": "sha256:p2",
        "suspended": False,
    }


@pytest.mark.parametrize(
    "environment,digest,rule",
    [
        ("production", "d2", "reapply-live"),  # approved, never provisioned: that is a provisioning
        ("trial", "d2", "reapply-live"),  # runs another digest
        ("test", "d1", "digest-approved"),  # an approved change: apply the change, not the old digest again
        ("trial", "d1", "test-expired"),
    ],
)
def test_only_a_live_environment_at_its_approved_digest_is_reapplied(environment, digest, rule):
    state = _state(
        lc.CHANGE_APPROVED,
        approved={"test": "d3", "trial": "d1", "production": "d2"},
        provisioned={"test": "d1", "trial": "d1"},
        test_started="2026-03-01T09:00:00",
    )
    when = at("2026-03-10T09:00") if rule != "test-expired" else at("2026-03-20T09:00")
    if rule == "test-expired":
        environment, state.approved["test"] = "test", "d1"
    with pytest.raises(RuleError) as refused:
        lc.decide(state, lc.REAPPLIED, OPS, when, environment=environment, digest=digest, reason="program changed")
    assert refused.value.rule == rule


def test_a_leaving_application_is_not_reapplied():
    state = _state(lc.TERMINATION_REQUESTED, approved={"test": "d1"}, provisioned={"test": "d1"})
    with pytest.raises(RuleError, match=r"reapplied .*not allowed in state termination-requested"):
        lc.check_deployment(state, "test", "d1", at("2026-03-02T09:00"))


def test_state_round_trips_through_json():
    import json

    state = lc.fold([_ev(1, "submitted", SOCIAL, "2026-02-12T10:00", digest="d1", payload={"unit": "rsj"})])
    again = lc.AppState.from_dict(json.loads(json.dumps(state.as_dict())))
    assert again == state and again.state == lc.SUBMITTED


def test_working_days_between_agrees_with_counting_day_by_day():
    import random

    cal = default_calendar()
    rng = random.Random(7)
    for _ in range(200):
        a = dt.date(2024, 1, 1) + dt.timedelta(days=rng.randint(0, 2900))
        b = a + dt.timedelta(days=rng.randint(-400, 400))
        low, high = min(a, b), max(a, b)
        naive = sum(cal.is_workday(low + dt.timedelta(days=i)) for i in range(1, (high - low).days + 1))
        assert cal.working_days_between(a, b) == (naive if b >= a else -naive), (a, b)
