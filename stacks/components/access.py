"""Keystone group roles on the environment's project, exactly :func:`orchestrator.core.access.grants`.

The groups are looked up, never created: a unit's groups are shared by all its applications and
the provider's operations group by every unit, so no application stack may own (and, on destroy,
delete) them. They exist once the unit is onboarded, with the platform's federation mapping
filling them (docs/auth.md). Role assignments need the cloud-admin (default) provider.
"""

from __future__ import annotations

from typing import TypedDict

import pulumi
from pulumi_openstack import identity

from orchestrator.core.access import grants


class AccessArgs(TypedDict):
    """Inputs of :class:`Access`."""

    project_name: str
    project_id: pulumi.Input[str]
    unit: str
    provider_ops_group: str
    """Stack config ``govcloud:providerOpsGroup``."""


class Access(pulumi.ComponentResource):
    """``govcloud:access:Access``: one role assignment per (group, role) grant."""

    assignments: dict[str, identity.RoleAssignment]
    """By group name."""

    def __init__(self, name: str, args: AccessArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("govcloud:access:Access", name, None, opts)
        invoke = pulumi.InvokeOptions(parent=self)
        table = grants(args["unit"], args["provider_ops_group"])
        role_ids = {r: identity.get_role_output(name=r, opts=invoke).id for r in sorted({g.role for g in table})}
        self.assignments = {}
        for grant in table:
            group = identity.get_group_output(name=grant.group, opts=invoke)
            self.assignments[grant.group] = identity.RoleAssignment(
                f"{args['project_name']}-{grant.group}-{grant.role}",
                project_id=args["project_id"],
                group_id=group.id,
                role_id=role_ids[grant.role],
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.register_outputs({"groups": sorted(self.assignments)})
