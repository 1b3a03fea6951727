"""The portal served for real (uvicorn on a free loopback port, in a thread) against the local
Keycloak, with the portal's client registered there for that port (toolchain/keycloak/keycloak.py)."""

from __future__ import annotations

import importlib.util
import socket
import threading
import time
from pathlib import Path

import pytest
import uvicorn

from orchestrator.adapters.platform import KeycloakAdmin
from orchestrator.portal.app import create_app
from orchestrator.portal.config import PortalConfig
from orchestrator.settings import OidcSettings, Settings

ROOT = Path(__file__).resolve().parents[2]
ROLE_MAP = {"govcloud-egov": "egov-office", "govcloud-provider": "provider", "govcloud-unit": "unit"}
CLIENT = "govcloud-portal-test"


def _setup_script():
    spec = importlib.util.spec_from_file_location("keycloak_setup", ROOT / "toolchain" / "keycloak" / "keycloak.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def register_client(admin: KeycloakAdmin, realm: str, base: str) -> tuple[str, str]:
    """The test portal's client in ``realm``, sending the browser back to ``base``: (internal id, secret)."""
    wanted = _setup_script().portal_client((base,), CLIENT)
    found = admin.find_client(realm, CLIENT)
    if found is None:
        found = admin.create_client(realm, wanted)
    else:
        admin.update_client(realm, found["id"], {k: v for k, v in wanted.items() if k != "protocolMappers"})
    return found["id"], admin.get_client_secret(realm, found["id"])


class Live:
    def __init__(self, url: str, config: PortalConfig) -> None:
        self.url, self.config = url, config


@pytest.fixture
def live_portal(keycloak, tmp_path):
    """A running portal (``auth: oidc`` on the real platform) over a fresh SQLite ledger."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    settings = Settings(
        auth="oidc",
        oidc=OidcSettings(
            issuer=keycloak["KEYCLOAK_ISSUER"], audience=keycloak["KEYCLOAK_CLI_CLIENT_ID"], role_map=ROLE_MAP
        ),
    )
    admin, realm = KeycloakAdmin.from_environ(keycloak), keycloak["KEYCLOAK_AUTH_REALM"]
    client_id, secret = register_client(admin, realm, base)
    config = PortalConfig(
        settings,
        "s" * 40,
        client_id=CLIENT,
        client_secret=secret,
        database_url=f"sqlite:///{tmp_path / 'ledger.db'}",
        secure_cookies=False,
    )
    server = uvicorn.Server(uvicorn.Config(create_app(config), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail(f"the portal did not start on {base}")
        time.sleep(0.05)
    yield Live(base, config)
    server.should_exit = True
    thread.join(10)
    admin.delete_client(realm, client_id)  # the platform as it was found
