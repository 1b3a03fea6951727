"""Reclaiming an application's clients through Keycloak's admin REST API, against a fake
Keycloak on loopback that implements the endpoints used (token, list clients, delete client):
the adapter (:class:`KeycloakPlatform`) under the reclamation service's clients step, for each
environment of one application (production and trial in the real realm ``gov``, test in ``gov-test``)."""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from orchestrator.adapters.platform import PAGE, KeycloakAdmin, KeycloakPlatform, PlatformError
from orchestrator.core import naming
from orchestrator.core.platform import AuthSettings
from orchestrator.core.reclaim import Step
from orchestrator.services.reclaim.dryrun import DryRun
from orchestrator.services.reclaim.steps import clients_step

ADMIN_ID, ADMIN_SECRET, TOKEN = "govcloud-reclaimer", "s3cret-admin", "tok-123"


@dataclass
class FakeKeycloak:
    """Realm -> internal id -> client representation; knobs to misbehave."""

    url: str = ""
    realms: dict[str, dict[str, dict]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    refuse_delete: set[str] = field(default_factory=set)
    """Internal ids whose DELETE answers 500."""
    pretend_delete: set[str] = field(default_factory=set)
    """Internal ids whose DELETE answers 204 and keeps the client (verification must notice)."""
    token_lifetime: int = 300
    """``expires_in`` of the tokens it issues."""

    def add(self, realm: str, client_id: str, labels: dict[str, str] | None = None) -> str:
        clients = self.realms.setdefault(realm, {})
        internal = f"uuid-{realm}-{len(clients)}"
        attributes = {f"govcloud:{k}": v for k, v in (labels or {}).items()}
        clients[internal] = {"id": internal, "clientId": client_id, "attributes": attributes}
        return internal


def labels(unit: str, app: str, env: str) -> dict[str, str]:
    return {"unit": unit, "app": app, "env": env, "digest": "sha256:" + "a" * 64}


@pytest.fixture
def keycloak() -> Iterator[FakeKeycloak]:
    fake = FakeKeycloak()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: object = None) -> None:
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorised(self) -> bool:
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._answer(401, {"error": "HTTP 401 Unauthorized"})
                return False
            return True

        def do_POST(self) -> None:
            fake.requests.append(f"POST {self.path}")
            form = urllib.parse.parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
            if self.path != "/realms/master/protocol/openid-connect/token":
                return self._answer(404)
            good = form == {
                "grant_type": ["client_credentials"],
                "client_id": [ADMIN_ID],
                "client_secret": [ADMIN_SECRET],
            }
            if good:
                self._answer(200, {"access_token": TOKEN, "expires_in": fake.token_lifetime})
            else:
                self._answer(401, {"error": "invalid_client"})

        def do_GET(self) -> None:
            fake.requests.append(f"GET {self.path}")
            if not self._authorised():
                return
            url = urllib.parse.urlsplit(self.path)
            parts = url.path.split("/")  # ['', 'admin', 'realms', realm, 'clients']
            if len(parts) != 5 or parts[:3] != ["", "admin", "realms"] or parts[4] != "clients":
                return self._answer(404)
            if parts[3] not in fake.realms:
                return self._answer(404, {"error": "Realm not found."})
            q = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
            found = [
                c
                for c in fake.realms[parts[3]].values()
                if (q.get("search") == "true" and q["clientId"].lower() in c["clientId"].lower())
                or c["clientId"] == q.get("clientId")
            ]
            first, most = int(q.get("first", 0)), int(q.get("max", 100))
            self._answer(200, found[first : first + most])

        def do_DELETE(self) -> None:
            fake.requests.append(f"DELETE {self.path}")
            if not self._authorised():
                return
            parts = self.path.split("/")  # ['', 'admin', 'realms', realm, 'clients', id]
            realm, internal = parts[3], parts[5]
            if internal in fake.refuse_delete:
                return self._answer(500, {"error": "boom"})
            if internal not in fake.realms.get(realm, {}):
                return self._answer(404, {"error": "Could not find client"})
            if internal not in fake.pretend_delete:
                del fake.realms[realm][internal]
            self._answer(204)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()


def admin(fake: FakeKeycloak, secret: str = ADMIN_SECRET) -> KeycloakAdmin:
    return KeycloakAdmin(url=fake.url, client_id=ADMIN_ID, client_secret=secret)


