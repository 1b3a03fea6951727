"""Every resource kind of every example environment: key properties, labels, parents, quotas."""

from __future__ import annotations

import re

import pytest
import yaml

from orchestrator.core import naming, sizing
from orchestrator.core.manifest import Environment
from orchestrator.core.validation import validate_bytes
from stacks.components.storage import GIB, PUBLIC_READ_ACL

from .conftest import EXTERNAL_NETWORK, KEY_PAIR, REPO, Deployed, deploy_app, deployed

OS = "openstack:"
PROVIDER = "pulumi:providers:openstack"
SECRET_SIG = "4dabf18193072939515e22adb298388d"
TAGGED = {  # resource types that take Neutron/Keystone tags
    "openstack:identity/project:Project",
    "openstack:networking/network:Network",
    "openstack:networking/subnet:Subnet",
    "openstack:networking/router:Router",
    "openstack:networking/secGroup:SecGroup",
    "openstack:networking/port:Port",
    "openstack:networking/floatingIp:FloatingIp",
}
BASE_PACKAGES = ["unattended-upgrades", "auditd", "chrony"]
WITH_METADATA = {"openstack:compute/instance:Instance", "openstack:blockstorage/volume:Volume"}
RULE = "openstack:networking/secGroupRule:SecGroupRule"
#: A Pulumi ``tokens.Name``: what ``pulumi state rename`` accepts (no ``/``, no ``:``).
PULUMI_NAME = re.compile(r"[A-Za-z_.][A-Za-z0-9_.-]*")


def resources(d: Deployed):
    return d.app.environments[d.env].resources


def project_provider(d: Deployed) -> str:
    provider = d.one(PROVIDER, f"{naming.project_name(d.app.unit, d.app.id, d.env)}-provider")
    return f"{provider.urn}::{provider.urn.split('::')[-1]}-id"


def test_every_tagged_resource_carries_the_four_labels(env_run: Deployed) -> None:
    expected_tags = naming.tags(env_run.app, env_run.env)
    assert expected_tags == [
        f"govcloud:unit={env_run.app.unit}",
        f"govcloud:app={env_run.app.id}",
        f"govcloud:env={env_run.env}",
        f"govcloud:digest={env_run.app.digest}",
    ]
    checked = 0
    for r in env_run.run.resources:
        if r.type in TAGGED:
            assert r.inputs["tags"] == expected_tags, r.urn
            checked += 1
        if r.type in WITH_METADATA:
            assert r.inputs["metadata"] == naming.metadata(env_run.app, env_run.env), r.urn
            checked += 1
    assert checked >= 6


def test_identity_project_quotas_and_scoped_provider(env_run: Deployed) -> None:
    d = env_run
    project_name = naming.project_name(d.app.unit, d.app.id, d.env)
    project = d.one("openstack:identity/project:Project", project_name)
    assert project.inputs["name"] == project_name
    assert d.app.metadata.name in project.inputs["description"]
    assert d.parent_of(project).type == "govcloud:identity:Identity"
    assert d.parent_of(d.parent_of(project)).type == "govcloud:app:Environment"

    role = d.one("openstack:identity/roleAssignment:RoleAssignment", f"{project_name}-admin-member")
    assert role.inputs == {
        "projectId": f"{project_name}-id",
        "userId": "mock-admin-user-id",
        "roleId": "mock-getRole-member-id",
    }
    headroom = sizing.Headroom(snapshot_share=1.0, snapshots_per_volume=1, security_group_rules=4)  # the policy's
    quotas = sizing.quotas(resources(d), headroom)
    exact = sizing.quotas(resources(d))
    compute = d.one("openstack:compute/quotaSetV2:QuotaSetV2", f"{project_name}-compute-quota")
    network = d.one("openstack:networking/quotaV2:QuotaV2", f"{project_name}-network-quota")
    block = d.one("openstack:blockstorage/quoteSetV3:QuoteSetV3", f"{project_name}-block-storage-quota")
    assert {k: compute.inputs[k] for k in ("instances", "cores", "ram")} == quotas.compute
    assert network.inputs["port"] == quotas.network["port"]
    assert network.inputs["securityGroup"] == quotas.network["security_group"]
    assert network.inputs["securityGroupRule"] == quotas.network["security_group_rule"]
    assert network.inputs["floatingip"] == quotas.network["floatingip"]
    assert {k: block.inputs[k] for k in ("volumes", "gigabytes", "snapshots")} == quotas.block_storage
    # room for operations: every volume snapshotted once, four emergency rules
    assert block.inputs["gigabytes"] == 2 * exact.block_storage["gigabytes"]
    assert block.inputs["snapshots"] == exact.block_storage["volumes"]
    assert network.inputs["securityGroupRule"] == exact.network["security_group_rule"] + 4
    for quota in (role, compute, network, block):
        assert quota.inputs["projectId"] == f"{project_name}-id"
        assert quota.provider == "", f"{quota.urn} must use the admin (default) provider"

    provider = d.one(PROVIDER, f"{project_name}-provider")
    assert provider.inputs["tenantId"] == f"{project_name}-id"
    assert provider.inputs["tenantName"] == project_name


