"""``govcloud plan``: JSON shape, table, environment filter, errors."""

from __future__ import annotations

import json

from click.testing import CliRunner

from orchestrator.cli import cli
from orchestrator.cli import plan as _plan  # noqa: F401  (registers the command)

from .conftest import REPO

EXAMPLES = str(REPO / "examples" / "manifests")
TOTAL_KEYS = {
    "vcpu",
    "ram_gb",
    "volume_gb",
    "object_gb",
    "servers",
    "database_instances",
    "public_ips",
    "world_open_rules",
}


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_plan_json_shape_for_every_example_stack() -> None:
    result = invoke("plan", EXAMPLES, "--output", "json")
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert list(payload) == ["stacks"]
    stacks = {s["stack"]: s for s in payload["stacks"]}
    assert sorted(stacks) == sorted(
        [
            "zwb.citizen-portal.test",
            "zwb.citizen-portal.trial",
            "sjj.open-data.test",
            "sjj.open-data.trial",
            "zjj.permit-prototype.test",
            "rsj.social-security.test",
            "rsj.social-security.trial",
            "rsj.social-security.production",
        ]
    )
    for stack in payload["stacks"]:
        assert set(stack) == {
            "stack",
            "app",
            "unit",
            "env",
            "digest",
            "resources",
            "totals",
            "headroom",
            "databaseAccess",
            "gate",
            "quota",
        }
        assert stack["stack"] == f"{stack['unit']}.{stack['app']}.{stack['env']}"
        assert stack["digest"].startswith("sha256:")
        assert set(stack["totals"]) == TOTAL_KEYS
        for resource in stack["resources"]:
            assert set(resource) == {"type", "name", "properties"}
    prod = stacks["rsj.social-security.production"]
    assert prod["totals"]["servers"] == 6 and prod["totals"]["public_ips"] == 2
    assert prod["resources"][0]["type"] == "govcloud:app:Environment"
    db = next(r for r in prod["resources"] if r["type"] == "openstack:database/instance:Instance")
    assert db["properties"]["users"] == "[secret]"
    assert "mock-" not in json.dumps([r for r in prod["resources"] if "Password" in r["type"]])


def test_plan_one_environment_as_a_table() -> None:
    result = invoke("plan", EXAMPLES, "--env", "production")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("rsj.social-security.production  (sha256:")
    assert "openstack:compute:Instance" in result.stdout and "social-security-app-4" in result.stdout
    assert "totals: vcpu=44, ram_gb=88" in result.stdout
    # the quota policy's room for operations, beside the totals: every volume snapshotted once, 4 rules
    assert (
        "  headroom (quota policy, in the project's quotas beyond the totals): snapshot gigabytes +2200, "
        "snapshots 9, security-group rules +4\n"
    ) in result.stdout
    # the database's port, from the environment's own subnet only (Trove's own group opened it to everyone)
    assert (
        "  database access: social-security-benefits: tcp 3306 from 172.18.0.0/24 only "
        "(Trove access, set by govcloud up)\n"
    ) in result.stdout
    assert result.stdout.rstrip().endswith("1 stack(s)")


def test_plan_invalid_manifest_exits_1_naming_file_and_field(tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_bytes((REPO / "examples/manifests/permit-prototype.yaml").read_bytes().replace(b"g.1c2g", b"huge"))
    result = invoke("plan", str(bad))
    assert result.exit_code == 1
    assert "bad.yaml" in result.stderr and "spec.resources.servers[0].flavor" in result.stderr
    assert "unknown flavor 'huge'" in result.stderr


def test_plan_missing_path_is_a_usage_error(tmp_path) -> None:
    result = invoke("plan", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 2 and "no such file" in result.stderr


def test_plan_in_the_process_pool_reports_an_invalid_file(tmp_path) -> None:
    good = REPO / "examples/manifests/citizen-portal.yaml"
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(
        (REPO / "examples/manifests/permit-prototype.yaml")
        .read_bytes()
        .replace(b"count: 1\n", b"count: 0\n")
        .replace(b"image: debian-12", b"image: debian-12\n        count: 0")
    )
    result = invoke("plan", str(good), str(bad))
    assert result.exit_code == 1
    assert f"{bad}: invalid manifest" in result.stderr and "spec.resources.servers[0].count" in result.stderr
