"""Keycloak (pulumi-keycloak, OpenID Connect): one confidential client per application
environment, with the manifest's redirect URIs and the application's roles as client roles.

Everything goes through an explicit provider configured from stack config (namespace
``keycloak``): ``url`` (before ``/realms``), optional ``basePath`` (``/auth`` on Keycloak before
17), ``realm`` (where the provider's own client lives, default ``master``), ``clientId`` and
``clientSecret`` (set with ``--secret``). Keycloak generates the application's client secret; it
stays a Pulumi secret.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_keycloak as keycloak
from pulumi_keycloak import openid

from stacks.components.auth import ClientSpec

PROTOCOLS = frozenset({"oidc"})
#: Stack config this module reads -> (environment variable ``govcloud up`` fills it from, secret?).
CONFIG: dict[str, tuple[str, bool]] = {
    "keycloak:url": ("KEYCLOAK_URL", False),
    "keycloak:basePath": ("KEYCLOAK_BASE_PATH", False),
    "keycloak:realm": ("KEYCLOAK_REALM", False),
    "keycloak:clientId": ("KEYCLOAK_CLIENT_ID", False),
    "keycloak:clientSecret": ("KEYCLOAK_CLIENT_SECRET", True),
}
#: The keys of :data:`CONFIG` without which the module cannot run.
REQUIRED = ("keycloak:url", "keycloak:clientId", "keycloak:clientSecret")
#: Realm of the provider's own (service-account) client when ``keycloak:realm`` is not set.
ADMIN_REALM = "master"


def issuer(url: str, base_path: str, realm: str) -> str:
    """``issuer("https://sso.example", "", "government")`` -> ``https://sso.example/realms/government``."""
    return f"{url.rstrip('/')}{base_path.rstrip('/')}/realms/{realm}"


@dataclass(frozen=True)
class Connection:
    """How the provider reaches Keycloak's admin API: stack config ``keycloak:*``."""

    url: str
    base_path: str
    realm: str
    client_id: str
    client_secret: pulumi.Output[str]

    @classmethod
    def read(cls) -> Connection:
        config = pulumi.Config("keycloak")
        return cls(
            url=config.require("url"),
            base_path=config.get("basePath") or "",
            realm=config.get("realm") or ADMIN_REALM,
            client_id=config.require("clientId"),
            client_secret=config.require_secret("clientSecret"),
        )


class KeycloakClient(pulumi.ComponentResource):
    """``govcloud:auth:KeycloakClient``: provider, confidential OIDC client, its client roles."""

    provider: keycloak.Provider
    client: openid.Client
    roles: dict[str, keycloak.Role]
    """By role name."""
    issuer: pulumi.Output[str]
    client_id: pulumi.Output[str]
    client_secret: pulumi.Output[str]
    """A secret: never export it unwrapped."""

    def __init__(self, name: str, spec: ClientSpec, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("govcloud:auth:KeycloakClient", name, None, opts)
        connection = Connection.read()
        self.provider = keycloak.Provider(
            f"{name}-provider",
            url=connection.url,
            base_path=connection.base_path,
            realm=connection.realm,
            client_id=connection.client_id,
            client_secret=connection.client_secret,
            opts=pulumi.ResourceOptions(parent=self),
        )
        through = pulumi.ResourceOptions(parent=self, provider=self.provider)
        self.client = openid.Client(
            spec.client_id,
            realm_id=spec.realm,
            client_id=spec.client_id,
            name=spec.name,
            enabled=True,
            access_type="CONFIDENTIAL",
            standard_flow_enabled=True,
            implicit_flow_enabled=False,
            direct_access_grants_enabled=False,
            service_accounts_enabled=False,
            valid_redirect_uris=list(spec.redirect_uris),
            web_origins=["+"],
            extra_config=spec.labels,
            opts=through,
        )
        self.roles = {
            role.name: keycloak.Role(
                f"{spec.client_id}-role-{role.name}",
                realm_id=spec.realm,
                client_id=self.client.id,
                name=role.name,
                description=role.description,
                opts=pulumi.ResourceOptions(parent=self.client, provider=self.provider),
            )
            for role in spec.roles
        }
        self.issuer = pulumi.Output.from_input(issuer(connection.url, connection.base_path, spec.realm))
        self.client_id = self.client.client_id
        self.client_secret = pulumi.Output.secret(self.client.client_secret)
        self.register_outputs({"issuer": self.issuer, "client_id": self.client_id})


def register(name: str, spec: ClientSpec, opts: pulumi.ResourceOptions | None = None) -> KeycloakClient:
    """The :class:`~stacks.components.auth.Platform` entry point."""
    return KeycloakClient(name, spec, opts)
