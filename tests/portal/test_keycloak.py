"""The portal on the real Keycloak (make cloud-up): bearer tokens of the platform through the API,
a forged session refused. They fail, not skip, without Keycloak (the browser's sign-in: test_browser)."""

from __future__ import annotations

import httpx
import pytest

from tests.platform.conftest import id_token, keycloak  # noqa: F401 (the real platform's fixtures)

from .conftest import EXAMPLES
from .live import live_portal  # noqa: F401

pytestmark = pytest.mark.cloud


def test_bearer_id_tokens_of_the_platform_act_through_the_api(live_portal, id_token):  # noqa: F811
    base = live_portal.url + "/api/v1"
    unit = {"Authorization": f"Bearer {id_token('zwb-admin')}"}
    office = {"Authorization": f"Bearer {id_token('egov-reviewer')}"}
    manifest = (EXAMPLES / "citizen-portal.yaml").read_bytes()
    submitted = httpx.post(f"{base}/applications", headers=unit, files={"manifest": ("cp.yaml", manifest)})
    assert submitted.status_code == 201, submitted.text
    assert (submitted.json()["actor"], submitted.json()["actor_source"]) == ("zwb-admin", "oidc")
    assert httpx.post(f"{base}/applications/citizen-portal/accept", headers=unit).status_code == 403
    accepted = httpx.post(f"{base}/applications/citizen-portal/accept", headers=office)
    assert accepted.status_code == 200 and accepted.json()["actor_role"] == "egov-office"
    tampered = id_token("egov-reviewer")[:-4] + "AAAA"
    refused = httpx.post(
        f"{base}/applications/citizen-portal/review",
        json={"opinion": "x"},
        headers={"Authorization": f"Bearer {tampered}"},
    )
    assert refused.status_code == 401
    history = httpx.get(f"{base}/applications/citizen-portal/history", headers=office).json()
    assert [e["type"] for e in history] == ["submitted", "accepted"]


def test_a_forged_session_cookie_is_not_believed(live_portal):  # noqa: F811 (the fixture from .live)
    with httpx.Client(cookies={"govcloud_session": "eyJhY3RvciI6IHsibmFtZSI6ICJ4In19.forged.sig"}) as client:
        assert client.get(live_portal.url + "/queue").headers["location"] == "/login"
