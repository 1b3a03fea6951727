"""The local Keycloak's set-up through its admin REST API (standard library only; python3 >= 3.9).

    keycloak.py ready MANAGEMENT_URL     exit 0 when /health/ready answers 200
    keycloak.py configure URL CACHE_DIR  make what the tests and `govcloud up` need (idempotent),
                                         then write CACHE_DIR/keycloak.env (mode 600)

What ``configure`` makes, each only when missing (so a second run changes nothing):
- realms ``government`` and ``government-test`` (AuthSettings' defaults);
- in realm ``master`` the confidential client ``govcloud-provisioner`` with a service account that
  holds master's realm role ``admin`` (all realms; a test platform's shortcut, a city grants less);
- in realm ``government``: realm roles ``govcloud-egov``, ``govcloud-provider``, ``govcloud-unit``;
  user-profile attribute ``unit``; the public client ``govcloud-cli`` (password grant on) whose
  tokens carry the realm roles in claim ``govcloud_roles`` and the user's ``unit`` in ``unit``; and
  the users of :data:`USERS`, whose password is CACHE_DIR/users-password; the confidential client
  ``govcloud-portal`` of ``govcloud serve`` (authorization code with PKCE, the same claims), whose
  secret the admin API gives (docs/portal.md).
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

ADMIN_USER = "admin"
REALM, TEST_REALM = "government", "government-test"
PROVISIONER = "govcloud-provisioner"
CLI = "govcloud-cli"
PORTAL = "govcloud-portal"
#: Where the local portal may send the browser back to (``govcloud serve`` on its default port).
PORTAL_URLS = ("http://127.0.0.1:8080", "http://localhost:8080")
ROLE_CLAIM, UNIT_CLAIM = "govcloud_roles", "unit"
ROLES = ("govcloud-egov", "govcloud-provider", "govcloud-unit")
#: username -> (realm role, unit, first name, last name)
USERS = {
    "egov-reviewer": ("govcloud-egov", None, "Wang", "Reviewer"),
    "provider-operator": ("govcloud-provider", None, "Li", "Operator"),
    "zwb-admin": ("govcloud-unit", "zwb", "Zhang", "Admin"),
}


class Admin:
    """Admin REST calls with the bootstrap admin's token (password grant on ``admin-cli``)."""

    def __init__(self, url: str, password: str) -> None:
        self.url = url.rstrip("/")
        self.token = self.form(
            "/realms/master/protocol/openid-connect/token",
            {"grant_type": "password", "client_id": "admin-cli", "username": ADMIN_USER, "password": password},
        )["access_token"]

    def form(self, path: str, fields: dict[str, str]) -> Any:
        return self.send("POST", path, urllib.parse.urlencode(fields).encode(), "application/x-www-form-urlencoded")

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        return self.send(method, "/admin/realms" + path, data, "application/json")

    def send(self, method: str, path: str, data: bytes | None, content_type: str) -> Any:
        headers = {"Content-Type": content_type}
        if getattr(self, "token", None):
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            if exc.code == 404 and method == "GET":
                return None
            raise SystemExit(f"keycloak.py: {method} {path} answered {exc.code}: {exc.read()[:300]!r}") from exc
        return json.loads(body) if body else None

    def ensure(self, get: str, create: str, body: dict[str, Any]) -> None:
        """POST ``body`` to ``create`` unless GET ``get`` finds it."""
        if self.call("GET", get) is None:
            self.call("POST", create, body)

    def client(self, realm: str, body: dict[str, Any]) -> str:
        """Create the client unless one with its clientId exists; its internal id."""
        query = urllib.parse.urlencode({"clientId": body["clientId"]})
        found = self.call("GET", f"/{realm}/clients?{query}")
        if not found:
            self.call("POST", f"/{realm}/clients", body)
            found = self.call("GET", f"/{realm}/clients?{query}")
        return found[0]["id"]

    def user_id(self, realm: str, username: str) -> str | None:
        query = urllib.parse.urlencode({"username": username, "exact": "true"})
        found = self.call("GET", f"/{realm}/users?{query}")
        return found[0]["id"] if found else None

    def grant(self, realm: str, user: str, role: str) -> None:
        """Give ``user`` (internal id) realm role ``role``; granting twice is harmless."""
        self.call("POST", f"/{realm}/users/{user}/role-mappings/realm", [self.call("GET", f"/{realm}/roles/{role}")])


def mapper(name: str, kind: str, claim: str, **config: str) -> dict[str, Any]:
    """A protocol mapper putting ``claim`` (a string or strings) into ID, access and userinfo tokens."""
    config = {
        "claim.name": claim,
        "jsonType.label": "String",
        "id.token.claim": "true",
        "access.token.claim": "true",
        "userinfo.token.claim": "true",
    } | config
    return {"name": name, "protocol": "openid-connect", "protocolMapper": kind, "config": config}


def claim_mappers() -> list[dict[str, Any]]:
    """The roles and the unit in every token of a govcloud client (docs/auth.md)."""
    return [
        mapper("govcloud roles", "oidc-usermodel-realm-role-mapper", ROLE_CLAIM, multivalued="true"),
        mapper("unit", "oidc-usermodel-attribute-mapper", UNIT_CLAIM, **{"user.attribute": UNIT_CLAIM}),
    ]


