"""Reclamation's platform step against the real Keycloak of the local test environment, found by
its connection file: ``GOVCLOUD_TEST_KEYCLOAK_ENV``, default ``.cache/keycloak/keycloak.env`` of
the repository (written by ``toolchain/keycloak/up.sh``). Fails, never skips, when it is missing.

A uniquely named application gets, through the admin REST API, its test client in the test realm
labelled as Pulumi's ``extra_config`` stores them, a client of another application whose id extends
ours, and a client with our trial id made by hand (no labels) in the real realm. ``govcloud
reclaim`` (the service, with the platform opened from the same variables ``govcloud up`` reads;
in-memory cloud and engine) must delete the first and leave and list the other two.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request

import pytest

from orchestrator.adapters.platform import KeycloakAdmin, PlatformError
from orchestrator.core import naming
from orchestrator.services.lifecycle import Lifecycle
from orchestrator.services.reclaim import Reclaimer, open_platform
from orchestrator.services.reclaim.dryrun import DryRun
from orchestrator.services.reclaim.steps import clients_step
from tests import keycloak_env

from .conftest import OPS, at
from .fakes import FakeCloud, FakeStacks

pytestmark = pytest.mark.cloud
ENV_FILE = keycloak_env.ENV_FILE


@pytest.fixture
def keycloak() -> dict[str, str]:
    """The connection file, as the variables ``govcloud up`` and ``govcloud reclaim`` read."""
    env = keycloak_env.load()
    env.setdefault("GOVCLOUD_AUTH_REALM", env.get("KEYCLOAK_AUTH_REALM", "government"))
    env.setdefault("GOVCLOUD_AUTH_TEST_REALM", env.get("KEYCLOAK_AUTH_TEST_REALM", "government-test"))
    try:
        list(KeycloakAdmin.from_environ(env).clients(env["GOVCLOUD_AUTH_TEST_REALM"], "govcloud-probe-"))
    except PlatformError as exc:
        pytest.fail(f"Keycloak from {ENV_FILE} does not serve govcloud's admin client: {exc}")
    return env


def create_client(admin: KeycloakAdmin, realm: str, client_id: str, labels: dict[str, str]) -> None:
    """One confidential OIDC client with ``labels`` as ``govcloud:<key>`` attributes (test set-up:
    the adapter only lists and deletes)."""
    body = {
        "clientId": client_id,
        "protocol": "openid-connect",
        "publicClient": False,
        "attributes": {naming.TAG_PREFIX + k: v for k, v in labels.items()},
    }
    request = urllib.request.Request(
        f"{admin._base()}/admin/realms/{urllib.parse.quote(realm, safe='')}/clients",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {admin._access_token()}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30):
        pass


@pytest.fixture
def clients(keycloak, unit_app):
    """Our test client, another application's look-alike and a hand-made one; all deleted afterwards."""
    unit, app = unit_app
    admin = KeycloakAdmin.from_environ(keycloak)
    real, test = keycloak["GOVCLOUD_AUTH_REALM"], keycloak["GOVCLOUD_AUTH_TEST_REALM"]
    ours = naming.client_id(unit, app, "test")
    create_client(admin, test, ours, {"unit": unit, "app": app, "env": "test", "digest": "sha256:0"})
    create_client(admin, test, f"{ours}-sso", {"unit": unit, "app": f"{app}-test-sso", "env": "test"})
    create_client(admin, real, naming.client_id(unit, app, "trial"), {})
    try:
        yield {"admin": admin, "unit": unit, "app": app, "realms": (real, test), "ours": ours}
    finally:
        for realm in (real, test):
            for client in admin.clients(realm, naming.client_prefix(unit, app)):
                admin.delete_client(realm, client.id)


def listed(c: dict) -> set[tuple[str, str]]:
    return {
        (x.realm, x.client_id)
        for realm in c["realms"]
        for x in c["admin"].clients(realm, naming.client_prefix(c["unit"], c["app"]))
    }


def test_reclaim_deletes_the_labelled_client_and_leaves_the_foreign_ones(keycloak, clients, ledger, monkeypatch):
    real, test = clients["realms"]
    unit, app, ours = clients["unit"], clients["app"], clients["ours"]
    for key, value in keycloak.items():
        monkeypatch.setenv(key, value)
    platform = open_platform()  # from the environment, as `govcloud reclaim` does
    view = DryRun(platform=platform)
    dry = view.planned(clients_step(view.platform, "test", unit, app))
    assert [p["name"] for p in dry.plan] == [ours] and [f["name"] for f in dry.foreign] == [f"{ours}-sso"]
    assert len(listed(clients)) == 3

    summary = Reclaimer(
        Lifecycle(ledger),
        ledger,
        FakeCloud(),
        FakeStacks(),
        OPS,
        platform=platform,
        clock=lambda: at("2026-06-08T10:00"),
    ).run(app)
    assert summary.failures == [] and summary.reclaimed
    assert listed(clients) == {(test, f"{ours}-sso"), (real, naming.client_id(unit, app, "trial"))}
    foreign = {f["name"]: f["environment"] for f in summary.foreign if f["kind"] == "auth_client"}
    assert foreign == {f"{ours}-sso": "test", naming.client_id(unit, app, "trial"): "production"}
    [step] = [s for s in summary.steps if s.step == "clients" and s.environment == "test"]
    assert step.deleted == {"auth_client": 1} and step.detail.endswith(f"removed {ours}")
