"""The portal in-process (FastAPI's TestClient) over a fresh ledger on SQLite and on PostgreSQL,
with real tokens of a loopback platform (tests/auth) verified exactly as the CLI verifies them."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from orchestrator.portal.app import create_app
from orchestrator.portal.config import PortalConfig
from orchestrator.settings import load_settings
from tests.auth.conftest import platform  # noqa: F401 (the loopback platform fixture)
from tests.lifecycle.conftest import EXAMPLES, database_url, postgres_url, variant  # noqa: F401

KEY = "k" * 40


@pytest.fixture
def oidc_app(platform, database_url):  # noqa: F811
    """The production portal (``auth: oidc``) over a fresh ledger; ``(client, platform)``."""
    config = PortalConfig(
        platform.settings, KEY, client_secret="unused", database_url=database_url, secure_cookies=False
    )
    with TestClient(create_app(config)) as client:
        yield client


@pytest.fixture
def dev_app(database_url, tmp_path):  # noqa: F811
    """The development portal (``auth: local``, --dev-insecure-local-auth) over a fresh ledger."""
    settings = load_settings()
    config = PortalConfig(settings, KEY, dev_local=True, database_url=database_url, secure_cookies=False)
    with TestClient(create_app(config)) as client:
        yield client


class Tokens:
    """Bearer headers for the platform's people: the unit rsj, zwb, the office and the provider."""

    def __init__(self, platform) -> None:  # noqa: F811
        self.platform = platform

    def __call__(self, role: str = "govcloud-egov", unit: str | None = "egov", name: str = "wang", **claims) -> dict:
        token = self.platform.token([role], preferred_username=name, unit=unit, **claims)
        return {"Authorization": f"Bearer {token}"}

    @property
    def rsj(self) -> dict:
        return self("govcloud-unit", "rsj", "zhaogang")

    @property
    def zwb(self) -> dict:
        return self("govcloud-unit", "zwb", "liming")

    @property
    def office(self) -> dict:
        return self("govcloud-egov", "egov", "zhang")

    @property
    def provider(self) -> dict:
        return self("govcloud-provider", None, "ops")


@pytest.fixture
def tokens(platform) -> Tokens:  # noqa: F811
    return Tokens(platform)


def upload(path) -> dict:
    return {"manifest": (path.name, path.read_bytes(), "application/yaml")}


def recorded(database_url, until: str = "trial", manifest=EXAMPLES / "social-security.yaml", then=None):  # noqa: F811
    """social-security through the service, as the CLI records it: submitted, accepted, reviewed,
    test approved and provisioned, and (``until="trial"``) tested, trial approved and provisioned;
    ``then(service)`` after that. Returns the submitted digest."""
    from orchestrator.adapters.ledger import Ledger
    from orchestrator.core.lifecycle import EGOV, PROVIDER, UNIT, Actor
    from orchestrator.services.lifecycle import Lifecycle
    from orchestrator.services.lifecycle import beijing_now as now

    office, ops = Actor("zhang", EGOV, "egov"), Actor("ops", PROVIDER)
    ledger = Ledger.open(database_url)
    try:
        service = Lifecycle(ledger)
        digest = service.submit(manifest, Actor("zhaogang", UNIT, "rsj"), now()).digest
        service.accept("social-security", office, now())
        service.review("social-security", "ok", office, now())
        service.approve("social-security", "test", office, now())
        service.record_provisioned("social-security", "test", ops, now())
        if until == "trial":
            service.test_passed("social-security", "report", office, now())
            service.approve("social-security", "trial", office, now())
            service.record_provisioned("social-security", "trial", ops, now())
        if then is not None:
            then(service)
        return digest
    finally:
        ledger.close()