def test_everything_but_identity_and_access_goes_through_the_project_provider(env_run: Deployed) -> None:
    expected = project_provider(env_run)
    admin_side = {env_run.of_type(t)[0].urn for t in ("govcloud:identity:Identity", "govcloud:access:Access")}
    others = [r for r in env_run.run.resources if r.type.startswith(OS) and not admin_side & set(ancestors(env_run, r))]
    assert len(others) >= 5
    for r in others:
        assert r.provider == expected, r.urn


def ancestors(d: Deployed, r) -> list[str]:
    chain, by_urn = [], d.run.by_urn()
    while r.parent in by_urn:
        chain.append(r.parent)
        r = by_urn[r.parent]
    return chain


def test_network_subnet_router(env_run: Deployed) -> None:
    d = env_run
    app = d.app.id
    network = d.one("openstack:networking/network:Network", f"{app}-net")
    subnet = d.one("openstack:networking/subnet:Subnet", f"{app}-subnet")
    router = d.one("openstack:networking/router:Router", f"{app}-router")
    interface = d.one("openstack:networking/routerInterface:RouterInterface", f"{app}-router-subnet")
    assert d.parent_of(network).type == "govcloud:network:Network"
    assert d.parent_of(subnet) == network
    assert d.parent_of(interface) == router
    assert subnet.inputs["networkId"] == f"{app}-net-id"
    assert subnet.inputs["cidr"] == sizing.subnet_cidr(d.env, sizing.quotas(resources(d)).network["port"])
    assert router.inputs["externalNetworkId"] == f"mock-getNetwork-{EXTERNAL_NETWORK}-id"
    assert interface.inputs == {"routerId": f"{app}-router-id", "subnetId": f"{app}-subnet-id"}


def test_security_groups_hold_exactly_the_declared_rules(env_run: Deployed) -> None:
    d = env_run
    declared = resources(d).security_groups
    groups = d.of_type("openstack:networking/secGroup:SecGroup")
    rules = d.of_type(RULE)
    assert sorted(g.name for g in groups) == sorted(d.app.id + "-" + g.name for g in declared)
    assert len(rules) == sum(len(g.rules) for g in declared)
    names = naming.security_rule_names(d.app.id, declared)
    for group in declared:
        sg = d.one("openstack:networking/secGroup:SecGroup", f"{d.app.id}-{group.name}")
        assert sg.inputs["deleteDefaultRules"] is (not sizing.keeps_default_egress(group))
        for i, (rule, named) in enumerate(zip(group.rules, names[group.name], strict=True), start=1):
            r = d.one(RULE, named.name)
            assert r.name == f"{sg.name}-{naming.rule_slug(rule)}"
            assert d.parent_of(r) == sg
            assert r.aliases == (f"{r.urn.rsplit('::', 1)[0]}::{sg.name}-rule-{i}",), "alias: the old numbered name"
            assert r.delete_before_replace, "Neutron refuses a second identical rule: the old one goes first"
            assert r.inputs["securityGroupId"] == f"{sg.name}-id"
            assert r.inputs["direction"] == rule.direction
            assert r.inputs.get("protocol") == (None if rule.protocol == "any" else rule.protocol)
            if rule.ports:
                assert (r.inputs["portRangeMin"], r.inputs["portRangeMax"]) == (rule.ports.min, rule.ports.max)
            if rule.remote_cidr:
                assert r.inputs["remoteIpPrefix"] == rule.remote_cidr
                assert "remoteGroupId" not in r.inputs
            else:
                assert r.inputs["remoteGroupId"] == f"{d.app.id}-{rule.remote_group}-id"