def populate(fake: FakeKeycloak) -> dict[str, str]:
    """zwb/citizen-portal in both realms, plus look-alikes that are not ours."""
    return {
        "test": fake.add("gov-test", "zwb-citizen-portal-test", labels("zwb", "citizen-portal", "test")),
        "trial": fake.add("gov", "zwb-citizen-portal-trial", labels("zwb", "citizen-portal", "trial")),
        "production": fake.add("gov", "zwb-citizen-portal-production", labels("zwb", "citizen-portal", "production")),
        # another application whose id extends ours: same prefix, not ours
        "v2": fake.add("gov", "zwb-citizen-portal-v2-trial", labels("zwb", "citizen-portal-v2", "trial")),
        # our client id, registered by hand without labels: a person decides
        "manual": fake.add("gov-test", "zwb-citizen-portal-test", {}),
        "other": fake.add("gov", "sjj-open-data-trial", labels("sjj", "open-data", "trial")),
    }


def remaining_ids(fake: FakeKeycloak) -> set[str]:
    return {i for clients in fake.realms.values() for i in clients}


def reclaim(fake: FakeKeycloak, dry_run: bool = False, secret: str = ADMIN_SECRET) -> dict[str, Step]:
    """The clients step of every environment of zwb/citizen-portal, realms ``gov`` and ``gov-test``."""
    platform = KeycloakPlatform(admin(fake, secret), AuthSettings("gov", "gov-test"))
    if not dry_run:
        return {env: clients_step(platform, env, "zwb", "citizen-portal") for env in ("production", "trial", "test")}
    view = DryRun(platform=platform)  # the dry run: the same step over a view that only notes deletions
    return {
        env: view.planned(clients_step(view.platform, env, "zwb", "citizen-portal"))
        for env in ("production", "trial", "test")
    }


def test_dry_run_decides_and_deletes_nothing(keycloak: FakeKeycloak) -> None:
    ids = populate(keycloak)
    steps = reclaim(keycloak, dry_run=True)
    assert {env: [p["id"] for p in s.plan] for env, s in steps.items()} == {
        "production": [f"gov/{ids['production']}"],
        "trial": [f"gov/{ids['trial']}"],
        "test": [f"gov-test/{ids['test']}"],
    }
    assert {env: [f["id"] for f in s.foreign] for env, s in steps.items()} == {
        "production": [f"gov/{ids['v2']}"],
        "trial": [f"gov/{ids['v2']}"],
        "test": [f"gov-test/{ids['manual']}"],
    }
    assert all(s.status == "planned" and not s.failures for s in steps.values())
    assert remaining_ids(keycloak) == set(ids.values())
    assert not [r for r in keycloak.requests if r.startswith("DELETE")]


def test_reclaim_deletes_ours_in_every_realm_and_verifies(keycloak: FakeKeycloak) -> None:
    ids = populate(keycloak)
    steps = reclaim(keycloak)
    assert all(s.status == "done" and not s.failures and s.deleted == {"auth_client": 1} for s in steps.values())
    assert steps["test"].detail.endswith("removed zwb-citizen-portal-test")
    assert remaining_ids(keycloak) == {ids["v2"], ids["manual"], ids["other"]}
    deletes = [r for r in keycloak.requests if r.startswith("DELETE")]
    assert sorted(deletes) == sorted(
        [
            f"DELETE /admin/realms/gov-test/clients/{ids['test']}",
            f"DELETE /admin/realms/gov/clients/{ids['trial']}",
            f"DELETE /admin/realms/gov/clients/{ids['production']}",
        ]
    )
    removed = {s.detail.rpartition("removed ")[2] for s in steps.values()}
    assert removed == naming.client_ids("zwb", "citizen-portal")  # every environment's client, each in its realm
    gets = [r for r in keycloak.requests if r.startswith("GET")]
    assert all("clientId=zwb-citizen-portal-" in g and "search=true" in g for g in gets)
    # each environment's realm listed once to decide and once to verify: the real realm serves two
    assert Counter(g.split("/")[3] for g in gets) == {"gov": 4, "gov-test": 2}
    tokens = [r for r in keycloak.requests if r.startswith("POST")]
    assert tokens == ["POST /realms/master/protocol/openid-connect/token"]  # one, while it lives
    assert json.loads(json.dumps(steps["test"].as_dict()))["status"] == "done"


