"""Fixtures: the ledger on SQLite and PostgreSQL (from tests/lifecycle), notice settings for tests."""

from __future__ import annotations

from tests.lifecycle.conftest import database_url, ledger, postgres_url, service  # noqa: F401
