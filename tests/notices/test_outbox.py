"""The outbox on SQLite and PostgreSQL: written with the event, unique by fingerprint, claimed once."""

from __future__ import annotations

import datetime as dt
import multiprocessing

import pytest
import sqlalchemy as sa

from orchestrator.adapters.ledger import EventRow, Ledger, bulk_rows
from orchestrator.adapters.outbox import Outbox
from orchestrator.core import lifecycle as lc
from orchestrator.core import notices as nt
from orchestrator.errors import ConflictError
from orchestrator.services.lifecycle import Lifecycle
from orchestrator.services.notices import Notices
from orchestrator.settings_notices import NoticeSettings
from tests.lifecycle.conftest import CHIEF, CLERK, EXAMPLES, SOCIAL, at, variant

SETTINGS = NoticeSettings.model_validate(
    {
        "office": ["robot:office"],
        "provider": ["robot:ops"],
        "units": {"rsj": ["robot:rsj"], "zwb": ["robot:zwb"]},
        "email": {"host": "127.0.0.1", "from": "govcloud@example.gov.cn", "security": "none"},
        "robots": {
            name: {"type": "webhook", "url": "http://127.0.0.1:9/x", "secretEnv": "S"}
            for name in ("office", "ops", "rsj", "zwb")
        },
    }
)
SOCIAL_EMAILS = ["email:zhaogang@rsj.example.gov.cn", "email:sunli@rsj.example.gov.cn"]


def rows(ledger: Ledger) -> list[tuple]:
    return [
        (q.kind, q.topic, q.application, q.due, q.recipient, q.status)
        for q in reversed(Outbox(ledger.engine).listing())
    ]


@pytest.fixture
def notified(ledger) -> Lifecycle:
    return Lifecycle(ledger, directory=SETTINGS.directory())


def test_head_and_tables(ledger):
    with ledger.engine.connect() as conn:
        assert {"notices", "notice_attempts"} <= set(sa.inspect(conn).get_table_names())
        uniques = sa.inspect(conn).get_unique_constraints("notices")
    assert [u["column_names"] for u in uniques] == [["fingerprint"]]


def test_an_event_queues_its_notices_in_its_own_transaction(notified, ledger):
    notified.submit(EXAMPLES / "social-security.yaml", SOCIAL, at("2026-02-12T10:00"))
    assert rows(ledger) == [
        ("request", "submitted", "social-security", dt.date(2026, 2, 12), "robot:office", "pending")
    ]
    notified.accept("social-security", CLERK, at("2026-02-24T09:00"))
    assert [r[4] for r in rows(ledger)[1:]] == ["robot:rsj", *(e for e in SOCIAL_EMAILS)]
    # a write that loses its race leaves neither the event nor its notices
    stale = lc.fold(ledger.events("social-security")[:1])
    event = lc.decide(stale, "rejected", CHIEF, at("2026-02-24T10:00"), reason="late")
    before = rows(ledger)
    with pytest.raises(ConflictError):
        notified._append(stale, event)
    assert rows(ledger) == before
    plain = Lifecycle(ledger)  # no notices configured (the repository's govcloud.yaml)
    assert plain.directory.empty
    plain.review("social-security", "ok", CLERK, at("2026-02-25T09:00"))
    assert rows(ledger) == before


def test_scans_queue_each_notice_once(notified, ledger, tmp_path):
    notified.submit(EXAMPLES / "social-security.yaml", SOCIAL, at("2026-02-12T10:00"))
    notified.submit(EXAMPLES / "citizen-portal.yaml", lc.Actor("liming", lc.UNIT, "zwb"), at("2026-02-12T11:00"))
    notices = Notices(ledger, SETTINGS)
    assert notices.scan(at("2026-02-13T09:00")) == {"found": 0, "queued": 0}
    assert notices.scan(at("2026-02-14T09:00")) == {"found": 2, "queued": 2}  # the office, a working day ahead
    assert notices.scan(at("2026-02-20T09:00")) == {"found": 2, "queued": 0}
    assert notices.scan(at("2026-02-25T09:00")) == {"found": 2, "queued": 7}  # missed: office, unit, contacts (2 + 1)
    missed = [r[4] for r in rows(ledger) if r[0] == "deadline-missed" and r[2] == "social-security"]
    assert missed == ["robot:office", "robot:rsj", *SOCIAL_EMAILS]
    assert notices.scan(at("2026-02-26T09:00"))["queued"] == 0


