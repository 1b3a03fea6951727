"""The notice outbox in the ledger database: ``notices`` (one row per notice and recipient, unique
by fingerprint) and ``notice_attempts`` (every delivery attempt).

A notice is inserted with ``ON CONFLICT DO NOTHING`` on its fingerprint, in the transaction of
the event that causes it (:meth:`orchestrator.adapters.ledger.Ledger.append`) or by a scan
(:meth:`Outbox.enqueue`). Delivery claims rows with one conditional ``UPDATE`` (pending and due,
or ``sending`` under an expired claim), so two runs never hold the same notice; an attempt is
committed before the message leaves and finished after, so a run killed in between leaves the
notice ``sending`` with an unfinished attempt, and the next run after the claim expires sends it
again.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Mapped, mapped_column

from orchestrator.adapters.ledgerbase import JSON, Base, _converted, reading
from orchestrator.core import notices as nt

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class NoticeRow(Base):
    __tablename__ = "notices"
    __table_args__ = (
        sa.UniqueConstraint("fingerprint", name="uq_notices_fingerprint"),
        sa.Index("ix_notices_status", "status", "next_attempt"),
        sa.Index("ix_notices_application", "application"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(sa.String(64))
    kind: Mapped[str] = mapped_column(sa.String(40))
    topic: Mapped[str] = mapped_column(sa.String(64))
    application: Mapped[str] = mapped_column(sa.String(64))
    unit: Mapped[str] = mapped_column(sa.String(64))
    environment: Mapped[str | None] = mapped_column(sa.String(64))
    due: Mapped[dt.date]
    notify_on: Mapped[dt.date]
    recipient: Mapped[str] = mapped_column(sa.String(320))
    payload: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(sa.String(10))
    attempts: Mapped[int]
    next_attempt: Mapped[dt.datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(sa.String(64))
    claimed_until: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime]
    sent_at: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(sa.Text)


class AttemptRow(Base):
    __tablename__ = "notice_attempts"
    __table_args__ = (
        sa.Index("ix_notice_attempts_notice", "notice_id"),
        sa.Index("ix_notice_attempts_channel", "channel", "started_at"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    notice_id: Mapped[int] = mapped_column(_ID, sa.ForeignKey("notices.id", ondelete="CASCADE"))
    message: Mapped[str] = mapped_column(sa.String(64))  #: the digest message the notice went in
    channel: Mapped[str] = mapped_column(sa.String(320))
    started_at: Mapped[dt.datetime]
    finished_at: Mapped[dt.datetime | None]
    outcome: Mapped[str | None] = mapped_column(sa.String(10))  #: sent, retry, failed; None: unknown
    code: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(sa.Text)


# the Core tables (typed as tables, which __table__ is not), for bulk statements
N, A = Base.metadata.tables[NoticeRow.__tablename__], Base.metadata.tables[AttemptRow.__tablename__]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def insert(conn: sa.Connection, addressed: Iterable[nt.Addressed], now: dt.datetime) -> int:
    """Queue each addressed notice unless its fingerprint is queued already; how many were new.

    Fingerprints already queued are skipped by one read (a rescan finds mostly those); the rest
    are inserted with ``ON CONFLICT DO NOTHING``, so a concurrent scan's rows are never doubled,
    and counted by ``RETURNING``. PostgreSQL gets each as one statement over arrays in binary
    (:func:`_insert_arrays`)."""
    rows = {a.fingerprint: a for a in addressed}
    if not rows:
        return 0
    if conn.dialect.name == "postgresql":
        return _insert_arrays(conn, rows, now)
    names = list(rows)
    for start in range(0, len(names), 1000):
        chunk = names[start : start + 1000]
        for known in conn.execute(sa.select(N.c.fingerprint).where(N.c.fingerprint.in_(chunk))).scalars():
            del rows[known]
    if not rows:
        return 0
    statement = sqlite.insert(N).on_conflict_do_nothing(index_elements=["fingerprint"]).returning(N.c.id)
    return len(conn.execute(statement, [_row(f, a, now) for f, a in rows.items()]).all())


_ARRAYS = {
    "fingerprint": "text",
    "kind": "text",
    "topic": "text",
    "application": "text",
    "unit": "text",
    "environment": "text",
    "due": "date",
    "notify_on": "date",
    "recipient": "text",
    "payload": "text",
}
_KNOWN = "SELECT fingerprint FROM notices WHERE fingerprint = ANY(%(fingerprint)b::text[])"
_UNNEST = (
    f"INSERT INTO notices ({', '.join(_ARRAYS)}, status, attempts, created_at)"  # noqa: S608 (names from _ARRAYS; values bound)
    f" SELECT {', '.join(c + '::jsonb' if c == 'payload' else c for c in _ARRAYS)},"
    " %(status)b::text, 0, %(created_at)b::timestamp FROM unnest("
    + ", ".join(f"%({c})b::{t}[]" for c, t in _ARRAYS.items())
    + f") AS new({', '.join(_ARRAYS)}) ON CONFLICT (fingerprint) DO NOTHING RETURNING id"
)


def _insert_arrays(conn: sa.Connection, rows: dict[str, nt.Addressed], now: dt.datetime) -> int:
    """Two round trips for any number of rows: which fingerprints are known, then one ``INSERT ...
    SELECT FROM unnest(arrays)`` of the rest. The arrays go in binary (psycopg escapes every element
    of a text-format array with a regular expression: 40,000 rows took 4 s to dump, 0.3 s now),
    each notice's payload serialised once for all its recipients."""
    for known in conn.exec_driver_sql(_KNOWN, {"fingerprint": list(rows)}).scalars():
        del rows[known]
    if not rows:
        return 0
    arrays: dict[str, list] = {c: [] for c in _ARRAYS}
    payloads: dict[int, str] = {}
    for fingerprint, a in rows.items():
        n = a.notice
        if id(n) not in payloads:
            payloads[id(n)] = json.dumps(dict(n.payload))
        for column, value in zip(
            _ARRAYS,
            (
                fingerprint,
                n.kind,
                n.topic,
                n.application,
                n.unit,
                n.environment,
                n.due,
                n.notify_on or n.due,
                a.recipient,
                payloads[id(n)],
            ),
            strict=True,
        ):
            arrays[column].append(value)
    return len(conn.exec_driver_sql(_UNNEST, arrays | {"status": nt.PENDING, "created_at": now}).all())


