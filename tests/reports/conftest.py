"""A ledger replayed through the Lifecycle service with stated times (April 2026), a fake cloud.

Timelines (Beijing time; April 2026: Qingming holiday on Mon 6 April, no make-up day):

- social-security (rsj): submitted 12 Feb, test expired 15 Mar, trial 12 Mar, production 13 Apr;
  a minor change (backup schedule) requested Mon 20 Apr, approved Thu 23 Apr, applied Fri 24 Apr.
- citizen-portal (zwb): submitted Wed 1 Apr, accepted Tue 7 Apr (due 7 Apr), reviewed Mon 13 Apr
  (due Thu 9 Apr), test ready Thu 16 Apr (due Wed 15 Apr).
- permit-prototype (zjj): tested in March (expired 20 Mar); termination requested Mon 20 Apr,
  approved Wed 22 Apr (due Mon 27 Apr), reclaimed Tue 28 Apr (due Mon 27 Apr).
- open-data (sjj): submitted Fri 24 Apr, not accepted by the month's end (due Wed 29 Apr).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from orchestrator.adapters.ledger import Ledger
from orchestrator.core.capacity import Measure
from orchestrator.core.lifecycle import EGOV, PROVIDER, UNIT, Actor
from orchestrator.core.quota import load_policy
from orchestrator.core.usage import GIB, ContainerUsage, ProjectUsage, ServerUsage, VolumeUsage
from orchestrator.services.lifecycle import Lifecycle
from tests.reclaim.fakes import reclaimer

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "manifests"
ARTIFACTS = ROOT / "artifacts"

CLERK = Actor("zhang", EGOV, "egov")
CHIEF = Actor("chen", EGOV, "egov")
OPS = Actor("ops", PROVIDER)
SOCIAL = Actor("zhaogang", UNIT, "rsj")
PORTAL = Actor("liming", UNIT, "zwb")
PERMIT = Actor("wu", UNIT, "zjj")
DATA = Actor("sun", UNIT, "sjj")


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def replay(service: Lifecycle, tmp_path: Path) -> None:
    """The four timelines above."""
    s = service
    s.submit(EXAMPLES / "social-security.yaml", SOCIAL, at("2026-02-12T10:00"))
    s.accept("social-security", CLERK, at("2026-02-24T09:00"))
    s.review("social-security", "complete; resources reasonable", CLERK, at("2026-02-26T15:00"))
    s.approve("social-security", "test", CHIEF, at("2026-02-27T09:00"))
    s.record_provisioned("social-security", "test", OPS, at("2026-02-28T10:00"))
    s.submit(EXAMPLES / "permit-prototype.yaml", PERMIT, at("2026-03-02T09:00"))
    s.accept("permit-prototype", CLERK, at("2026-03-03T09:00"))
    s.review("permit-prototype", "complete", CLERK, at("2026-03-04T10:00"))
    s.approve("permit-prototype", "test", CHIEF, at("2026-03-04T11:00"))
    s.record_provisioned("permit-prototype", "test", OPS, at("2026-03-05T10:00"))
    s.test_passed("social-security", "report T-26-031", CLERK, at("2026-03-10T09:00"))
    s.approve("social-security", "trial", CHIEF, at("2026-03-11T09:00"))
    s.record_provisioned("social-security", "trial", OPS, at("2026-03-12T10:00"))
    reclaimer(s, s.store, OPS).expire(at("2026-03-15T10:00"))  # nothing left in the fake cloud
    reclaimer(s, s.store, OPS).expire(at("2026-03-20T10:00"))

    s.submit(EXAMPLES / "citizen-portal.yaml", PORTAL, at("2026-04-01T09:00"))
    s.accept("citizen-portal", CLERK, at("2026-04-07T10:00"))
    s.approve("social-security", "production", CHIEF, at("2026-04-11T10:00"))
    s.review("citizen-portal", "complete", CLERK, at("2026-04-13T10:00"))
    s.record_provisioned("social-security", "production", OPS, at("2026-04-13T10:00"))
    s.approve("citizen-portal", "test", CHIEF, at("2026-04-14T10:00"))
    s.record_provisioned("citizen-portal", "test", OPS, at("2026-04-16T10:00"))

    changed = tmp_path / "social-security-v2.yaml"
    changed.write_text(
        (EXAMPLES / "social-security.yaml")
        .read_text(encoding="utf-8")
        .replace('schedule: "0 1 * * *"', 'schedule: "0 2 * * *"'),
        encoding="utf-8",
    )
    s.change("social-security", changed, SOCIAL, at("2026-04-20T09:00"))
    s.terminate("permit-prototype", PERMIT, at("2026-04-20T09:00"), reason="replaced by the city permit system")
    s.confirm_backup("permit-prototype", "export B-26-114 verified", PERMIT, at("2026-04-21T09:00"))
    s.approve_termination("permit-prototype", CLERK, at("2026-04-22T10:00"))
    s.approve_change("social-security", CLERK, at("2026-04-23T10:00"))
    s.record_provisioned("social-security", "trial", OPS, at("2026-04-24T10:00"))
    s.record_provisioned("social-security", "production", OPS, at("2026-04-24T11:00"))
    s.submit(EXAMPLES / "open-data-platform.yaml", DATA, at("2026-04-24T09:00"))
    s.record_reclaimed("permit-prototype", OPS, at("2026-04-28T10:00"))
    # May: outside the April report
    s.accept("open-data", CLERK, at("2026-05-06T09:00"))


@pytest.fixture(scope="module")
def ledger(tmp_path_factory):
    """The replayed ledger, shared by a module's tests (they only read it)."""
    tmp_path = tmp_path_factory.mktemp("ledger")
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'ledger.db'}")
    replay(Lifecycle(ledger), tmp_path)
    yield ledger
    ledger.close()


