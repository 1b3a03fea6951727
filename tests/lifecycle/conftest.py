"""Fixtures: each lifecycle test runs on SQLite and on a real PostgreSQL server.

PostgreSQL comes from ``GOVCLOUD_TEST_POSTGRES_URL`` or, when unset, from ``scripts/test-postgres``
started once per session; when it cannot start the tests fail (never skip).
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from orchestrator.adapters.ledger import Ledger
from orchestrator.cli import cli
from orchestrator.core.lifecycle import EGOV, PROVIDER, UNIT, Actor
from orchestrator.services.lifecycle import Lifecycle

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "manifests"

CLERK = Actor("zhang", EGOV, "egov")  # the e-gov office's clerk
CHIEF = Actor("chen", EGOV, "egov")
OPS = Actor("ops", PROVIDER)
SOCIAL = Actor("zhaogang", UNIT, "rsj")  # unit of social-security
PORTAL = Actor("liming", UNIT, "zwb")  # unit of citizen-portal


@pytest.fixture(scope="session")
def postgres_url(worker_id: str) -> str:
    """A database of its own for each parallel test worker, on the server under test."""
    url = os.environ.get("GOVCLOUD_TEST_POSTGRES_URL")
    if not url:
        done = subprocess.run([str(ROOT / "scripts" / "test-postgres")], capture_output=True, text=True, timeout=300)
        if done.returncode != 0 or not done.stdout.strip():
            pytest.fail(f"PostgreSQL did not start (scripts/test-postgres): {done.stderr.strip()}", pytrace=False)
        url = done.stdout.strip().splitlines()[-1]
    base = sa.make_url(url)
    name = f"{base.database}_{worker_id}"
    engine = sa.create_engine(base.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if not conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first():
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path) -> str:
    """A fresh, empty ledger database on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    url = request.getfixturevalue("postgres_url")
    ledger = Ledger.open(url)
    with ledger.engine.begin() as conn:
        conn.execute(
            sa.text(
                "TRUNCATE events, applications, leases, notices, notice_attempts, drift_findings, drift_runs, "
                "backup_records"
            )
        )
        # a fresh ledger has a version of its own: the portal keeps its reads by the URL and the version
        conn.execute(sa.text("DELETE FROM ledger_version"))
        conn.execute(sa.text("INSERT INTO ledger_version (id, token) VALUES (1, :token)"), {"token": uuid.uuid4().hex})
    ledger.close()
    return url


@pytest.fixture
def ledger(database_url):
    ledger = Ledger.open(database_url)
    yield ledger
    ledger.close()


@pytest.fixture
def service(ledger) -> Lifecycle:
    return Lifecycle(ledger)


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def variant(tmp_path: Path, name: str, *replacements: tuple[str, str], source: str = "social-security") -> Path:
    """A copy of an example manifest with text replaced (each replacement must apply)."""
    text = (EXAMPLES / f"{source}.yaml").read_text(encoding="utf-8")
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


NEW_SELF_TEST = ("5b6c7d8e9f00112233445566778899aabbccddeeff0011223344556677889900", "f" * 64)


@pytest.fixture
def run(database_url, monkeypatch):
    """``govcloud`` in-process on this test's ledger, no actor from the environment; asserts the exit code."""
    monkeypatch.setenv("GOVCLOUD_DATABASE_URL", database_url)
    for name in ("GOVCLOUD_ACTOR", "GOVCLOUD_ROLE", "GOVCLOUD_UNIT"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()

    def invoke(*args: str, code: int = 0):
        result = runner.invoke(cli, list(args), catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result

    return invoke