def test_names_are_pulumi_names_and_urns_and_aliases_are_unique(env_run: Deployed) -> None:
    registered = env_run.run.resources
    urns = [r.urn for r in registered]
    aliases = [a for r in registered for a in r.aliases]
    assert len(set(urns)) == len(urns)
    assert len(set(aliases)) == len(aliases) and not set(aliases) & set(urns)
    assert [r.urn for r in registered if not PULUMI_NAME.fullmatch(r.name)] == []


def _social_security_with(old: str, new: str) -> Deployed:
    text = (REPO / "examples" / "manifests" / "social-security.yaml").read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    report = validate_bytes(text.replace(old, new).encode(), "changed.yaml")
    assert report.application is not None, [str(p) for p in report.problems]
    return deploy_app(report.application, Environment.PRODUCTION)


GATEWAY_RULES = "      - name: gateway\n        rules:\n"
DNS_RULE = "          - {protocol: udp, ports: 53, remoteCidr: 10.20.0.0/16}\n"
FIRST_GATEWAY_RULE = "          - protocol: tcp\n            ports: 443\n            remoteCidr: 0.0.0.0/0\n"


@pytest.mark.parametrize(
    ("old", "new", "added", "removed"),
    [
        (GATEWAY_RULES, GATEWAY_RULES + DNS_RULE, ["gateway-ingress-udp-53-10.20.0.0_16"], []),
        (GATEWAY_RULES + FIRST_GATEWAY_RULE, GATEWAY_RULES, [], ["gateway-ingress-tcp-443-0.0.0.0_0"]),
    ],
    ids=["insert-first", "remove-first"],
)
def test_adding_or_removing_a_rule_renames_nothing_else(
    old: str, new: str, added: list[str], removed: list[str]
) -> None:
    before = deployed("social-security", Environment.PRODUCTION)
    after = _social_security_with(old, new)
    app = before.app.id
    urns_before, urns_after = ({r.urn for r in d.run.resources} for d in (before, after))
    assert sorted(u.rsplit("::", 1)[1] for u in urns_after - urns_before) == [f"{app}-{n}" for n in added]
    assert sorted(u.rsplit("::", 1)[1] for u in urns_before - urns_after) == [f"{app}-{n}" for n in removed]
    gateway = [r for r in after.of_type(RULE) if r.name.startswith(f"{app}-gateway-")]
    assert [a.rsplit("::", 1)[1] for r in gateway for a in r.aliases] == [
        f"{app}-gateway-rule-{i}" for i in range(1, len(gateway) + 1)
    ], "each rule's alias is its position now: a stack of numbered rules keeps those still in place"


