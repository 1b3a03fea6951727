"""Fixtures: the lifecycle's ledgers (SQLite and PostgreSQL) and social-security live in test and trial."""

from __future__ import annotations

import pytest

from orchestrator.adapters.backuplog import BackupLog
from orchestrator.adapters.cloud.backups import Source
from orchestrator.core.backups import CONTAINER, DATABASE, VOLUME
from orchestrator.services.lifecycle import Lifecycle
from tests.lifecycle.conftest import database_url, ledger, postgres_url, service  # noqa: F401 (fixtures)
from tests.lifecycle.test_timelines import to_trial

from .fakes import FakeCloud, FakeProject

SOURCES = [
    Source(DATABASE, "db-1", "social-security-db"),
    Source(VOLUME, "vol-1", "social-security-data"),
    Source(CONTAINER, "social-security-files", "social-security-files"),
]


@pytest.fixture
def live(service: Lifecycle) -> Lifecycle:  # noqa: F811
    """social-security live in test and trial (trial opened Thu 12 Mar 2026)."""
    to_trial(service)
    return service


@pytest.fixture
def cloud() -> FakeCloud:
    return FakeCloud(
        {
            f"rsj-social-security-{env}": FakeProject(f"rsj-social-security-{env}", list(SOURCES))
            for env in ("test", "trial", "production")
        }
    )


@pytest.fixture
def site() -> FakeCloud:
    """The backup site of ``offsite: true`` (``govcloud.yaml`` ``backups.site: backup-site``)."""
    return FakeCloud({}, name="backup-site")


@pytest.fixture
def log(ledger) -> BackupLog:  # noqa: F811
    return BackupLog(ledger.engine)
