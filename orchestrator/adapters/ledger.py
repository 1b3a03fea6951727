"""The ledger: an append-only event store on SQLAlchemy 2 (SQLite file by default, PostgreSQL by URL).

- ``events``: the source of truth; unique (application, sequence) gives optimistic concurrency: the
  loser of a race gets :class:`ConflictError` ("changed meanwhile, retry").
- ``applications``: a projection (state, snapshot of the folded state, next due date), written in
  the same transaction as each append and rebuildable from the events (:meth:`Ledger.rebuild`).
- ``leases``: named, expiring locks for long-running jobs (reclaim, gitops, tick).
- ``notices``, ``notice_attempts``: the notice outbox (:mod:`orchestrator.adapters.outbox`); an
  event's notices are inserted in the transaction that appends it.

The schema is migrated with Alembic (``orchestrator/migrations``) when the ledger opens, in one
transaction on both backends (a first run killed half-way leaves no half-made schema). A SQLite
file we may not write is opened read-only: reading commands work, recording says why it cannot.
Public methods take and return core types; database errors are converted once, in
:func:`orchestrator.adapters.ledgerbase._converted`; a stored row govcloud would never write (edited by hand) is a
:class:`HistoryInvalid` naming the event id and the field, never a traceback.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, QueryableAttribute, mapped_column

from orchestrator.adapters.ledgerbase import JSON, Base, _converted, loads, reading
from orchestrator.adapters.ledgerfile import database_url
from orchestrator.adapters.outbox import insert as insert_notices
from orchestrator.core.ids import ENVIRONMENTS
from orchestrator.core.lifecycle import EVENT_TYPES, ROLES, AppState, Event
from orchestrator.core.notices import Addressed
from orchestrator.errors import HistoryInvalid, NotFound, UsageError

HEAD = "0006"  #: the newest migration; a test checks it against the migration scripts
metadata = Base.metadata


class EventRow(Base):
    __tablename__ = "events"
    __table_args__ = (sa.UniqueConstraint("application", "sequence", name="uq_events_application_sequence"),)

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True)
    application: Mapped[str] = mapped_column(sa.String(64))
    sequence: Mapped[int]
    type: Mapped[str] = mapped_column(sa.String(40))
    actor: Mapped[str] = mapped_column(sa.String(200))
    actor_role: Mapped[str] = mapped_column(sa.String(20))
    actor_unit: Mapped[str | None] = mapped_column(sa.String(64))
    actor_source: Mapped[str] = mapped_column(sa.String(20))
    stated_at: Mapped[dt.datetime]
    recorded_at: Mapped[dt.datetime]
    digest: Mapped[str | None] = mapped_column(sa.String(80))
    environment: Mapped[str | None] = mapped_column(sa.String(20))
    reason: Mapped[str | None] = mapped_column(sa.Text)
    payload: Mapped[dict] = mapped_column(JSON)


class ApplicationRow(Base):
    __tablename__ = "applications"
    __table_args__ = (
        sa.Index("ix_applications_due_order", "next_due", "application"),  # the queues' order (migration 0005)
        sa.Index("ix_applications_state", "state", "application"),
        sa.Index("ix_applications_unit", "unit"),
    )

    application: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    unit: Mapped[str] = mapped_column(sa.String(64))
    state: Mapped[str] = mapped_column(sa.String(40))
    sequence: Mapped[int]
    next_due: Mapped[dt.date | None]
    snapshot: Mapped[dict] = mapped_column(JSON)


class VersionRow(Base):
    """One row: its token is replaced by every write to the events or the projection (migration 0006)."""

    __tablename__ = "ledger_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(sa.String(32))


def _changed(conn: sa.Connection) -> None:
    """A new version token, in the writing transaction: the last statement before its commit, as it
    holds the row's lock until then (PostgreSQL: appends to different applications wait for each
    other only here, not while they insert)."""
    conn.execute(sa.update(VersionRow).values(token=uuid.uuid4().hex))


class LeaseRow(Base):
    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    holder: Mapped[str] = mapped_column(sa.String(200))
    expires: Mapped[dt.datetime]


#: Seconds to wait for a PostgreSQL connection, and for any one statement (a lock wait included);
#: a URL's own ``connect_timeout`` or ``options`` wins. SQLite waits as long for a locked file.
CONNECT_TIMEOUT = 10
STATEMENT_TIMEOUT = 60
#: PostgreSQL connections a process keeps open between uses (a portal worker's threads use them in
#: turn); up to POOL_OVERFLOW more are opened at busy moments and closed after use. SQLAlchemy's
#: default of 5 kept made a portal worker with ten clients open and close a connection (a server
#: process) every few requests.
POOL_SIZE, POOL_OVERFLOW = 10, 5
#: A pooled connection idle this many seconds is pinged before it is used, so one the server closed
#: meanwhile (restarted, or an idle timeout) is replaced rather than failing a request; a connection
#: in steady use is not pinged (a round trip per use).
PING_AFTER_IDLE = 10

_URL_HELP = "postgresql://USER@HOST[:PORT]/DATABASE or sqlite:////path/to/ledger.db"


def ledger_url(text: str) -> sa.URL:
    """The ledger's database URL, checked: PostgreSQL (psycopg) or a SQLite *file*; else UsageError.

    An in-memory SQLite database would answer "submitted" and lose the record when the command
    ends; other drivers are not what the schema and its concurrency guarantees are tested on.
    Messages never repeat the URL (it may hold a password)."""
    try:
        url = sa.make_url(text.strip())
        port = url.port
    except (sa_exc.ArgumentError, ValueError) as exc:
        raise UsageError(f"GOVCLOUD_DATABASE_URL is not a database URL; expected {_URL_HELP}") from exc
    backend, _, driver = url.drivername.partition("+")
    if backend in ("postgresql", "postgres") and driver in ("", "psycopg"):
        if port is not None and not 1 <= port <= 65535:
            raise UsageError(f"GOVCLOUD_DATABASE_URL: port {port} is not 1-65535")
        return url.set(drivername="postgresql+psycopg")
    if backend == "sqlite" and driver in ("", "pysqlite"):
        database = url.database or ""
        if database in ("", ":memory:") or database.startswith("file::memory:") or url.query.get("mode") == "memory":
            raise UsageError(
                "GOVCLOUD_DATABASE_URL names an in-memory SQLite database, which forgets every record when "
                f"the command ends: give a file, {_URL_HELP.split(' or ')[1]}"
            )
        return url
    raise UsageError(f"GOVCLOUD_DATABASE_URL: unsupported database {url.drivername!r}; expected {_URL_HELP}")


def where(url: sa.URL) -> str:
    """Where a ledger lives, for messages: host, port and database, never the password."""
    if url.get_backend_name() == "sqlite":
        return f"sqlite file {url.database}"
    return f"{url.host or 'local socket'}:{url.port or 5432}/{url.database or ''}"


def _engine(text: str) -> sa.Engine:
    url = ledger_url(text)
    if url.get_backend_name() == "postgresql":
        options = f"-c statement_timeout={STATEMENT_TIMEOUT * 1000}"
        connect_args = {"connect_timeout": CONNECT_TIMEOUT, "options": options}
        engine = sa.create_engine(
            url,
            pool_size=POOL_SIZE,
            max_overflow=POOL_OVERFLOW,
            json_deserializer=loads,
            connect_args={k: v for k, v in connect_args.items() if k not in url.query},
        )
        _ping_when_idle(engine)
        return engine
    access, read_only = _sqlite_access(url)
    engine = sa.create_engine(access, connect_args={"timeout": 30}, json_deserializer=loads)

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record) -> None:
        if read_only:
            return
        cursor = dbapi_conn.cursor()
        _retried_while_locked(lambda: cursor.execute("PRAGMA journal_mode=WAL"))
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return engine


def _ping_when_idle(engine: sa.Engine) -> None:
    """Ping a pooled connection before use when it has been idle :data:`PING_AFTER_IDLE` seconds
    (SQLAlchemy's ``pool_pre_ping`` pings before every use); a dead one is replaced by a new one."""

    @sa.event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_conn, record) -> None:
        record.info["idle_from"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _ping(dbapi_conn, record, _proxy) -> None:
        idle_from = record.info.pop("idle_from", None)  # None: a new connection
        if idle_from is None or time.monotonic() - idle_from < PING_AFTER_IDLE:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as exc:  # the pool then connects anew
            raise sa_exc.DisconnectionError(str(exc)) from exc


def _retried_while_locked(statement: Callable[[], object], seconds: float = 30) -> None:
    """Run ``statement``, again while SQLite says the file is locked: switching a new file to WAL
    answers "database is locked" at once, without the busy timeout, when another process opens it
    in the same moment (two first runs)."""
    import sqlite3

    deadline = time.monotonic() + seconds
    pause = 0.01
    while True:
        try:
            statement()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.5)