def test_servers_ports_user_data_and_public_ips(env_run: Deployed) -> None:
    d = env_run
    instances = d.of_type("openstack:compute/instance:Instance")
    assert len(instances) == sizing.totals(resources(d)).servers
    floating = d.of_type("openstack:networking/floatingIp:FloatingIp")
    assert len(floating) == sizing.totals(resources(d)).public_ips
    for server in resources(d).servers:
        for name in naming.instance_names(d.app.id, server):
            instance = d.one("openstack:compute/instance:Instance", name)
            port = d.one("openstack:networking/port:Port", f"{name}-port")
            assert d.parent_of(instance).type == "govcloud:compute:Compute"
            assert instance.inputs["flavorName"] == server.flavor
            assert instance.inputs["imageName"] == server.image
            assert instance.inputs["keyPair"] == KEY_PAIR
            assert instance.inputs["networks"] == [{"port": f"{name}-port-id"}]
            assert instance.delete_before_replace, "a replaced server frees its port first"
            assert port.inputs["fixedIps"] == [{"subnetId": f"{d.app.id}-subnet-id"}]
            assert sorted(port.inputs.get("securityGroupIds", [])) == sorted(
                f"{d.app.id}-{g}-id" for g in server.security_groups
            )
            assert SECRET_SIG in instance.inputs["userData"], "user data holds the client secret"
            user_data = yaml.safe_load(instance.inputs["userData"]["value"])
            assert user_data["ssh_pwauth"] is False and user_data["disable_root"] is True
            assert user_data["hostname"] == name
            packages, extras = user_data["packages"], server.user_data.packages
            assert packages[: len(BASE_PACKAGES)] == BASE_PACKAGES
            assert packages[len(BASE_PACKAGES) :] == extras
            assert user_data["runcmd"][len(user_data["runcmd"]) - len(server.user_data.runcmd) :] == (
                server.user_data.runcmd
            )
            assert "/etc/ssh/sshd_config.d/10-govcloud.conf" in [f["path"] for f in user_data["write_files"]]
            public = [f for f in floating if f.name == f"{name}-public-ip"]
            assert len(public) == (1 if server.public_ip else 0)
            for ip in public:
                assert ip.inputs["pool"] == EXTERNAL_NETWORK
                assert ip.inputs["portId"] == f"{name}-port-id"
                assert d.parent_of(ip) == instance


def test_data_volumes_attach_to_their_own_server(env_run: Deployed) -> None:
    d = env_run
    for server in resources(d).servers:
        for name in naming.instance_names(d.app.id, server):
            for volume in server.volumes:
                v = d.one("openstack:blockstorage/volume:Volume", f"{name}-{volume.name}")
                attach = d.one("openstack:compute/volumeAttach:VolumeAttach", f"{name}-{volume.name}-attach")
                assert v.inputs["size"] == volume.size_gb
                assert v.inputs.get("volumeType") == volume.type
                assert d.parent_of(v).name == name
                assert d.parent_of(attach) == v
                assert attach.inputs == {"instanceId": f"{name}-id", "volumeId": f"{name}-{volume.name}-id"}


def test_standalone_volumes_and_containers(env_run: Deployed) -> None:
    d = env_run
    res = resources(d)
    for volume in res.volumes:
        v = d.one("openstack:blockstorage/volume:Volume", f"{d.app.id}-{volume.name}")
        assert v.inputs["size"] == volume.size_gb
        assert d.parent_of(v).type == "govcloud:storage:Storage"
        attaches = [a for a in d.of_type("openstack:compute/volumeAttach:VolumeAttach") if a.parent == v.urn]
        if volume.attach_to:
            assert [a.inputs["instanceId"] for a in attaches] == [f"{d.app.id}-{volume.attach_to}-1-id"]
        else:
            assert attaches == []
    containers = d.of_type("openstack:objectstorage/container:Container")
    assert sorted(c.name for c in containers) == sorted(f"{d.app.id}-{c.name}" for c in res.containers)
    for container in res.containers:
        c = d.one("openstack:objectstorage/container:Container", f"{d.app.id}-{container.name}")
        assert c.inputs["metadata"]["Quota-Bytes"] == str(container.size_gb * GIB)
        assert c.inputs["metadata"]["govcloud-digest"] == d.app.digest
        assert c.inputs["metadata"]["govcloud-unit"] == d.app.unit
        assert c.inputs.get("containerRead") == (PUBLIC_READ_ACL if container.access == "public-read" else None)


