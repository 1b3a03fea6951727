"""Notices decided from ledger state on the timelines of tests/lifecycle, with exact dates. Pure."""

from __future__ import annotations

import datetime as dt

import pytest

from orchestrator.core import lifecycle as lc
from orchestrator.core import notices as nt
from orchestrator.core.capacity import Measure, assess_all
from orchestrator.core.quota.drift import Difference
from orchestrator.core.workdays import default_calendar
from tests.lifecycle.conftest import CHIEF, CLERK, OPS, SOCIAL, at

CAL = default_calendar()
DIGEST = "sha256:" + "a" * 64
MATERIALS = {"third_party_test_report": "b" * 64, "mlps_filing_certificate": "c" * 64}
PERMIT = lc.Actor("wu", lc.UNIT, "zjj")


class Timeline:
    """One application's events decided and folded in memory; each step keeps its notices."""

    def __init__(self, application: str, unit: str) -> None:
        self.state = lc.AppState(application)
        self.unit = unit
        self.notices: list[nt.Notice] = []

    def step(self, kind: str, actor: lc.Actor, when: str, **details) -> list[nt.Notice]:
        if kind in ("submitted", "change-requested"):
            details.setdefault("digest", DIGEST)
            details["payload"] = {"unit": self.unit, "materials": MATERIALS} | details.get("payload", {})
        event = lc.decide(self.state, kind, actor, at(when), **details)
        after = lc.apply(self.state, event)
        found = nt.from_event(self.state, event, after, CAL)
        self.state = after
        self.notices += found
        return found

    def scan(self, when: str) -> list[tuple]:
        return [
            (n.kind, n.topic, n.due.isoformat(), (n.notify_on or n.due).isoformat(), n.audience)
            for n in nt.scan(self.state, CAL, at(when))
        ]


def brief(found: list[nt.Notice]) -> list[tuple]:
    return [(n.kind, n.topic, n.environment, n.due.isoformat(), n.audience) for n in found]


def to_trial() -> Timeline:
    """social-security as in tests/lifecycle: submitted before the Spring Festival, to its trial run."""
    t = Timeline("social-security", "rsj")
    t.step("submitted", SOCIAL, "2026-02-12T10:00")
    t.step("accepted", CLERK, "2026-02-24T09:00")
    t.step("reviewed", CLERK, "2026-02-26T15:00", reason="complete")
    t.step("approved", CHIEF, "2026-02-27T09:00", environment="test")
    t.step("provisioned", OPS, "2026-02-28T10:00", environment="test")
    t.step("test-passed", CLERK, "2026-03-10T09:00", reason="report T-26-031")
    t.step("approved", CHIEF, "2026-03-11T09:00", environment="trial")
    t.step("provisioned", OPS, "2026-03-12T10:00", environment="trial")
    return t


def test_spring_festival_deadlines_are_told_a_working_day_ahead_and_when_missed():
    t = Timeline("social-security", "rsj")
    assert brief(t.step("submitted", SOCIAL, "2026-02-12T10:00")) == [
        ("request", "submitted", None, "2026-02-12", ("office",))
    ]
    # accept-or-reject: Thu 12 Feb + 3 working days = Tue 24 Feb; the working day before is the
    # make-up Saturday 14 Feb (15-23 Feb are the holiday)
    assert t.scan("2026-02-13T18:00") == []
    ahead = ("deadline-ahead", "accept-or-reject", "2026-02-24", "2026-02-14", ("office",))
    assert t.scan("2026-02-14T08:00") == [ahead]
    assert t.scan("2026-02-24T17:00") == [ahead]  # the same notice: its fingerprint is unchanged
    assert t.scan("2026-02-25T08:00") == [
        ("deadline-missed", "accept-or-reject", "2026-02-24", "2026-02-25", ("office", "unit"))
    ]
    assert brief(t.step("accepted", CLERK, "2026-02-25T09:00")) == [
        ("decision", "accepted", None, "2026-02-25", ("unit",))
    ]
    # review: Wed 25 Feb + 2 working days = Fri 27 Feb, told on Thu 26 Feb
    assert t.scan("2026-02-25T10:00") == []
    assert t.scan("2026-02-26T00:00") == [("deadline-ahead", "review", "2026-02-27", "2026-02-26", ("office",))]


