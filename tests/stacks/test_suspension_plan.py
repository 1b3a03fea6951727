"""Art. 37 in the program (issue 21): with ``govcloud:suspended`` every server's power state is
``shutoff`` and the ingress rules from public addresses are left out; nothing else changes."""

from __future__ import annotations

from orchestrator.core.manifest import Environment, Rule
from orchestrator.core.validation import load_manifest
from orchestrator.services.plan import plan_application
from stacks.components.settings import StackSettings

from .conftest import REPO

INSTANCE, RULE = "openstack:compute/instance:Instance", "openstack:networking/secGroupRule:SecGroupRule"


def test_a_suspended_environment_has_its_servers_off_and_no_public_ingress():
    app = load_manifest(REPO / "examples" / "manifests" / "citizen-portal.yaml")
    running = plan_application(app, Environment.TRIAL, StackSettings(external_network="public"))
    suspended = plan_application(app, Environment.TRIAL, StackSettings(external_network="public", suspended=True))
    servers = [r for r in suspended.resources if r.type == INSTANCE]
    assert len(servers) >= 2 and all(r.properties["powerState"] == "shutoff" for r in servers)
    assert not any("powerState" in r.properties for r in running.resources if r.type == INSTANCE)
    gone = {r.name for r in running.resources} - {r.name for r in suspended.resources}
    public = [
        r
        for r in running.resources
        if r.type == RULE
        and r.properties.get("direction") == "ingress"
        and r.properties.get("remoteIpPrefix") == "0.0.0.0/0"
    ]
    assert public and gone == {r.name for r in public}  # the rule from anywhere, and nothing else
    assert any(r.type == RULE and r.properties.get("remoteIpPrefix") == "10.20.0.0/16" for r in suspended.resources)


def test_public_ingress_is_ingress_from_outside_private_networks():
    assert Rule(remote_cidr="0.0.0.0/0").is_public_ingress and Rule(remote_cidr="8.8.8.0/24").is_public_ingress
    assert not Rule(remote_cidr="10.20.0.0/16").is_public_ingress
    assert not Rule(remote_cidr="0.0.0.0/0", direction="egress").is_public_ingress
    assert not Rule(remote_group="web").is_public_ingress
