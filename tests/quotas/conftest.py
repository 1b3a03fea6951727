"""Fixtures of the quota tests: the policy, the example applications, facts and Pulumi-like resources."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from orchestrator.core import naming
from orchestrator.core.manifest import Application, Environment
from orchestrator.core.quota import Policy, load_policy
from orchestrator.core.quota.facts import GIB

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "manifests"
POLICY = ROOT / "quotas" / "policy.yaml"


@pytest.fixture(scope="session")
def policy() -> Policy:
    return load_policy(POLICY)


@pytest.fixture(scope="session")
def examples() -> dict[str, Application]:
    from orchestrator.core.validation import load_manifest

    return {a.id: a for a in (load_manifest(p) for p in sorted(EXAMPLES.glob("*.yaml")))}


@pytest.fixture
def run_cli():
    """Run ``govcloud ARGS`` in-process; returns the click Result."""
    from click.testing import CliRunner

    from orchestrator.cli import cli, manifest, quota  # noqa: F401  (registers commands)

    runner = CliRunner()

    def invoke(*args: str, **kwargs):
        return runner.invoke(cli, list(args), catch_exceptions=False, **kwargs)

    return invoke


def resources_for(app: Application, env: Environment) -> list[dict[str, Any]]:
    """The quota-relevant resources the stacks program declares, as ``plan`` reports them.

    Mirrors ``stacks/components`` (type tokens, camelCase inputs, names): instances
    ``<app>-<server>-<n>`` with their data volumes and floating IPs, standalone volumes, Trove
    instances (a flavor *id*, as the program looks flavors up), containers with ``Quota-Bytes``,
    security-group rules named by what they are (``naming.security_rule_names``).
    """
    res = app.environments[env].resources
    meta = naming.metadata(app, env)
    tags = naming.tags(app, env)
    out: list[dict[str, Any]] = [
        {
            "type": "openstack:identity/project:Project",
            "name": naming.project_name(app.unit, app.id, env),
            "properties": {"tags": tags},
        },
    ]
    for server in res.servers:
        for name in naming.instance_names(app.id, server):
            out.append(
                {
                    "type": "openstack:compute/instance:Instance",
                    "name": name,
                    "properties": {"name": name, "flavorName": server.flavor, "metadata": meta},
                }
            )
            if server.public_ip:
                out.append(
                    {
                        "type": "openstack:networking/floatingIp:FloatingIp",
                        "name": f"{name}-public-ip",
                        "properties": {"tags": tags},
                    }
                )
            for v in server.volumes:
                props = {"size": v.size_gb, "metadata": meta, **({"volumeType": v.type} if v.type else {})}
                out.append(
                    {"type": "openstack:blockstorage/volume:Volume", "name": f"{name}-{v.name}", "properties": props}
                )
    for v in res.volumes:
        props = {"size": v.size_gb, "metadata": meta, **({"volumeType": v.type} if v.type else {})}
        out.append(
            {
                "type": "openstack:blockstorage/volume:Volume",
                "name": naming.resource_name(app.id, v.name),
                "properties": props,
            }
        )
    for d in res.databases:
        props = {
            "flavorId": f"id-of-{d.flavor}",
            "size": d.size_gb,
            **({"volumeType": d.volume_type} if d.volume_type else {}),
        }
        out.append(
            {
                "type": "openstack:database/instance:Instance",
                "name": naming.resource_name(app.id, d.name),
                "properties": props,
            }
        )
    for c in res.containers:
        out.append(
            {
                "type": "openstack:objectstorage/container:Container",
                "name": naming.resource_name(app.id, c.name),
                "properties": {"metadata": {**naming.header_metadata(app, env), "Quota-Bytes": str(c.size_gb * GIB)}},
            }
        )
    rule_names = naming.security_rule_names(app.id, res.security_groups)
    for g in res.security_groups:
        for r, named in zip(g.rules, rule_names[g.name], strict=True):
            props: dict[str, Any] = {"direction": r.direction, "ethertype": r.ethertype}
            if r.protocol != "any":
                props["protocol"] = r.protocol
            if r.ports:
                props["portRangeMin"], props["portRangeMax"] = r.ports.min, r.ports.max
            if r.remote_cidr:
                props["remoteIpPrefix"] = r.remote_cidr
            if r.remote_group:
                props["remoteGroupId"] = f"id-of-{r.remote_group}"
            out.append(
                {"type": "openstack:networking/secGroupRule:SecGroupRule", "name": named.name, "properties": props}
            )
    return out


def app_from_text(text: str) -> Application:
    from orchestrator.core.validation import validate_bytes

    report = validate_bytes(text.encode(), "<test>")
    assert report.application is not None, [str(p) for p in report.problems]
    return report.application


def replace_once(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


@pytest.fixture(scope="session")
def bad_app() -> Application:
    """The level-3 example broken against most rules: no backups, SSH and MySQL open to the world,
    an oversized unencrypted archive, a RAM-heavy unlisted gateway flavor."""
    text = (EXAMPLES / "social-security.yaml").read_text()
    text = replace_once(
        text, '  backup:\n    schedule: "0 1 * * *"', '  backup:\n    enabled: false\n    schedule: "0 1 * * *"'
    )
    text = replace_once(
        text,
        "            ports: 22\n            remoteCidr: 10.20.0.0/16",
        "            ports: 22\n            remoteCidr: 0.0.0.0/0",
    )
    text = replace_once(
        text,
        "      - name: db-clients\n        rules: []",
        "      - name: db-clients\n        rules:\n          - protocol: tcp\n"
        "            ports: 3306\n            remoteCidr: 0.0.0.0/0",
    )
    text = replace_once(text, "        sizeGb: 1000\n        type: encrypted\n", "        sizeGb: 3000\n")
    text = replace_once(
        text,
        "        flavor: g.2c4g\n        image: debian-12\n        count: 2",
        "        flavor: g.2c16g\n        image: debian-12\n        count: 2",
    )
    return app_from_text(text)