def portal_client(urls: tuple[str, ...] = PORTAL_URLS, client_id: str = PORTAL) -> dict[str, Any]:
    """The portal's client: browser sign-in only (code flow, PKCE S256), back to ``urls``."""
    return {
        "clientId": client_id,
        "name": "govcloud portal",
        "protocol": "openid-connect",
        "publicClient": False,
        "clientAuthenticatorType": "client-secret",
        "standardFlowEnabled": True,
        "directAccessGrantsEnabled": False,
        "redirectUris": [f"{u}/auth/callback" for u in urls],
        "webOrigins": list(urls),
        "attributes": {
            "pkce.code.challenge.method": "S256",
            "post.logout.redirect.uris": "##".join(f"{u}/*" for u in urls),
        },
        "protocolMappers": claim_mappers(),
    }


def configure(admin: Admin, users_password: str) -> str:
    """Make everything (see the module docstring); the provisioner's client secret."""
    for realm in (REALM, TEST_REALM):
        admin.ensure(f"/{realm}", "", {"realm": realm, "enabled": True})

    provisioner = admin.client(
        "master",
        {
            "clientId": PROVISIONER,
            "name": "govcloud provisioner (Pulumi, reclamation)",
            "protocol": "openid-connect",
            "publicClient": False,
            "clientAuthenticatorType": "client-secret",
            "serviceAccountsEnabled": True,
            "standardFlowEnabled": False,
            "directAccessGrantsEnabled": False,
        },
    )
    account = admin.call("GET", f"/master/clients/{provisioner}/service-account-user")["id"]
    admin.grant("master", account, "admin")

    for role in ROLES:
        admin.ensure(f"/{REALM}/roles/{role}", f"/{REALM}/roles", {"name": role})
    profile = admin.call("GET", f"/{REALM}/users/profile")
    if not any(a["name"] == UNIT_CLAIM for a in profile["attributes"]):
        profile["attributes"].append(
            {
                "name": UNIT_CLAIM,
                "displayName": "Unit",
                "multivalued": False,
                "permissions": {"view": ["admin", "user"], "edit": ["admin"]},
            }
        )
        admin.call("PUT", f"/{REALM}/users/profile", profile)

    cli = admin.client(
        REALM,
        {
            "clientId": CLI,
            "name": "govcloud CLI",
            "protocol": "openid-connect",
            "publicClient": True,
            "standardFlowEnabled": False,
            "directAccessGrantsEnabled": True,
        },
    )
    wanted = claim_mappers()
    admin.client(REALM, portal_client())
    have = {m["name"] for m in admin.call("GET", f"/{REALM}/clients/{cli}/protocol-mappers/models")}
    for m in wanted:
        if m["name"] not in have:
            admin.call("POST", f"/{REALM}/clients/{cli}/protocol-mappers/models", m)

    for username, (role, unit, first, last) in USERS.items():
        body = {
            "username": username,
            "enabled": True,
            "email": f"{username}@govcloud.test",
            "emailVerified": True,
            "firstName": first,
            "lastName": last,
            "requiredActions": [],
            "attributes": {UNIT_CLAIM: [unit]} if unit else {},
        }
        user = admin.user_id(REALM, username)
        if user is None:
            admin.call("POST", f"/{REALM}/users", body)
            user = admin.user_id(REALM, username)
        else:
            admin.call("PUT", f"/{REALM}/users/{user}", body)
        admin.call(
            "PUT",
            f"/{REALM}/users/{user}/reset-password",
            {"type": "password", "value": users_password, "temporary": False},
        )
        admin.grant(REALM, user, role)

    return admin.call("GET", f"/master/clients/{provisioner}/client-secret")["value"]


def write_env(path: Path, url: str, secret: str, users_password: str) -> None:
    """The connection for other tools: ``KEY=value`` lines, no quotes (values are URL-safe)."""
    lines = [
        "# The local Keycloak, written by scripts/keycloak/up.sh (docs/testing.md). KEY=value, no quotes.",
        "# The variables `govcloud up` maps to stack config keycloak:* (stacks/components/auth/keycloak.py):",
        f"KEYCLOAK_URL={url}",
        "KEYCLOAK_REALM=master",
        f"KEYCLOAK_CLIENT_ID={PROVISIONER}",
        f"KEYCLOAK_CLIENT_SECRET={secret}",
        "# Realms (AuthSettings defaults) and their issuers:",
        f"KEYCLOAK_AUTH_REALM={REALM}",
        f"KEYCLOAK_AUTH_TEST_REALM={TEST_REALM}",
        f"KEYCLOAK_ISSUER={url}/realms/{REALM}",
        f"KEYCLOAK_TEST_ISSUER={url}/realms/{TEST_REALM}",
        f"# ID tokens for the CLI: password grant on the public client, scope openid, in realm {REALM}:",
        f"KEYCLOAK_CLI_CLIENT_ID={CLI}",
        f"KEYCLOAK_ROLE_CLAIM={ROLE_CLAIM}",
        f"KEYCLOAK_UNIT_CLAIM={UNIT_CLAIM}",
        "KEYCLOAK_TEST_USERS=" + ",".join(f"{u}:{r}{':' + unit if unit else ''}" for u, (r, unit, *_) in USERS.items()),
        f"KEYCLOAK_TEST_PASSWORD={users_password}",
    ]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.chmod(0o600)
    tmp.replace(path)


def ready(management_url: str) -> bool:
    try:
        with urllib.request.urlopen(management_url.rstrip("/") + "/health/ready", timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "ready":
        return 0 if ready(argv[1]) else 1
    if len(argv) == 3 and argv[0] == "configure":
        url, cache = argv[1], Path(argv[2])
        users_password = (cache / "users-password").read_text().strip()
        admin = Admin(url, (cache / "admin-password").read_text().strip())
        secret = configure(admin, users_password)
        write_env(cache / "keycloak.env", url, secret, users_password)
        return 0
    print(__doc__.split("\n\n")[1], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
