"""One environment of an application: the root component of its stack."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pulumi
from pulumi_openstack import compute, networking

from orchestrator.core import naming, sizing
from orchestrator.core.manifest import Application
from orchestrator.core.manifest import Environment as EnvironmentName
from stacks.components.access import Access
from stacks.components.auth import ClientSpec, Platform
from stacks.components.compute import Compute
from stacks.components.database import Databases
from stacks.components.identity import Identity
from stacks.components.network import Network
from stacks.components.scope import Scope
from stacks.components.security import SecurityGroups
from stacks.components.storage import Storage

if TYPE_CHECKING:
    from stacks.components.settings import StackSettings


class Environment(pulumi.ComponentResource):
    """``govcloud:app:Environment``: identity and group access through the admin provider, the
    client in the authentication platform through its own provider, everything else through the
    provider scoped to the environment's project."""

    project_id: pulumi.Output[str]
    server_addresses: pulumi.Output[dict[str, str]]
    """Private address of every instance, by instance name."""
    public_addresses: pulumi.Output[dict[str, str]]
    """Floating IP of every instance with ``publicIp``, by instance name."""
    database_hosts: pulumi.Output[dict[str, list[str]]]
    """Addresses of every database instance, by instance name."""
    container_names: pulumi.Output[list[str]]
    database_credentials: pulumi.Output[dict[str, dict[str, str]]]
    """Passwords by database instance and user: a secret; never export it unwrapped."""
    auth_issuer: pulumi.Output[str]
    auth_client_id: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        app: Application,
        env: EnvironmentName,
        settings: StackSettings,
        platform: Platform,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("govcloud:app:Environment", name, None, opts)
        resources = app.environments[env].resources
        scope = Scope.of(app, env, settings.release_data, settings.suspended)
        quotas = sizing.quotas(resources, settings.headroom)

        self.identity = Identity(
            f"{name}-identity",
            {
                "project_name": naming.project_name(app.unit, app.id, env),
                "description": f"{app.metadata.name} ({app.metadata.unit.name}), {env}",
                "tags": scope.tags,
                "quotas": quotas,
            },
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.access = Access(
            f"{name}-access",
            {
                "project_name": naming.project_name(app.unit, app.id, env),
                "project_id": self.identity.project.id,
                "unit": app.unit,
                "provider_ops_group": settings.provider_ops_group,
            },
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.auth = platform.register(
            f"{name}-auth", ClientSpec.of(app, env, settings.auth), opts=pulumi.ResourceOptions(parent=self)
        )
        in_project = pulumi.ResourceOptions(parent=self, providers=[self.identity.provider])
        lookup = pulumi.InvokeOptions(parent=self)
        external = networking.get_network_output(name=settings.external_network, external=True, opts=lookup)

        self.network = Network(
            f"{name}-network",
            scope,
            {
                "external_network_id": external.id,
                "cidr": sizing.subnet_cidr(env, quotas.network["port"]),
            },
            opts=in_project,
        )
        self.security = SecurityGroups(f"{name}-security", scope, resources.security_groups, opts=in_project)
        self.compute = Compute(
            f"{name}-compute",
            scope,
            resources.servers,
            {
                "network_id": self.network.network.id,
                "subnet_id": self.network.subnet.id,
                "security_group_ids": {n: g.id for n, g in self.security.groups.items()},
                "external_network": settings.external_network,
                "key_pair": settings.key_pair,
                "auth": self.auth,
            },
            opts=pulumi.ResourceOptions(parent=self, providers=[self.identity.provider], depends_on=[self.network]),
        )
        self.storage = Storage(
            f"{name}-storage",
            scope,
            resources.volumes,
            resources.containers,
            {"instance_ids": {n: i.id for n, i in self.compute.instances.items()}},
            opts=in_project,
        )
        flavors = sorted({db.flavor for db in resources.databases})
        self.databases = Databases(
            f"{name}-databases",
            scope,
            resources.databases,
            {
                "network_id": self.network.network.id,
                "flavor_ids": {f: compute.get_flavor_output(name=f, opts=lookup).id for f in flavors},
            },
            opts=pulumi.ResourceOptions(parent=self, providers=[self.identity.provider], depends_on=[self.network]),
        )

        self.project_id = self.identity.project.id
        self.server_addresses = _by_name({n: i.access_ip_v4 for n, i in self.compute.instances.items()})
        self.public_addresses = _by_name({n: ip.address for n, ip in self.compute.public_ips.items()})
        self.database_hosts = _by_name({n: i.addresses for n, i in self.databases.instances.items()})
        self.container_names = pulumi.Output.all(*[c.name for c in self.storage.containers.values()])
        self.database_credentials = pulumi.Output.secret(
            _by_name(
                {
                    instance: _by_name({user: pw.result for user, pw in users.items()})
                    for instance, users in self.databases.passwords.items()
                }
            )
        )
        self.auth_issuer = self.auth.issuer
        self.auth_client_id = self.auth.client_id
        self.register_outputs(
            {
                "project_id": self.project_id,
                "auth_issuer": self.auth_issuer,
                "auth_client_id": self.auth_client_id,
                "server_addresses": self.server_addresses,
                "public_addresses": self.public_addresses,
                "database_hosts": self.database_hosts,
                "container_names": self.container_names,
                "database_credentials": self.database_credentials,
            }
        )


def _by_name(outputs: dict[str, Any]) -> pulumi.Output[dict[str, Any]]:
    """``{name: Output[x]}`` -> ``Output[{name: x}]``."""
    return pulumi.Output.all(**outputs) if outputs else pulumi.Output.from_input({})
