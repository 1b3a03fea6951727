"""The unified authentication platform's admin side (Keycloak admin REST API): what reclamation
needs after ``pulumi destroy`` to be sure an application's clients are gone (Art. 16, 20).

:class:`KeycloakPlatform` is the reclamation service's ``Platform``; a city whose platform is not
Keycloak adds one class with the same two verbs and names it in :data:`PLATFORMS`.

Only the standard library (``urllib``): a service-account token by client credentials, the
clients of a realm by ``clientId`` search, deletion by internal id. HTTP and network errors
become :class:`PlatformError` in one function, :meth:`KeycloakAdmin._request`.

The registration verbs (``create_client``, ``get_client``, ``update_client``, client and realm
roles, ...) serve govcloud's Keycloak resource plugin (``toolchain/keycloak_plugin.py``);
they take and return Keycloak's own JSON representations (``ClientRepresentation``,
``RoleRepresentation``), which the plugin maps to pulumi-keycloak's properties. With ``username``
and ``password`` the token comes from a password grant instead of client credentials.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestrator.core import naming
from orchestrator.core.platform import AuthSettings
from orchestrator.core.reclaim import Decision, Found
from orchestrator.errors import ExternalError, RuleError

#: Clients fetched per page of ``GET /clients``.
PAGE = 100
#: Seconds a token is taken to live when the platform does not say (``expires_in``).
TOKEN_LIFETIME = 60.0
#: Seconds before its expiry that a token is fetched again.
TOKEN_MARGIN = 10.0


class PlatformError(ExternalError):
    """The authentication platform failed or refused a request."""

    status: int | None = None
    """The HTTP status, when the platform answered."""


@dataclass(frozen=True)
class PlatformClient:
    """One client registration in one realm."""

    realm: str
    id: str
    """Keycloak's internal id (what the admin API deletes by)."""
    client_id: str
    labels: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    """The govcloud labels found in the client's attributes (``{"unit": "zwb", ...}``)."""


