"""Standalone block volumes (attached to the first instance of their ``attachTo`` server) and
object-storage containers with a quota of ``sizeGb`` (private unless ``access: public-read``)."""

from __future__ import annotations

from typing import TypedDict

import pulumi
from pulumi_openstack import blockstorage, compute, objectstorage

from orchestrator.core.manifest import Container, Volume
from stacks.components.scope import Scope

GIB = 1024**3
#: Swift ACL that lets anyone read objects (not list them).
PUBLIC_READ_ACL = ".r:*"


def container_metadata(scope: Scope, container: Container) -> dict[str, str]:
    """Labels plus ``Quota-Bytes``, read by Swift's container_quotas middleware."""
    return {**scope.header_metadata, "Quota-Bytes": str(container.size_gb * GIB)}


class StorageArgs(TypedDict):
    """Inputs of :class:`Storage`."""

    instance_ids: dict[str, pulumi.Input[str]]
    """Instance IDs by instance name, for ``attachTo``."""


class Storage(pulumi.ComponentResource):
    """Block volumes with their attachments, and Swift containers."""

    volumes: dict[str, blockstorage.Volume]
    containers: dict[str, objectstorage.Container]
    """By container name (``<app>-<name>``)."""

    def __init__(
        self,
        name: str,
        scope: Scope,
        volumes: list[Volume],
        containers: list[Container],
        args: StorageArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("govcloud:storage:Storage", name, None, opts)
        self.volumes = {}
        for volume in volumes:
            volume_name = scope.name(volume.name)
            self.volumes[volume_name] = created = blockstorage.Volume(
                volume_name,
                name=volume_name,
                size=volume.size_gb,
                volume_type=volume.type,
                enable_online_resize=True,  # growth extends the attached volume (Cinder 3.42)
                description=f"volume {volume.name} of {scope.app}",
                metadata=scope.metadata,
                opts=pulumi.ResourceOptions(parent=self, protect=scope.protected(volume_name)),
            )
            if volume.attach_to:
                compute.VolumeAttach(
                    f"{volume_name}-attach",
                    instance_id=args["instance_ids"][scope.name(volume.attach_to, 1)],
                    volume_id=created.id,
                    opts=pulumi.ResourceOptions(parent=created, protect=False),  # holds no data: never inherits protect
                )
        self.containers = {
            scope.name(c.name): objectstorage.Container(
                scope.name(c.name),
                name=scope.name(c.name),
                metadata=container_metadata(scope, c),
                container_read=PUBLIC_READ_ACL if c.access == "public-read" else None,
                opts=pulumi.ResourceOptions(parent=self, protect=scope.protected(scope.name(c.name))),
            )
            for c in containers
        }
        self.register_outputs({"containers": [c.name for c in self.containers.values()]})