def test_a_client_that_survives_deletion_is_reported(keycloak: FakeKeycloak) -> None:
    ids = populate(keycloak)
    keycloak.pretend_delete.add(ids["trial"])
    steps = reclaim(keycloak)
    assert steps["trial"].status == "failed"
    assert [(f.id, f.error) for f in steps["trial"].failures] == [
        (f"gov/{ids['trial']}", "still there after its deletion")
    ]
    assert steps["production"].status == steps["test"].status == "done"


def test_a_failed_deletion_is_recorded_and_the_run_goes_on(keycloak: FakeKeycloak) -> None:
    ids = populate(keycloak)
    keycloak.refuse_delete.add(ids["test"])
    steps = reclaim(keycloak)
    failed = steps["test"].failures
    assert steps["test"].status == "failed" and steps["test"].deleted == {}
    assert [(f.id, f.name) for f in failed] == [
        (f"gov-test/{ids['test']}", "zwb-citizen-portal-test")
    ] * 2  # refused, then still listed
    assert "500" in failed[0].error and failed[1].error == "still there after its deletion"
    assert steps["production"].status == steps["trial"].status == "done"
    assert remaining_ids(keycloak) == {ids["test"], ids["v2"], ids["manual"], ids["other"]}


def test_listing_pages_through_many_clients(keycloak: FakeKeycloak) -> None:
    for n in range(PAGE + 5):
        keycloak.add("gov", f"zwb-citizen-portal-x{n}", {})
    found = list(admin(keycloak).clients("gov", "zwb-citizen-portal-"))
    assert len(found) == PAGE + 5
    assert sum(r.startswith("GET") for r in keycloak.requests) == 2


def test_a_token_is_fetched_again_before_it_expires(keycloak: FakeKeycloak, mocker) -> None:
    keycloak.realms["gov"] = {}
    client = admin(keycloak)
    list(client.clients("gov", "zwb-"))
    list(client.clients("gov", "zwb-"))
    assert sum(r.startswith("POST") for r in keycloak.requests) == 1
    later = mocker.patch("orchestrator.adapters.platform.time.monotonic", return_value=10**9)
    list(client.clients("gov", "zwb-"))
    assert later.called and sum(r.startswith("POST") for r in keycloak.requests) == 2


def test_deleting_a_missing_client_is_fine_unless_asked(keycloak: FakeKeycloak) -> None:
    keycloak.realms["gov"] = {}
    client = admin(keycloak)
    client.delete_client("gov", "nope")
    with pytest.raises(PlatformError, match="404") as raised:
        client.delete_client("gov", "nope", ignore_missing=False)
    assert raised.value.status == 404 and raised.value.exit_code == 3


def test_wrong_credentials_fail_without_the_secret(keycloak: FakeKeycloak) -> None:
    populate(keycloak)
    steps = reclaim(keycloak, secret="wrong-secret")
    assert all(s.status == "failed" and "401" in s.failures[0].error for s in steps.values())
    assert "wrong-secret" not in json.dumps([s.as_dict() for s in steps.values()])
    assert "wrong-secret" not in repr(KeycloakPlatform(admin(keycloak, "wrong-secret"), AuthSettings()))


def test_unreachable_platform() -> None:
    client = KeycloakAdmin(url="http://127.0.0.1:9", client_id=ADMIN_ID, client_secret=ADMIN_SECRET, timeout=2)
    with pytest.raises(PlatformError, match="unreachable"):
        list(client.clients("gov", "x-"))


def test_from_environ_names_what_is_missing() -> None:
    with pytest.raises(PlatformError, match="KEYCLOAK_URL, KEYCLOAK_CLIENT_SECRET"):
        KeycloakAdmin.from_environ({"KEYCLOAK_CLIENT_ID": "x"})
    built = KeycloakAdmin.from_environ(
        {
            "KEYCLOAK_URL": "https://sso",
            "KEYCLOAK_CLIENT_ID": "x",
            "KEYCLOAK_CLIENT_SECRET": "y",
            "KEYCLOAK_BASE_PATH": "/auth",
        }
    )
    assert (built.url, built.realm, built.base_path) == ("https://sso", "master", "/auth")
