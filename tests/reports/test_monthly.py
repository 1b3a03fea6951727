"""The monthly report of April 2026 from the replayed ledger, every figure computed by hand."""

from __future__ import annotations

import json
import re

import pytest

from orchestrator.adapters.cloud import CloudUnreachable
from orchestrator.services import report as svc


@pytest.fixture
def april(ledger, policy, cloud):
    return svc.monthly(ledger, "2026-04", policy, cloud=cloud)


def _unit(report, name):
    return next(u for u in report.units if u.unit == name)


def _envs(unit):
    return {(a.application, e.env): e for a in unit.applications for e in a.environments}


def test_states_and_environments_at_month_end(april):
    assert [u.unit for u in april.units] == ["rsj", "sjj", "zjj", "zwb"]
    states = {a.application: a.state for u in april.units for a in u.applications}
    # open-data is accepted on 6 May: still submitted at the end of April
    assert states == {
        "social-security": "production",
        "open-data": "submitted",
        "permit-prototype": "reclaimed",
        "citizen-portal": "testing",
    }
    statuses = {k: e.status for u in april.units for k, e in _envs(u).items()}
    assert statuses == {
        ("social-security", "test"): "expired",
        ("social-security", "trial"): "live",
        ("social-security", "production"): "live",
        ("open-data", "test"): "declared",
        ("open-data", "trial"): "declared",
        ("permit-prototype", "test"): "reclaimed",
        ("citizen-portal", "test"): "live",
        ("citizen-portal", "trial"): "declared",
    }


def test_allocation_against_the_units_limits(april):
    rsj = _unit(april, "rsj")
    envs = _envs(rsj)
    # trial: gateway 2 x g.2c4g, app 2 x g.8c16g with 200+100 GB each, database g.8c16g 300 GB,
    # archive 1000 GB, container 2000 GB
    assert envs[("social-security", "trial")].allocated == {
        "vcpu": 28,
        "ram_gb": 56,
        "volume_gb": 1900,
        "object_gb": 2000,
        "servers": 4,
        "database_instances": 1,
        "public_ips": 2,
    }
    # production: app 4 x g.8c16g
    assert envs[("social-security", "production")].allocated == {
        "vcpu": 44,
        "ram_gb": 88,
        "volume_gb": 2500,
        "object_gb": 2000,
        "servers": 6,
        "database_instances": 1,
        "public_ips": 2,
    }
    assert envs[("social-security", "test")].allocated["vcpu"] == 0
    assert rsj.allocated == {
        "vcpu": 72,
        "ram_gb": 144,
        "volume_gb": 4400,
        "object_gb": 4000,
        "servers": 10,
        "database_instances": 2,
        "public_ips": 4,
    }
    assert rsj.limits["vcpu"] == 96 and rsj.limits["public_ips"] == 4
    assert rsj.percent == {
        "vcpu": 75.0,
        "ram_gb": 75.0,
        "volume_gb": 73.3,
        "object_gb": 80.0,
        "servers": 62.5,
        "database_instances": 50.0,
        "public_ips": 100.0,
    }
    assert rsj.over == ()
    zwb = _unit(april, "zwb")  # test: one g.1c2g web server with 40 GB, default limits
    assert zwb.allocated == {
        "vcpu": 1,
        "ram_gb": 2,
        "volume_gb": 40,
        "object_gb": 0,
        "servers": 1,
        "database_instances": 0,
        "public_ips": 0,
    }
    assert (zwb.percent["vcpu"], zwb.percent["volume_gb"], zwb.percent["servers"]) == (3.1, 2.0, 10.0)
    assert _unit(april, "zjj").allocated["vcpu"] == 0  # reclaimed


def test_use_as_the_cloud_reports_it(april, cloud):
    envs = _envs(_unit(april, "rsj"))
    production, trial = envs[("social-security", "production")], envs[("social-security", "trial")]
    # project quotas: servers' cores and Cinder GB (databases live in Trove's project)
    assert production.project_allocated == {"vcpu": 36, "volume_gb": 2200, "object_gb": 2000}
    assert production.used == {"vcpu": 28, "volume_gb": 1900, "object_gb": 500.0}
    assert trial.used == {"vcpu": 2, "volume_gb": 1600, "object_gb": 1.0}
    assert envs[("social-security", "test")].used is None  # expired: not asked
    asked = sorted(c.args[0] for c in cloud.project_usage.call_args_list)
    assert asked == ["rsj-social-security-production", "rsj-social-security-trial", "zwb-citizen-portal-test"]