def _sqlite_access(url: sa.URL) -> tuple[sa.URL | str, bool]:
    """``url`` unchanged for a SQLite file we may write; else a read-only URI and True. WAL needs
    its ``-shm`` file: where it is missing and cannot be made (a read-only directory) and no
    ``-wal`` holds anything, the file is read as immutable (nobody can be writing it)."""
    path = url.database
    if not path or path.startswith("file:") or not os.path.exists(path):
        return url, False
    folder = os.path.dirname(os.path.abspath(path))
    shm, wal = os.path.exists(path + "-shm"), os.path.exists(path + "-wal")
    if os.access(path, os.W_OK) and (os.access(folder, os.W_OK) or (shm and os.access(path + "-shm", os.W_OK))):
        return url, False
    immutable = "&immutable=1" if not shm and not wal and not os.access(folder, os.W_OK) else ""
    return f"sqlite:///file:{os.path.abspath(path)}?mode=ro{immutable}&uri=true", True


#: A number of our own for PostgreSQL's advisory lock: one first run migrates at a time.
_MIGRATION_LOCK = 0x60FC1


class Ledger:
    """The event store of one database. ``Ledger.open()`` migrates it to the newest schema."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str | None = None) -> Ledger:
        ledger = cls(_engine(url or database_url()))
        ledger.migrate()
        return ledger

    def close(self) -> None:
        self.engine.dispose()

    def migrate(self) -> None:
        """``alembic upgrade head`` in one transaction, skipped cheaply (reading only, so a
        read-only ledger opens) when the schema is already at :data:`HEAD`.

        The transaction is a real one on SQLite too: Python's sqlite3 would run each ``CREATE
        TABLE`` outside any transaction, so a first run killed half-way left tables behind and
        every later command failed ("table events already exists"). Concurrent first runs wait
        for each other (SQLite's write lock, a PostgreSQL advisory lock) and migrate once."""
        with _converted(location=where(self.engine.url)), self.engine.connect() as conn:
            if self._at_head(conn):
                return
        with _converted(location=where(self.engine.url)), self._writing() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
            if self._at_head(conn):  # another first run finished while this one waited
                return
            from alembic import command
            from alembic.config import Config

            config = Config()
            config.set_main_option("script_location", "orchestrator:migrations")
            config.attributes["connection"] = conn
            command.upgrade(config, "head")

    @staticmethod
    def _at_head(conn: sa.Connection) -> bool:
        return (
            sa.inspect(conn).has_table("alembic_version")
            and conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == HEAD
        )

    @contextlib.contextmanager
    def _writing(self) -> Iterator[sa.Connection]:
        """A transaction that holds the write lock from its first statement: on SQLite an explicit
        ``BEGIN IMMEDIATE`` (sqlite3 then runs every statement, DDL included, inside it and commits
        it with the connection), elsewhere an ordinary transaction."""
        with self.engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            yield conn

    # --- events ---------------------------------------------------------------------------

    def events(self, application: str) -> list[Event]:
        """The events of ``application`` in sequence order (empty when it has none)."""
        query = _EVENTS.where(EventRow.application == application).order_by(EventRow.sequence)
        with _converted(application), reading(self.engine) as conn:
            return [_event(row) for row in conn.execute(query)]

    def histories(self, until: dt.datetime | None = None) -> dict[str, list[Event]]:
        """Every application's events stated before ``until`` (all when ``None``), in sequence order."""
        query = _EVENTS.order_by(EventRow.application, EventRow.sequence)
        if until is not None:
            query = query.where(EventRow.stated_at < until)
        found: dict[str, list[Event]] = {}
        with _converted(), reading(self.engine) as conn:
            for row in conn.execute(query):
                found.setdefault(row.application, []).append(_event(row))
        return found

    def contacts(self, applications: Iterable[str]) -> dict[str, Any]:
        """The ``metadata.contacts`` of each application's manifest on record (:meth:`manifest_part`)."""
        return self.manifest_part(applications, "metadata", "contacts")

    def manifest_part(self, applications: Iterable[str], *path: str) -> dict[str, Any]:
        """The value at ``path`` (``"metadata", "contacts"``) of each application's manifest on
        record (the latest submitted or requested), as stored, ``None`` where it has none: the
        caller checks its shape. Picked out by the database, so the rest of each manifest is
        neither sent nor parsed."""
        found: dict[str, Any] = {}
        part = EventRow.payload[("manifest", *path)]
        with _converted(), reading(self.engine) as conn:
            for among in _among(conn, EventRow.application, sorted(set(applications))):
                query = (
                    sa.select(EventRow.application, part)
                    .where(among, EventRow.type.in_(("submitted", "change-requested")))
                    .order_by(EventRow.application, EventRow.sequence)
                )
                found.update(conn.execute(query).all())  # the latest manifest last
        return found

    def append(
        self, event: Event, after: AppState, next_due: dt.date | None, notices: Iterable[Addressed] = ()
    ) -> Event:
        """Append ``event``, update the projection to ``after`` and queue the ``notices`` it causes,
        in one transaction.

        :class:`ConflictError` when raced: unique (application, sequence) lets one writer of the
        same step win. Once the event is in, a projection row that is not one step behind is
        not a race but a projection out of step (:class:`HistoryInvalid`: ``ledger rebuild``)."""
        recorded = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        with _converted(event.application), self.engine.begin() as conn:
            conn.execute(sa.insert(EventRow), [_row(event, recorded)])
            values = dict(
                unit=after.unit, state=after.state, sequence=after.sequence, next_due=next_due, snapshot=after.as_dict()
            )
            done = conn.execute(
                sa.update(ApplicationRow)
                .where(ApplicationRow.application == event.application, ApplicationRow.sequence == event.sequence - 1)
                .values(**values)
            )
            if done.rowcount != 1:
                held = conn.execute(
                    sa.select(ApplicationRow.sequence).where(ApplicationRow.application == event.application)
                ).first()
                if event.sequence != 1 or held is not None:
                    raise HistoryInvalid(
                        f"the projection of {event.application} is out of step with its events (projection "
                        f"{'missing' if held is None else f'at #{held.sequence}'}, events at #{event.sequence - 1}): "
                        "nothing was recorded; see govcloud ledger check, repair with govcloud ledger rebuild"
                    )
                conn.execute(sa.insert(ApplicationRow).values(application=event.application, **values))
            if notices:
                insert_notices(conn, notices, recorded)
            _changed(conn)
        return dataclasses.replace(event, recorded_at=recorded)

    def version(self) -> str | None:
        """A token that differs after any write to the events or the projection (a fresh random
        one per write, so two ledgers, or one restored from a backup, never share one by chance):
        what was read while it stays the same is still what the ledger holds. ``None`` when the
        version row is missing: then nothing read may be kept."""
        with _converted(), reading(self.engine) as conn:
            return conn.execute(sa.select(VersionRow.token).where(VersionRow.id == 1)).scalar()

    # --- projection -----------------------------------------------------------------------

    def get_state(self, application: str) -> AppState:
        """The projected state of ``application``; :class:`NotFound` when it has no events."""
        found = self.find_state(application)
        if found is None:
            raise NotFound(f"application {application} has no ledger entries")
        return found

    def find_state(self, application: str) -> AppState | None:
        query = sa.select(ApplicationRow.application, ApplicationRow.snapshot).where(
            ApplicationRow.application == application
        )
        with _converted(application), reading(self.engine) as conn:
            row = conn.execute(query).first()
        return _state(row) if row is not None else None

    def states(
        self,
        *,
        due_before: dt.date | None = None,
        with_due: bool = False,
        state: str | Sequence[str] | None = None,
        unit: str | None = None,
        by_due: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> Iterator[AppState]:
        """Projected states, by id (``by_due``: earliest running deadline first); ``due_before``
        keeps those with a running deadline due before it, ``state`` and ``unit`` those in that
        state (or one of those states) or of that unit; ``limit`` and ``offset`` page them."""
        # NULLS LAST is the ascending order of PostgreSQL's index (ix_applications_due_order):
        # it reads the first rows only
        order = (ApplicationRow.next_due.asc().nulls_last(),) if by_due else ()
        query = (
            self._filtered(
                sa.select(ApplicationRow.application, ApplicationRow.snapshot), due_before, with_due, state, unit
            )
            .order_by(*order, ApplicationRow.application)
            .offset(offset)
            .limit(limit)
        )
        with _converted(), reading(self.engine) as conn:
            rows = conn.execute(query).all()
        return (_state(row) for row in rows)

    def count(self, *, state: str | Sequence[str] | None = None, unit: str | None = None) -> int:
        """How many applications :meth:`states` would give without ``limit``."""
        query = self._filtered(sa.select(sa.func.count()).select_from(ApplicationRow), None, False, state, unit)
        with reading(self.engine) as conn:
            return conn.execute(query).scalar_one()

    @staticmethod
    def _filtered(
        query: sa.Select,
        due_before: dt.date | None,
        with_due: bool,
        state: str | Sequence[str] | None,
        unit: str | None,
    ) -> sa.Select:
        if due_before is not None:
            query = query.where(ApplicationRow.next_due < due_before)
        elif with_due:
            query = query.where(ApplicationRow.next_due.is_not(None))
        if isinstance(state, str):
            query = query.where(ApplicationRow.state == state)
        elif state is not None:
            query = query.where(ApplicationRow.state.in_(list(state)))
        if unit is not None:
            query = query.where(ApplicationRow.unit == unit)
        return query

    def check(self, project: Callable[[list[Event]], tuple[AppState, dt.date | None]]) -> list[str]:
        """What differs between the projection and ``project(events) -> (state, next_due)`` of each
        application, one line per application (empty when they agree); reads only."""
        with _converted(), self.engine.connect() as conn:
            stored = {r.application: r for r in conn.execute(sa.select(ApplicationRow))}
            histories = self._histories(conn)
        found = []
        for app in sorted(set(stored) | set(histories)):
            if app not in histories:
                found.append(f"{app}: a projection row without events")
                continue
            state, due = project(histories[app])
            expected = _projection(state, due)
            row = stored.get(app)
            if row is None:
                found.append(f"{app}: no projection row (its events reach #{state.sequence})")
                continue
            differ = [k for k in ("unit", "state", "sequence", "next_due") if getattr(row, k) != expected[k]]
            snapshot = _state(row).as_dict() if isinstance(row.snapshot, dict) else None
            differ += [f"snapshot.{k}" for k, v in expected["snapshot"].items() if (snapshot or {}).get(k) != v]
            if differ:
                found.append(f"{app}: the projection differs from its events in " + ", ".join(differ))
        return found

    def rebuild(self, project: Callable[[list[Event]], tuple[AppState, dt.date | None]]) -> int:
        """Recompute the whole projection from the events with ``project(events) -> (state,
        next_due)``, in one transaction that holds the write lock (no append slips in between)."""
        with _converted(), self._writing() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("LOCK TABLE events, applications IN EXCLUSIVE MODE"))
            conn.execute(sa.delete(ApplicationRow))
            histories = self._histories(conn)
            for app, events in histories.items():
                conn.execute(sa.insert(ApplicationRow).values(application=app, **_projection(*project(events))))
            _changed(conn)
        return len(histories)

    @staticmethod
    def _histories(conn: sa.Connection) -> dict[str, list[Event]]:
        found: dict[str, list[Event]] = {}
        for row in conn.execute(_EVENTS.order_by(EventRow.application, EventRow.sequence)):
            found.setdefault(row.application, []).append(_event(row))
        return found

    # --- leases ---------------------------------------------------------------------------

    def acquire(self, name: str, holder: str, ttl: dt.timedelta, now: dt.datetime | None = None) -> bool:
        """Take lease ``name`` for ``holder`` until now + ``ttl``; False when someone else holds it."""
        now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
        with _converted():
            try:
                return self._acquire(name, holder, ttl, now)
            except sa_exc.IntegrityError:  # someone inserted the same lease at the same moment
                return False

    def _acquire(self, name: str, holder: str, ttl: dt.timedelta, now: dt.datetime) -> bool:
        with self.engine.begin() as conn:
            current = conn.execute(sa.select(LeaseRow).where(LeaseRow.name == name)).first()
            if current is None:
                conn.execute(sa.insert(LeaseRow).values(name=name, holder=holder, expires=now + ttl))
                return True
            if current.holder != holder and current.expires > now:
                return False
            done = conn.execute(
                sa.update(LeaseRow)
                .where(LeaseRow.name == name, LeaseRow.holder == current.holder, LeaseRow.expires == current.expires)
                .values(holder=holder, expires=now + ttl)
            )
            return done.rowcount == 1

    def lease(self, name: str) -> tuple[str, dt.datetime] | None:
        """Who holds lease ``name`` and until when (UTC); None when nobody ever took it."""
        with _converted(), reading(self.engine) as conn:
            row = conn.execute(sa.select(LeaseRow.holder, LeaseRow.expires).where(LeaseRow.name == name)).first()
        return (row.holder, row.expires) if row is not None else None

    def leases(self, prefix: str, now: dt.datetime | None = None) -> list[tuple[str, str, dt.datetime]]:
        """The leases whose name starts with ``prefix`` and that have not expired: (name, holder, until)."""
        now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
        with _converted(), reading(self.engine) as conn:
            rows = conn.execute(
                sa.select(LeaseRow.name, LeaseRow.holder, LeaseRow.expires)
                .where(LeaseRow.name.startswith(prefix, autoescape=True), LeaseRow.expires > now)
                .order_by(LeaseRow.name)
            ).all()
        return [(r.name, r.holder, r.expires) for r in rows]

    def release(self, name: str, holder: str) -> None:
        """Give lease ``name`` back; nothing happens when ``holder`` does not hold it."""
        with _converted(), self.engine.begin() as conn:
            conn.execute(sa.delete(LeaseRow).where(LeaseRow.name == name, LeaseRow.holder == holder))


def _row(event: Event, recorded: dt.datetime) -> dict:
    return dict(
        application=event.application,
        sequence=event.sequence,
        type=event.type,
        actor=event.actor,
        actor_role=event.actor_role,
        actor_unit=event.actor_unit,
        actor_source=event.actor_source,
        stated_at=event.at,
        recorded_at=recorded,
        digest=event.digest,
        environment=event.environment,
        reason=event.reason,
        payload=event.payload,
    )


#: Events as stored, in :data:`_FIELDS` order: times and payload read as text and parsed by
#: :func:`_event`, so a value edited by hand is an error naming its event and field, not a
#: driver's traceback.
_FIELDS = (
    "id",
    "application",
    "sequence",
    "type",
    "actor",
    "actor_role",
    "actor_unit",
    "actor_source",
    "digest",
    "environment",
    "reason",
    "stated_at",
    "recorded_at",
    "payload",
)
_EVENTS = sa.select(
    *(
        sa.cast(EventRow.__table__.c[name], sa.Text).label(name)
        if name in ("stated_at", "recorded_at", "payload")
        else EventRow.__table__.c[name]
        for name in _FIELDS
    )
)
_ENVIRONMENTS = (None, *(e.value for e in ENVIRONMENTS))


def _among(
    conn: sa.Connection, column: sa.ColumnElement[str] | QueryableAttribute[str], values: Sequence[str]
) -> Iterator[sa.ColumnElement[bool]]:
    """Conditions that together select ``column`` in ``values``: one array on PostgreSQL (one
    round trip), lists of 1,000 on SQLite (its bound on parameters)."""
    if conn.dialect.name == "postgresql":
        yield column == sa.any_(sa.bindparam("among", list(values), type_=postgresql.ARRAY(sa.Text)))
        return
    for start in range(0, len(values), 1000):
        yield column.in_(values[start : start + 1000])


def _event(row: Any) -> Event:
    """One stored event; checked at once, and field by field only when something is wrong."""
    (
        _,
        application,
        sequence,
        kind,
        actor,
        role,
        unit,
        source,
        digest,
        environment,
        reason,
        stated,
        recorded,
        payload,
    ) = row
    try:
        event = Event(
            application=application,
            sequence=sequence,
            type=kind,
            actor=actor,
            actor_role=role,
            actor_unit=unit,
            actor_source=source,
            at=dt.datetime.fromisoformat(stated),
            recorded_at=dt.datetime.fromisoformat(recorded),
            digest=digest,
            environment=environment,
            reason=reason,
            payload=loads(payload) if payload is not None else {},
        )
    except (TypeError, ValueError):
        raise _damaged(row) from None
    if not (
        kind in EVENT_TYPES
        and role in ROLES
        and environment in _ENVIRONMENTS
        and type(sequence) is int
        and sequence > 0
        and type(event.payload) is dict
        and all(type(v) is str for v in (application, actor, source))
        and all(v is None or type(v) is str for v in (unit, digest, reason))
    ):
        raise _damaged(row)
    return event


def _damaged(row: Any) -> HistoryInvalid:
    """What is wrong with a stored event :func:`_event` refused: the first bad field, named."""
    get = dict(zip(_FIELDS, row, strict=True))

    def bad(name: str, why: str) -> HistoryInvalid:
        return HistoryInvalid(
            f"ledger event id {get['id']} ({get['application']!r} #{get['sequence']!r}): field "
            f"{name}: {why}; govcloud does not write such a value (edited by hand?)"
        )

    for name in ("application", "type", "actor", "actor_role", "actor_source", "actor_unit", "digest", "reason"):
        if type(get[name]) is not str and (get[name] is not None or name not in ("actor_unit", "digest", "reason")):
            return bad(name, f"{get[name]!r} is not text")
    if type(get["sequence"]) is not int or get["sequence"] < 1:
        return bad("sequence", f"{get['sequence']!r} is not a positive whole number")
    for name, known, what in (
        ("type", EVENT_TYPES, "an event type"),
        ("actor_role", ROLES, "a role"),
        ("environment", _ENVIRONMENTS, "an environment"),
    ):
        if get[name] not in known:
            return bad(name, f"{get[name]!r} is not {what}")
    for name in ("stated_at", "recorded_at"):
        try:
            dt.datetime.fromisoformat(get[name])
        except (TypeError, ValueError):
            return bad(name, f"{get[name]!r} is not a date and time")
    return bad("payload", f"{str(get['payload'])[:80]!r} is not a JSON object")


def _state(row: Any) -> AppState:
    """A projection row's snapshot as a state; :class:`HistoryInvalid` when it is not one."""
    try:
        return AppState.from_dict(row.snapshot)
    except (TypeError, ValueError, AttributeError) as exc:
        raise HistoryInvalid(
            f"the projection of {row.application} is not a state govcloud writes ({exc}): "
            "repair it from the events with govcloud ledger rebuild"
        ) from exc


def _projection(state: AppState, next_due: dt.date | None) -> dict[str, Any]:
    return dict(
        unit=state.unit, state=state.state, sequence=state.sequence, next_due=next_due, snapshot=state.as_dict()
    )


def bulk_rows(events: Iterable[Event], recorded: dt.datetime) -> Iterator[dict]:
    """Rows for a bulk import (benchmarks, restores)."""
    return (_row(e, recorded) for e in events)
