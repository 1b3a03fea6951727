"""``GOVCLOUD_DATABASE_URL``: what is not a ledger database is refused before anything is recorded
(exit 2), and a database that does not answer fails in bounded time (exit 3) naming the host, never
the password. Before, garbage, an unknown driver or a bad port were tracebacks, an in-memory SQLite
answered "submitted" and lost the record, and a server that never answered hung every command."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
import time

import pytest
import sqlalchemy as sa

from orchestrator.adapters import ledger as ledger_module
from orchestrator.adapters.ledger import Ledger, ledger_url
from orchestrator.errors import ExternalError, UsageError
from tests.conftest import EXAMPLES, ROOT

MANIFEST = str(EXAMPLES / "social-security.yaml")
UNIT = ["--as", "zhaogang", "--role", "unit", "--unit", "rsj"]


@pytest.mark.parametrize(
    "url, words",
    [
        ("garbage", "is not a database URL"),
        ("postgresql://u:secret@127.0.0.1:notaport/db", "is not a database URL"),
        ("postgresql://u:secret@127.0.0.1:99999/db", "port 99999 is not 1-65535"),
        ("postgresql://u:secret@127.0.0.1:0/db", "port 0 is not 1-65535"),
        ("mysql://u:secret@db.example/ledger", "unsupported database 'mysql'"),
        ("oracle://u:secret@db.example/ledger", "unsupported database 'oracle'"),
        ("postgresql+asyncpg://u:secret@db.example/ledger", "unsupported database 'postgresql+asyncpg'"),
        ("sqlite://", "in-memory SQLite"),
        ("sqlite:///:memory:", "in-memory SQLite"),
        ("sqlite:///file::memory:?uri=true", "in-memory SQLite"),
        ("sqlite:///file:ledger?mode=memory&uri=true", "in-memory SQLite"),
    ],
)
def test_what_is_not_a_ledger_database_is_a_usage_error(run_cli, monkeypatch, url, words):
    monkeypatch.setenv("GOVCLOUD_DATABASE_URL", url)
    result = run_cli("app", "submit", MANIFEST, *UNIT)
    assert result.exit_code == 2, result.output
    assert words in result.stderr and "Traceback" not in result.output
    assert "secret" not in result.output
    with pytest.raises(UsageError, match=re.escape(words)):
        ledger_url(url)


def test_an_in_memory_ledger_never_answers_submitted(run_cli, monkeypatch):
    monkeypatch.setenv("GOVCLOUD_DATABASE_URL", "sqlite://")
    result = run_cli("app", "submit", MANIFEST, *UNIT, "-o", "json")
    assert result.exit_code == 2 and result.stdout == ""


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u@h/db",
        "postgres://u@h:5433/db",
        "postgresql+psycopg://u@h/db",
        "sqlite:////var/lib/govcloud/ledger.db",
        "sqlite:///relative/ledger.db",
        "sqlite+pysqlite:////tmp/ledger.db",
    ],
)
def test_supported_urls_pass(url):
    assert ledger_url(url).get_backend_name() in ("postgresql", "sqlite")


@pytest.fixture
def silent_server():
    """A TCP server on 127.0.0.1 that accepts every connection and never says a word."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(5)
    for conn in held:
        conn.close()
    server.close()


def test_a_server_that_never_answers_fails_in_bounded_time(silent_server, monkeypatch):
    monkeypatch.setattr(ledger_module, "CONNECT_TIMEOUT", 2)  # the default is 10 s; the same code path
    started = time.monotonic()
    with pytest.raises(ExternalError) as failed:
        Ledger.open(f"postgresql://govcloud:s3cret-pw@127.0.0.1:{silent_server}/ledger")
    assert time.monotonic() - started < 15
    message = str(failed.value)
    assert failed.value.exit_code == 3 and f"127.0.0.1:{silent_server}/ledger" in message
    assert "timeout" in message and "s3cret-pw" not in message


def test_the_cli_does_not_hang_on_a_silent_server(silent_server):
    """The whole command, as a process, with the URL's own connect_timeout (libpq's keyword)."""
    url = f"postgresql://govcloud:s3cret-pw@127.0.0.1:{silent_server}/ledger?connect_timeout=2"
    entry = "import sys; sys.argv[0] = 'govcloud'; from orchestrator.cli import main; main()"
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", entry, "app", "status", "social-security"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "GOVCLOUD_DATABASE_URL": url, "GOVCLOUD_CONFIG": str(ROOT / "govcloud.yaml")},
    )
    assert time.monotonic() - started < 30
    assert done.returncode == 3, done.stderr
    assert done.stderr.startswith(f"error: ledger database at 127.0.0.1:{silent_server}/ledger: ")
    assert "s3cret-pw" not in done.stderr and "Traceback" not in done.stderr


def test_postgres_sessions_carry_the_statement_timeout(postgres_url):
    ledger = Ledger.open(postgres_url)
    try:
        with ledger.engine.connect() as conn:
            assert (
                conn.execute(sa.text("SHOW statement_timeout")).scalar()
                == f"{ledger_module.STATEMENT_TIMEOUT // 60}min"
            )
    finally:
        ledger.close()
