"""The local Keycloak started by ``make cloud-up`` (toolchain/keycloak/up.sh), as its connection file
describes it: ``GOVCLOUD_TEST_KEYCLOAK_ENV``, default ``.cache/keycloak/keycloak.env`` of the
repository. The tests fail, not skip, when it is missing or Keycloak does not answer."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from typing import Any

import pytest

from orchestrator.adapters.platform import KeycloakAdmin
from tests import keycloak_env

ENV_FILE = keycloak_env.ENV_FILE
#: govcloud.yaml's documented roleMap: the realm roles toolchain/keycloak/keycloak.py makes.
ROLE_MAP = {"govcloud-egov": "egov-office", "govcloud-provider": "provider", "govcloud-unit": "unit"}


def call(
    method: str, url: str, *, form: dict[str, str] | None = None, body: Any = None, token: str | None = None
) -> Any:
    """One HTTP request; the JSON answer or ``None``."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = None
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
    elif body is not None:
        data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
    with urllib.request.urlopen(
        urllib.request.Request(url, data=data, method=method, headers=headers), timeout=30
    ) as answer:
        raw = answer.read()
    return json.loads(raw) if raw else None


@pytest.fixture(scope="session")
def keycloak() -> dict[str, str]:
    """The connection file's variables, checked to reach a Keycloak that issues tokens."""
    env = keycloak_env.load()
    try:
        call("GET", env["KEYCLOAK_ISSUER"] + "/.well-known/openid-configuration")
    except OSError as exc:
        pytest.fail(f"Keycloak at {env['KEYCLOAK_URL']} (from {ENV_FILE}) does not answer: {exc}")
    return env


@pytest.fixture(scope="session")
def admin(keycloak) -> KeycloakAdmin:
    return KeycloakAdmin.from_environ(keycloak)


@pytest.fixture(scope="session")
def admin_token(keycloak) -> str:
    """The provisioner's service-account token, for the admin calls KeycloakAdmin does not make."""
    answer = call(
        "POST",
        f"{keycloak['KEYCLOAK_URL']}/realms/{keycloak['KEYCLOAK_REALM']}/protocol/openid-connect/token",
        form={
            "grant_type": "client_credentials",
            "client_id": keycloak["KEYCLOAK_CLIENT_ID"],
            "client_secret": keycloak["KEYCLOAK_CLIENT_SECRET"],
        },
    )
    return answer["access_token"]


@pytest.fixture(scope="session")
def id_token(keycloak):
    """``id_token(username)``: a real ID token for a test user (password grant on the CLI's client)."""

    def get(username: str) -> str:
        return keycloak_env.id_token(keycloak, username)

    return get