def test_databases_with_generated_secret_passwords(env_run: Deployed) -> None:
    d = env_run
    res = resources(d)
    instances = d.of_type("openstack:database/instance:Instance")
    assert len(instances) == len(res.databases)
    passwords = d.of_type("random:index/randomPassword:RandomPassword")
    assert len(passwords) == sum(len(db.users) for db in res.databases)
    for db in res.databases:
        i = d.one("openstack:database/instance:Instance", f"{d.app.id}-{db.name}")
        assert d.parent_of(i).type == "govcloud:database:Databases"
        assert i.inputs["datastore"] == {"type": db.engine, "version": db.version}
        assert i.inputs["flavorId"] == f"mock-getFlavor-{db.flavor}-id"
        assert i.inputs["size"] == db.size_gb
        assert i.inputs["networks"] == [{"uuid": f"{d.app.id}-net-id"}]
        assert i.inputs["databases"] == [{"name": n} for n in db.databases]
        assert SECRET_SIG in i.inputs["users"], "database users (with passwords) must be a secret"
        users = i.inputs["users"]["value"]
        assert [u["name"] for u in users] == [u.name for u in db.users]
        assert [u["databases"] for u in users] == [u.databases for u in db.users]
        for user in db.users:
            pw = d.one("random:index/randomPassword:RandomPassword", f"{d.app.id}-{db.name}-{user.name}-password")
            assert pw.inputs["length"] >= 32 and pw.inputs["special"] is False


def test_stack_outputs_hold_no_plain_secret(env_run: Deployed) -> None:
    d = env_run
    outputs = d.run.outputs
    assert set(outputs) == {
        "projectId",
        "serverAddresses",
        "publicAddresses",
        "databaseHosts",
        "containers",
        "databaseCredentials",
        "authIssuer",
        "authClientId",
    }
    assert d.run.secret_outputs == {"databaseCredentials"}
    assert outputs["projectId"] == f"{naming.project_name(d.app.unit, d.app.id, d.env)}-id"
    assert len(outputs["serverAddresses"]) == sizing.totals(resources(d)).servers
    assert sorted(outputs["containers"]) == sorted(f"{d.app.id}-{c.name}" for c in resources(d).containers)
    plain = repr({k: v for k, v in outputs.items() if k not in d.run.secret_outputs})
    for users in outputs["databaseCredentials"].values():
        for password in users.values():
            assert password not in plain


def test_component_tree_and_type_tokens(env_run: Deployed) -> None:
    d = env_run
    root = d.of_type("govcloud:app:Environment")
    stack = naming.stack_name(d.app.unit, d.app.id, d.env)
    assert len(root) == 1
    assert root[0].name == naming.project_name(d.app.unit, d.app.id, d.env)
    assert root[0].parent == f"urn:pulumi:{stack}::govcloud::pulumi:pulumi:Stack::govcloud-{stack}"
    children = {r.type for r in d.run.resources if r.parent == root[0].urn}
    assert children == {
        "govcloud:identity:Identity",
        "govcloud:network:Network",
        "govcloud:security:SecurityGroups",
        "govcloud:compute:Compute",
        "govcloud:storage:Storage",
        "govcloud:database:Databases",
        "govcloud:access:Access",
        "govcloud:auth:KeycloakClient",
    }
    for r in d.run.resources:
        if r is not root[0]:
            assert r.parent in d.run.by_urn(), f"{r.urn} has no parent in the stack"


PRELOAD_CHECK = """
import sys
from stacks.program import preload
preload()
before = set(sys.modules)
from orchestrator.core.manifest import Environment
from orchestrator.core.validation import load_manifest
from orchestrator.services.plan import plan_application
plan_application(load_manifest(sys.argv[1]), Environment.TRIAL)
print(sorted(m for m in set(sys.modules) - before if m.startswith("pulumi")))
"""


def test_preload_loads_every_provider_module_a_plan_needs() -> None:
    """Forked plan workers start warm only if ``preload`` really ran the lazy SDK modules."""
    import subprocess
    import sys

    from tests.conftest import EXAMPLES, ROOT

    done = subprocess.run(
        [sys.executable, "-c", PRELOAD_CHECK, str(EXAMPLES / "social-security.yaml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "[]", done.stdout
