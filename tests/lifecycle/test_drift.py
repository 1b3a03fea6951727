"""Cloud drift (issue 21): the decisions of the core, and their record in the ledger on SQLite and
PostgreSQL through :func:`orchestrator.services.drift.check` with a finder standing in for the
engine and the cloud (the real ones: ``tests/e2e/test_drift.py``)."""

from __future__ import annotations

import datetime as dt

import pytest

from orchestrator.adapters.driftlog import DriftLog
from orchestrator.core import drift as dr
from orchestrator.errors import ExternalError, NotFound, UsageError
from orchestrator.services import drift as svc

from .conftest import CHIEF, CLERK, EXAMPLES, OPS, SOCIAL, at

STACK = "rsj.social-security.test"
RULE = dr.Finding(
    STACK,
    "social-security-web",
    "openstack:networking/secGroup:SecGroup",
    "rules",
    None,
    "ingress tcp 22-22 from 0.0.0.0/0 (IPv4)",
)
FLAVOR = dr.Finding(
    STACK, "social-security-app-0", "openstack:compute/instance:Instance", "flavorName", "g.2c4g", "g.4c8g"
)
TODAY = dt.date(2026, 3, 1)


def ignore(expires: dt.date, resource: str = "*-web", environment: str | None = None) -> dr.IgnoreRule:
    return dr.IgnoreRule("social-security", resource, "ops-li", "incident 42", expires, "rules", environment)


# --- core ------------------------------------------------------------------------------------


def test_the_fingerprint_names_the_difference_not_the_run():
    assert (
        RULE.fingerprint
        == dr.Finding(
            *[getattr(RULE, k) for k in ("stack", "resource", "type", "property", "before", "after")]
        ).fingerprint
    )
    other = dr.Finding(STACK, RULE.resource, RULE.type, "rules", None, "ingress tcp 23-23 from 0.0.0.0/0 (IPv4)")
    assert other.fingerprint != RULE.fingerprint
    assert (
        dr.Finding(
            "rsj.social-security.trial",
            *[getattr(RULE, k) for k in ("resource", "type", "property", "before", "after")],
        ).fingerprint
        != RULE.fingerprint
    )


def test_differences_compare_outputs_and_leave_volatile_ones_out():
    found = dr.differences(
        STACK,
        "app",
        "t",
        {"flavorName": "a", "updated": "1", "name": "x"},
        {"flavorName": "b", "updated": "2", "name": "x"},
        ignored=("updated",),
    )
    assert [(f.property, f.before, f.after) for f in found] == [("flavorName", "a", "b")]
    assert dr.differences(STACK, "net", "t", {"dnsNameservers": None}, {"dnsNameservers": [], "tags": {}}) == []
    port = dr.differences(
        STACK,
        "port",
        "t",
        {"deviceId": "", "name": "p"},
        {"deviceId": "srv-1", "name": "q"},
        inputs=("name", "adminStateUp"),
    )
    assert [f.property for f in port] == ["name"]  # the port's device is the cloud's to set


def test_reconcile_new_still_ignored_expired_and_resolved():
    first = dr.reconcile([RULE, RULE], [], [], "social-security", "test", TODAY)
    assert first.new == [RULE] and not first.still  # one finding found twice in a run: once
    on_record = [dr.Recorded(RULE, dr.OPEN, dt.datetime(2026, 3, 1))]
    again = dr.reconcile([RULE], on_record, [], "social-security", "test", TODAY)
    assert again.new == [] and again.still == [RULE]
    hidden = dr.reconcile([RULE], on_record, [ignore(TODAY + dt.timedelta(days=1))], "social-security", "test", TODAY)
    assert hidden.new == hidden.still == [] and hidden.ignored[0][0] == RULE
    expired = dr.reconcile(
        [RULE],
        [dr.Recorded(RULE, dr.IGNORED, dt.datetime(2026, 3, 1))],
        [ignore(TODAY)],
        "social-security",
        "test",
        TODAY,
    )
    assert expired.new == [RULE] and expired.ignored == []  # reported again the day its rule expires
    gone = dr.reconcile([FLAVOR], on_record, [], "social-security", "test", TODAY)
    assert gone.resolved == [RULE] and gone.new == [FLAVOR]


def test_an_ignore_rule_hides_only_what_it_names():
    rule = ignore(TODAY + dt.timedelta(days=9), environment="production")
    assert not rule.hides(RULE, "social-security", "test", TODAY)  # another environment
    assert rule.hides(
        dr.Finding(
            "rsj.social-security.production",
            *[getattr(RULE, k) for k in ("resource", "type", "property", "before", "after")],
        ),
        "social-security",
        "production",
        TODAY,
    )
    assert not ignore(TODAY + dt.timedelta(days=9)).hides(FLAVOR, "social-security", "test", TODAY)
    assert not ignore(TODAY + dt.timedelta(days=9)).hides(RULE, "citizen-portal", "test", TODAY)


