"""govcloud's stand-in for the Pulumi resource plugin ``pulumi-resource-keycloak`` 6.14.1.

The bridged upstream plugin cannot be built here (the Go module proxy refuses its modules), so
this module serves the part of pulumi-keycloak 6.14.1 that govcloud's program uses, with the
same type tokens, provider config keys and camelCase property names as the Python SDK, on the
Pulumi Python SDK's provider framework (``pulumi.provider.experimental``):

* ``keycloak:openid/client:Client`` (the OIDC client of an application environment);
* ``keycloak:index/role:Role`` (client roles, and realm roles when ``clientId`` is not set).

Check fills upstream's defaults and validates, Diff reports per-property changes (``realmId``
replaces a client; ``realmId`` and ``clientId`` replace a role), Create/Read/Update/Delete call
Keycloak's admin REST API through :class:`~orchestrator.adapters.platform.KeycloakAdmin`. Any
other resource type, function or property fails with a message saying to install the upstream
plugin. ``scripts/install-pulumi`` installs a launcher that runs
``python -P -m toolchain.keycloak_plugin ENGINE_ADDRESS`` with the checkout on ``PYTHONPATH``; it
prints its gRPC port on stdout like every plugin. Part of the test toolchain, not of the installed
package (toolchain/README.md); see docs/engine.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import grpc
import grpc.aio
from pulumi.provider.experimental import provider as rpc
from pulumi.provider.experimental.property_value import Computed, PropertyValue
from pulumi.provider.experimental.server import ProviderServicer
from pulumi.runtime._grpc_settings import _GRPC_CHANNEL_OPTIONS
from pulumi.runtime.proto import provider_pb2_grpc
from pulumi.runtime.rpc import UNKNOWN

from orchestrator.adapters.platform import KeycloakAdmin, PlatformError
from orchestrator.errors import UsageError

VERSION = "6.14.1"
"""The pulumi-keycloak release whose tokens and properties this plugin follows (and reports)."""
CLIENT = "keycloak:openid/client:Client"
ROLE = "keycloak:index/role:Role"
UPSTREAM = f"install upstream pulumi-resource-keycloak {VERSION} for it"
MULTIVALUE = "##"
"""Separator of several values in one string (role attributes, post-logout redirect URIs), as upstream."""


class Refusal(UsageError):
    """What the stand-in plugin will not do: a resource type, function or property it does not
    implement, or a call before it has a (known) configuration."""


# --- properties ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Prop:
    """One pulumi-keycloak input property, with upstream's schema flags."""

    type: str
    """``string``, ``boolean``, ``set`` (of strings) or ``map`` (of strings)."""
    required: bool = False
    default: Any = None
    """Upstream's ``Default``: Check fills it in."""
    computed: bool = False
    """Upstream's ``Optional + Computed``: an absent input keeps the value in the state."""
    replace: bool = False
    """Upstream's ``ForceNew``."""
    choices: tuple[str, ...] = ()


TYPE_NAMES = {"string": "a string", "boolean": "a boolean", "set": "a list of strings", "map": "a map of strings"}
REPLACING = {
    rpc.PropertyDiffKind.ADD: rpc.PropertyDiffKind.ADD_REPLACE,
    rpc.PropertyDiffKind.DELETE: rpc.PropertyDiffKind.DELETE_REPLACE,
    rpc.PropertyDiffKind.UPDATE: rpc.PropertyDiffKind.UPDATE_REPLACE,
}


def _is_type(prop: Prop, value: Any) -> bool:
    if prop.type == "string":
        return isinstance(value, str)
    if prop.type == "boolean":
        return isinstance(value, bool)
    if prop.type == "set":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())


def _unknown(value: Any) -> bool:
    """Whether a value is, or contains, an unknown (a preview's not yet computed output)."""
    if isinstance(value, list):
        return any(_unknown(v) for v in value)
    if isinstance(value, dict):
        return any(_unknown(v) for v in value.values())
    return value == UNKNOWN


def _empty(value: Any) -> bool:
    return value is None or value in ("", [], {})


