"""How the ledger uses its PostgreSQL connections: reads in autocommit (one round trip, statements
kept prepared), writes in real transactions, a pool a portal worker does not churn, and a
connection the server dropped while idle replaced before use."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from psycopg.pq import TransactionStatus

from orchestrator.adapters import ledger as ledger_module
from orchestrator.adapters.ledger import Ledger
from orchestrator.adapters.ledgerbase import reading
from orchestrator.errors import ExternalError


@pytest.fixture
def pg(postgres_url):
    ledger = Ledger.open(postgres_url)
    yield ledger
    ledger.close()


def _status(conn: sa.Connection) -> TransactionStatus:
    return conn.connection.dbapi_connection.info.transaction_status


def test_a_read_holds_no_transaction_and_keeps_its_prepared_statement(pg):
    with reading(pg.engine) as conn:
        for _ in range(6):  # psycopg prepares a statement on its fifth run
            conn.execute(sa.text("SELECT count(*) FROM events WHERE application = :a"), {"a": "x"})
        assert _status(conn) == TransactionStatus.IDLE  # no BEGIN was sent
        backend = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar()
    with reading(pg.engine) as conn:  # the same pooled connection: nothing rolled back, nothing forgotten
        assert conn.execute(sa.text("SELECT pg_backend_pid()")).scalar() == backend
        prepared = conn.execute(
            sa.text("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE 'SELECT count(*) FROM events%'")
        ).scalar()
    assert prepared == 1


def test_a_write_after_a_read_on_the_same_connection_is_still_one_transaction(pg):
    with reading(pg.engine) as conn:
        conn.execute(sa.text("SELECT 1"))
    with pytest.raises(RuntimeError), pg.engine.begin() as conn:
        assert _status(conn) in (TransactionStatus.IDLE, TransactionStatus.INTRANS)
        conn.execute(sa.text("INSERT INTO leases (name, holder, expires) VALUES ('t', 'me', now())"))
        assert _status(conn) == TransactionStatus.INTRANS
        raise RuntimeError("fails half-way")
    with reading(pg.engine) as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM leases WHERE name = 't'")).scalar() == 0


def test_busy_threads_reuse_the_pooled_connections(pg):
    """Ten threads reading at once (a portal worker with ten clients) open ten sessions, not one per
    burst: SQLAlchemy's default pool kept five and closed every connection beyond them after use."""

    def sessions() -> int:
        with reading(pg.engine) as conn:
            return conn.execute(
                sa.text("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
            ).scalar()

    pg.engine.dispose()
    before = sessions()
    barrier = threading.Barrier(ledger_module.POOL_SIZE)

    def reader() -> None:
        for _ in range(20):
            barrier.wait()
            pg.events("nothing-here")

    threads = [threading.Thread(target=reader) for _ in range(ledger_module.POOL_SIZE)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sessions() - before <= ledger_module.POOL_SIZE


def _kill_pooled_connection(pg: Ledger) -> None:
    with reading(pg.engine) as conn:
        backend = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar()
    killer = sa.create_engine(pg.engine.url, isolation_level="AUTOCOMMIT")
    with killer.connect() as conn:
        assert conn.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": backend}).scalar()
    killer.dispose()


def test_a_connection_dropped_while_idle_is_replaced_before_use(pg, monkeypatch):
    monkeypatch.setattr(ledger_module, "PING_AFTER_IDLE", 0)
    _kill_pooled_connection(pg)
    assert pg.events("nothing-here") == []


def test_a_connection_in_steady_use_is_not_pinged(pg, monkeypatch):
    """The ping is what replaced the dropped connection above: without it (a connection used within
    PING_AFTER_IDLE) the read fails once, as an outside system's failure, and the next one works."""
    monkeypatch.setattr(ledger_module, "PING_AFTER_IDLE", 3600)
    _kill_pooled_connection(pg)
    with pytest.raises(ExternalError):
        pg.events("nothing-here")
    assert pg.events("nothing-here") == []