def test_due_leaves_out_failed_environments_and_those_checked_within_the_interval():
    live = [("a", "test", "u.a.test"), ("b", "test", "u.b.test"), ("c", "trial", "u.c.trial")]
    now = dt.datetime(2026, 3, 2, 12)
    checked = {"u.b.test": now - dt.timedelta(hours=3), "u.c.trial": now - dt.timedelta(days=1)}
    assert dr.due(live, [("a", "test")], checked, now) == [("c", "trial", "u.c.trial")]
    assert dr.due(live, [], checked, now, None) == live


def test_strange_rules_are_those_the_state_does_not_hold_default_egress_excepted():
    egress = {
        "id": "e4",
        "direction": "egress",
        "ethertype": "IPv4",
        "protocol": None,
        "portRangeMin": None,
        "portRangeMax": None,
        "remoteIpPrefix": None,
        "remoteGroupId": None,
    }
    ours = {
        **egress,
        "id": "r1",
        "direction": "ingress",
        "protocol": "tcp",
        "portRangeMin": 443,
        "portRangeMax": 443,
        "remoteIpPrefix": "10.20.0.0/16",
    }
    stranger = {**ours, "id": "r2", "portRangeMin": 22, "portRangeMax": 22, "remoteIpPrefix": "0.0.0.0/0"}
    groups = {"app-web": ("g1", True), "app-db": ("g2", False)}
    cloud = {"g1": [egress, ours, stranger], "g2": [{**egress, "id": "e5"}]}
    found = dr.unmanaged_rules(groups, ["r1"], cloud)
    assert [(g, r["id"]) for g, r in found] == [("app-db", "e5"), ("app-web", "r2")]  # app-db deleted its defaults
    assert dr.rule_text(stranger) == "ingress tcp 22-22 from 0.0.0.0/0 (IPv4)"


# --- the record, on both backends -----------------------------------------------------------


@pytest.fixture
def live(service):
    """social-security with a live test environment."""
    path = EXAMPLES / "social-security.yaml"
    service.submit(path, SOCIAL, at("2026-02-12T10:00"))
    service.accept("social-security", CLERK, at("2026-02-13T09:00"))
    service.review("social-security", "complete", CLERK, at("2026-02-14T09:00"))
    service.approve("social-security", "test", CHIEF, at("2026-02-14T10:00"))
    digest = service.state("social-security").digest
    service.record_deployment("social-security", "test", OPS, at("2026-02-15T10:00"), digest, payload={"program": "p1"})
    return service


def run(ledger, found, rules=(), when="2026-03-01T09:00", **kwargs):
    return svc.check(ledger, tuple(rules), now=at(when), finder=lambda stack: list(found), **kwargs)


def test_the_same_drift_is_recorded_once_and_resolved_when_it_goes(ledger, live):
    reports = [run(ledger, [RULE], when=f"2026-03-0{day}T09:00") for day in (1, 2, 3)]
    assert [len(r.checked[0].result.new) for r in reports] == [1, 0, 0]
    assert [len(r.checked[0].result.still) for r in reports] == [0, 1, 1] and reports[0].drifted == 1
    [row] = DriftLog(ledger.engine).findings()
    assert (row["status"], row["fingerprint"], row["firstSeen"], row["lastSeen"]) == (
        "open",
        RULE.fingerprint,
        "2026-03-01T09:00:00",
        "2026-03-03T09:00:00",
    )
    done = run(ledger, [], when="2026-03-04T09:00")
    assert [f.fingerprint for f in done.checked[0].result.resolved] == [RULE.fingerprint] and done.drifted == 0
    assert DriftLog(ledger.engine).findings(status=("open", "ignored")) == []
    assert DriftLog(ledger.engine).findings()[0]["resolution"] == "gone"


def test_an_ignore_rule_hides_until_it_expires(ledger, live):
    rule = ignore(dt.date(2026, 3, 3))
    assert run(ledger, [RULE], [rule], "2026-03-01T09:00").checked[0].result.ignored
    [row] = DriftLog(ledger.engine).findings()
    assert row["status"] == "ignored" and row["rule"]["owner"] == "ops-li"
    assert run(ledger, [RULE], [rule], "2026-03-02T09:00").drifted == 0
    expired = run(ledger, [RULE], [rule], "2026-03-03T09:00")
    assert [f.fingerprint for f in expired.checked[0].result.new] == [RULE.fingerprint]
    assert DriftLog(ledger.engine).findings()[0]["status"] == "open"


