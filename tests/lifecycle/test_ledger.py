"""The ledger adapter: migrations, projection rebuild, leases, configuration."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from orchestrator.adapters import ledger as ledger_module
from orchestrator.adapters.ledger import Ledger
from orchestrator.services.lifecycle import project

from .conftest import CLERK, EXAMPLES, PORTAL, SOCIAL, at


def test_head_constant_matches_the_migration_scripts(ledger):
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", "orchestrator:migrations")
    assert ScriptDirectory.from_config(config).get_current_head() == ledger_module.HEAD
    with ledger.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == ledger_module.HEAD
        names = set(sa.inspect(conn).get_table_names())
    assert {"events", "applications", "leases", "ledger_version"} <= names


def test_projection_rebuilds_to_the_same_state(service, ledger):
    service.submit(EXAMPLES / "social-security.yaml", SOCIAL, at("2026-02-12T10:00"))
    service.accept("social-security", CLERK, at("2026-02-24T09:00"))
    service.submit(EXAMPLES / "citizen-portal.yaml", PORTAL, at("2026-02-25T09:00"))
    before = {s.application: s for s in ledger.states()}
    with ledger.engine.begin() as conn:
        conn.execute(sa.text("UPDATE applications SET state = 'garbage', next_due = NULL"))
    assert ledger.rebuild(project) == 2
    after = {s.application: s for s in ledger.states()}
    assert after == before and after["social-security"].state == "accepted"
    assert [s.application for s in ledger.states(due_before=dt.date(2026, 2, 27))] == ["social-security"]
    assert [s.application for s in ledger.states(unit="zwb")] == ["citizen-portal"]


def test_the_version_changes_with_every_write_and_only_then(service, ledger):
    first = ledger.version()
    assert first and ledger.version() == first  # reading changes nothing
    service.submit(EXAMPLES / "social-security.yaml", SOCIAL, at("2026-02-12T10:00"))
    submitted = ledger.version()
    list(ledger.states()), ledger.events("social-security")
    assert submitted not in (first, None) and ledger.version() == submitted
    service.accept("social-security", CLERK, at("2026-02-24T09:00"))
    accepted = ledger.version()
    assert accepted not in (first, submitted)
    ledger.rebuild(project)  # the projection rewritten (a damaged one repaired): what was read may differ
    assert ledger.version() not in (first, submitted, accepted)
    with ledger.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM ledger_version"))
    assert ledger.version() is None  # no version: a reader may keep nothing


def test_events_keep_stated_and_recorded_time_and_actor_source(service, ledger):
    service.submit(EXAMPLES / "citizen-portal.yaml", PORTAL, at("2025-12-01T10:00"))
    (event,) = ledger.events("citizen-portal")
    assert event.at == at("2025-12-01T10:00")
    assert event.recorded_at > dt.datetime(2026, 1, 1)
    assert (event.actor, event.actor_role, event.actor_unit, event.actor_source) == ("liming", "unit", "zwb", "local")


def test_leases(ledger):
    now = dt.datetime(2026, 5, 1, 9, 0)
    minute = dt.timedelta(minutes=1)
    assert ledger.acquire("reclaim", "worker-a", minute, now)
    assert not ledger.acquire("reclaim", "worker-b", minute, now)
    assert ledger.acquire("reclaim", "worker-a", minute, now + minute / 2)  # renewal
    assert ledger.acquire("reclaim", "worker-b", minute, now + 2 * minute)  # expired: reclaimed
    ledger.release("reclaim", "worker-a")  # not the holder: nothing happens
    assert not ledger.acquire("reclaim", "worker-a", minute, now + 2 * minute)
    ledger.release("reclaim", "worker-b")
    assert ledger.acquire("reclaim", "worker-a", minute, now + 2 * minute)


def test_default_database_is_a_file_under_govcloud_home(tmp_path, monkeypatch):
    monkeypatch.delenv("GOVCLOUD_DATABASE_URL", raising=False)
    monkeypatch.setenv("GOVCLOUD_HOME", str(tmp_path / "home"))
    assert ledger_module.database_url() == f"sqlite:///{tmp_path / 'home' / 'ledger.db'}"
    monkeypatch.delenv("GOVCLOUD_HOME")
    monkeypatch.chdir(tmp_path)
    assert ledger_module.database_url() == f"sqlite:///{tmp_path / '.govcloud' / 'ledger.db'}"
    monkeypatch.setenv("GOVCLOUD_DATABASE_URL", "postgresql://x@h/db")
    assert ledger_module.database_url() == "postgresql://x@h/db"


def test_unreachable_database_is_an_external_error():
    import pytest

    from orchestrator.errors import ExternalError

    with pytest.raises(ExternalError, match="ledger database"):
        Ledger.open("postgresql://nobody@127.0.0.1:1/none")


def test_histories_until_a_stated_time(service, ledger):
    service.submit(EXAMPLES / "social-security.yaml", SOCIAL, at("2026-02-12T10:00"))
    service.submit(EXAMPLES / "citizen-portal.yaml", PORTAL, at("2026-03-31T23:59"))
    service.accept("social-security", CLERK, at("2026-04-01T00:00"))
    everything = ledger.histories()
    assert {app: [e.type for e in events] for app, events in everything.items()} == {
        "citizen-portal": ["submitted"],
        "social-security": ["submitted", "accepted"],
    }
    march = ledger.histories(at("2026-04-01T00:00"))
    assert {app: [e.sequence for e in events] for app, events in march.items()} == {
        "citizen-portal": [1],
        "social-security": [1],
    }
    assert march["social-security"][0].payload["unit"] == "rsj"