def plain(value: PropertyValue) -> Any:
    """A property value as plain Python (unknowns as the wire's unknown string, secrets unwrapped)."""
    inner = value.value
    if isinstance(inner, Computed):
        return UNKNOWN
    if isinstance(inner, Mapping):
        return {k: plain(v) for k, v in inner.items()}
    if isinstance(inner, tuple):
        return [plain(v) for v in inner]
    return inner


def wrap(value: Any, secret: bool = False) -> PropertyValue:
    """Plain Python as a property value (the unknown string stays the wire's unknown)."""
    if isinstance(value, dict):
        return PropertyValue({k: wrap(v) for k, v in value.items()}, is_secret=secret)
    if isinstance(value, list):
        return PropertyValue([wrap(v) for v in value], is_secret=secret)
    if isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    return PropertyValue(value, is_secret=secret)


def _plain_map(values: Mapping[str, PropertyValue]) -> dict[str, Any]:
    return {k: plain(v) for k, v in values.items()}


# --- the two resources --------------------------------------------------------------------


class Resource:
    """What a resource type declares: its properties; and how it maps them to the admin API."""

    token: str
    props: ClassVar[dict[str, Prop]]
    accepted: ClassVar[dict[str, Any]] = {}
    """Upstream properties this plugin does not implement, accepted when set to upstream's default."""
    secret_outputs: frozenset[str] = frozenset()

    def validate(self, news: dict[str, Any], create: bool) -> list[rpc.CheckFailure]:
        """Rules across properties (all involved values known)."""
        return []

    def create(self, admin: KeycloakAdmin, news: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        raise NotImplementedError

    def read(self, admin: KeycloakAdmin, id: str, state: dict[str, Any]) -> dict[str, Any] | None:
        """The resource's outputs now; ``None`` when it is gone."""
        raise NotImplementedError

    def update(self, admin: KeycloakAdmin, id: str, olds: dict[str, Any], news: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def delete(self, admin: KeycloakAdmin, id: str, state: dict[str, Any]) -> None:
        raise NotImplementedError

    def unknown_outputs(self) -> tuple[str, ...]:
        """Outputs that are not properties (unknown in a preview of a creation)."""
        return ()

    # -- generic Check and Diff, from the property table ------------------------------------

    def check(self, olds: dict[str, PropertyValue], news: dict[str, PropertyValue]) -> rpc.CheckResponse:
        failures = []
        inputs = dict(news)
        for key, value in news.items():
            if key in self.props or key.startswith("__"):
                continue
            if key in self.accepted and plain(value) == self.accepted[key]:
                continue
            failures.append(
                rpc.CheckFailure(
                    key, f"{key} is not implemented by govcloud's stand-in keycloak plugin for {self.token}; {UPSTREAM}"
                )
            )
        for key, prop in self.props.items():
            value = plain(news[key]) if key in news else None
            if value is None:
                if prop.required:
                    failures.append(rpc.CheckFailure(key, f"missing required property {key}"))
                elif prop.default is not None:
                    inputs[key] = wrap(prop.default)
                continue
            if _unknown(value):
                continue
            if not _is_type(prop, value):
                failures.append(rpc.CheckFailure(key, f"{key} must be {TYPE_NAMES[prop.type]}"))
            elif prop.choices and value not in prop.choices:
                choices = ", ".join(map(repr, prop.choices))
                failures.append(rpc.CheckFailure(key, f"{key} must be one of {choices}, not {value!r}"))
        if not failures:
            failures = self.validate(_plain_map(inputs), create=not olds)
        return rpc.CheckResponse(inputs=inputs, failures=failures)

    def diff(self, state: dict[str, Any], news: dict[str, Any], ignore: list[str]) -> rpc.DiffResponse:
        detailed: dict[str, rpc.PropertyDiff] = {}
        for key, prop in self.props.items():
            if key in ignore:
                continue
            old, new = state.get(key), news.get(key)
            if new is None:
                if prop.computed or _empty(old):
                    continue
                kind = rpc.PropertyDiffKind.DELETE
            elif not _unknown(new) and _same(prop, old, new):
                continue
            else:
                kind = rpc.PropertyDiffKind.ADD if _empty(old) else rpc.PropertyDiffKind.UPDATE
            detailed[key] = rpc.PropertyDiff(REPLACING[kind] if prop.replace else kind, input_diff=True)
        return rpc.DiffResponse(
            changes=bool(detailed),
            replaces=[k for k in detailed if self.props[k].replace],
            diffs=list(detailed),
            detailed_diff=detailed,
        )

    def effective(self, news: dict[str, Any], olds: Mapping[str, Any]) -> dict[str, Any]:
        """The values to send: an absent computed property keeps its value in the state."""
        kept = {k: olds[k] for k, p in self.props.items() if p.computed and news.get(k) is None and k in olds}
        return {**kept, **{k: v for k, v in news.items() if v is not None}}


def _same(prop: Prop, old: Any, new: Any) -> bool:
    if prop.type == "set":
        return sorted(set(old or [])) == sorted(set(new))
    if prop.type == "map":
        return _multivalues(old or {}) == _multivalues(new)
    if prop.type == "string":
        return (old or "") == new
    return old == new


def _multivalues(attributes: Mapping[str, str]) -> dict[str, list[str]]:
    """``{"k": "b##a"}`` -> ``{"k": ["a", "b"]}``: the order of several values does not matter."""
    return {k: sorted(str(v).split(MULTIVALUE)) for k, v in attributes.items()}


def _str(props: Mapping[str, Any], key: str) -> str:
    return props.get(key) or ""


#: Client attributes of upstream's ``OpenidClientAttributes``: extraConfig must not set them.
CLIENT_ATTRIBUTES = frozenset(
    {
        "pkce.code.challenge.method",
        "dpop.bound.access.tokens",
        "exclude.session.state.from.auth.response",
        "exclude.issuer.from.auth.response",
        "access.token.lifespan",
        "login_theme",
        "client.offline.session.idle.timeout",
        "display.on.consent.screen",
        "consent.screen.text",
        "client.offline.session.max.lifespan",
        "client.session.idle.timeout",
        "client.session.max.lifespan",
        "use.refresh.tokens",
        "client_credentials.use_refresh_token",
        "backchannel.logout.url",
        "frontchannel.logout.url",
        "backchannel.logout.revoke.offline.tokens",
        "backchannel.logout.session.required",
        "oauth2.device.authorization.grant.enabled",
        "oauth2.device.code.lifespan",
        "oauth2.device.polling.interval",
        "post.logout.redirect.uris",
        "standard.token.exchange.enabled",
        "standard.token.exchange.enableRefreshRequestedTokenType",
    }
)
#: What upstream writes for the attributes of properties this plugin leaves at their defaults,
#: so that a client looks the same whichever plugin created it.
CLIENT_FIXED_ATTRIBUTES = {
    "exclude.session.state.from.auth.response": "false",
    "exclude.issuer.from.auth.response": "false",
    "login_theme": "",
    "display.on.consent.screen": "false",
    "consent.screen.text": "",
    "use.refresh.tokens": "true",
    "client_credentials.use_refresh_token": "false",
    "backchannel.logout.url": "",
    "frontchannel.logout.url": "",
    "backchannel.logout.revoke.offline.tokens": "false",
    "backchannel.logout.session.required": "true",
    "oauth2.device.authorization.grant.enabled": "false",
}
FLOWS = ("standardFlowEnabled", "implicitFlowEnabled", "directAccessGrantsEnabled", "serviceAccountsEnabled")


class Client(Resource):
    """``keycloak:openid/client:Client``: an OpenID Connect client."""

    token = CLIENT
    props: ClassVar[dict[str, Prop]] = {
        "realmId": Prop("string", required=True, replace=True),
        "clientId": Prop("string", required=True),
        "name": Prop("string", computed=True),
        "description": Prop("string", computed=True),
        "enabled": Prop("boolean", default=True),
        "accessType": Prop("string", required=True, choices=("CONFIDENTIAL", "PUBLIC", "BEARER-ONLY")),
        "clientSecret": Prop("string", computed=True),
        "clientAuthenticatorType": Prop("string", default="client-secret"),
        **{flow: Prop("boolean", computed=True) for flow in FLOWS},
        "frontchannelLogoutEnabled": Prop("boolean", computed=True),
        "validRedirectUris": Prop("set", computed=True),
        "validPostLogoutRedirectUris": Prop("set", computed=True),
        "webOrigins": Prop("set", computed=True),
        "rootUrl": Prop("string", computed=True),
        "adminUrl": Prop("string", computed=True),
        "baseUrl": Prop("string", computed=True),
        "fullScopeAllowed": Prop("boolean", default=True),
        "consentRequired": Prop("boolean", computed=True),
        "alwaysDisplayInConsole": Prop("boolean", default=False),
        "pkceCodeChallengeMethod": Prop("string", choices=("", "plain", "S256")),
        "accessTokenLifespan": Prop("string", computed=True),
        "extraConfig": Prop("map"),
    }
    accepted: ClassVar[dict[str, Any]] = {
        "import": False,
        "useRefreshTokens": True,
        "useRefreshTokensClientCredentials": False,
        "standardTokenExchangeEnabled": False,
        "oauth2DeviceAuthorizationGrantEnabled": False,
        "backchannelLogoutSessionRequired": True,
    }
    secret_outputs = frozenset({"clientSecret"})

    def validate(self, news: dict[str, Any], create: bool) -> list[rpc.CheckFailure]:
        if any(_unknown(news.get(k)) for k in (*FLOWS, "accessType", "validRedirectUris", "webOrigins", "extraConfig")):
            return []
        failures = []
        access = news["accessType"]
        standard, implicit, direct, service = (bool(news.get(k)) for k in FLOWS)
        redirects, origins = news.get("validRedirectUris") or [], news.get("webOrigins") or []
        if access == "BEARER-ONLY" and (standard or implicit or direct or service):
            failures.append(
                rpc.CheckFailure(
                    "accessType",
                    "Keycloak cannot issue tokens for BEARER-ONLY clients: "
                    "no OAuth2 flow can be enabled for this client",
                )
            )
        if (standard or implicit) and not redirects and (create or "validRedirectUris" in news):
            failures.append(
                rpc.CheckFailure(
                    "validRedirectUris",
                    "standard (authorization code) and implicit flows require at least one valid redirect URI",
                )
            )
        if redirects and not (standard or implicit):
            failures.append(
                rpc.CheckFailure(
                    "validRedirectUris",
                    "validRedirectUris cannot be set when neither standard nor implicit flow is enabled",
                )
            )
        if origins and not (standard or implicit or direct):
            failures.append(
                rpc.CheckFailure(
                    "webOrigins",
                    "webOrigins cannot be set when standard, implicit and direct access grants flows are all disabled",
                )
            )
        if service and access == "PUBLIC":
            failures.append(
                rpc.CheckFailure(
                    "serviceAccountsEnabled",
                    "service accounts (client credentials flow) cannot be enabled on PUBLIC clients",
                )
            )
        for key in sorted(set(news.get("extraConfig") or {}) & CLIENT_ATTRIBUTES):
            failures.append(
                rpc.CheckFailure(
                    "extraConfig", f'extraConfig key "{key}" is not allowed, as it conflicts with a top-level property'
                )
            )
        return failures

    def representation(self, props: dict[str, Any], removed: tuple[str, ...] = ()) -> dict[str, Any]:
        """Keycloak's ``ClientRepresentation`` for these properties (as upstream sends it);
        ``removed``: extraConfig keys to clear."""
        access = props["accessType"]
        attributes = {
            **CLIENT_FIXED_ATTRIBUTES,
            "pkce.code.challenge.method": _str(props, "pkceCodeChallengeMethod"),
            "access.token.lifespan": _str(props, "accessTokenLifespan"),
            **(
                {"post.logout.redirect.uris": MULTIVALUE.join(props["validPostLogoutRedirectUris"])}
                if props.get("validPostLogoutRedirectUris")
                else {}
            ),
            **dict.fromkeys(removed, ""),
            **(props.get("extraConfig") or {}),
        }
        rep = {
            "clientId": props["clientId"],
            "name": _str(props, "name"),
            "protocol": "openid-connect",
            "clientAuthenticatorType": props["clientAuthenticatorType"],
            "enabled": props["enabled"],
            "description": _str(props, "description"),
            "publicClient": access == "PUBLIC",
            "bearerOnly": access == "BEARER-ONLY",
            **{flow: bool(props.get(flow)) for flow in FLOWS},
            "frontchannelLogout": bool(props.get("frontchannelLogoutEnabled")),
            "authorizationServicesEnabled": False,
            "redirectUris": list(props.get("validRedirectUris") or []),
            "webOrigins": list(props.get("webOrigins") or []),
            "adminUrl": _str(props, "adminUrl"),
            "baseUrl": _str(props, "baseUrl"),
            "fullScopeAllowed": props["fullScopeAllowed"],
            "consentRequired": bool(props.get("consentRequired")),
            "alwaysDisplayInConsole": props["alwaysDisplayInConsole"],
            "attributes": attributes,
        }
        if props.get("rootUrl") is not None:
            rep["rootUrl"] = props["rootUrl"]
        if props.get("clientSecret"):
            rep["secret"] = props["clientSecret"]
        return rep

    def outputs(self, admin: KeycloakAdmin, realm: str, rep: dict[str, Any], extra_keys: set[str]) -> dict[str, Any]:
        """pulumi-keycloak's outputs from a ``ClientRepresentation`` (plus the secret and the
        service account, which take a request each)."""
        attributes = rep.get("attributes") or {}
        access = "PUBLIC" if rep.get("publicClient") else "BEARER-ONLY" if rep.get("bearerOnly") else "CONFIDENTIAL"
        service_user = admin.service_account_user(realm, rep["id"])["id"] if rep.get("serviceAccountsEnabled") else ""
        logout = attributes.get("post.logout.redirect.uris") or ""
        return {
            "realmId": realm,
            "clientId": rep["clientId"],
            "name": rep.get("name") or "",
            "description": rep.get("description") or "",
            "enabled": bool(rep.get("enabled")),
            "accessType": access,
            "clientSecret": admin.get_client_secret(realm, rep["id"]),
            "clientAuthenticatorType": rep.get("clientAuthenticatorType") or "",
            **{flow: bool(rep.get(flow)) for flow in FLOWS},
            "frontchannelLogoutEnabled": bool(rep.get("frontchannelLogout")),
            "validRedirectUris": sorted(rep.get("redirectUris") or []),
            "validPostLogoutRedirectUris": sorted(logout.split(MULTIVALUE)) if logout else [],
            "webOrigins": sorted(rep.get("webOrigins") or []),
            "rootUrl": rep.get("rootUrl") or "",
            "adminUrl": rep.get("adminUrl") or "",
            "baseUrl": rep.get("baseUrl") or "",
            "fullScopeAllowed": bool(rep.get("fullScopeAllowed")),
            "consentRequired": bool(rep.get("consentRequired")),
            "alwaysDisplayInConsole": bool(rep.get("alwaysDisplayInConsole")),
            "pkceCodeChallengeMethod": attributes.get("pkce.code.challenge.method") or "",
            "accessTokenLifespan": attributes.get("access.token.lifespan") or "",
            "extraConfig": {k: attributes[k] for k in sorted(extra_keys) if attributes.get(k)},
            "serviceAccountUserId": service_user,
        }

    def create(self, admin: KeycloakAdmin, news: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        realm = news["realmId"]
        created = admin.create_client(realm, self.representation(news))
        return created["id"], self.outputs(admin, realm, created, set(news.get("extraConfig") or {}))

    def read(self, admin: KeycloakAdmin, id: str, state: dict[str, Any]) -> dict[str, Any] | None:
        try:
            rep = admin.get_client(state["realmId"], id)
        except PlatformError as exc:
            if exc.status == 404:
                return None
            raise
        return self.outputs(admin, state["realmId"], rep, set(state.get("extraConfig") or {}))

    def update(self, admin: KeycloakAdmin, id: str, olds: dict[str, Any], news: dict[str, Any]) -> dict[str, Any]:
        realm, props = news["realmId"], self.effective(news, olds)
        removed = tuple(sorted(set(olds.get("extraConfig") or {}) - set(props.get("extraConfig") or {})))
        admin.update_client(realm, id, {"id": id, **self.representation(props, removed)})
        return self.outputs(admin, realm, admin.get_client(realm, id), set(props.get("extraConfig") or {}))

    def delete(self, admin: KeycloakAdmin, id: str, state: dict[str, Any]) -> None:
        admin.delete_client(state["realmId"], id)

    def unknown_outputs(self) -> tuple[str, ...]:
        return ("serviceAccountUserId",)


class Role(Resource):
    """``keycloak:index/role:Role``: a client role (``clientId`` = the client's internal id) or a realm role."""

    token = ROLE
    props: ClassVar[dict[str, Prop]] = {
        "realmId": Prop("string", required=True, replace=True),
        "clientId": Prop("string", replace=True),
        "name": Prop("string", required=True),
        "description": Prop("string", computed=True),
        "attributes": Prop("map", computed=True),
    }
    accepted: ClassVar[dict[str, Any]] = {"import": False, "compositeRoles": []}

    @staticmethod
    def representation(props: dict[str, Any]) -> dict[str, Any]:
        """Keycloak's ``RoleRepresentation`` (attributes ``"a##b"`` become ``["a", "b"]``)."""
        client = props.get("clientId") or ""
        attributes = {k: str(v).split(MULTIVALUE) for k, v in (props.get("attributes") or {}).items()}
        return {
            "name": props["name"],
            "description": _str(props, "description"),
            "attributes": attributes,
            "clientRole": bool(client),
            **({"containerId": client} if client else {}),
        }

    @staticmethod
    def outputs(realm: str, rep: dict[str, Any]) -> dict[str, Any]:
        return {
            "realmId": realm,
            "clientId": rep.get("containerId") or "" if rep.get("clientRole") else "",
            "name": rep["name"],
            "description": rep.get("description") or "",
            "attributes": {k: MULTIVALUE.join(v) for k, v in (rep.get("attributes") or {}).items()},
        }

    def create(self, admin: KeycloakAdmin, news: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        realm = news["realmId"]
        created = admin.create_role(realm, news.get("clientId") or None, self.representation(news))
        return created["id"], self.outputs(realm, created)

    def read(self, admin: KeycloakAdmin, id: str, state: dict[str, Any]) -> dict[str, Any] | None:
        try:
            return self.outputs(state["realmId"], admin.get_role(state["realmId"], id))
        except PlatformError as exc:
            if exc.status == 404:
                return None
            raise

    def update(self, admin: KeycloakAdmin, id: str, olds: dict[str, Any], news: dict[str, Any]) -> dict[str, Any]:
        realm = news["realmId"]
        admin.update_role(realm, id, {"id": id, **self.representation(self.effective(news, olds))})
        return self.outputs(realm, admin.get_role(realm, id))

    def delete(self, admin: KeycloakAdmin, id: str, state: dict[str, Any]) -> None:
        admin.delete_role(state["realmId"], id)


RESOURCES: dict[str, Resource] = {r.token: r for r in (Client(), Role())}


def resource(urn: str) -> Resource:
    """The implementation of a resource's type (from its URN), or a clear refusal."""
    token = urn.split("::")[-2].split("$")[-1]  # urn:pulumi:stack::project::parent$type::name
    if token not in RESOURCES:
        raise refusal(token)
    return RESOURCES[token]


def refusal(token: str) -> Refusal:
    return Refusal(
        f"{token} is not implemented: govcloud's stand-in keycloak plugin implements only "
        f"{' and '.join(RESOURCES)}; {UPSTREAM}"
    )


# --- the provider -------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigKey:
    """One provider config key (``keycloak:<key>``) and the environment variable upstream falls back to."""

    env: str = ""
    default: str = ""


CONFIG = {
    "url": ConfigKey("KEYCLOAK_URL"),
    "basePath": ConfigKey("KEYCLOAK_BASE_PATH"),
    "realm": ConfigKey("KEYCLOAK_REALM", "master"),
    "clientId": ConfigKey("KEYCLOAK_CLIENT_ID"),
    "clientSecret": ConfigKey("KEYCLOAK_CLIENT_SECRET"),
    "username": ConfigKey("KEYCLOAK_USER"),
    "password": ConfigKey("KEYCLOAK_PASSWORD"),
    "clientTimeout": ConfigKey("KEYCLOAK_CLIENT_TIMEOUT", "15"),
    "initialLogin": ConfigKey(default="true"),
}
#: Upstream config keys not implemented, accepted at upstream's default (the SDK sends
#: non-string values JSON-encoded, hence the strings).
CONFIG_ACCEPTED = {
    "jwtSigningAlg": "RS256",
    "redHatSso": "false",
    "tlsInsecureSkipVerify": "false",
    "rootCaCertificate": "",
    "tlsClientCertificate": "",
    "tlsClientPrivateKey": "",
}
CONFIG_UNSUPPORTED = frozenset(
    {
        "accessToken",
        "additionalHeaders",
        "adminUrl",
        "jwtSigningKey",
        "jwtToken",
        "jwtTokenFile",
        "keycloakVersion",
        *CONFIG_ACCEPTED,
    }
)


def _config_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(value)
    return "" if value is None else str(value)


def settings(args: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, str]:
    """Every :data:`CONFIG` key: the provider's argument, else the environment, else upstream's default."""
    return {
        key: _config_text(args.get(key)) or (environ.get(spec.env, "") if spec.env else "") or spec.default
        for key, spec in CONFIG.items()
    }


def check_config(args: Mapping[str, Any], environ: Mapping[str, str]) -> list[rpc.CheckFailure]:
    """What is wrong with a provider's config (unknown values are not judged)."""
    failures = [
        rpc.CheckFailure(k, f"keycloak:{k} is not implemented by govcloud's stand-in keycloak plugin; {UPSTREAM}")
        for k in sorted(set(args) & CONFIG_UNSUPPORTED)
        if _config_text(args[k]) not in ("", "{}", CONFIG_ACCEPTED.get(k))
    ]
    if any(_unknown(v) for v in args.values()):
        return failures
    given = settings(args, environ)
    for key in ("url", "clientId"):
        if not given[key]:
            failures.append(rpc.CheckFailure(key, f"set keycloak:{key} (or {CONFIG[key].env})"))
    if not given["clientSecret"] and not (given["username"] and given["password"]):
        failures.append(
            rpc.CheckFailure(
                "clientSecret",
                "set keycloak:clientSecret (client credentials grant) or "
                "keycloak:username and keycloak:password (password grant)",
            )
        )
    if not given["clientTimeout"].isdigit():
        failures.append(rpc.CheckFailure("clientTimeout", "keycloak:clientTimeout must be a number of seconds"))
    return failures


@dataclass
class KeycloakProvider(rpc.Provider):
    """The ``keycloak`` provider: config checked and kept, each resource call run in a thread
    (the admin client is blocking), so that the engine's parallel steps stay parallel."""

    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    admin: KeycloakAdmin | None = None

    async def check_config(self, request: rpc.CheckRequest) -> rpc.CheckResponse:
        return rpc.CheckResponse(
            inputs=request.new_inputs, failures=check_config(_plain_map(request.new_inputs), self.environ)
        )

    async def configure(self, request: rpc.ConfigureRequest) -> rpc.ConfigureResponse:
        args = _plain_map(request.args)
        if not any(_unknown(v) for v in args.values()):
            given = settings(args, self.environ)
            self.admin = KeycloakAdmin(
                url=given["url"],
                client_id=given["clientId"],
                client_secret=given["clientSecret"],
                realm=given["realm"],
                base_path=given["basePath"],
                timeout=float(given["clientTimeout"] or 15),
                username=given["username"],
                password=given["password"],
            )
        return rpc.ConfigureResponse(accept_secrets=True, supports_preview=True)

    async def check(self, request: rpc.CheckRequest) -> rpc.CheckResponse:
        return resource(request.urn).check(request.old_inputs, request.new_inputs)

    async def diff(self, request: rpc.DiffRequest) -> rpc.DiffResponse:
        return resource(request.urn).diff(
            _plain_map(request.old_state), _plain_map(request.new_inputs), list(request.ignore_changes)
        )

    async def create(self, request: rpc.CreateRequest) -> rpc.CreateResponse:
        kind, news = resource(request.urn), _plain_map(request.properties)
        if request.preview:  # what Keycloak decides is unknown until it has decided
            unknown = {*kind.unknown_outputs(), *(k for k, p in kind.props.items() if p.computed)}
            outputs = dict.fromkeys(unknown, UNKNOWN) | news
            return rpc.CreateResponse(properties=self._outputs(kind, outputs, request.properties))
        id, outputs = await self._run(kind.create, news)
        return rpc.CreateResponse(resource_id=id, properties=self._outputs(kind, outputs, request.properties))

    async def read(self, request: rpc.ReadRequest) -> rpc.ReadResponse:
        kind, state = resource(request.urn), _plain_map(request.properties)
        if "realmId" not in state:
            raise Refusal(
                f"importing {kind.token} is not implemented by govcloud's stand-in keycloak plugin; {UPSTREAM}"
            )
        outputs = await self._run(kind.read, request.resource_id, state)
        if outputs is None:
            return rpc.ReadResponse()  # gone: the engine drops it from the state
        inputs = {
            k: wrap(outputs[k], request.inputs[k].is_secret) if k in outputs else v for k, v in request.inputs.items()
        }
        return rpc.ReadResponse(
            resource_id=request.resource_id, properties=self._outputs(kind, outputs, request.properties), inputs=inputs
        )

    async def update(self, request: rpc.UpdateRequest) -> rpc.UpdateResponse:
        kind, olds, news = resource(request.urn), _plain_map(request.olds), _plain_map(request.news)
        if request.preview:
            return rpc.UpdateResponse(properties=self._outputs(kind, {**olds, **news}, request.news))
        outputs = await self._run(kind.update, request.resource_id, olds, news)
        return rpc.UpdateResponse(properties=self._outputs(kind, outputs, request.news))

    async def delete(self, request: rpc.DeleteRequest) -> None:
        await self._run(resource(request.urn).delete, request.resource_id, _plain_map(request.properties))

    async def invoke(self, request: rpc.InvokeRequest) -> rpc.InvokeResponse:
        raise refusal(request.tok)

    async def _run(self, call: Callable[..., Any], *args: Any) -> Any:
        if self.admin is None:
            raise Refusal("the keycloak provider is not configured (its config is unknown)")
        return await asyncio.to_thread(call, self.admin, *args)

    @staticmethod
    def _outputs(
        kind: Resource, outputs: dict[str, Any], inputs: Mapping[str, PropertyValue]
    ) -> dict[str, PropertyValue]:
        """Outputs as property values: the secret ones, and those whose input was secret, marked secret."""
        return {
            k: wrap(v, k in kind.secret_outputs or (k in inputs and inputs[k].is_secret)) for k, v in outputs.items()
        }


# --- the gRPC server ----------------------------------------------------------------------

RPCS = ("CheckConfig", "Configure", "Check", "Diff", "Create", "Read", "Update", "Delete", "Invoke")


def _plain_errors(method: Callable[..., Any]) -> Callable[..., Any]:
    """The framework turns every error into its message plus a Python traceback; ours (a refusal,
    Keycloak's answer) reach the engine as their one-line message instead."""

    async def call(self: ProviderServicer, request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            return await method(self, request, context)
        except Exception as exc:
            for error in (exc, exc.__context__):  # ours, or ours re-raised by the framework with a traceback
                if isinstance(error, (PlatformError, Refusal)):
                    await context.abort(grpc.StatusCode.UNKNOWN, str(error))
            raise

    return call


class Servicer(ProviderServicer):
    """The framework's ResourceProvider service, with :func:`_plain_errors` on the RPCs we serve."""


for _rpc in RPCS:
    setattr(Servicer, _rpc, _plain_errors(getattr(ProviderServicer, _rpc)))


async def serve(engine_address: str, provider: rpc.Provider | None = None) -> None:
    """Listen on a free loopback port, print it on stdout (how the engine finds a plugin), serve."""
    server = grpc.aio.server(options=_GRPC_CHANNEL_OPTIONS)
    servicer = Servicer([], VERSION, provider or KeycloakProvider(), engine_address=engine_address)
    provider_pb2_grpc.add_ResourceProviderServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    sys.stdout.write(f"{port}\n")
    sys.stdout.flush()
    await server.wait_for_termination()


def main(argv: list[str]) -> int:
    """``python -m toolchain.keycloak_plugin [engine flags...] ENGINE_ADDRESS``: the engine
    puts its flags (``--logtostderr``, ``-v=9``, ``--tracing URL``) before its address."""
    if not argv or argv[-1].startswith("-"):
        sys.stderr.write(
            f"pulumi-resource-keycloak {VERSION} (govcloud stand-in): the Pulumi engine starts it "
            "with the engine's address as the last argument\n"
        )
        return 2
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(argv[-1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
