"""A fake Keycloak on loopback: the admin REST API endpoints that govcloud's Keycloak resource
plugin calls (clients, client secret, service-account user, client and realm roles, roles by id)
and the token endpoint, with Keycloak's status codes (201, 204, 404, 409, 401 for a stale token).
It records every request, so tests can assert what was sent."""

from __future__ import annotations

import json
import threading
import urllib.parse
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ADMIN_ID, ADMIN_SECRET = "govcloud-provisioner", "s3cret-admin"
USER, PASSWORD = "admin", "admin-password"


@dataclass
class Call:
    method: str
    path: str
    body: Any = None


@dataclass
class FakeKeycloak:
    """Realm -> clients (by internal id) and roles (by id); a log of calls; knobs."""

    url: str = ""
    realms: dict[str, dict[str, dict]] = field(default_factory=lambda: {"master": {}, "government": {}})
    roles: dict[str, dict[str, dict]] = field(default_factory=lambda: {"master": {}, "government": {}})
    calls: list[Call] = field(default_factory=list)
    tokens: set[str] = field(default_factory=set)

    def expire_tokens(self) -> None:
        """Every token issued so far is refused from now on (401), as after its lifespan."""
        self.tokens.clear()

    def admin_calls(self) -> list[str]:
        """``METHOD path`` of each admin API call, in order (token requests left out)."""
        return [f"{c.method} {c.path}" for c in self.calls if c.path.startswith("/admin/")]

    def body(self, method: str, path: str) -> Any:
        """The JSON body of the last ``method path`` call."""
        return next(c.body for c in reversed(self.calls) if (c.method, c.path) == (method, path))

    # --- the API ------------------------------------------------------------------------

    def token(self, form: dict[str, str]) -> tuple[int, Any]:
        grants = {
            "client_credentials": form.get("client_id") == ADMIN_ID and form.get("client_secret") == ADMIN_SECRET,
            "password": (form.get("username"), form.get("password")) == (USER, PASSWORD),
        }
        if not grants.get(form.get("grant_type", "")):
            return 401, {"error": "invalid_client"}
        token = uuid.uuid4().hex
        self.tokens.add(token)
        return 200, {"access_token": token, "expires_in": 60}

    def admin(self, method: str, parts: list[str], query: dict[str, str], body: Any) -> tuple[int, Any]:
        realm, rest = parts[0], parts[1:]
        if realm not in self.realms:
            return 404, {"error": "Realm not found."}
        clients, roles = self.realms[realm], self.roles[realm]
        match method, rest:
            case "GET", ["clients"]:
                wanted = query.get("clientId")
                return 200, [_public(c) for c in clients.values() if wanted in (None, c["clientId"])]
            case "POST", ["clients"]:
                if any(c["clientId"] == body["clientId"] for c in clients.values()):
                    return 409, {"errorMessage": f"Client {body['clientId']} already exists"}
                id = str(uuid.uuid4())
                secret = body.get("secret") or (uuid.uuid4().hex if not body.get("publicClient") else None)
                clients[id] = {**body, "id": id, "secret": secret}
                return 201, None
            case _, ["clients", id, *_] if id not in clients:
                return 404, {"error": "Could not find client"}
            case "GET", ["clients", id]:
                return 200, _public(clients[id])
            case "PUT", ["clients", id]:
                attributes = {**clients[id].get("attributes", {}), **body.get("attributes", {})}
                clients[id] |= body | {"id": id, "attributes": {k: v for k, v in attributes.items() if v != ""}}
                return 204, None
            case "DELETE", ["clients", id]:
                del clients[id]
                for role in [r for r in roles.values() if r.get("containerId") == id]:
                    del roles[role["id"]]
                return 204, None
            case "GET", ["clients", id, "client-secret"]:
                return 200, {"type": "secret", "value": clients[id]["secret"]}
            case "GET", ["clients", id, "service-account-user"]:
                if not clients[id].get("serviceAccountsEnabled"):
                    return 400, {"error": "Service account not enabled for the client"}
                return 200, {"id": f"user-{id}", "username": f"service-account-{clients[id]['clientId']}"}
            case "POST", ["clients", id, "roles"]:
                return self.create_role(roles, id, body)
            case "POST", ["roles"]:
                return self.create_role(roles, realm, body)
            case "GET", ["clients", id, "roles", name]:
                return self.role_by_name(roles, id, name)
            case "GET", ["roles", name]:
                return self.role_by_name(roles, realm, name)
            case _, ["roles-by-id", id] if id not in roles:
                return 404, {"error": "Could not find role with id"}
            case "GET", ["roles-by-id", id]:
                return 200, roles[id]
            case "PUT", ["roles-by-id", id]:
                roles[id] |= {k: body[k] for k in ("name", "description", "attributes") if k in body}
                return 204, None
            case "DELETE", ["roles-by-id", id]:
                del roles[id]
                return 204, None
        return 404, {"error": "Unable to find matching target resource method"}

    @staticmethod
    def create_role(roles: dict[str, dict], container: str, body: dict) -> tuple[int, Any]:
        """A client role when ``container`` is a client's internal id, else a realm role."""
        if any(r["name"] == body["name"] and r["containerId"] == container for r in roles.values()):
            return 409, {"errorMessage": f"Role with name {body['name']} already exists"}
        id = str(uuid.uuid4())
        roles[id] = {
            "description": "",
            "attributes": {},
            **body,
            "id": id,
            "containerId": container,
            "clientRole": bool(body.get("clientRole")),
            "composite": False,
        }
        return 201, None

    @staticmethod
    def role_by_name(roles: dict[str, dict], container: str, name: str) -> tuple[int, Any]:
        found = [r for r in roles.values() if r["name"] == name and r["containerId"] == container]
        return (200, found[0]) if found else (404, {"error": "Could not find role"})


def _public(client: dict) -> dict:
    """A client as the admin API shows it: the secret only through ``/client-secret``."""
    return {k: v for k, v in client.items() if k != "secret"}


@contextmanager
def serve() -> Iterator[FakeKeycloak]:
    """A :class:`FakeKeycloak` listening on a free loopback port until the block ends."""
    fake = FakeKeycloak()

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            form = self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded")
            body = (
                {k: v[0] for k, v in urllib.parse.parse_qs(raw).items()} if form else (json.loads(raw) if raw else None)
            )
            fake.calls.append(Call(self.command, url.path, body))
            parts = [urllib.parse.unquote(p) for p in url.path.strip("/").split("/")]
            query = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
            if self.command == "POST" and parts[0] == "realms" and parts[2:] == ["protocol", "openid-connect", "token"]:
                status, answer = fake.token(body or {})
            elif parts[:2] != ["admin", "realms"] or len(parts) < 3:
                status, answer = 404, None
            elif self.headers.get("Authorization", "").removeprefix("Bearer ") not in fake.tokens:
                status, answer = 401, {"error": "HTTP 401 Unauthorized"}
            else:
                status, answer = fake.admin(self.command, parts[2:], query, body)
            data = b"" if answer is None else json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _handle

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
