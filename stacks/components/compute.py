"""Servers: one port and one instance per counted server, its data volumes, its public address.

Each instance boots from the image with the flavor, has a port on the environment's subnet in
the server's security groups (Neutron's ``default`` group when it names none), and runs the
cloud-init user data rendered from ``templates/cloud-init/``. The user data carries the
authentication-platform client's secret, so it is a Pulumi secret (and a secret output).
"""

from __future__ import annotations

from typing import Any, TypedDict

import pulumi
from pulumi_openstack import blockstorage, compute, networking

from orchestrator.adapters.templates import cloud_init
from orchestrator.core import dataloss, naming
from orchestrator.core.manifest import Server
from stacks.components.auth import Registration
from stacks.components.scope import OneAtATime, Scope


class ComputeArgs(TypedDict):
    """Inputs of :class:`Compute`."""

    network_id: pulumi.Input[str]
    subnet_id: pulumi.Input[str]
    security_group_ids: dict[str, pulumi.Input[str]]
    """By manifest group name."""
    external_network: str
    """Name of the external network: the pool of public addresses."""
    key_pair: str | None
    """Nova key pair name from config ``govcloud:keyPair``; ``None`` for no key."""
    auth: Registration
    """The environment's client in the authentication platform, written to every server."""


class Compute(pulumi.ComponentResource):
    """Ports, instances, data volumes with their attachments, floating IPs."""

    instances: dict[str, compute.Instance]
    """By instance name (``<app>-<server>-<n>``)."""
    public_ips: dict[str, networking.FloatingIp]
    """By instance name, for servers with ``publicIp``."""
    volumes: dict[str, blockstorage.Volume]
    """Data volumes by volume name (``<instance>-<volume>``)."""

    def __init__(
        self,
        name: str,
        scope: Scope,
        servers: list[Server],
        args: ComputeArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("govcloud:compute:Compute", name, None, opts)
        self.instances = {}
        self.public_ips = {}
        self.volumes = {}
        self._ports, self._public_ips = OneAtATime(), OneAtATime()
        for server in servers:
            for instance_name in naming.instance_names(scope.app, server):
                self._server(scope, server, instance_name, args)
        self.register_outputs({"addresses": {n: i.access_ip_v4 for n, i in self.instances.items()}})

    def _server(self, scope: Scope, server: Server, instance_name: str, args: ComputeArgs) -> None:
        group_ids = [args["security_group_ids"][g] for g in server.security_groups]
        port = self._ports.add(
            networking.Port(
                f"{instance_name}-port",
                name=instance_name,
                network_id=args["network_id"],
                fixed_ips=[networking.PortFixedIpArgs(subnet_id=args["subnet_id"])],
                security_group_ids=group_ids or None,
                admin_state_up=True,
                tags=scope.tags,
                opts=self._ports.options(parent=self),
            )
        )
        auth = args["auth"]
        # Without the digest: user data cannot change in place, so a digest in it would replace
        # every server on any manifest change, a minor one included (Art. 15). The digest stays
        # in the server's metadata, which updates in place.
        stable_labels = {k: v for k, v in scope.labels.items() if k != "digest"}
        user_data: pulumi.Output[str] = pulumi.Output.all(auth.issuer, auth.client_id, auth.client_secret).apply(
            lambda v: cloud_init(
                instance_name,
                stable_labels,
                server.user_data,
                {"issuer": v[0], "client_id": v[1], "client_secret": v[2]},
            )
        )
        instance = compute.Instance(
            instance_name,
            name=instance_name,
            flavor_name=server.flavor,
            image_name=server.image,
            key_pair=args["key_pair"],
            networks=[compute.InstanceNetworkArgs(port=port.id)],
            # ignored: the SDK types secret()'s argument as a union (U | Awaitable[U] | Output[U]), from
            # which mypy solves no U for an Output[str]
            user_data=pulumi.Output.secret(user_data),  # type: ignore[arg-type]
            metadata=scope.metadata,
            power_state="shutoff" if scope.suspended else None,  # Art. 37; unset is the provider's "active"
            # The port is the server's own: a replacement must free it before the new server binds it.
            opts=pulumi.ResourceOptions(
                parent=self,
                additional_secret_outputs=["user_data"],
                delete_before_replace=True,
                **root_disk(scope, server, instance_name),
            ),
        )
        self.instances[instance_name] = instance
        if server.public_ip:
            self.public_ips[instance_name] = self._public_ips.add(
                networking.FloatingIp(
                    f"{instance_name}-public-ip",
                    pool=args["external_network"],
                    port_id=port.id,
                    description=f"public address of {instance_name}",
                    tags=scope.tags,
                    opts=self._public_ips.options(parent=instance, protect=False),  # holds no data
                )
            )
        for volume in server.volumes:
            volume_name = f"{instance_name}-{volume.name}"
            self.volumes[volume_name] = created = blockstorage.Volume(
                volume_name,
                name=volume_name,
                size=volume.size_gb,
                volume_type=volume.type,
                enable_online_resize=True,  # growth extends the attached volume (Cinder 3.42)
                description=f"data volume {volume.name} of {instance_name}",
                metadata=scope.metadata,
                opts=pulumi.ResourceOptions(parent=instance, protect=scope.protected(volume_name)),
            )
            compute.VolumeAttach(
                f"{volume_name}-attach",
                instance_id=instance.id,
                volume_id=created.id,
                opts=pulumi.ResourceOptions(parent=created, protect=False),  # holds no data: never inherits protect
            )


def root_disk(scope: Scope, server: Server, instance_name: str) -> dict[str, Any]:
    """Resource options guarding an instance's root disk: none for a ``stateless`` server;
    otherwise ``protect`` (no delete, no replacement) and, unless this run may rebuild it, the
    image inputs ignored, so a plain ``pulumi up`` never re-images it (``govcloud up`` refuses
    the change before the engine starts; docs/operations.md)."""
    if server.stateless or not scope.protected(instance_name):
        return {}
    # An image change rebuilds a server in place (same id): protect does not stop an update.
    return {"protect": True, "ignore_changes": sorted(dataloss.REBUILT_BY)}