def test_trial_timeline_notices_in_order():
    t = to_trial()
    assert brief(t.notices) == [
        ("request", "submitted", None, "2026-02-12", ("office",)),
        ("decision", "accepted", None, "2026-02-24", ("unit",)),
        ("decision", "reviewed", None, "2026-02-26", ("unit",)),
        ("decision", "approved", "test", "2026-02-27", ("unit", "provider")),
        ("provisioned", "provisioned", "test", "2026-02-28", ("unit",)),
        ("decision", "test-passed", None, "2026-03-10", ("unit",)),
        ("decision", "approved", "trial", "2026-03-11", ("unit", "provider")),
        ("provisioned", "provisioned", "trial", "2026-03-12", ("unit",)),
    ]
    # test-ready after the review of Thu 26 Feb: due Sat 28 Feb (make-up), told Fri 27 Feb; it was met
    assert t.state.clocks["test-ready"][1] is not None
    # the test window: provisioned Sat 28 Feb 10:00, expires Sun 15 Mar 10:00, warned from Thu 12 Mar 10:00
    assert t.scan("2026-03-12T09:59") == []
    assert t.scan("2026-03-12T10:00") == [("expiry-warning", "", "2026-03-15", "2026-03-12", ("unit", "provider"))]
    assert t.scan("2026-03-15T10:00") == []  # expired: expire removes it and says so


def test_national_day_change_review():
    t = to_trial()
    t.step("approved", CHIEF, "2026-04-11T10:00", environment="production")
    t.step("provisioned", OPS, "2026-04-13T10:00", environment="production")
    t.step("test-expired", OPS, "2026-04-13T11:00", environment="test")
    assert brief(t.notices[-1:]) == [("test-removed", "test-expired", "test", "2026-04-13", ("unit", "office"))]
    found = t.step(
        "change-requested", SOCIAL, "2026-09-30T11:00", digest="sha256:" + "d" * 64, payload={"kind": "major"}
    )
    assert brief(found) == [("request", "change-requested", None, "2026-09-30", ("office",))]
    # Wed 30 Sep + 5 working days = Tue 13 Oct (1-7 Oct holiday, Sat 10 Oct make-up): told Mon 12 Oct
    assert t.scan("2026-10-09T18:00") == []
    assert t.scan("2026-10-12T08:00") == [("deadline-ahead", "change-review", "2026-10-13", "2026-10-12", ("office",))]
    t.step("test-passed", CLERK, "2026-10-09T09:00", reason="report T-26-101")
    approved = t.step("change-approved", CHIEF, "2026-10-09T15:00")
    assert brief(approved) == [("decision", "change-approved", None, "2026-10-09", ("unit", "provider"))]
    # change-applied: Fri 9 Oct + 3 = Tue 13 Oct; one environment of two applied: nobody told yet
    assert t.step("provisioned", OPS, "2026-10-10T10:00", environment="trial") == []
    assert t.scan("2026-10-12T08:00") == [
        ("deadline-ahead", "change-applied", "2026-10-13", "2026-10-12", ("provider",))
    ]
    assert brief(t.step("provisioned", OPS, "2026-10-12T10:00", environment="production")) == [
        ("provisioned", "provisioned", "production", "2026-10-12", ("unit",))
    ]


def test_national_day_submission_is_told_after_the_holiday():
    t = Timeline("citizen-portal", "zwb")
    t.step("submitted", lc.Actor("liming", lc.UNIT, "zwb"), "2026-09-29T09:00")
    # Tue 29 Sep + 3 working days = Fri 9 Oct (30 Sep, 8 Oct, 9 Oct): told Thu 8 Oct
    assert t.scan("2026-10-07T23:59") == []
    assert t.scan("2026-10-08T08:00") == [
        ("deadline-ahead", "accept-or-reject", "2026-10-09", "2026-10-08", ("office",))
    ]
    t.step("accepted", CLERK, "2026-10-09T09:00")
    # review: Fri 9 Oct + 2 = Mon 12 Oct; the working day before is the make-up Saturday 10 Oct
    assert t.scan("2026-10-10T08:00") == [("deadline-ahead", "review", "2026-10-12", "2026-10-10", ("office",))]