@pytest.fixture(scope="session")
def policy():
    return load_policy(ROOT / "quotas" / "policy.yaml")


def _servers(*rows: tuple[str, str, str, int, int]) -> tuple[ServerUsage, ...]:
    return tuple(ServerUsage(name, status, at(since), vcpu, ram) for name, status, since, vcpu, ram in rows)


#: What the fake cloud reports per project (projects it does not list use nothing).
USAGE = {
    "rsj-social-security-production": ProjectUsage(
        "rsj-social-security-production",
        servers=_servers(
            ("social-security-gateway-1", "ACTIVE", "2026-04-13T10:00", 2, 4),
            ("social-security-gateway-2", "ACTIVE", "2026-04-13T10:00", 2, 4),
            ("social-security-app-1", "ACTIVE", "2026-04-13T10:00", 8, 16),
            ("social-security-app-2", "ACTIVE", "2026-04-13T10:00", 8, 16),
            ("social-security-app-3", "ACTIVE", "2026-04-13T10:00", 8, 16),
            ("social-security-app-4", "SHUTOFF", "2026-03-20T12:00", 8, 16),
        ),
        volumes=(
            *(
                VolumeUsage(f"social-security-app-{i}-{v}", size, True, at("2026-04-13T10:00"))
                for i in (1, 2, 3)
                for v, size in (("data", 200), ("logs", 100))
            ),
            VolumeUsage("social-security-archive", 1000, True, at("2026-04-13T10:00")),
            VolumeUsage("social-security-app-4-data", 200, False, at("2026-03-20T12:00")),
            VolumeUsage("social-security-app-4-logs", 100, False, at("2026-04-10T12:00")),
        ),
        containers=(
            ContainerUsage("social-security-scans", 1200, 500 * GIB),
            ContainerUsage("social-security-tmp", 0, 0),
        ),
    ),
    "rsj-social-security-trial": ProjectUsage(
        "rsj-social-security-trial",
        servers=_servers(
            ("social-security-gateway-1", "ACTIVE", "2026-03-12T10:00", 2, 4),
            ("social-security-gateway-2", "SHUTOFF", "2026-04-25T18:00", 2, 4),
            ("social-security-app-1", "SHUTOFF", "2026-04-25T18:00", 8, 16),
            ("social-security-app-2", "SHUTOFF", "2026-04-25T18:00", 8, 16),
        ),
        volumes=(
            *(
                VolumeUsage(f"social-security-app-{i}-{v}", size, True, at("2026-03-12T10:00"))
                for i in (1, 2)
                for v, size in (("data", 200), ("logs", 100))
            ),
            VolumeUsage("social-security-archive", 1000, True, at("2026-03-12T10:00")),
        ),
        containers=(ContainerUsage("social-security-scans", 10, 1 * GIB),),
    ),
    "zwb-citizen-portal-test": ProjectUsage(
        "zwb-citizen-portal-test",
        servers=_servers(("citizen-portal-web-1", "ACTIVE", "2026-04-16T10:00", 1, 2)),
        volumes=(VolumeUsage("citizen-portal-web-1-data", 40, True, at("2026-04-16T10:00")),),
    ),
}
CAPACITY = [
    Measure("compute vcpu", 75, 100, "vCPU", "placement"),
    Measure("compute ram", 40960, 102400, "MB", "placement"),
    Measure("block storage", None, None, "GB", "cinder pools"),
]


@pytest.fixture
def cloud(mocker):
    """A fake of the cloud adapter's report functions (``project_usage``, ``capacity``)."""
    from orchestrator.adapters.cloud import Cloud

    fake = mocker.create_autospec(Cloud, instance=True)
    fake.name = "changsha-test"
    fake.project_usage.side_effect = lambda project: USAGE.get(project, ProjectUsage(project))
    fake.capacity.return_value = list(CAPACITY)
    return fake