def test_idle_and_over_provisioned_candidates(april):
    found = [(c.kind, c.env, c.resource, c.numbers) for c in _unit(april, "rsj").candidates]
    assert found == [
        ("over-provisioned", "trial", "vcpu", {"allocated": 20, "used": 2, "percent": 10.0, "suggested": 3}),
        ("over-provisioned", "trial", "object_gb", {"allocated": 2000, "used": 1.0, "percent": 0.1, "suggested": 2}),
        # shut off 20 Mar 12:00, 41.5 days before 1 May; the trial servers shut off on 25 Apr are not idle
        ("server-shutoff", "production", "social-security-app-4", {"vcpu": 8, "ram_gb": 16, "days": 41}),
        # unattached since 20 Mar; app-4-logs unattached since 10 Apr (20 days) is not idle yet
        ("volume-unattached", "production", "social-security-app-4-data", {"size_gb": 200, "days": 41}),
        ("container-empty", "production", "social-security-tmp", {"objects": 0}),
        (
            "over-provisioned",
            "production",
            "object_gb",
            {"allocated": 2000, "used": 500.0, "percent": 25.0, "suggested": 715},
        ),
    ]
    assert _unit(april, "zwb").candidates == ()  # 1 of 1 vCPU, 40 of 40 GB in use


def test_deadlines_of_the_month_with_working_days(april):
    rows = {
        (d.application, d.name): (
            d.start.isoformat(),
            d.due.isoformat(),
            d.done and d.done.isoformat(),
            d.status,
            d.taken,
        )
        for u in april.units
        for d in u.deadlines
    }
    assert rows == {
        # Wed 1 Apr + 3 working days (Mon 6 Apr is the Qingming holiday) = Tue 7 Apr
        ("citizen-portal", "accept-or-reject"): ("2026-04-01", "2026-04-07", "2026-04-07", "met", 3),
        ("citizen-portal", "review"): ("2026-04-07", "2026-04-09", "2026-04-13", "missed", 4),
        ("citizen-portal", "test-ready"): ("2026-04-13", "2026-04-15", "2026-04-16", "missed", 3),
        ("social-security", "change-review"): ("2026-04-20", "2026-04-27", "2026-04-23", "met", 3),
        ("social-security", "change-applied"): ("2026-04-23", "2026-04-28", "2026-04-24", "met", 1),
        ("permit-prototype", "termination-review"): ("2026-04-20", "2026-04-27", "2026-04-22", "met", 2),
        ("permit-prototype", "reclamation"): ("2026-04-22", "2026-04-27", "2026-04-28", "missed", 4),
        # not accepted by 30 Apr: missed, four working days running (27-30 Apr)
        ("open-data", "accept-or-reject"): ("2026-04-24", "2026-04-29", None, "missed", 4),
    }
    # citizen-portal's test period (due 1 May) and the March deadlines are not April's
    assert (april.compliance.met, april.compliance.missed, april.compliance.open) == (4, 4, 0)
    assert april.compliance.percent_met == 50.0


def test_changes_and_terminations_of_the_month(april):
    rows = [(c.application, c.type, c.environment, c.kind, c.at.isoformat()) for u in april.units for c in u.changes]
    assert rows == [
        ("social-security", "change-requested", None, "minor", "2026-04-20T09:00:00"),
        ("social-security", "change-approved", None, None, "2026-04-23T10:00:00"),
        ("social-security", "change-applied", "trial", None, "2026-04-24T10:00:00"),
        ("social-security", "change-applied", "production", None, "2026-04-24T11:00:00"),
        ("permit-prototype", "termination-requested", None, None, "2026-04-20T09:00:00"),
        ("permit-prototype", "backup-confirmed", None, None, "2026-04-21T09:00:00"),
        ("permit-prototype", "termination-approved", None, None, "2026-04-22T10:00:00"),
        ("permit-prototype", "reclaimed", None, None, "2026-04-28T10:00:00"),
    ]


def test_capacity_against_the_threshold(april):
    assert [(a.resource, a.percent, a.status) for a in april.capacity] == [
        ("compute vcpu", 75.0, "warn"),
        ("compute ram", 40.0, "ok"),
        ("block storage", None, "unknown"),
    ]


