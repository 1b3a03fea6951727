"""Fixtures: the ledger on SQLite and PostgreSQL (from tests/lifecycle), notice settings for tests."""

from __future__ import annotations

import pytest

from tests.lifecycle.conftest import database_url, ledger, postgres_url, service  # noqa: F401

from . import servers


@pytest.fixture
def receiver(monkeypatch):
    """The HTTP receiver of robot messages on 127.0.0.1, its addresses in the environment."""
    receiver = servers.Receiver().start()
    for name, value in servers.environment(receiver).items():
        monkeypatch.setenv(name, value)
    yield receiver
    receiver.stop()