def test_expiry_with_extension():
    t = Timeline("permit-prototype", "zjj")
    t.step("submitted", PERMIT, "2026-09-14T09:00")
    t.step("accepted", CLERK, "2026-09-15T09:00")
    t.step("reviewed", CLERK, "2026-09-16T09:00", reason="ok")
    t.step("approved", CHIEF, "2026-09-17T09:00", environment="test")
    t.step("provisioned", OPS, "2026-09-20T09:00", environment="test")  # expires Mon 5 Oct 09:00
    first = ("expiry-warning", "", "2026-10-05", "2026-10-02", ("unit", "provider"))
    assert t.scan("2026-10-02T08:59") == [] and t.scan("2026-10-02T09:00") == [first]
    assert brief(t.step("extended", CHIEF, "2026-09-30T09:00", reason="load test", payload={"days": 5})) == [
        ("decision", "extended", None, "2026-09-30", ("unit",))
    ]
    assert t.scan("2026-10-02T09:00") == []  # now expires Sat 10 Oct 09:00
    assert t.scan("2026-10-07T09:00") == [("expiry-warning", "", "2026-10-10", "2026-10-07", ("unit", "provider"))]
    warned = t.step("expiry-warned", OPS, "2026-10-07T09:00", environment="test")
    # govcloud expire's warning queues the scan's notice (the same fingerprint: one of them is queued)
    assert warned == nt.scan(t.state, CAL, at("2026-10-07T09:00"))
    assert brief(t.step("test-expired", OPS, "2026-10-10T09:30", environment="test")) == [
        ("test-removed", "test-expired", "test", "2026-10-10", ("unit", "office"))
    ]
    assert t.scan("2026-10-10T10:00") == []


def test_termination_and_reclamation():
    t = to_trial()
    t.step("termination-requested", SOCIAL, "2026-06-01T09:00", reason="replaced")
    t.step("backup-confirmed", SOCIAL, "2026-06-02T09:00", reason="archive B-2026-06")
    # termination-review: Mon 1 Jun + 5 = Mon 8 Jun, told Fri 5 Jun
    assert ("deadline-ahead", "termination-review", "2026-06-08", "2026-06-05", ("office",)) in t.scan(
        "2026-06-05T08:00"
    )
    found = t.step("termination-approved", CHIEF, "2026-06-05T09:00")
    # reclamation: Fri 5 Jun + 3 working days = Wed 10 Jun
    assert brief(found) == [
        ("decision", "termination-approved", None, "2026-06-05", ("unit",)),
        ("reclamation-due", "", None, "2026-06-10", ("provider",)),
    ]
    assert t.scan("2026-06-08T12:00") == []
    assert t.scan("2026-06-09T08:00") == [("deadline-ahead", "reclamation", "2026-06-10", "2026-06-09", ("provider",))]
    assert t.scan("2026-06-11T08:00") == [
        ("deadline-missed", "reclamation", "2026-06-10", "2026-06-11", ("provider", "office", "unit"))
    ]
    assert brief(t.step("reclaimed", OPS, "2026-06-11T09:00")) == [
        ("reclaimed", "reclaimed", None, "2026-06-11", ("unit", "office"))
    ]
    assert t.scan("2026-06-12T08:00") == []
    requests = [n.topic for n in t.notices if n.kind == "request"]
    assert requests == ["submitted", "termination-requested", "backup-confirmed"]