def test_advice_names_the_resource_and_the_numbers(april):
    assert [(a.code, a.resource, a.numbers) for a in april.advice] == [
        (
            "capacity-expand",
            "compute vcpu",
            {"percent": 75.0, "used": 75, "capacity": 100, "unit": "vCPU", "threshold": 70.0},
        )
    ]
    by_unit = {u.unit: [(a.code, a.application, a.resource) for a in u.advice] for u in april.units}
    assert by_unit["rsj"] == [
        ("over-provisioned", "social-security", "vcpu"),
        ("over-provisioned", "social-security", "object_gb"),
        ("server-shutoff", "social-security", "social-security-app-4"),
        ("volume-unattached", "social-security", "social-security-app-4-data"),
        ("container-empty", "social-security", "social-security-tmp"),
        ("over-provisioned", "social-security", "object_gb"),
        ("near-limit", None, "public_ips"),  # 4 of 4
    ]
    assert by_unit["zwb"] == [
        ("deadline-missed", "citizen-portal", "review"),
        ("deadline-missed", "citizen-portal", "test-ready"),
    ]
    assert by_unit["zjj"] == [("deadline-missed", "permit-prototype", "reclamation")]
    assert by_unit["sjj"] == [("deadline-missed", "open-data", "accept-or-reject")]


def test_without_a_cloud_the_report_holds_allocation_only(ledger, policy):
    source, error = svc.connect(None)
    report = svc.monthly(ledger, "2026-04", policy, cloud=source, cloud_error=error)
    assert (report.usage_known, report.capacity, report.cloud_error) == (
        False,
        None,
        "no cloud named (--cloud or OS_CLOUD)",
    )
    assert all(e.used is None for u in report.units for a in u.applications for e in a.environments)
    assert all(c.kind not in ("server-shutoff", "over-provisioned") for u in report.units for c in u.candidates)
    assert _unit(report, "rsj").allocated["vcpu"] == 72  # allocation is still there
    zh = svc.render(report, "md", "zh")
    en = svc.render(report, "md", "en")
    assert "本报告仅含分配情况" in zh and "no cloud named" in zh
    assert "this report holds allocation only" in en


def test_an_unreachable_cloud_is_said_so(ledger, policy, cloud):
    cloud.project_usage.side_effect = CloudUnreachable("cloud changsha-test failed: timed out")
    report = svc.monthly(ledger, "2026-04", policy, cloud=cloud)
    assert not report.usage_known and report.cloud_error == "cloud changsha-test failed: timed out"
    assert "cloud changsha-test failed: timed out" in svc.render(report, "md", "en")


def test_one_unit(ledger, policy, cloud):
    report = svc.monthly(ledger, "2026-04", policy, unit="zwb", cloud=cloud)
    assert (report.unit, [u.unit for u in report.units]) == ("zwb", ["zwb"])
    assert [c.args[0] for c in cloud.project_usage.call_args_list] == ["zwb-citizen-portal-test"]


def test_an_earlier_month_knows_nothing_of_later_events(ledger, policy):
    march = svc.monthly(ledger, "2026-03", policy)
    assert {a.application: a.state for u in march.units for a in u.applications} == {
        "social-security": "trial",
        "permit-prototype": "testing",
    }
    rows = {(d.application, d.name): (d.status, d.taken) for u in march.units for d in u.deadlines}
    # test windows: 28 Feb + 15 days = 15 Mar; 5 Mar + 15 = 20 Mar; both destroyed on the day
    assert rows[("social-security", "test-window")] == ("met", 15)  # natural days, as allowed
    assert rows[("permit-prototype", "test-window")] == ("met", 15)
    assert rows[("permit-prototype", "accept-or-reject")] == ("met", 1)


def test_markdown_in_both_languages(april):
    zh = svc.render(april, "md", "zh")
    en = svc.render(april, "md", "en")
    assert "报告期: 2026-04 · 单位: 全部单位" in zh
    assert "# 政务云运行月报 2026-04" in zh and "# Government cloud monthly operations report 2026-04" in en
    # issue 24: which usage is which (live allocation, used, and quota usage's declared)
    assert "## Live allocation per unit (provisioned environments)" in en and "Allocated (live)" in en
    assert 'govcloud quota usage counts every declared environment ("declared")' in en
    assert "在用环境的资源分配（live）" in zh and "实际使用（used）" in zh and "申报（declared）" in zh
    # numbers and dates for the locale
    assert "| rsj | 72 / 96 (75%) | 144 / 192 (75%) | 4,400 / 6,000 (73.3%) |" in en
    assert "2026年4月20日" in zh and "Apr 20, 2026" in en
    # advice with the resource and its numbers
    assert "social-security/production/social-security-app-4 (8 vCPU, 16 GB RAM) has been shut off for 41 days" in en
    assert "云主机 social-security/生产/social-security-app-4（8 vCPU、16 GB 内存）已关机 41 天" in zh
    assert "reduce the allocation to 715" in en and "建议将分配调减至 715" in zh
    assert (
        "citizen-portal: review opinion missed its deadline (due Apr 9, 2026, "
        "4 working days taken, 2 working days allowed"
    ) in en
    assert (
        "| citizen-portal | 受理或退回 | Art. 12 | 2026年4月1日 | 2026年4月7日 | 2026年4月7日 | "
        "3 个工作日 | 3 个工作日 | 达标 |"
    ) in zh
    # no Chinese in the English report but the applications' own display names
    names = ("社会保障业务系统", "市民服务门户", "工程建设项目审批原型", "城市开放数据平台")
    stripped = en
    for name in names:
        stripped = stripped.replace(name, "")
    assert not re.search(r"[\u4e00-\u9fff]", stripped), re.findall(r".{20}[\u4e00-\u9fff]+.{0,20}", stripped)[:3]


