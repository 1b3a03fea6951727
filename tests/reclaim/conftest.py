"""Fixtures: a ledger with social-security terminated and approved, and the fakes."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.adapters.ledger import Ledger
from orchestrator.core.lifecycle import EGOV, PROVIDER, UNIT, Actor
from orchestrator.services.lifecycle import Lifecycle
from orchestrator.services.reclaim import Reclaimer

from . import fakes
from .fakes import FakeCloud, FakeKeycloakAdmin, FakeStacks

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "manifests"
CLERK, CHIEF = Actor("zhang", EGOV, "egov"), Actor("chen", EGOV, "egov")
OPS, OPS2 = Actor("ops", PROVIDER), Actor("wang", PROVIDER)
SOCIAL = Actor("zhaogang", UNIT, "rsj")
PERMIT = Actor("wu", UNIT, "zjj")
APPROVED_AT = dt.datetime(2026, 6, 5, 9, 0)  # a Friday: due Wed 10 Jun (3 working days)


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def to_testing(
    service: Lifecycle,
    path: Path = EXAMPLES / "social-security.yaml",
    app: str = "social-security",
    unit: Actor = SOCIAL,
) -> None:
    """The test environment provisioned Sat 28 Feb 10:00: it expires Sun 15 Mar 10:00."""
    service.submit(path, unit, at("2026-02-12T10:00"))
    service.accept(app, CLERK, at("2026-02-24T09:00"))
    service.review(app, "complete", CLERK, at("2026-02-26T15:00"))
    service.approve(app, "test", CHIEF, at("2026-02-27T09:00"))
    service.record_provisioned(app, "test", OPS, at("2026-02-28T10:00"))


def to_termination_requested(
    service: Lifecycle,
    path: Path = EXAMPLES / "social-security.yaml",
    app: str = "social-security",
    unit: Actor = SOCIAL,
) -> None:
    to_testing(service, path, app, unit)
    service.terminate(app, unit, at("2026-06-01T09:00"), reason="replaced")


def two_testing(service: Lifecycle) -> None:
    """social-security's test environment expires 15 Mar; permit-prototype's, extended, 20 Mar."""
    to_testing(service)
    to_testing(service, EXAMPLES / "permit-prototype.yaml", "permit-prototype", PERMIT)
    service.extend("permit-prototype", 5, "load test", CHIEF, at("2026-03-02T09:00"))


def to_termination_approved(
    service: Lifecycle,
    path: Path = EXAMPLES / "social-security.yaml",
    app: str = "social-security",
    unit: Actor = SOCIAL,
) -> None:
    to_termination_requested(service, path, app, unit)
    service.confirm_backup(app, "archive B-2026-06", unit, at("2026-06-02T09:00"))
    service.approve_termination(app, CHIEF, APPROVED_AT)


def _ledger_file(directory: Path, build) -> Path:
    path = directory / "ledger.db"
    ledger = Ledger.open(f"sqlite:///{path}")
    build(Lifecycle(ledger))
    ledger.close()
    return path


@pytest.fixture(scope="session")
def ledger_files(tmp_path_factory) -> dict[str, Path]:
    """Ledger files built once per session (manifests are validated once): copied by each test."""
    return {
        "requested": _ledger_file(tmp_path_factory.mktemp("requested"), to_termination_requested),
        "approved": _ledger_file(tmp_path_factory.mktemp("approved"), to_termination_approved),
        "testing": _ledger_file(tmp_path_factory.mktemp("testing"), two_testing),
    }


def _opened_copy(source: Path, tmp_path: Path) -> Iterator[Ledger]:
    """A ledger opened on a copy of ``source`` for one test, closed after it."""
    target = tmp_path / f"{source.parent.name}.db"  # two ledgers in one test do not meet
    shutil.copy(source, target)
    ledger = Ledger.open(f"sqlite:///{target}")
    yield ledger
    ledger.close()


@pytest.fixture
def ledger(ledger_files, tmp_path):
    yield from _opened_copy(ledger_files["approved"], tmp_path)


@pytest.fixture
def requested_ledger(ledger_files, tmp_path):
    yield from _opened_copy(ledger_files["requested"], tmp_path)


@pytest.fixture
def testing_ledger(ledger_files, tmp_path):
    yield from _opened_copy(ledger_files["testing"], tmp_path)


@pytest.fixture
def unit_app(tmp_path, ledger) -> tuple[str, str]:
    """A uniquely named unit and application, terminated and approved in the ledger (tests on
    shared outside systems: the local OpenStack, the local Keycloak)."""
    import uuid

    unit, app = f"u{uuid.uuid4().hex[:7]}", f"ra-{uuid.uuid4().hex[:8]}"
    text = (EXAMPLES / "social-security.yaml").read_text(encoding="utf-8")
    text = text.replace("id: social-security", f"id: {app}", 1).replace("    id: rsj\n", f"    id: {unit}\n", 1)
    path = tmp_path / f"{app}.yaml"
    path.write_text(text, encoding="utf-8")
    to_termination_approved(Lifecycle(ledger), path, app, Actor("owner", UNIT, unit))
    return unit, app


@pytest.fixture
def approved(ledger) -> Lifecycle:
    return Lifecycle(ledger)


@pytest.fixture
def cloud() -> FakeCloud:
    return FakeCloud()


@pytest.fixture
def stacks() -> FakeStacks:
    return FakeStacks()


@pytest.fixture
def keycloak() -> FakeKeycloakAdmin:
    """The platform holding the application's test client (the environment the ledger approved)."""
    admin = FakeKeycloakAdmin()
    admin.add("government-test", f"{fakes.UNIT}-{fakes.APP}-test", dict(fakes.OURS))
    return admin


@pytest.fixture
def platform(keycloak):
    from orchestrator.adapters.platform import KeycloakPlatform
    from orchestrator.core.platform import AuthSettings

    return KeycloakPlatform(keycloak, AuthSettings("government"))


@pytest.fixture(autouse=True)
def no_platform_in_the_environment(monkeypatch):
    """Tests choose their platform: none leaks in from the shell running them."""
    for var in (
        "GOVCLOUD_AUTH_REALM",
        "GOVCLOUD_AUTH_TEST_REALM",
        "GOVCLOUD_AUTH_PLATFORM",
        "GOVCLOUD_PROVIDER_OPS_GROUP",
        "KEYCLOAK_URL",
        "KEYCLOAK_BASE_PATH",
        "KEYCLOAK_REALM",
        "KEYCLOAK_CLIENT_ID",
        "KEYCLOAK_CLIENT_SECRET",
    ):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def reclaimer(approved, ledger, cloud, stacks, platform):
    """A factory of reclaimers over the same ledger and fakes (one per operator or run)."""

    def make(actor: Actor = OPS, when: str = "2026-06-08T10:00", **kw) -> Reclaimer:
        kw.setdefault("workers", 4)
        kw.setdefault("platform", platform)
        return Reclaimer(approved, ledger, cloud, stacks, actor, clock=lambda: at(when), **kw)

    return make