def test_a_failed_check_is_recorded_apart_and_leaves_the_findings_alone(ledger, live):
    run(ledger, [RULE])

    def broken(stack):
        raise ExternalError("pulumi refresh --preview-only of stack rsj.social-security.test failed: boom")

    report = svc.check(ledger, (), now=at("2026-03-02T09:00"), finder=broken)
    assert report.failed == 1 and "boom" in report.checked[0].error
    runs = DriftLog(ledger.engine).runs(STACK)
    assert [(r["outcome"], bool(r["error"])) for r in runs] == [("error", True), ("ok", False)]
    assert runs[1]["counts"] == {"new": 1, "still": 0, "ignored": 0, "resolved": 0}
    assert DriftLog(ledger.engine).findings()[0]["status"] == "open"


def test_only_live_environments_whose_last_up_succeeded_are_checked(ledger, live):
    digest = live.state("social-security").digest
    live.record_failure("social-security", "test", OPS, at("2026-02-20T10:00"), digest, "engine failed")
    report = run(ledger, [RULE])
    assert report.checked == [] and "last up failed" in report.skipped[0]["why"]
    with pytest.raises(NotFound):
        run(ledger, [], application="nobody")
    with pytest.raises(UsageError):
        run(ledger, [], environment="staging")


def test_the_tick_interval_skips_what_was_checked_today(ledger, live):
    run(ledger, [RULE], when="2026-03-01T09:00")
    assert run(ledger, [RULE], when="2026-03-01T20:00", interval=dr.INTERVAL).checked == []
    assert len(run(ledger, [RULE], when="2026-03-02T09:00", interval=dr.INTERVAL).checked) == 1


def test_reapplying_resolves_the_open_drift_as_reapplied(ledger, live):
    run(ledger, [RULE, FLAVOR])
    assert sorted(DriftLog(ledger.engine).reapplied(STACK, at("2026-03-02T09:00"))) == sorted(
        [RULE.fingerprint, FLAVOR.fingerprint]
    )
    assert {r["resolution"] for r in DriftLog(ledger.engine).findings()} == {"reapplied"}
    digest = live.state("social-security").digest
    event = live.record_deployment(
        "social-security", "test", OPS, at("2026-03-02T09:00"), digest, payload={"program": "p1"}, remedies=True
    )
    assert event is not None and event.type == "reapplied"
    assert (
        live.record_deployment(
            "social-security", "test", OPS, at("2026-03-02T10:00"), digest, payload={"program": "p1"}
        )
        is None
    )  # nothing drifted, nothing changed


def test_new_drift_becomes_one_cloud_drift_notice_for_the_provider(ledger, live):
    from orchestrator.core import notices as nt

    first = svc.notices(run(ledger, [RULE]), TODAY)
    [notice] = first
    assert (notice.kind, notice.application, notice.unit, notice.environment, notice.audience) == (
        "cloud-drift",
        "social-security",
        "rsj",
        "test",
        (nt.PROVIDER,),
    )
    assert [f["fingerprint"] for f in notice.payload["findings"]] == [RULE.fingerprint]
    assert svc.notices(run(ledger, [RULE], when="2026-03-02T09:00"), TODAY) == []  # told once


def test_find_reads_the_refresh_preview_and_the_groups_rules(monkeypatch):
    """The wiring of one stack's look: the engine's refresh (only the properties the program sets)
    and the strange rule in a group the state holds."""
    from orchestrator.adapters import engine

    server = engine.Refreshed(
        "urn:x::app-0",
        "openstack:compute/instance:Instance",
        "app-0",
        {"flavorName": "g.1c2g", "accessIpV4": "10.0.0.5", "powerState": "active"},
        {"flavorName": "g.2c4g", "accessIpV4": "10.0.0.9", "powerState": "active"},
        frozenset({"flavorName", "powerState"}),
    )
    gone = engine.Refreshed("urn:x::app-data", "openstack:blockstorage/volume:Volume", "app-data", {"size": 1}, None)
    monkeypatch.setattr(engine, "preview_refresh", lambda stack, located: [server, gone])
    monkeypatch.setattr(
        engine,
        "state_outputs",
        lambda stack, located: [
            ("app-web", svc.SEC_GROUP, "g1", {"deleteDefaultRules": True}),
            ("app-web-ingress-tcp-443", svc.SEC_RULE, "r1", {}),
        ],
    )

    class Cloud:
        def security_group_rules(self, ids):
            assert list(ids) == ["g1"]
            return {
                "g1": [
                    {"id": "r1"},
                    {
                        "id": "r9",
                        "direction": "ingress",
                        "ethertype": "IPv4",
                        "protocol": "tcp",
                        "portRangeMin": 22,
                        "portRangeMax": 22,
                        "remoteIpPrefix": "0.0.0.0/0",
                    },
                ]
            }

    found = svc.find(STACK, None, Cloud())
    assert [(f.resource, f.property, f.before, f.after) for f in found] == [
        ("app-0", "flavorName", "g.1c2g", "g.2c4g"),
        ("app-data", "exists", True, False),
        ("app-web", "rules", None, "ingress tcp 22-22 from 0.0.0.0/0 (IPv4)"),
    ]
