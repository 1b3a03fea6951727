"""The ledger: an append-only event store on SQLAlchemy 2 (SQLite file by default, PostgreSQL by URL).

- ``events``: the source of truth; unique (application, sequence) gives optimistic concurrency: the
  loser of a race gets :class:`ConflictError` ("changed meanwhile, retry").
- ``applications``: a projection (state, snapshot of the folded state, next due date), written in
  the same transaction as each append and rebuildable from the events (:meth:`Ledger.rebuild`).
- ``leases``: named, expiring locks for long-running jobs (reclaim, gitops, tick).
- ``notices``, ``notice_attempts``: the notice outbox (:mod:`orchestrator.adapters.outbox`); an
  event's notices are inserted in the transaction that appends it.

The schema is migrated with Alembic (``orchestrator/migrations``) when the ledger opens. Public
methods take and return core types; database errors are converted once, in :func:`_converted`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterable, Iterator

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from orchestrator.adapters.ledgerfile import database_url
from orchestrator.core.lifecycle import AppState, Event
from orchestrator.core.notices import Addressed
from orchestrator.errors import ConflictError, ExternalError, NotFound, UsageError

HEAD = "0002"  #: the newest migration; a test checks it against the migration scripts
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


class Base(DeclarativeBase):
    pass


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
        sa.Index("ix_applications_next_due", "next_due"),
        sa.Index("ix_applications_unit", "unit"),
    )

    application: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    unit: Mapped[str] = mapped_column(sa.String(64))
    state: Mapped[str] = mapped_column(sa.String(40))
    sequence: Mapped[int]
    next_due: Mapped[dt.date | None]
    snapshot: Mapped[dict] = mapped_column(JSON)


class LeaseRow(Base):
    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    holder: Mapped[str] = mapped_column(sa.String(200))
    expires: Mapped[dt.datetime]


#: Seconds to wait for a PostgreSQL connection, and for any one statement (a lock wait included);
#: a URL's own ``connect_timeout`` or ``options`` wins. SQLite waits as long for a locked file.
CONNECT_TIMEOUT = 10
STATEMENT_TIMEOUT = 60

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
        return sa.create_engine(url, pool_pre_ping=True, connect_args={
            k: v for k, v in connect_args.items() if k not in url.query
        })
    engine = sa.create_engine(url, connect_args={"timeout": 30})

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return engine


@contextlib.contextmanager
def _converted(application: str = "", location: str = "") -> Iterator[None]:
    """The one place where database errors become govcloud errors."""
    try:
        yield
    except sa_exc.IntegrityError as exc:
        raise ConflictError(f"{application or 'the ledger'} changed meanwhile, retry") from exc
    except sa_exc.SQLAlchemyError as exc:
        reason = " ".join(str(exc.orig or exc).split())
        at = f" at {location}" if location else ""
        raise ExternalError(f"ledger database{at}: {exc.__class__.__name__}: {reason}"[:500]) from exc


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
        """``alembic upgrade head``, skipped cheaply when the schema is already at :data:`HEAD`."""
        with _converted(location=where(self.engine.url)), self.engine.begin() as conn:
            if sa.inspect(conn).has_table("alembic_version"):
                if conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == HEAD:
                    return
            from alembic import command
            from alembic.config import Config

            config = Config()
            config.set_main_option("script_location", "orchestrator:migrations")
            config.attributes["connection"] = conn
            command.upgrade(config, "head")

    # --- events ---------------------------------------------------------------------------

    def events(self, application: str) -> list[Event]:
        """The events of ``application`` in sequence order (empty when it has none)."""
        query = sa.select(EventRow).where(EventRow.application == application).order_by(EventRow.sequence)
        with _converted(application), self.engine.connect() as conn:
            return [_event(row) for row in conn.execute(query)]

    def histories(self, until: dt.datetime | None = None) -> dict[str, list[Event]]:
        """Every application's events stated before ``until`` (all when ``None``), in sequence order."""
        query = sa.select(EventRow).order_by(EventRow.application, EventRow.sequence)
        if until is not None:
            query = query.where(EventRow.stated_at < until)
        found: dict[str, list[Event]] = {}
        with _converted(), self.engine.connect() as conn:
            for row in conn.execute(query):
                found.setdefault(row.application, []).append(_event(row))
        return found

    def manifests(self, applications: Iterable[str]) -> dict[str, dict]:
        """The manifest snapshot on record (the latest submitted or requested) of each application."""
        found: dict[str, dict] = {}
        names = sorted(set(applications))
        with _converted(), self.engine.connect() as conn:
            for start in range(0, len(names), 1000):
                query = (sa.select(EventRow.application, EventRow.payload)
                         .where(EventRow.application.in_(names[start:start + 1000]),
                                EventRow.type.in_(("submitted", "change-requested")))
                         .order_by(EventRow.application, EventRow.sequence))
                for app, payload in conn.execute(query):
                    if isinstance(payload, dict) and isinstance(payload.get("manifest"), dict):
                        found[app] = payload["manifest"]
        return found

    def append(self, event: Event, after: AppState, next_due: dt.date | None,
               notices: Iterable[Addressed] = ()) -> Event:
        """Append ``event``, update the projection to ``after`` and queue the ``notices`` it causes,
        in one transaction; :class:`ConflictError` if raced."""
        recorded = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        row = _row(event, recorded)
        with _converted(event.application), self.engine.begin() as conn:
            conn.execute(sa.insert(EventRow), [row])
            values = dict(unit=after.unit, state=after.state, sequence=after.sequence,
                          next_due=next_due, snapshot=after.as_dict())
            if event.sequence == 1:
                conn.execute(sa.insert(ApplicationRow).values(application=event.application, **values))
            else:
                done = conn.execute(
                    sa.update(ApplicationRow)
                    .where(ApplicationRow.application == event.application,
                           ApplicationRow.sequence == event.sequence - 1)
                    .values(**values)
                )
                if done.rowcount != 1:
                    raise ConflictError(f"{event.application} changed meanwhile, retry")
            if notices:
                from orchestrator.adapters.outbox import insert

                insert(conn, notices, recorded)
        return _event(row)

    # --- projection -----------------------------------------------------------------------

    def get_state(self, application: str) -> AppState:
        """The projected state of ``application``; :class:`NotFound` when it has no events."""
        found = self.find_state(application)
        if found is None:
            raise NotFound(f"application {application} has no ledger entries")
        return found

    def find_state(self, application: str) -> AppState | None:
        query = sa.select(ApplicationRow.snapshot).where(ApplicationRow.application == application)
        with _converted(application), self.engine.connect() as conn:
            snapshot = conn.execute(query).scalar()
        return AppState.from_dict(snapshot) if snapshot is not None else None

    def states(self, *, due_before: dt.date | None = None, with_due: bool = False,
               state: str | None = None, unit: str | None = None) -> Iterator[AppState]:
        """Projected states, by id; ``due_before`` keeps those with a running deadline due before
        it, ``state`` and ``unit`` those in that state or of that unit."""
        query = sa.select(ApplicationRow.snapshot).order_by(ApplicationRow.application)
        if due_before is not None:
            query = query.where(ApplicationRow.next_due < due_before)
        elif with_due:
            query = query.where(ApplicationRow.next_due.is_not(None))
        if state is not None:
            query = query.where(ApplicationRow.state == state)
        if unit is not None:
            query = query.where(ApplicationRow.unit == unit)
        with _converted(), self.engine.connect() as conn:
            rows = conn.execute(query).scalars().all()
        return (AppState.from_dict(s) for s in rows)

    def rebuild(self, project: Callable[[list[Event]], tuple[AppState, dt.date | None]]) -> int:
        """Recompute the projection from the events with ``project(events) -> (state, next_due)``."""
        with _converted(), self.engine.begin() as conn:
            apps = conn.execute(sa.select(EventRow.application).distinct()).scalars().all()
            conn.execute(sa.delete(ApplicationRow))
            for app in apps:
                rows = conn.execute(
                    sa.select(EventRow).where(EventRow.application == app).order_by(EventRow.sequence)
                )
                state, due = project([_event(r) for r in rows])
                conn.execute(sa.insert(ApplicationRow).values(
                    application=app, unit=state.unit, state=state.state, sequence=state.sequence,
                    next_due=due, snapshot=state.as_dict()))
        return len(apps)

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
                .where(LeaseRow.name == name, LeaseRow.holder == current.holder,
                       LeaseRow.expires == current.expires)
                .values(holder=holder, expires=now + ttl)
            )
            return done.rowcount == 1

    def lease(self, name: str) -> tuple[str, dt.datetime] | None:
        """Who holds lease ``name`` and until when (UTC); None when nobody ever took it."""
        with _converted(), self.engine.connect() as conn:
            row = conn.execute(sa.select(LeaseRow.holder, LeaseRow.expires).where(LeaseRow.name == name)).first()
        return (row.holder, row.expires) if row is not None else None

    def release(self, name: str, holder: str) -> None:
        """Give lease ``name`` back; nothing happens when ``holder`` does not hold it."""
        with _converted(), self.engine.begin() as conn:
            conn.execute(sa.delete(LeaseRow).where(LeaseRow.name == name, LeaseRow.holder == holder))


def _row(event: Event, recorded: dt.datetime) -> dict:
    return dict(
        application=event.application, sequence=event.sequence, type=event.type, actor=event.actor,
        actor_role=event.actor_role, actor_unit=event.actor_unit, actor_source=event.actor_source,
        stated_at=event.at, recorded_at=recorded, digest=event.digest, environment=event.environment,
        reason=event.reason, payload=event.payload,
    )


def _event(row) -> Event:
    get = row if isinstance(row, dict) else row._mapping
    return Event(
        application=get["application"], sequence=get["sequence"], type=get["type"], actor=get["actor"],
        actor_role=get["actor_role"], actor_unit=get["actor_unit"], actor_source=get["actor_source"],
        at=get["stated_at"], recorded_at=get["recorded_at"], digest=get["digest"],
        environment=get["environment"], reason=get["reason"], payload=get["payload"] or {},
    )


def bulk_rows(events: Iterable[Event], recorded: dt.datetime) -> Iterator[dict]:
    """Rows for a bulk import (benchmarks, restores)."""
    return (_row(e, recorded) for e in events)
