"""What every component of one environment shares: the name prefix and the labels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

import pulumi

from orchestrator.core import naming
from orchestrator.core.manifest import Application, Environment


@dataclass(frozen=True)
class Scope:
    """The application id (prefix of every resource name) and its labels in each format."""

    app: str
    env: Environment
    labels: dict[str, str]
    tags: list[str]
    metadata: dict[str, str]
    header_metadata: dict[str, str]
    release: frozenset[str] = frozenset()
    """Logical names of data-bearing resources this run may delete, replace or rebuild (an
    approved data loss, stack config ``govcloud:releaseData``); every other one is protected."""
    suspended: bool = False
    """Art. 37 (``govcloud:suspended``): servers shut off, public ingress rules left out."""

    @classmethod
    def of(
        cls, app: Application, env: Environment, release: frozenset[str] = frozenset(), suspended: bool = False
    ) -> Scope:
        return cls(
            app=app.id,
            env=env,
            labels=naming.labels(app, env),
            tags=naming.tags(app, env),
            metadata=naming.metadata(app, env),
            header_metadata=naming.header_metadata(app, env),
            release=release,
            suspended=suspended,
        )

    def protected(self, name: str) -> bool:
        """Whether the data-bearing resource ``name`` is protected in this run: the engine
        refuses to delete or replace it (``protect``) unless its loss was approved."""
        return name not in self.release

    def name(self, *parts: str | int) -> str:
        """``scope.name("web", 1)`` -> ``citizen-portal-web-1``."""
        return naming.resource_name(self.app, *parts)


R = TypeVar("R", bound=pulumi.Resource)


class OneAtATime:
    """Creates resources of one kind one after another: each ``depends_on`` the one before.

    Neutron counts a resource twice for a moment after creating it (its reservation and its
    usage), so under a project's exact quota (Art. 14) parallel creations of one kind were
    refused as over quota on the local cloud (the third of four rules, the second of two
    floating IPs). Cinder and Nova count without that window.
    """

    def __init__(self, after: list[pulumi.Resource] | None = None) -> None:
        self._last: list[pulumi.Resource] = list(after or [])

    def options(self, **options: Any) -> pulumi.ResourceOptions:
        """Resource options that wait for the previous resource of the kind."""
        return pulumi.ResourceOptions(depends_on=list(self._last), **options)

    def add(self, resource: R) -> R:
        """Record ``resource`` as the one the next must wait for; returns it."""
        self._last = [resource]
        return resource
