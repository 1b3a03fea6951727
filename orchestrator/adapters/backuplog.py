"""The backup record in the ledger database (``backup_records``, migration 0004): append-only rows of
:class:`~orchestrator.core.backups.Entry`. Backups are not lifecycle steps (a daily backup would
bury an application's history), so they have their own table beside the events, written and read
through the same engine and error conversion as the ledger."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from orchestrator.adapters.ledgerbase import JSON, Base, _converted, reading
from orchestrator.core.backups import ARCHIVED, DELETED, OFFSITE_COPIED, OFFSITE_SKIPPED, TAKEN, Entry

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class BackupRow(Base):
    __tablename__ = "backup_records"
    __table_args__ = (
        sa.Index("ix_backup_records_application", "application", "environment", "stated_at"),
        sa.Index("ix_backup_records_backup", "backup_id"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    application: Mapped[str] = mapped_column(sa.String(64))
    environment: Mapped[str] = mapped_column(sa.String(20))
    action: Mapped[str] = mapped_column(sa.String(20))
    kind: Mapped[str] = mapped_column(sa.String(20))
    backup_id: Mapped[str] = mapped_column(sa.String(255))
    source: Mapped[str] = mapped_column(sa.String(255))
    name: Mapped[str] = mapped_column(sa.String(255))
    size: Mapped[int | None] = mapped_column(sa.BigInteger)
    checksum: Mapped[str | None] = mapped_column(sa.String(128))
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    stated_at: Mapped[dt.datetime]
    recorded_at: Mapped[dt.datetime]
    actor: Mapped[str] = mapped_column(sa.String(200))
    detail: Mapped[dict] = mapped_column(JSON)


R = Base.metadata.tables[BackupRow.__tablename__]  # the Core table (typed as one, which __table__ is not)


class BackupLog:
    """The backup record of one ledger database (``BackupLog(ledger.engine)``)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def record(self, entries: Iterable[Entry]) -> None:
        """Append ``entries`` in one transaction."""
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        rows: list[dict[str, Any]] = [
            dict(
                application=e.application,
                environment=e.environment,
                action=e.action,
                kind=e.kind,
                backup_id=e.backup_id[:255],
                source=e.source[:255],
                name=e.name[:255],
                size=e.size,
                checksum=e.checksum,
                started_at=e.started,
                finished_at=e.finished,
                stated_at=e.at,
                recorded_at=now,
                actor=e.actor,
                detail=dict(e.detail),
            )
            for e in entries
        ]
        if not rows:
            return
        with _converted(rows[0]["application"]), self.engine.begin() as conn:
            conn.execute(sa.insert(R), rows)

    def entries(self, application: str, environment: str | None = None) -> list[Entry]:
        """The record of ``application`` (of one environment when given), oldest first."""
        query = sa.select(R).where(R.c.application == application).order_by(R.c.id)
        if environment is not None:
            query = query.where(R.c.environment == environment)
        with _converted(application), reading(self.engine) as conn:
            return [_entry(r) for r in conn.execute(query)]

    def by_application(self, until: dt.datetime) -> dict[str, list[Entry]]:
        """Every application's rows stated before ``until``, oldest first (the monthly report)."""
        query = sa.select(R).where(R.c.stated_at < until).order_by(R.c.id)
        out: dict[str, list[Entry]] = {}
        with _converted(), reading(self.engine) as conn:
            for row in conn.execute(query):
                out.setdefault(row.application, []).append(_entry(row))
        return out

    def of_backup(self, backup_id: str) -> list[Entry]:
        """Every row naming ``backup_id``, of any application, oldest first."""
        query = sa.select(R).where(R.c.backup_id == backup_id[:255]).order_by(R.c.id)
        with _converted(), reading(self.engine) as conn:
            return [_entry(r) for r in conn.execute(query)]

    def archive_record(self, application: str | None = None) -> list[Entry]:
        """The final backups archived at reclamation (``archived`` rows) and the deletions of their
        archive copies, of every application (or one), oldest first."""
        archived = sa.select(R.c.backup_id).where(R.c.action == ARCHIVED)
        query = (
            sa.select(R)
            .where((R.c.action == ARCHIVED) | ((R.c.action == DELETED) & R.c.backup_id.in_(archived)))
            .order_by(R.c.id)
        )
        if application is not None:
            query = query.where(R.c.application == application)
        with _converted(application or ""), reading(self.engine) as conn:
            return [_entry(r) for r in conn.execute(query)]

    def offsite_pending(self, application: str, environment: str) -> list[str]:
        """The ids of ``environment``'s backups taken and not deleted that have no copy on the backup
        site yet (and are not of a kind that cannot be copied), oldest first: what an ``offsite:
        true`` run copies, so a copy that failed is tried again by the next run."""
        done = (
            sa.select(R.c.backup_id)
            .where(R.c.application == application, R.c.environment == environment)
            .where(R.c.action.in_((OFFSITE_COPIED, OFFSITE_SKIPPED, DELETED)))
        )
        query = (
            sa.select(R.c.backup_id)
            .where(R.c.application == application, R.c.environment == environment, R.c.action == TAKEN)
            .where(R.c.backup_id.not_in(done))
            .order_by(R.c.id)
        )
        with _converted(application), reading(self.engine) as conn:
            return list(conn.scalars(query))

    def last_taken(self, applications: Iterable[str] | None = None) -> dict[tuple[str, str], dt.datetime]:
        """(application, environment) -> when its latest backup was taken (the run's stated time):
        what a due decision needs, in one query for every application (``None``: all)."""
        query = (
            sa.select(R.c.application, R.c.environment, sa.func.max(R.c.stated_at))
            .where(R.c.action == TAKEN)
            .group_by(R.c.application, R.c.environment)
        )
        if applications is not None:
            query = query.where(R.c.application.in_(sorted(set(applications))))
        with _converted(), reading(self.engine) as conn:
            return {(a, e): started for a, e, started in conn.execute(query) if started is not None}


def _entry(row: sa.Row) -> Entry:
    return Entry(
        application=row.application,
        environment=row.environment,
        action=row.action,
        kind=row.kind,
        backup_id=row.backup_id,
        at=row.stated_at,
        actor=row.actor,
        source=row.source,
        name=row.name,
        size=row.size,
        checksum=row.checksum,
        started=row.started_at,
        finished=row.finished_at,
        detail=row.detail or {},
    )
