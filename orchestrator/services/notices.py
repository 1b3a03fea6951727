"""Notices: find them (the scan, the cloud's watch), queue them in the outbox, deliver them.

Deciding is the core's (:mod:`orchestrator.core.notices`); the outbox is the ledger database's
(:mod:`orchestrator.adapters.outbox`); texts and channels are :mod:`orchestrator.adapters.noticetexts`
and :mod:`orchestrator.adapters.notify`. Delivery sends one digest message per recipient and run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from orchestrator.core import notices as nt
from orchestrator.core.workdays import Calendar, default_calendar
from orchestrator.errors import ExternalError, UsageError

if TYPE_CHECKING:
    from orchestrator.adapters.ledger import Ledger
    from orchestrator.settings_notices import NoticeSettings


@dataclass
class Message:
    """One digest for one recipient, and how its delivery went."""

    recipient: str
    notices: list[int]
    id: str = ""
    outcome: str = "pending"  #: would-send (dry run), sent, retry, failed, deferred
    attempts: int = 0
    code: int | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class DeliveryReport:
    dry_run: bool
    messages: list[Message] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(m.outcome == outcome for m in self.messages)

    @property
    def failed(self) -> int:
        return self.count("failed")

    def as_dict(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "sent": self.count("sent"), "failed": self.failed,
                "retry": self.count("retry"), "deferred": self.count("deferred"),
                "messages": [m.as_dict() for m in self.messages]}


class Notices:
    """Notices over one ledger, configured by the ``notices`` settings."""

    def __init__(self, ledger: Ledger, settings: NoticeSettings, calendar: Calendar | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        from orchestrator.adapters.outbox import Outbox

        self.ledger, self.settings = ledger, settings
        self.outbox = Outbox(ledger.engine)
        self.calendar = calendar or default_calendar()
        self.directory = settings.directory()
        self.sleep = sleep

    # --- finding and queueing -------------------------------------------------------------

    def scan(self, now: dt.datetime) -> dict[str, int]:
        """Queue what time has brought at ``now`` (Beijing): deadlines ahead or missed, expiry warnings."""
        found = [n for s in self.ledger.states(with_due=True) for n in nt.scan(s, self.calendar, now)]
        return {"found": len(found), "queued": self.queue(found)}

    def queue(self, notices: Iterable[nt.Notice]) -> int:
        """Address ``notices`` and queue those not queued before; how many rows were new."""
        notices = list(notices)
        contacts: dict[str, list[str]] = {}
        if self.directory.contacts:
            apps = {n.application for n in notices if nt.UNIT in n.audience and n.application}
            contacts = {app: nt.contact_emails(m) for app, m in self.ledger.manifests(apps).items()}
        return self.outbox.enqueue(nt.address(notices, self.directory, contacts))

    # --- reading --------------------------------------------------------------------------

    def status(self, status: str | None = None, application: str | None = None, limit: int = 200) -> dict[str, Any]:
        """Counts by state and the newest notices (of ``status``, ``application``)."""
        if status is not None and status not in (nt.PENDING, nt.SENDING, nt.SENT, nt.FAILED):
            raise UsageError(f"--status {status!r}: one of pending, sending, sent, failed")
        return {"counts": self.outbox.counts(),
                "notices": [q.as_dict() for q in self.outbox.listing(status, application, limit)]}
