"""The environment's client in the unified authentication platform (Art. 20), behind one interface.

A platform is one module of this package, named after it (stack config ``govcloud:authPlatform``,
default ``keycloak``), that satisfies :class:`Platform`: it lists the manifest protocols it
supports and registers a :class:`ClientSpec` as Pulumi resources, returning a
:class:`Registration`. A city whose platform is not Keycloak adds ``<platform>.py`` here and
sets the config key; nothing else changes.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from typing import Protocol, cast

import pulumi

from orchestrator.core import naming
from orchestrator.core.manifest import Application, AuthRole, Environment
from orchestrator.core.platform import DEFAULT_PLATFORM, AuthSettings

__all__ = ["DEFAULT_PLATFORM", "AuthSettings", "ClientSpec", "Platform", "Registration", "module", "platform"]


@dataclass(frozen=True)
class ClientSpec:
    """What to register for one application environment: platform-neutral, plain data."""

    client_id: str
    name: str
    """Display name (Chinese allowed)."""
    realm: str
    protocol: str
    redirect_uris: tuple[str, ...]
    roles: tuple[AuthRole, ...]
    labels: dict[str, str]
    """``govcloud:<key>`` -> value, stored with the client so reclamation recognises it."""

    @classmethod
    def of(cls, app: Application, env: Environment, settings: AuthSettings) -> ClientSpec:
        return cls(
            client_id=naming.client_id(app.unit, app.id, env),
            name=f"{app.metadata.name} ({env})",
            realm=settings.realm_for(env),
            protocol=app.auth.protocol,
            redirect_uris=tuple(app.auth.redirect_uris),
            roles=tuple(app.auth.roles),
            labels=naming.metadata(app, env),
        )


class Registration(Protocol):
    """What servers need to authenticate against the platform; the secret is a Pulumi secret."""

    issuer: pulumi.Output[str]
    client_id: pulumi.Output[str]
    client_secret: pulumi.Output[str]


class Platform(Protocol):
    """A platform module."""

    PROTOCOLS: frozenset[str]
    """Manifest ``spec.auth.protocol`` values the module can register."""
    CONFIG: dict[str, tuple[str, bool]]
    """Stack config keys the module reads -> (environment variable that fills them, secret?)."""
    REQUIRED: tuple[str, ...]
    """Keys of :attr:`CONFIG` that must be set."""

    def register(self, name: str, spec: ClientSpec, opts: pulumi.ResourceOptions | None = None) -> Registration:
        """Create the client (and whatever it needs) as children of a component named ``name``."""
        ...


def module(name: str) -> Platform:
    """The platform module ``name``; raises :class:`pulumi.RunError` naming the config key."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise pulumi.RunError(f"govcloud:authPlatform {name!r} is not a platform module name")
    try:
        return cast(Platform, importlib.import_module(f"{__name__}.{name}"))
    except ModuleNotFoundError:
        raise pulumi.RunError(
            f"govcloud:authPlatform {name!r}: there is no module stacks/components/auth/{name}.py"
        ) from None


def platform(name: str, protocol: str, source: str = "the manifest") -> Platform:
    """The platform module ``name``, checked to support ``protocol``; raises :class:`pulumi.RunError`."""
    found = module(name)
    if protocol not in found.PROTOCOLS:
        raise pulumi.RunError(
            f"{source}: spec.auth.protocol {protocol!r} is not supported by the {name} platform "
            f"(supported: {', '.join(sorted(found.PROTOCOLS))}); nothing was changed"
        )
    return found
