"""The environment's Keystone project, its quota sets, and a provider scoped to it.

Created through the default (cloud-admin) provider. The admin user gets :data:`PROJECT_ROLE` on the
new project so that :attr:`Identity.provider`, scoped to the project, can create everything else.
"""

from __future__ import annotations

from typing import Any, TypedDict

import pulumi
import pulumi_openstack as openstack
from pulumi_openstack import blockstorage, compute, identity, networking

from orchestrator.core.sizing import Quotas

#: The role the admin user gets on each environment's project.
PROJECT_ROLE = "member"


class IdentityArgs(TypedDict):
    """Inputs of :class:`Identity`."""

    project_name: str
    """Keystone project name, ``<unit>-<app>-<env>``."""
    description: str
    """Display name of the application (Chinese allowed)."""
    tags: list[str]
    """``govcloud:<key>=<value>`` tags."""
    quotas: Quotas
    """Exactly what the environment needs (Art. 14)."""


class Identity(pulumi.ComponentResource):
    """Keystone project + compute/network/block-storage quotas + the project-scoped provider."""

    project: identity.Project
    """The environment's project."""
    provider: openstack.Provider
    """Provider scoped to :attr:`project`; every other component uses it."""

    def __init__(self, name: str, args: IdentityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("govcloud:identity:Identity", name, None, opts)
        # pulumi destroy keeps the project and our role on it: Keystone deletes a project that
        # still holds resources, which would orphan anything made outside the stack (the e2e run
        # left a labelled volume in a deleted project). govcloud reclaim sweeps the project with
        # that role, then deletes it (Art. 16).
        kept = pulumi.ResourceOptions(parent=self, retain_on_delete=True)
        self.project = identity.Project(
            args["project_name"],
            name=args["project_name"],
            description=args["description"],
            tags=args["tags"],
            enabled=True,
            opts=kept,
        )
        project_id = self.project.id
        invoke = pulumi.InvokeOptions(parent=self)
        scope = identity.get_auth_scope_output(name="govcloud-admin", opts=invoke)
        role = identity.get_role_output(name=PROJECT_ROLE, opts=invoke)
        self.role_assignment = identity.RoleAssignment(
            f"{args['project_name']}-admin-{PROJECT_ROLE}",
            project_id=project_id,
            user_id=scope.user_id,
            role_id=role.id,
            opts=pulumi.ResourceOptions(parent=self.project, retain_on_delete=True),
        )
        quotas = args["quotas"]
        # the SDK's keyword names and counts (core/sizing.py), spread into each resource's arguments
        compute_limits: dict[str, Any] = quotas.compute
        network_limits: dict[str, Any] = quotas.network
        block_storage_limits: dict[str, Any] = quotas.block_storage
        on_project = pulumi.ResourceOptions(parent=self.project)
        self.compute_quota = compute.QuotaSetV2(
            f"{args['project_name']}-compute-quota", project_id=project_id, **compute_limits, opts=on_project
        )
        self.network_quota = networking.QuotaV2(
            f"{args['project_name']}-network-quota", project_id=project_id, **network_limits, opts=on_project
        )
        self.block_storage_quota = blockstorage.QuoteSetV3(
            f"{args['project_name']}-block-storage-quota",
            project_id=project_id,
            **block_storage_limits,
            opts=on_project,
        )
        self.provider = openstack.Provider(
            f"{args['project_name']}-provider",
            tenant_id=project_id,
            tenant_name=args["project_name"],
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[self.role_assignment, self.compute_quota, self.network_quota, self.block_storage_quota],
            ),
        )
        self.register_outputs({"project_id": project_id})