@dataclass
class KeycloakAdmin:
    """A service-account client of Keycloak's admin API (needs realm-management ``manage-clients``)."""

    url: str
    client_id: str
    client_secret: str = field(repr=False)
    realm: str = "master"
    """Realm of the service-account client itself."""
    base_path: str = ""
    timeout: float = 10.0
    username: str = ""
    """With ``password``: a password grant (``client_id`` is then e.g. ``admin-cli``) instead of client credentials."""
    password: str = field(default="", repr=False)
    _token: str | None = field(default=None, repr=False)
    _token_until: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        # every request below is built on this URL: never file: or another scheme urllib opens
        if urllib.parse.urlsplit(self.url).scheme not in ("http", "https"):
            raise PlatformError(f"KEYCLOAK_URL {self.url!r}: the admin API is reached over http:// or https:// only")

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> KeycloakAdmin:
        """From ``KEYCLOAK_URL``, ``KEYCLOAK_CLIENT_ID``, ``KEYCLOAK_CLIENT_SECRET`` and optional
        ``KEYCLOAK_REALM``, ``KEYCLOAK_BASE_PATH``: the variables the Keycloak provider reads too."""
        env = os.environ if environ is None else environ
        missing = [k for k in ("KEYCLOAK_URL", "KEYCLOAK_CLIENT_ID", "KEYCLOAK_CLIENT_SECRET") if not env.get(k)]
        if missing:
            raise PlatformError(f"set {', '.join(missing)} to reach the authentication platform's admin API")
        return cls(
            url=env["KEYCLOAK_URL"],
            client_id=env["KEYCLOAK_CLIENT_ID"],
            client_secret=env["KEYCLOAK_CLIENT_SECRET"],
            realm=env.get("KEYCLOAK_REALM") or "master",
            base_path=env.get("KEYCLOAK_BASE_PATH") or "",
        )

    # --- verbs ---------------------------------------------------------------------------

    def clients(self, realm: str, prefix: str) -> Iterator[PlatformClient]:
        """Clients of ``realm`` whose ``clientId`` starts with ``prefix``."""
        first = 0
        while True:
            query = urllib.parse.urlencode({"clientId": prefix, "search": "true", "first": first, "max": PAGE})
            page = self._request("GET", f"/admin/realms/{_quote(realm)}/clients?{query}") or []
            for raw in page:
                if raw.get("clientId", "").startswith(prefix):
                    yield PlatformClient(realm, raw["id"], raw["clientId"], _labels(raw.get("attributes") or {}))
            if len(page) < PAGE:
                return
            first += PAGE

    def delete_client(self, realm: str, id: str, ignore_missing: bool = True) -> None:
        """Delete the client with internal id ``id``; a missing one is fine unless ``ignore_missing`` is false."""
        try:
            self._request("DELETE", f"/admin/realms/{_quote(realm)}/clients/{_quote(id)}")
        except PlatformError as exc:
            if not (ignore_missing and getattr(exc, "status", None) == 404):
                raise

    # --- client registrations and roles (the resource plugin's verbs) ---------------------

    def get_client(self, realm: str, id: str) -> dict[str, Any]:
        """The client with internal id ``id``; :class:`PlatformError` with status 404 when missing."""
        return self._call("GET", f"{_clients(realm)}/{_quote(id)}")

    def find_client(self, realm: str, client_id: str) -> dict[str, Any] | None:
        """The client whose ``clientId`` is exactly ``client_id``, or ``None``."""
        query = urllib.parse.urlencode({"clientId": client_id})
        found = self._call("GET", f"{_clients(realm)}?{query}") or []
        return next((c for c in found if c.get("clientId") == client_id), None)

    def create_client(self, realm: str, representation: Mapping[str, Any]) -> dict[str, Any]:
        """Create a client (409 when its ``clientId`` is taken) and return it as Keycloak stored it."""
        self._create(_clients(realm), representation, f"client {representation['clientId']} in realm {realm}")
        created = self.find_client(realm, representation["clientId"])
        if created is None:
            raise PlatformError(
                f"authentication platform: client {representation['clientId']} in realm {realm} "
                "was created but cannot be found"
            )
        return created

    def update_client(self, realm: str, id: str, representation: Mapping[str, Any]) -> None:
        """Replace the fields in ``representation`` of the client with internal id ``id``."""
        self._call("PUT", f"{_clients(realm)}/{_quote(id)}", representation)

    def get_client_secret(self, realm: str, id: str) -> str:
        """The client's current secret (``""`` for a client without one)."""
        return (self._call("GET", f"{_clients(realm)}/{_quote(id)}/client-secret") or {}).get("value") or ""

    def service_account_user(self, realm: str, id: str) -> dict[str, Any]:
        """The user behind a client's service account (the client must have service accounts enabled)."""
        return self._call("GET", f"{_clients(realm)}/{_quote(id)}/service-account-user")

    def client_roles(self, realm: str, id: str) -> list[dict[str, Any]]:
        """The roles of the client with internal id ``id``."""
        return self._call("GET", f"{_clients(realm)}/{_quote(id)}/roles") or []

    def get_role(self, realm: str, id: str) -> dict[str, Any]:
        """The realm or client role with id ``id``; :class:`PlatformError` with status 404 when missing."""
        return self._call("GET", f"/admin/realms/{_quote(realm)}/roles-by-id/{_quote(id)}")

    def create_role(self, realm: str, client: str | None, representation: Mapping[str, Any]) -> dict[str, Any]:
        """Create a role of the client with internal id ``client`` (a realm role when ``None``) and
        return it as Keycloak stored it (Keycloak answers the creation without the role's id)."""
        roles = f"{_clients(realm)}/{_quote(client)}/roles" if client else f"/admin/realms/{_quote(realm)}/roles"
        owner = f"client {client} of realm {realm}" if client else f"realm {realm}"
        self._create(roles, representation, f"role {representation['name']} of {owner}")
        return self._call("GET", f"{roles}/{_quote(representation['name'])}")

    def update_role(self, realm: str, id: str, representation: Mapping[str, Any]) -> None:
        self._call("PUT", f"/admin/realms/{_quote(realm)}/roles-by-id/{_quote(id)}", representation)

    def delete_role(self, realm: str, id: str, ignore_missing: bool = True) -> None:
        """Delete the role with id ``id``; a missing one is fine unless ``ignore_missing`` is false."""
        try:
            self._call("DELETE", f"/admin/realms/{_quote(realm)}/roles-by-id/{_quote(id)}")
        except PlatformError as exc:
            if not (ignore_missing and exc.status == 404):
                raise

    def _create(self, path: str, representation: Mapping[str, Any], what: str) -> None:
        """POST a new object; Keycloak's 409 becomes a sentence naming what already exists."""
        try:
            self._call("POST", path, representation)
        except PlatformError as exc:
            if exc.status != 409:
                raise
            error = PlatformError(f"authentication platform: {what} already exists (409 Conflict)")
            error.status = 409
            raise error from exc

    # --- HTTP, in one place --------------------------------------------------------------

    def _grant(self) -> dict[str, str]:
        """The token request's form: a password grant when a user is configured, else client credentials."""
        if self.username:
            form = {
                "grant_type": "password",
                "client_id": self.client_id,
                "username": self.username,
                "password": self.password,
            }
            return form | ({"client_secret": self.client_secret} if self.client_secret else {})
        return {"grant_type": "client_credentials", "client_id": self.client_id, "client_secret": self.client_secret}

    def _call(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        """An admin API request with an optional JSON body; an expired token (401) is renewed once."""
        try:
            return self._send(self._json_request(method, path, body))
        except PlatformError as exc:
            if exc.status != 401:
                raise
        self._token = None
        return self._send(self._json_request(method, path, body))

    def _json_request(self, method: str, path: str, body: Mapping[str, Any] | None) -> urllib.request.Request:
        return urllib.request.Request(  # noqa: S310 (http(s): checked in __post_init__)
            f"{self._base()}{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self._access_token()}", "Content-Type": "application/json"},
        )

    def _base(self) -> str:
        return f"{self.url.rstrip('/')}{self.base_path.rstrip('/')}"

    def _access_token(self) -> str:
        """A token (client credentials, or a password grant), fetched again shortly before it
        expires (Keycloak's default lifetime is 5 minutes, shorter than a long reclamation)."""
        if self._token is None or time.monotonic() >= self._token_until:
            form = urllib.parse.urlencode(self._grant()).encode()
            answer = self._send(
                urllib.request.Request(  # noqa: S310 (http(s): checked in __post_init__)
                    f"{self._base()}/realms/{_quote(self.realm)}/protocol/openid-connect/token",
                    data=form,
                    method="POST",
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                )
            )
            self._token = answer["access_token"]
            lifetime = float(answer.get("expires_in") or TOKEN_LIFETIME)
            self._token_until = time.monotonic() + lifetime - min(TOKEN_MARGIN, lifetime / 2)
        return self._token

    def _request(self, method: str, path: str) -> Any:
        token = self._access_token()
        return self._send(
            urllib.request.Request(  # noqa: S310 (http(s): checked in __post_init__)
                f"{self._base()}{path}", method=method, headers={"Authorization": f"Bearer {token}"}
            )
        )

    def _send(self, request: urllib.request.Request) -> Any:
        """Send; JSON body or ``None``; every HTTP and network error becomes :class:`PlatformError`."""
        where = f"{request.get_method()} {request.full_url.split('?')[0]}"
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 (configured URL)
                body = response.read()
        except urllib.error.HTTPError as exc:
            error = PlatformError(f"authentication platform: {where} answered {exc.code} {exc.reason}")
            error.status = exc.code
            raise error from exc
        except (urllib.error.URLError, OSError) as exc:
            raise PlatformError(f"authentication platform unreachable: {where}: {exc}") from exc
        try:
            return json.loads(body) if body else None
        except ValueError as exc:
            raise PlatformError(f"authentication platform: {where} answered no JSON") from exc


