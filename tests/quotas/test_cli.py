"""The quota commands: exit codes and JSON shapes."""

from __future__ import annotations

import dataclasses
import json

import pytest

from orchestrator.adapters.cloud import Cloud
from orchestrator.core.manifest import Environment
from orchestrator.core.sizing import quotas

from .conftest import EXAMPLES, POLICY
from .fakecloud import connection, inventory, with_quotas

VIOLATION_KEYS = {"rule", "enforcement", "article", "subject", "message", "asked", "allowed", "used", "resource"}


def test_check_ok_example(run_cli):
    result = run_cli(
        "quota", "check", str(EXAMPLES / "social-security.yaml"), "--manifests", str(EXAMPLES), "-o", "json"
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert set(payload) == {"manifest", "unit", "app", "policy", "stacks", "mandatory", "ok"}
    assert [s["stack"] for s in payload["stacks"]] == [
        "rsj.social-security.test",
        "rsj.social-security.trial",
        "rsj.social-security.production",
    ]
    assert payload["ok"] is True and payload["mandatory"] == 0


def test_check_mandatory_violation_exits_1_with_numbers_and_articles(run_cli, tmp_path):
    text = (EXAMPLES / "citizen-portal.yaml").read_text().replace("remoteCidr: 10.20.0.0/16", "remoteCidr: 0.0.0.0/0")
    text = text.replace("flavor: g.2c4g", "flavor: g.2c16g")
    path = tmp_path / "portal.yaml"
    path.write_text(text)
    result = run_cli("quota", "check", str(path), "--env", "trial", "--manifests", str(EXAMPLES), "-o", "json")
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    [stack] = payload["stacks"]
    assert stack["env"] == "trial"
    assert all(set(v) == VIOLATION_KEYS for v in stack["violations"])
    rules = {v["rule"]: v for v in stack["violations"]}
    assert {"ssh-from-management", "allowed-flavors", "ram-vcpu-ratio"} <= set(rules)
    assert rules["ram-vcpu-ratio"]["enforcement"] == "advisory"
    assert rules["ssh-from-management"]["article"] == "Art. 36"
    table = run_cli("quota", "check", str(path), "--env", "trial", "--manifests", str(EXAMPLES))
    assert table.exit_code == 1 and "MANDATORY" in table.stdout and "ADVISORY" in table.stdout


def test_check_unknown_env_is_a_usage_error(run_cli):
    result = run_cli("quota", "check", str(EXAMPLES / "permit-prototype.yaml"), "--env", "production")
    assert result.exit_code == 2 and "not declared" in result.stderr


def test_invalid_policy_is_reported_with_its_line(run_cli, tmp_path):
    bad = tmp_path / "policy.yaml"
    bad.write_text(POLICY.read_text().replace("kind: QuotaPolicy\n", "kind: QuotaPolicy\nextra: 1\n"))
    result = run_cli("quota", "check", str(EXAMPLES / "permit-prototype.yaml"), "--policy", str(bad))
    assert result.exit_code == 2 and f"{bad}:line 5: extra: unknown field" in result.stderr


def test_usage_json_shape(run_cli):
    result = run_cli("quota", "usage", "rsj", "--manifests", str(EXAMPLES), "-o", "json")
    assert result.exit_code == 0
    payload = json.loads(result.stdout)
    [unit] = payload["units"]
    assert set(unit) == {"unit", "basis", "environments", "total", "limits", "percent", "over"}
    assert [e["env"] for e in unit["environments"]] == ["test", "trial", "production"]
    assert unit["total"]["vcpu"] == 80 and unit["limits"]["vcpu"] == 96 and unit["percent"]["vcpu"] == 83.3
    assert unit["over"] == []
    # issue 24: it says which usage it is (declared), beside the report's live and used
    assert payload["basis"] == unit["basis"] == "declared" and "provisioned or not" in payload["meaning"]


def test_usage_for_people_names_what_it_counts(run_cli):
    result = run_cli("quota", "usage", "rsj", "--manifests", str(EXAMPLES))
    assert result.exit_code == 0
    assert result.stdout.startswith("declared: every environment the manifests declare")
    assert "declared/limit" in result.stdout and "declared of limit" in result.stdout


def test_usage_of_every_unit_and_an_over_limit_unit(run_cli, tmp_path):
    policy = tmp_path / "p.yaml"
    policy.write_text(POLICY.read_text().replace("      vcpu: 96\n", "      vcpu: 50\n"))
    result = run_cli("quota", "usage", "--manifests", str(EXAMPLES), "--policy", str(policy), "-o", "json")
    units = {u["unit"]: u for u in json.loads(result.stdout)["units"]}
    assert set(units) == {"rsj", "sjj", "zjj", "zwb"} and units["rsj"]["over"] == ["vcpu"]
    assert (
        "OVER LIMIT: vcpu"
        in run_cli("quota", "usage", "rsj", "--manifests", str(EXAMPLES), "--policy", str(policy)).stdout
    )


def test_usage_reads_govcloud_manifests(run_cli, tmp_path, monkeypatch):
    (tmp_path / "one.yaml").write_text((EXAMPLES / "permit-prototype.yaml").read_text())
    monkeypatch.setenv("GOVCLOUD_MANIFESTS", str(tmp_path))
    units = json.loads(run_cli("quota", "usage", "-o", "json").stdout)["units"]
    assert [u["unit"] for u in units] == ["zjj"]


def test_quota_commands_find_manifest_directories_as_every_command_does(run_cli, tmp_path, monkeypatch):
    """``GOVCLOUD_MANIFESTS`` is ``:``-separated for quota as for up and gitops (one resolver)."""
    import os

    one, two = tmp_path / "one", tmp_path / "two"
    for directory, example in ((one, "permit-prototype"), (two, "social-security")):
        directory.mkdir()
        (directory / f"{example}.yaml").write_text((EXAMPLES / f"{example}.yaml").read_text())
    monkeypatch.setenv("GOVCLOUD_MANIFESTS", f"{one}{os.pathsep}{two}")
    payload = json.loads(run_cli("quota", "usage", "-o", "json").stdout)
    assert [u["unit"] for u in payload["units"]] == ["rsj", "zjj"]
    assert payload["manifests"] == f"{one}{os.pathsep}{two}"
    given = json.loads(run_cli("quota", "usage", "--manifests", str(one), "--manifests", str(two), "-o", "json").stdout)
    assert given["units"] == payload["units"]
    monkeypatch.setenv("GOVCLOUD_MANIFESTS", str(tmp_path / "nowhere"))
    missing = run_cli("quota", "usage")
    assert missing.exit_code == 2 and "nowhere: no such manifest directory" in missing.stderr


@pytest.fixture
def fake_cloud(monkeypatch):
    """``Cloud.connect`` answers with a fake connection built from openstacksdk's fakes."""
    conn = connection(
        providers=[([inventory("VCPU", 100), inventory("MEMORY_MB", 1000)], {"VCPU": 70, "MEMORY_MB": 699})],
        pools=None,
        externals=[("public", 10, 100)],
    )
    monkeypatch.setattr(Cloud, "connect", classmethod(lambda cls, name=None: Cloud(conn, name)))
    return conn


def test_capacity_warns_at_the_threshold_and_reports_unknowns(run_cli, fake_cloud):
    result = run_cli("capacity", "--output", "json")
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert set(payload) == {"threshold", "resources", "warnings"} and payload["threshold"] == 0.7
    by_name = {r["resource"]: r for r in payload["resources"]}
    assert set(by_name["compute vcpu"]) == {
        "resource",
        "used",
        "capacity",
        "unit",
        "source",
        "percent",
        "status",
        "reason",
    }
    assert (by_name["compute vcpu"]["percent"], by_name["compute vcpu"]["status"]) == (70.0, "warn")
    assert (by_name["compute ram"]["percent"], by_name["compute ram"]["status"]) == (69.9, "ok")
    assert by_name["compute disk"]["status"] == "unknown" and by_name["compute disk"]["percent"] is None
    assert by_name["block storage"]["status"] == "unknown"
    assert payload["warnings"] == ["compute vcpu"]
    assert "compute vcpu" in result.stderr and "Art. 31" in result.stderr


def test_capacity_below_a_higher_threshold_exits_0(run_cli, fake_cloud):
    result = run_cli("capacity", "--threshold", "0.8")
    assert result.exit_code == 0 and "unknown" in result.stdout and "70.0%" in result.stdout


def test_capacity_unreachable_cloud_exits_3(run_cli, monkeypatch):
    import openstack

    monkeypatch.setattr(openstack, "connect", lambda **kw: (_ for _ in ()).throw(OSError("connection refused")))
    result = run_cli("capacity", "--cloud", "nowhere")
    assert result.exit_code == 3
    assert result.stderr.strip() == "error: cloud nowhere is unreachable: connection refused"


def test_drift_json_shape_and_exit_codes(run_cli, monkeypatch, examples):
    from orchestrator.services.quotas import policy

    q = quotas(examples["open-data"].environments[Environment.TRIAL].resources, policy().headroom.sizing())
    conn = with_quotas(connection(providers=[]), q)
    monkeypatch.setattr(Cloud, "connect", classmethod(lambda cls, name=None: Cloud(conn, name)))
    ok = run_cli("quota", "drift", "open-data", "--env", "trial", "--manifests", str(EXAMPLES), "-o", "json")
    assert ok.exit_code == 0
    payload = json.loads(ok.stdout)
    assert set(payload) == {"project", "status", "expected", "actual", "differences", "ok"}
    assert payload["project"] == "sjj-open-data-trial" and payload["differences"] == []
    assert payload["status"] == "match"
    with_quotas(conn, dataclasses.replace(q, block_storage={**q.block_storage, "volumes": 9}))
    drifted = run_cli("quota", "drift", "open-data", "--env", "trial", "--manifests", str(EXAMPLES), "-o", "json")
    assert drifted.exit_code == 1
    assert json.loads(drifted.stdout)["differences"] == [
        {"service": "block_storage", "key": "volumes", "expected": q.block_storage["volumes"], "actual": 9}
    ]


def test_drift_of_a_declared_environment_not_yet_provisioned(run_cli, monkeypatch, examples):
    """Issue 24: not an error (it was exit 2, "project does not exist"): not provisioned."""
    conn = connection(providers=[])
    conn.identity.find_project.return_value = None
    monkeypatch.setattr(Cloud, "connect", classmethod(lambda cls, name=None: Cloud(conn, name)))
    args = ("quota", "drift", "open-data", "--env", "test", "--manifests", str(EXAMPLES))
    people, machine = run_cli(*args), run_cli(*args, "-o", "json")
    assert people.exit_code == machine.exit_code == 0
    assert (
        people.stdout.strip() == "sjj-open-data-test: not provisioned (the cloud holds no such project): "
        "nothing to compare"
    )
    payload = json.loads(machine.stdout)
    assert (payload["status"], payload["actual"], payload["differences"]) == ("not provisioned", None, [])
    conn.get_compute_quotas.assert_not_called()


def test_drift_of_an_unknown_application_exits_2(run_cli):
    result = run_cli("quota", "drift", "no-such-app", "--env", "test", "--manifests", str(EXAMPLES))
    assert result.exit_code == 2 and "no-such-app" in result.stderr
