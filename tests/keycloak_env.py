"""The local Keycloak's connection file, written by ``make cloud-up`` (docs/testing.md):
``$GOVCLOUD_TEST_KEYCLOAK_ENV``, default ``.cache/keycloak/keycloak.env`` of this checkout."""

from __future__ import annotations

import json
import os
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

ENV_FILE = Path(
    os.environ.get("GOVCLOUD_TEST_KEYCLOAK_ENV")
    or Path(__file__).resolve().parents[1] / ".cache" / "keycloak" / "keycloak.env"
)


def load(path: Path = ENV_FILE) -> dict[str, str]:
    """Its ``KEY=value`` lines (``#`` comments and blank lines skipped); the test fails, never
    skips, when the file is missing."""
    if not path.is_file():
        pytest.fail(
            f"{path} is missing: start Keycloak with `make cloud-up` (or toolchain/keycloak/up.sh), "
            "or point GOVCLOUD_TEST_KEYCLOAK_ENV at its connection file"
        )
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if line.strip() and not line.startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


def id_token(env: dict[str, str], username: str) -> str:
    """A real ID token of the test user ``username`` (``KEYCLOAK_TEST_USERS``): the password grant on
    the CLI's public client, scope openid, in the realm of ``KEYCLOAK_ISSUER``."""
    form = {
        "grant_type": "password",
        "client_id": env["KEYCLOAK_CLI_CLIENT_ID"],
        "scope": "openid",
        "username": username,
        "password": env["KEYCLOAK_TEST_PASSWORD"],
    }
    request = urllib.request.Request(
        env["KEYCLOAK_ISSUER"] + "/protocol/openid-connect/token",
        data=urllib.parse.urlencode(form).encode(),
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())["id_token"]
