"""The core's answers the portal shows: which steps an actor may take, who reads what, what waits
for the provider. Pure: no ledger."""

from __future__ import annotations

import datetime as dt

from orchestrator.core import lifecycle as lc

OFFICE = lc.Actor("zhang", lc.EGOV, "egov")
INSIDER = lc.Actor("wu", lc.EGOV, "rsj")  # the office, but of the applicant's own unit
UNIT = lc.Actor("zhaogang", lc.UNIT, "rsj")
OTHER = lc.Actor("liming", lc.UNIT, "zwb")
OPS = lc.Actor("ops", lc.PROVIDER)
T0 = dt.datetime(2026, 3, 2, 9)


def run(*steps) -> lc.AppState:
    state = lc.AppState("social-security")
    for i, (kind, actor, kw) in enumerate(steps):
        payload = {"unit": "rsj"} if kind == "submitted" else {}
        digest = "sha256:d1" if kind == "submitted" else None
        event = lc.decide(
            state,
            kind,
            actor,
            T0 + dt.timedelta(hours=i),
            now=T0 + dt.timedelta(days=1),
            digest=digest,
            payload=payload,
            **kw,
        )
        state = lc.apply(state, event)
    return state


def names(state, actor) -> list[tuple[str, str | None]]:
    return [(t.event, t.environment) for t in lc.steps_open(state, actor)]


def test_steps_follow_transition_role_self_approval_and_one_shot_rules():
    submitted = run(("submitted", UNIT, {}))
    assert names(submitted, OFFICE) == [("accepted", None), ("rejected", None)]
    assert names(submitted, UNIT) == [] and names(submitted, OPS) == []
    assert names(submitted, INSIDER) == []  # no self-approval (Art. 6-9)
    reviewed = run(("submitted", UNIT, {}), ("accepted", OFFICE, {}), ("reviewed", OFFICE, {}))
    assert names(reviewed, OFFICE) == [("approved", "test")]
    assert ("termination-requested", None) in names(reviewed, UNIT)
    assert names(reviewed, OTHER) == []  # another unit's application
    approved = run(
        ("submitted", UNIT, {}),
        ("accepted", OFFICE, {}),
        ("reviewed", OFFICE, {}),
        ("approved", OFFICE, {"environment": "test"}),
    )
    assert ("approved", "test") not in names(approved, OFFICE)  # on record once (one-shot)
    assert lc.to_provision(approved) == ["test"]


def test_a_unit_reads_only_its_own():
    state = run(("submitted", UNIT, {}))
    assert lc.may_read(state, UNIT) and lc.may_read(state, OFFICE) and lc.may_read(state, OPS)
    assert not lc.may_read(state, OTHER)
