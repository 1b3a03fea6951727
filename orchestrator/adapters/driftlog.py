"""Cloud drift in the ledger database: ``drift_findings`` (one row per difference, unique by its
fingerprint, with its status: open, ignored, resolved) and ``drift_runs`` (every check of a
stack: ``ok`` with its counts, or ``error`` with what failed, apart from any drift).

A run's findings and its run row are written in one transaction (:meth:`DriftLog.record`), so a
run killed half-way records nothing and the next run judges against the same record.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from orchestrator.adapters.ledger import JSON, Base, _converted
from orchestrator.adapters.ledgerbase import reading
from orchestrator.core import drift as dr

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class FindingRow(Base):
    __tablename__ = "drift_findings"
    __table_args__ = (
        sa.UniqueConstraint("fingerprint", name="uq_drift_findings_fingerprint"),
        sa.Index("ix_drift_findings_stack", "stack", "status"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(sa.String(64))
    stack: Mapped[str] = mapped_column(sa.String(200))
    application: Mapped[str] = mapped_column(sa.String(64))
    environment: Mapped[str] = mapped_column(sa.String(20))
    resource: Mapped[str] = mapped_column(sa.String(300))
    type: Mapped[str] = mapped_column(sa.String(200))
    property: Mapped[str] = mapped_column(sa.String(200))
    before: Mapped[Any] = mapped_column(JSON, nullable=True)
    after: Mapped[Any] = mapped_column(JSON, nullable=True)
    status: Mapped[str] = mapped_column(sa.String(10))
    first_seen: Mapped[dt.datetime]
    last_seen: Mapped[dt.datetime]
    reported_at: Mapped[dt.datetime | None]
    resolved_at: Mapped[dt.datetime | None]
    resolution: Mapped[str | None] = mapped_column(sa.String(20))  #: gone (a run found it gone), reapplied (by up)
    rule: Mapped[dict | None] = mapped_column(JSON, nullable=True)  #: the ignore rule hiding it


class RunRow(Base):
    __tablename__ = "drift_runs"
    __table_args__ = (sa.Index("ix_drift_runs_stack", "stack", "outcome", "finished_at"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    stack: Mapped[str] = mapped_column(sa.String(200))
    application: Mapped[str] = mapped_column(sa.String(64))
    environment: Mapped[str] = mapped_column(sa.String(20))
    started_at: Mapped[dt.datetime]
    finished_at: Mapped[dt.datetime]
    outcome: Mapped[str] = mapped_column(sa.String(10))  #: ok | error
    error: Mapped[str | None] = mapped_column(sa.Text)
    counts: Mapped[dict] = mapped_column(JSON)


# the Core tables (typed as tables, which __table__ is not), for bulk statements
F, R = Base.metadata.tables[FindingRow.__tablename__], Base.metadata.tables[RunRow.__tablename__]


class DriftLog:
    """The drift record of one ledger database (``Ledger.open().engine``)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def recorded(self, stack: str) -> list[dr.Recorded]:
        """Every finding of ``stack`` on record, any status."""
        with _converted(stack), reading(self.engine) as conn:
            rows = conn.execute(sa.select(F).where(F.c.stack == stack)).all()
        return [dr.Recorded(_finding(r), r.status, r.first_seen) for r in rows]

    def last_checked(self) -> dict[str, dt.datetime]:
        """Stack -> the end of its last successful check."""
        query = sa.select(R.c.stack, sa.func.max(R.c.finished_at)).where(R.c.outcome == "ok").group_by(R.c.stack)
        with _converted(), reading(self.engine) as conn:
            return {stack: at for stack, at in conn.execute(query)}

    def record(
        self,
        application: str,
        environment: str,
        stack: str,
        result: dr.Reconciled,
        started: dt.datetime,
        now: dt.datetime,
    ) -> None:
        """One successful check of ``stack`` and what it means for its findings, in one transaction."""
        counts = {
            "new": len(result.new),
            "still": len(result.still),
            "ignored": len(result.ignored),
            "resolved": len(result.resolved),
        }
        with _converted(stack), self.engine.begin() as conn:
            for finding in result.new:
                self._upsert(
                    conn,
                    application,
                    environment,
                    finding,
                    now,
                    status=dr.OPEN,
                    reported_at=now,
                    rule=None,
                    resolved_at=None,
                    resolution=None,
                )
            for finding in result.still:
                conn.execute(sa.update(F).where(F.c.fingerprint == finding.fingerprint).values(last_seen=now))
            for finding, rule in result.ignored:
                self._upsert(
                    conn,
                    application,
                    environment,
                    finding,
                    now,
                    status=dr.IGNORED,
                    rule=rule.as_dict(),
                    resolved_at=None,
                    resolution=None,
                )
            fingerprints = [f.fingerprint for f in result.resolved]
            if fingerprints:
                conn.execute(
                    sa.update(F)
                    .where(F.c.fingerprint.in_(fingerprints))
                    .values(status=dr.RESOLVED, resolved_at=now, resolution="gone")
                )
            conn.execute(
                sa.insert(R).values(
                    stack=stack,
                    application=application,
                    environment=environment,
                    started_at=started,
                    finished_at=now,
                    outcome="ok",
                    error=None,
                    counts=counts,
                )
            )

    def record_error(
        self, application: str, environment: str, stack: str, error: str, started: dt.datetime, now: dt.datetime
    ) -> None:
        """A check that failed: recorded apart from drift; the findings on record stay as they are."""
        with _converted(stack), self.engine.begin() as conn:
            conn.execute(
                sa.insert(R).values(
                    stack=stack,
                    application=application,
                    environment=environment,
                    started_at=started,
                    finished_at=now,
                    outcome="error",
                    error=error[:2000],
                    counts={},
                )
            )

    def reapplied(self, stack: str, now: dt.datetime) -> list[str]:
        """``govcloud up`` applied the approved digest again over the open drift of ``stack``:
        those findings are resolved as ``reapplied``; their fingerprints."""
        with _converted(stack), self.engine.begin() as conn:
            prints = [
                r.fingerprint
                for r in conn.execute(sa.select(F.c.fingerprint).where(F.c.stack == stack, F.c.status == dr.OPEN))
            ]
            if prints:
                conn.execute(
                    sa.update(F)
                    .where(F.c.fingerprint.in_(prints))
                    .values(status=dr.RESOLVED, resolved_at=now, resolution="reapplied")
                )
        return prints

    def findings(
        self, *, application: str | None = None, environment: str | None = None, status: Iterable[str] | None = None
    ) -> list[dict[str, Any]]:
        """Findings on record, newest first, as JSON-ready rows."""
        query = sa.select(F).order_by(F.c.last_seen.desc(), F.c.id.desc())
        if application:
            query = query.where(F.c.application == application)
        if environment:
            query = query.where(F.c.environment == environment)
        if status is not None:
            query = query.where(F.c.status.in_(list(status)))
        with _converted(), reading(self.engine) as conn:
            rows = conn.execute(query).all()
        return [
            {
                **_finding(r).as_dict(),
                "application": r.application,
                "environment": r.environment,
                "status": r.status,
                "firstSeen": r.first_seen.isoformat(),
                "lastSeen": r.last_seen.isoformat(),
                "resolvedAt": r.resolved_at.isoformat() if r.resolved_at else None,
                "resolution": r.resolution,
                "rule": r.rule,
            }
            for r in rows
        ]

    def runs(self, stack: str | None = None) -> list[dict[str, Any]]:
        """Every check, newest first."""
        query = sa.select(R).order_by(R.c.finished_at.desc(), R.c.id.desc())
        if stack:
            query = query.where(R.c.stack == stack)
        with _converted(), reading(self.engine) as conn:
            return [
                {
                    "stack": r.stack,
                    "application": r.application,
                    "environment": r.environment,
                    "startedAt": r.started_at.isoformat(),
                    "finishedAt": r.finished_at.isoformat(),
                    "outcome": r.outcome,
                    "error": r.error,
                    "counts": r.counts,
                }
                for r in conn.execute(query)
            ]

    @staticmethod
    def _upsert(
        conn: sa.Connection, application: str, environment: str, finding: dr.Finding, now: dt.datetime, **values: Any
    ) -> None:
        done = conn.execute(sa.update(F).where(F.c.fingerprint == finding.fingerprint).values(last_seen=now, **values))
        if done.rowcount == 0:
            conn.execute(
                sa.insert(F).values(
                    fingerprint=finding.fingerprint,
                    stack=finding.stack,
                    application=application,
                    environment=environment,
                    resource=finding.resource,
                    type=finding.type,
                    property=finding.property,
                    before=finding.before,
                    after=finding.after,
                    first_seen=now,
                    last_seen=now,
                    **{"reported_at": None, **values},
                )
            )


def _finding(row: Any) -> dr.Finding:
    return dr.Finding(row.stack, row.resource, row.type, row.property, row.before, row.after)
