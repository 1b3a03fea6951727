"""The environment's private network: network, subnet, router to the external network."""

from __future__ import annotations

from typing import TypedDict

import pulumi
from pulumi_openstack import networking

from stacks.components.scope import Scope


class NetworkArgs(TypedDict):
    """Inputs of :class:`Network`."""

    external_network_id: pulumi.Input[str]
    """ID of the cloud's external network (the router's gateway)."""
    cidr: str
    """The subnet's CIDR (:func:`orchestrator.core.sizing.subnet_cidr`)."""


class Network(pulumi.ComponentResource):
    """Network + subnet (parented to the network) + router with an interface on the subnet."""

    network: networking.Network
    subnet: networking.Subnet
    router: networking.Router

    def __init__(self, name: str, scope: Scope, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("govcloud:network:Network", name, None, opts)
        self.network = networking.Network(
            scope.name("net"),
            name=scope.name("net"),
            admin_state_up=True,
            tags=scope.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.subnet = networking.Subnet(
            scope.name("subnet"),
            name=scope.name("subnet"),
            network_id=self.network.id,
            cidr=args["cidr"],
            ip_version=4,
            tags=scope.tags,
            opts=pulumi.ResourceOptions(parent=self.network),
        )
        self.router = networking.Router(
            scope.name("router"),
            name=scope.name("router"),
            external_network_id=args["external_network_id"],
            admin_state_up=True,
            tags=scope.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.interface = networking.RouterInterface(
            scope.name("router", "subnet"),
            router_id=self.router.id,
            subnet_id=self.subnet.id,
            opts=pulumi.ResourceOptions(parent=self.router),
        )
        self.register_outputs({"network_id": self.network.id, "subnet_id": self.subnet.id})
