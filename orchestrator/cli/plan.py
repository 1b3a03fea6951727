"""``govcloud plan``: every resource each environment's stack would create, offline."""

from __future__ import annotations

from pathlib import Path

import click

from orchestrator.cli.common import ENVIRONMENT, emit, output_option
from orchestrator.cli.root import cli

#: What a person wants to see of each resource type in the table (JSON carries every input).
KEY_PROPERTIES: dict[str, tuple[str, ...]] = {
    "openstack:identity/project:Project": ("name",),
    "openstack:compute/quotaSetV2:QuotaSetV2": ("instances", "cores", "ram"),
    "openstack:networking/quotaV2:QuotaV2": (
        "network",
        "subnet",
        "router",
        "port",
        "floatingip",
        "securityGroup",
        "securityGroupRule",
    ),
    "openstack:blockstorage/quoteSetV3:QuoteSetV3": ("volumes", "gigabytes"),
    "pulumi:providers:openstack": ("tenantName",),
    "openstack:identity/roleAssignment:RoleAssignment": ("groupId", "userId", "roleId"),
    "pulumi:providers:keycloak": ("url", "realm"),
    "keycloak:openid/client:Client": ("realmId", "accessType", "validRedirectUris"),
    "keycloak:index/role:Role": ("name",),
    "openstack:networking/subnet:Subnet": ("cidr",),
    "openstack:networking/router:Router": ("externalNetworkId",),
    "openstack:networking/secGroup:SecGroup": ("deleteDefaultRules",),
    "openstack:networking/secGroupRule:SecGroupRule": (
        "direction",
        "protocol",
        "portRangeMin",
        "portRangeMax",
        "remoteIpPrefix",
        "remoteGroupId",
    ),
    "openstack:networking/port:Port": ("securityGroupIds",),
    "openstack:compute/instance:Instance": ("flavorName", "imageName", "keyPair"),
    "openstack:networking/floatingIp:FloatingIp": ("pool",),
    "openstack:blockstorage/volume:Volume": ("size", "volumeType"),
    "openstack:compute/volumeAttach:VolumeAttach": ("instanceId", "volumeId"),
    "openstack:objectstorage/container:Container": ("containerRead", "metadata.Quota-Bytes"),
    "openstack:database/instance:Instance": ("datastore", "flavorId", "size", "databases", "users"),
    "random:index/randomPassword:RandomPassword": ("length",),
}


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--env", type=ENVIRONMENT, help="plan only this environment")
@click.option(
    "--no-cache", is_flag=True, help="run the program for every manifest, ignoring and not filling .govcloud/plan-cache"
)
@output_option
def plan(paths: tuple[Path, ...], env: str | None, no_cache: bool, output: str) -> None:
    """Show every resource each environment's stack would create, and its totals (no cloud).

    Plans of unchanged manifests with an unchanged program come from .govcloud/plan-cache
    (see docs/plan.md); admission (gate and quota) is always decided afresh."""
    from orchestrator.services.admission import plan_paths
    from orchestrator.services.manifests import manifest_files
    from orchestrator.services.plancache import PlanCache

    plans = plan_paths(manifest_files(paths), env=env, cache=None if no_cache else PlanCache())
    emit(output, {"stacks": [p.as_dict() for p in plans]}, _print_plans)


def _print_plans(payload: dict) -> None:
    for stack in payload["stacks"]:
        click.echo(f"{stack['stack']}  ({stack['digest']})")
        rows = [(_short_type(r["type"]), r["name"], _key_properties(r)) for r in stack["resources"]]
        widths = [max([len(row[i]) for row in rows] + [0]) for i in range(2)]
        for kind, name, props in rows:
            click.echo(f"  {kind:<{widths[0]}}  {name:<{widths[1]}}  {props}".rstrip())
        click.echo("  totals: " + ", ".join(f"{k}={v}" for k, v in stack["totals"].items()))
        if any(stack["headroom"].values()):
            room = stack["headroom"]
            click.echo(
                f"  headroom (quota policy, in the project's quotas beyond the totals): snapshot gigabytes "
                f"+{room['gigabytes']}, snapshots {room['snapshots']}, security-group rules "
                f"+{room['security_group_rule']}"
            )
        for db in stack["databaseAccess"]:
            click.echo(
                f"  database access: {db['instance']}: tcp {db['port']} from {', '.join(db['from'])} only "
                "(Trove access, set by govcloud up)"
            )
        gate = stack.get("gate")
        if gate:
            click.echo(
                "  gate:   "
                + ("approved" if gate["passed"] else f"{gate['message']} ({gate['rule']}) [{gate['article']}]")
            )
        for v in stack.get("quota", {}).get("violations", []):
            click.echo(
                f"  quota:  {v['enforcement']}: {v['rule']}: {v['message']}"
                + (f" [{v['article']}]" if v.get("article") else "")
            )
        click.echo("")
    click.echo(f"{len(payload['stacks'])} stack(s)")


def _short_type(token: str) -> str:
    """``openstack:compute/instance:Instance`` -> ``openstack:compute:Instance``."""
    package, _, rest = token.partition(":")
    module, _, name = rest.rpartition(":")
    return f"{package}:{module.split('/')[0]}:{name}" if module else token


def _key_properties(resource: dict) -> str:
    props = resource["properties"]
    shown = []
    for key in KEY_PROPERTIES.get(resource["type"], ()):
        value = props
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value is not None:
            shown.append(f"{key.split('.')[-1]}={_compact(value)}")
    return " ".join(shown)


def _compact(value: object) -> str:
    if isinstance(value, dict):
        return ",".join(f"{k}:{v}" for k, v in value.items())
    if isinstance(value, list):
        return "[" + ",".join(_compact(v) for v in value) + "]"
    return str(value)