def test_contacts_come_from_the_latest_manifest_on_record(ledger):
    def event(app: str, sequence: int, kind: str, contacts) -> lc.Event:
        manifest = {"metadata": {"id": app, "contacts": contacts}}
        return lc.Event(
            app,
            sequence,
            kind,
            "u",
            lc.UNIT,
            at("2026-02-12T10:00"),
            actor_unit="rsj",
            payload={"unit": "rsj", "manifest": manifest},
        )

    first, later = [{"name": "a", "email": "a@x"}], [{"name": "b", "email": "b@x"}, {"name": "c"}]
    events = [
        event("one", 1, "submitted", first),
        event("one", 2, "change-requested", later),
        event("one", 3, "accepted", "not a manifest's"),
        event("two", 1, "submitted", "junk"),
        event("three", 1, "submitted", first),
    ]
    with ledger.engine.begin() as conn:
        conn.execute(sa.insert(EventRow), list(bulk_rows(events, dt.datetime(2026, 2, 12, 2, 0))))
    found = ledger.contacts(["one", "two", "nobody"])
    assert found == {"one": later, "two": "junk"}
    assert {app: nt.emails(c) for app, c in found.items()} == {"one": ["b@x"], "two": []}


def _scan(url: str, barrier, results) -> None:
    ledger = Ledger.open(url)
    try:
        notices = Notices(ledger, SETTINGS)
        barrier.wait(timeout=60)
        results.put(notices.scan(at("2026-02-25T09:00"))["queued"])
    finally:
        ledger.close()


def test_two_processes_scanning_at_once_queue_each_notice_once(notified, ledger, database_url, tmp_path):
    for i in range(30):
        path = variant(tmp_path, f"s{i}", ("id: social-security", f"id: social-{i}"))
        notified.submit(path, SOCIAL, at("2026-02-12T10:00"))
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    workers = [ctx.Process(target=_scan, args=(database_url, barrier, results)) for _ in range(2)]
    for w in workers:
        w.start()
    queued = [results.get(timeout=120) for _ in workers]
    for w in workers:
        w.join(timeout=60)
        assert w.exitcode == 0
    assert sum(queued) == 30 * 4  # office, unit robot, two contacts
    with ledger.engine.connect() as conn:
        assert conn.execute(
            sa.text("SELECT count(DISTINCT fingerprint), count(*) FROM notices WHERE kind = 'deadline-missed'")
        ).one() == (120, 120)


def test_claims_are_exclusive_and_expire(ledger):
    outbox = Outbox(ledger.engine)
    notice = nt.Notice("capacity", "", "", dt.date(2026, 5, 6), ("provider",), topic="compute vcpu")
    assert outbox.enqueue([nt.Addressed(notice, "robot:ops"), nt.Addressed(notice, "robot:office")]) == 2
    assert outbox.enqueue([nt.Addressed(notice, "robot:ops")]) == 0
    now, ttl = dt.datetime(2026, 5, 6, 1, 0), dt.timedelta(minutes=5)
    first = outbox.claim("run-a", now, ttl)
    assert [q.recipient for q in first] == ["robot:ops", "robot:office"]
    assert outbox.claim("run-b", now + dt.timedelta(minutes=1), ttl) == []
    ids = [first[0].id]
    outbox.start(ids, "run-a", "m1", "robot:ops", now)
    outbox.finish(ids, "run-a", "m1", "sent", now)
    # run-a died holding the second: after its claim expires another run takes it
    again = outbox.claim("run-b", now + dt.timedelta(minutes=6), ttl)
    assert [q.recipient for q in again] == ["robot:office"]
    assert not outbox.start([again[0].id], "run-a", "m9", "robot:office", now)  # run-a lost it: sends nothing
    outbox.start([again[0].id], "run-b", "m2", "robot:office", now)
    outbox.finish(
        [again[0].id],
        "run-b",
        "m2",
        "retry",
        now,
        code=503,
        error="busy",
        next_attempt=now + dt.timedelta(minutes=10),
        max_attempts=2,
    )
    assert outbox.claim("run-c", now + dt.timedelta(minutes=9), ttl) == []
    (retried,) = outbox.claim("run-c", now + dt.timedelta(minutes=10), ttl)
    outbox.start([retried.id], "run-c", "m3", "robot:office", now)
    outbox.finish([retried.id], "run-c", "m3", "retry", now, code=503, error="busy", max_attempts=2)
    assert outbox.counts() == {"pending": 0, "sending": 0, "sent": 1, "failed": 1}
    (failed,) = outbox.listing("failed")
    assert (failed.attempts, failed.last_error) == (2, "busy")
    assert [(a["message"], a["outcome"], a["code"]) for a in outbox.attempts(failed.id)] == [
        ("m2", "retry", 503),
        ("m3", "retry", 503),
    ]
    assert outbox.messages_since("robot:office", now - dt.timedelta(minutes=1)) == 2
