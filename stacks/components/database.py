"""Trove database instances with their databases and users; passwords from pulumi-random.

Passwords are Pulumi secrets: encrypted in state, ``[secret]`` in every output.
"""

from __future__ import annotations

from typing import TypedDict

import pulumi
import pulumi_random as random
from pulumi_openstack import database

from orchestrator.core import dataloss
from orchestrator.core.manifest import Database
from stacks.components.scope import Scope

PASSWORD_LENGTH = 32


class DatabasesArgs(TypedDict):
    """Inputs of :class:`Databases`."""

    network_id: pulumi.Input[str]
    flavor_ids: dict[str, pulumi.Input[str]]
    """Nova flavor IDs by flavor name."""


class Databases(pulumi.ComponentResource):
    """One Trove instance per manifest database."""

    instances: dict[str, database.Instance]
    """By instance name (``<app>-<name>``)."""
    passwords: dict[str, dict[str, random.RandomPassword]]
    """By instance name, then user name."""

    def __init__(
        self,
        name: str,
        scope: Scope,
        databases: list[Database],
        args: DatabasesArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("govcloud:database:Databases", name, None, opts)
        self.instances = {}
        self.passwords = {}
        for db in databases:
            instance_name = scope.name(db.name)
            passwords = {
                user.name: random.RandomPassword(
                    f"{instance_name}-{user.name}-password",
                    length=PASSWORD_LENGTH,
                    special=False,
                    min_lower=1,
                    min_upper=1,
                    min_numeric=1,
                    opts=pulumi.ResourceOptions(parent=self),
                )
                for user in db.users
            }
            self.passwords[instance_name] = passwords
            self.instances[instance_name] = database.Instance(
                instance_name,
                name=instance_name,
                datastore=database.InstanceDatastoreArgs(type=db.engine, version=db.version),
                flavor_id=args["flavor_ids"][db.flavor],
                size=db.size_gb,
                volume_type=db.volume_type,
                networks=[database.InstanceNetworkArgs(uuid=args["network_id"])],
                databases=[database.InstanceDatabaseArgs(name=n) for n in db.databases],
                users=[
                    database.InstanceUserArgs(
                        name=user.name,
                        password=pulumi.Output.secret(passwords[user.name].result),
                        databases=user.databases,
                    )
                    for user in db.users
                ],
                # The provider replaces an instance (a new, empty database) on a flavor or size
                # change; govcloud up resizes it through Trove's API instead, before the engine
                # runs, so the engine must not act on them (orchestrator/core/dataloss.py).
                opts=pulumi.ResourceOptions(
                    parent=self,
                    additional_secret_outputs=["users"],
                    protect=scope.protected(instance_name),
                    ignore_changes=list(dataloss.RESIZED_BY),
                ),
            )
        self.register_outputs({"hosts": {n: i.addresses for n, i in self.instances.items()}})