def _quote(part: str) -> str:
    return urllib.parse.quote(part, safe="")


def _clients(realm: str) -> str:
    return f"/admin/realms/{_quote(realm)}/clients"


def _labels(attributes: dict[str, Any]) -> dict[str, str]:
    prefix = naming.TAG_PREFIX
    return {
        k[len(prefix) :]: str(v)
        for k, v in attributes.items()
        if k.startswith(prefix) and k[len(prefix) :] in naming.TAG_KEYS
    }


# --- the reclamation service's platform ----------------------------------------------------


def is_ours(client: PlatformClient, unit: str, app: str) -> bool:
    """A client govcloud registered for ``app``: one of its client ids, labelled with it."""
    return (
        client.client_id in naming.client_ids(unit, app)
        and client.labels.get("unit") == unit
        and client.labels.get("app") == app
    )


@dataclass
class KeycloakPlatform:
    """What reclamation needs of the platform (:class:`orchestrator.services.reclaim.ports.Platform`):
    an environment's clients in the realm the stacks registered it in, decided, and deletion."""

    admin: KeycloakAdmin
    settings: AuthSettings

    @property
    def where(self) -> str:
        return f"keycloak {self.admin.url}"

    def clients(self, unit: str, app: str, env: str) -> Decision:
        """In ``realm_for(env)``, the clients whose id starts with ``<unit>-<app>-``: ours to delete
        (the environment's client id **and** the application's labels) and foreign (neither ours
        nor another environment's: another application whose id extends this one, a client made
        by hand). Items are :class:`Found` of kind ``auth_client``, id ``<realm>/<internal id>``."""
        realm = self.settings.realm_for(env)
        found = list(self.admin.clients(realm, naming.client_prefix(unit, app)))
        mine = naming.client_id(unit, app, env)
        delete = [c for c in found if c.client_id == mine and is_ours(c, unit, app)]
        foreign = [c for c in found if not is_ours(c, unit, app)]
        return Decision(tuple(map(_found, delete)), tuple(map(_found, foreign)))

    def delete_client(self, found: Found) -> None:
        """Delete a client listed by :meth:`clients`; gone already is fine."""
        realm, _, internal = found.id.rpartition("/")
        self.admin.delete_client(realm, internal)


