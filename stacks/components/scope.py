"""What every component of one environment shares: the name prefix and the labels."""

from __future__ import annotations

from dataclasses import dataclass

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

    @classmethod
    def of(cls, app: Application, env: Environment) -> Scope:
        return cls(
            app=app.id,
            env=env,
            labels=naming.labels(app, env),
            tags=naming.tags(app, env),
            metadata=naming.metadata(app, env),
            header_metadata=naming.header_metadata(app, env),
        )

    def name(self, *parts: str | int) -> str:
        """``scope.name("web", 1)`` -> ``citizen-portal-web-1``."""
        return naming.resource_name(self.app, *parts)