def test_capacity_and_drift():
    assessed = assess_all(
        [
            Measure("compute vcpu", 70, 100, "vCPU"),
            Measure("compute ram", 69.9, 100, "MB"),
            Measure("volume gigabytes", None, None, "GB"),
        ],
        0.7,
    )
    found = nt.capacity(assessed, 0.7, dt.date(2026, 5, 6))
    assert brief(found) == [("capacity", "compute vcpu", None, "2026-05-06", ("provider", "office"))]
    assert found[0].payload["percent"] == 70.0
    assert nt.drift("a", "u", "test", [], dt.date(2026, 5, 6)) == []
    drift = nt.drift("a", "u", "test", [Difference("compute", "cores", 4, 8)], dt.date(2026, 5, 6))
    assert brief(drift) == [("quota-drift", "", "test", "2026-05-06", ("provider",))]
    assert drift[0].payload["differences"] == [{"service": "compute", "key": "cores", "expected": 4, "actual": 8}]


def test_addressing_and_fingerprints():
    directory = nt.Directory(
        office=("robot:office", "email:office@egov.example"),
        provider=("robot:ops",),
        units={"rsj": ("robot:rsj", "email:office@egov.example")},
    )
    t = to_trial()
    contacts = {"social-security": ["zhaogang@rsj.example.gov.cn", "sunli@rsj.example.gov.cn"]}
    addressed = nt.address(t.notices, directory, contacts)
    approved = [a.recipient for a in addressed if a.notice.topic == "approved" and a.notice.environment == "test"]
    assert approved == [
        "robot:rsj",
        "email:office@egov.example",
        "email:zhaogang@rsj.example.gov.cn",
        "email:sunli@rsj.example.gov.cn",
        "robot:ops",
    ]
    assert len({a.fingerprint for a in addressed}) == len(addressed)
    again = nt.address(to_trial().notices, directory, contacts)
    assert [a.fingerprint for a in again] == [a.fingerprint for a in addressed]  # decided the same from the same ledger
    quiet = nt.address(t.notices, nt.Directory(contacts=False))
    assert quiet == []  # nobody configured: nothing queued
    assert nt.contact_emails({"metadata": {"contacts": [{"name": "x", "email": "a@b"}, {"name": "y"}, "junk"]}}) == [
        "a@b"
    ]


@pytest.mark.parametrize("name", sorted(nt.KINDS))
def test_every_kind_is_declared_completely(name):
    kind = nt.KINDS[name]
    assert kind.article.startswith("Art. ") and kind.doc
    assert set(kind.audience) <= {nt.UNIT, nt.OFFICE, nt.PROVIDER}
    assert set(nt.EVENT_KINDS) <= set(lc.EVENT_TYPES) and set(nt.EVENT_KINDS.values()) <= set(nt.KINDS)
    assert set(nt.RESPONSIBLE) <= set(lc.DEADLINE_RULES)


def test_an_approval_short_of_the_quorum_asks_the_office_for_another():
    from orchestrator.adapters.noticetexts import digest

    t = to_trial()
    t.step("termination-requested", SOCIAL, "2026-06-01T09:00", reason="replaced")
    t.step("backup-confirmed", SOCIAL, "2026-06-02T09:00", reason="archive B-2026-06")
    [found] = t.step("termination-approved", CLERK, "2026-06-03T09:00", quorum={"termination": 2})
    assert brief([found]) == [("request", "approval-given", None, "2026-06-03", ("office",))]
    assert (found.payload["step"], found.payload["quorum"], found.payload["approvers"]) == ("termination", 2, ["zhang"])
    queued = [
        nt.Queued(
            1,
            "f",
            found.kind,
            found.topic,
            found.application,
            found.unit,
            None,
            found.due,
            "email:office@x",
            found.payload,
            "pending",
            0,
            at("2026-06-03T09:00"),
        )
    ]
    assert (
        "zhang gave one approval, short of the quorum, of social-security of unit rsj (1 of 2 approvals)"
        in digest(queued, "en").text
    )
    assert (
        "zhang 同意（尚未达到审批人数）：social-security，单位 rsj（已 1 人同意，需 2 人）" in digest(queued, "zh").text
    )
    assert brief(t.step("termination-approved", CHIEF, "2026-06-03T10:00", quorum={"termination": 2}))[0] == (
        "decision",
        "termination-approved",
        None,
        "2026-06-03",
        ("unit",),
    )