def _found(client: PlatformClient) -> Found:
    return Found("auth_client", f"{client.realm}/{client.id}", client.client_id, dict(client.labels))


def open_keycloak(environ: Mapping[str, str], settings: AuthSettings) -> KeycloakPlatform:
    """From the variables the Keycloak provider reads too (:meth:`KeycloakAdmin.from_environ`)."""
    return KeycloakPlatform(KeycloakAdmin.from_environ(environ), settings)


@dataclass(frozen=True)
class NoPlatform:
    """No platform configured: nobody can say the clients are gone, so the clients step fails."""

    reason: str = "no unified-authentication platform is configured"
    where: str = "no platform"

    def clients(self, unit: str, app: str, env: str) -> Decision:
        raise self._unverifiable(f"the clients of {unit}/{app} ({env})")

    def delete_client(self, found: Found) -> None:
        raise self._unverifiable(f"the clients ({found.name})")

    def _unverifiable(self, what: str) -> RuleError:
        return RuleError(
            f"{self.reason}: cannot verify that {what} are gone; configure the platform as for "
            "govcloud up (GOVCLOUD_AUTH_REALM, KEYCLOAK_URL, KEYCLOAK_CLIENT_ID, KEYCLOAK_CLIENT_SECRET)",
            rule="clients-verified",
            article="Art. 16",
        )


#: Platform module name (``govcloud:authPlatform``) -> how reclamation opens its admin side.
PLATFORMS = {"keycloak": open_keycloak}