def test_json_is_the_figures(april):
    data = json.loads(svc.render(april, "json", "en"))
    assert data["period"] == "2026-04" and data["usage_known"] is True
    assert data["compliance"] == {"met": 4, "missed": 4, "open": 0, "percent_met": 50.0}
    rsj = data["units"][0]
    assert rsj["unit"] == "rsj" and rsj["percent"]["public_ips"] == 100.0
    assert rsj["deadlines"][0] == {
        "unit": "rsj",
        "application": "social-security",
        "name": "change-review",
        "article": "Art. 15",
        "start": "2026-04-20",
        "due": "2026-04-27",
        "done": "2026-04-23",
        "status": "met",
        "taken": 3,
        "allowed": 5,
        "count": "working",
    }


def test_a_bad_month_is_a_usage_error(ledger, policy):
    from orchestrator.errors import UsageError

    with pytest.raises(UsageError, match="YYYY-MM"):
        svc.monthly(ledger, "2026-13", policy)


def test_connect_names_why_there_is_no_cloud(monkeypatch):
    from orchestrator.adapters.cloud import Cloud

    monkeypatch.delenv("OS_CLOUD", raising=False)
    assert svc.connect(None) == (None, "no cloud named (--cloud or OS_CLOUD)")

    def refuse(name):
        raise CloudUnreachable(f"cloud {name} is unreachable: no answer from http://127.0.0.1:5000/v3 (timed out)")

    monkeypatch.setattr(Cloud, "connect", staticmethod(refuse))
    assert svc.connect("changsha") == (
        None,
        "cloud changsha is unreachable: no answer from http://127.0.0.1:5000/v3 (timed out)",
    )
    monkeypatch.setattr(Cloud, "connect", staticmethod(lambda name: f"connected to {name}"))
    monkeypatch.setenv("OS_CLOUD", "from-env")
    assert svc.connect(None) == ("connected to None", None)  # openstacksdk reads OS_CLOUD itself


def test_a_part_the_cloud_did_not_tell_is_unknown_with_its_reason_not_zero(ledger, policy, cloud):
    """Issue 24: the containers of a project unreadable (401 on the scoped connection) were 0 GB
    used and advised "reduce to 1 GB"; now the figure and its advice are unknown, with the reason."""
    from dataclasses import replace

    from .conftest import USAGE

    production = "rsj-social-security-production"
    reason = "cloud changsha-test: 401 The request you have made requires authentication"
    unreadable = replace(USAGE[production], containers=(), unknown={"containers": reason})
    cloud.project_usage.side_effect = lambda p: unreadable if p == production else USAGE.get(p, svc.ProjectUsage(p))
    cloud.capacity.return_value = [svc.Measure("block storage", None, None, "GB", "cinder pools", "503 Unavailable")]
    report = svc.monthly(ledger, "2026-04", policy, cloud=cloud)
    env = _envs(_unit(report, "rsj"))[("social-security", "production")]
    assert env.used["object_gb"] is None and env.unknown == {"object_gb": reason}
    assert env.used["vcpu"] == 28  # the parts the cloud told stay known
    candidates = {(c.kind, c.resource) for c in _unit(report, "rsj").candidates if c.env == "production"}
    assert ("over-provisioned", "object_gb") not in candidates
    assert not any(kind == "container-empty" for kind, _ in candidates)
    en, zh = svc.render(report, "md", "en"), svc.render(report, "md", "zh")
    assert f"unknown ({reason})" in en and f"未知（{reason}）" in zh
    assert "unknown (503 Unavailable)" in en
    payload = json.loads(svc.render(report, "json", "en"))
    assert payload["capacity"][0]["reason"] == "503 Unavailable"
    html = svc.render(report, "html", "en")
    assert f"unknown ({reason})" in html


def test_a_failing_capacity_keeps_the_use(ledger, policy, cloud):
    cloud.capacity.side_effect = CloudUnreachable("cloud changsha-test failed: timed out")
    report = svc.monthly(ledger, "2026-04", policy, cloud=cloud)
    assert report.usage_known and report.capacity is None and "timed out" in report.capacity_error