def _row(fingerprint: str, a: nt.Addressed, now: dt.datetime) -> dict:
    n = a.notice
    return dict(
        fingerprint=fingerprint,
        kind=n.kind,
        topic=n.topic,
        application=n.application,
        unit=n.unit,
        environment=n.environment,
        due=n.due,
        notify_on=n.notify_on or n.due,
        recipient=a.recipient,
        payload=dict(n.payload),
        status=nt.PENDING,
        attempts=0,
        created_at=now,
    )


class Outbox:
    """The outbox of one ledger database (``Outbox(ledger.engine)``)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def enqueue(self, addressed: Iterable[nt.Addressed], now: dt.datetime | None = None) -> int:
        """Queue notices found by a scan; those queued before are left as they are. Returns how many were new."""
        with _converted(), self.engine.begin() as conn:
            return insert(conn, addressed, now or utcnow())

    def due(self, now: dt.datetime) -> list[nt.Queued]:
        """What a run at ``now`` would claim, claiming nothing (``notify --dry-run``)."""
        return self._select(_claimable(now))

    def claim(self, run: str, now: dt.datetime, ttl: dt.timedelta) -> list[nt.Queued]:
        """Take every notice due at ``now`` for run ``run`` until ``now + ttl``: pending ones whose
        next attempt has come, and ``sending`` ones whose claim expired (a run that died)."""
        with _converted(), self.engine.begin() as conn:
            conn.execute(
                sa.update(N).where(_claimable(now)).values(status=nt.SENDING, claimed_by=run, claimed_until=now + ttl)
            )
        return self._select(sa.and_(N.c.claimed_by == run, N.c.status == nt.SENDING))

    def release(self, ids: Sequence[int], run: str, next_attempt: dt.datetime | None = None) -> None:
        """Give claimed notices back untried (a rate limit), to be taken from ``next_attempt`` on."""
        with _converted(), self.engine.begin() as conn:
            conn.execute(
                sa.update(N)
                .where(N.c.id.in_(ids), N.c.claimed_by == run)
                .values(status=nt.PENDING, claimed_by=None, claimed_until=None, next_attempt=next_attempt)
            )

    def start(
        self,
        ids: Sequence[int],
        run: str,
        message: str,
        channel: str,
        now: dt.datetime,
        ttl: dt.timedelta | None = None,
    ) -> bool:
        """Record an attempt before the message leaves (committed: a crash after it is visible),
        renewing the run's claim by ``ttl``. False, recording nothing, when the run no longer
        holds every one of ``ids`` (it outlasted its claim and another run took some over)."""
        with _converted(), self.engine.connect() as conn, conn.begin() as transaction:
            values: dict = {"attempts": N.c.attempts + 1}
            if ttl is not None:
                values["claimed_until"] = now + ttl
            held = conn.execute(
                sa.update(N)
                .where(N.c.id.in_(ids), N.c.claimed_by == run, N.c.status == nt.SENDING)
                .values(**values)
                .returning(N.c.id)
            ).all()
            if len(held) != len(ids):
                transaction.rollback()
                return False
            conn.execute(
                sa.insert(A), [dict(notice_id=i, message=message, channel=channel, started_at=now) for i in ids]
            )
        return True

    def finish(
        self,
        ids: Sequence[int],
        run: str,
        message: str,
        outcome: str,
        now: dt.datetime,
        *,
        code: int | None = None,
        error: str | None = None,
        next_attempt: dt.datetime | None = None,
        max_attempts: int = 6,
        settle: bool = True,
    ) -> None:
        """Record how the attempt ended and, when ``settle``, move the notices on: ``sent``;
        ``retry`` (pending again from ``next_attempt``, or failed once ``max_attempts`` are spent);
        ``failed``. Without ``settle`` the run keeps its claim (it will try again at once)."""
        error = error[:2000] if error else None
        with _converted(), self.engine.begin() as conn:
            conn.execute(
                sa.update(A)
                .where(A.c.notice_id.in_(ids), A.c.message == message, A.c.outcome.is_(None))
                .values(finished_at=now, outcome=outcome, code=code, error=error)
            )
            if not settle:
                return
            mine = sa.and_(N.c.id.in_(ids), N.c.claimed_by == run)
            done = dict(claimed_by=None, claimed_until=None)
            if outcome == "sent":
                conn.execute(sa.update(N).where(mine).values(status=nt.SENT, sent_at=now, last_error=None, **done))
            elif outcome == "retry":
                spent = N.c.attempts >= max_attempts
                conn.execute(
                    sa.update(N)
                    .where(mine)
                    .values(
                        status=sa.case((spent, nt.FAILED), else_=nt.PENDING),
                        next_attempt=sa.case((spent, sa.null()), else_=sa.literal(next_attempt, sa.DateTime())),
                        last_error=error,
                        **done,
                    )
                )
            else:
                conn.execute(sa.update(N).where(mine).values(status=nt.FAILED, last_error=error, **done))

    def messages_since(self, channel: str, since: dt.datetime) -> int:
        """Messages sent (or tried: each try counts) on ``channel`` since ``since``: what a rate limit counts."""
        tries = (
            sa.select(A.c.message, A.c.started_at)
            .distinct()
            .where(A.c.channel == channel, A.c.started_at >= since)
            .subquery()
        )
        with _converted(), reading(self.engine) as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(tries)).scalar() or 0)

    def listing(self, status: str | None = None, application: str | None = None, limit: int = 1000) -> list[nt.Queued]:
        """Notices, newest first, by status and application."""
        where: sa.ColumnElement[bool] = sa.true()
        if status is not None:
            where = sa.and_(where, N.c.status == status)
        if application is not None:
            where = sa.and_(where, N.c.application == application)
        return self._select(where, newest_first=True, limit=limit)

    def counts(self) -> dict[str, int]:
        """How many notices are in each state."""
        with _converted(), reading(self.engine) as conn:
            rows = conn.execute(sa.select(N.c.status, sa.func.count()).group_by(N.c.status)).all()
        return {status: 0 for status in (nt.PENDING, nt.SENDING, nt.SENT, nt.FAILED)} | dict(rows)

    def attempts(self, notice_id: int) -> list[dict]:
        """The attempts of one notice, in order."""
        query = sa.select(A).where(A.c.notice_id == notice_id).order_by(A.c.id)
        with _converted(), reading(self.engine) as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def _select(self, where, newest_first: bool = False, limit: int | None = None) -> list[nt.Queued]:
        query = sa.select(N).where(where).order_by(N.c.id.desc() if newest_first else N.c.id)
        if limit is not None:
            query = query.limit(limit)
        with _converted(), reading(self.engine) as conn:
            return [_queued(r) for r in conn.execute(query)]


def _claimable(now: dt.datetime):
    waiting = sa.and_(N.c.status == nt.PENDING, sa.or_(N.c.next_attempt.is_(None), N.c.next_attempt <= now))
    abandoned = sa.and_(N.c.status == nt.SENDING, N.c.claimed_until < now)
    return sa.or_(waiting, abandoned)


def _queued(row) -> nt.Queued:
    r = row._mapping
    return nt.Queued(
        id=r["id"],
        fingerprint=r["fingerprint"],
        kind=r["kind"],
        topic=r["topic"],
        application=r["application"],
        unit=r["unit"],
        environment=r["environment"],
        due=r["due"],
        recipient=r["recipient"],
        payload=r["payload"] or {},
        status=r["status"],
        attempts=r["attempts"],
        created_at=r["created_at"],
        sent_at=r["sent_at"],
        next_attempt=r["next_attempt"],
        last_error=r["last_error"],
    )
