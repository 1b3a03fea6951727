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
from orchestrator.errors import UsageError

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
        return {
            "dry_run": self.dry_run,
            "sent": self.count("sent"),
            "failed": self.failed,
            "retry": self.count("retry"),
            "deferred": self.count("deferred"),
            "messages": [m.as_dict() for m in self.messages],
        }


class Notices:
    """Notices over one ledger, configured by the ``notices`` settings."""

    def __init__(
        self,
        ledger: Ledger,
        settings: NoticeSettings,
        calendar: Calendar | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
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
            contacts = {app: nt.emails(c) for app, c in self.ledger.contacts(apps).items()}
        return self.outbox.enqueue(nt.address(notices, self.directory, contacts))

    # --- reading --------------------------------------------------------------------------

    def status(self, status: str | None = None, application: str | None = None, limit: int = 200) -> dict[str, Any]:
        """Counts by state and the newest notices (of ``status``, ``application``)."""
        if status is not None and status not in (nt.PENDING, nt.SENDING, nt.SENT, nt.FAILED):
            raise UsageError(f"--status {status!r}: one of pending, sending, sent, failed")
        return {
            "counts": self.outbox.counts(),
            "notices": [q.as_dict() for q in self.outbox.listing(status, application, limit)],
        }

    # --- delivering -----------------------------------------------------------------------

    def deliver(self, now: dt.datetime | None = None, dry_run: bool = False) -> DeliveryReport:
        """Send every notice due at ``now`` (UTC): one digest per recipient, retried on 429/5xx
        within the run, each attempt recorded; ``dry_run`` claims and sends nothing."""
        from orchestrator.adapters.outbox import utcnow

        now = now or utcnow()
        report = DeliveryReport(dry_run)
        if dry_run:
            for recipient, group in _by_recipient(self.outbox.due(now)).items():
                report.messages.append(Message(recipient, [q.id for q in group], _message_id(group), "would-send"))
            return report
        run = uuid.uuid4().hex
        claimed = self.outbox.claim(run, now, dt.timedelta(seconds=self.settings.claim_seconds))
        sender = _Senders(self.settings, self.outbox, now)
        started = time.monotonic()
        clock = lambda: now + dt.timedelta(seconds=time.monotonic() - started)  # noqa: E731 - the run's time
        try:
            for recipient, group in _by_recipient(claimed).items():
                report.messages.append(self._send(run, recipient, group, sender, clock))
        finally:
            sender.close()
        return report

    def _send(
        self, run: str, recipient: str, group: list[nt.Queued], sender: _Senders, utcnow: Callable[[], dt.datetime]
    ) -> Message:
        from orchestrator.adapters.noticetexts import digest
        from orchestrator.adapters.notify import Envelope

        s, ids = self.settings, [q.id for q in group]
        message = Message(recipient, ids, _message_id(group))
        channel, limit, block = sender.channel(recipient)
        if not sender.take(channel, limit):  # the channel's messages of the last minute are spent
            self.outbox.release(ids, run, next_attempt=utcnow() + dt.timedelta(seconds=60))
            message.outcome, message.error = "deferred", f"{channel}: {limit} messages a minute reached"
            return message
        envelope = Envelope(message.id, recipient, digest(group, s.language), group)
        ttl = dt.timedelta(seconds=s.claim_seconds)
        for attempt in range(s.retries + 1):
            if not self.outbox.start(ids, run, message.id, channel, utcnow(), ttl):
                self.outbox.release(ids, run)  # what this run still holds; the run that took the rest sends it
                message.outcome, message.error = "deferred", "claim lost: another run took these notices over"
                return message
            outcome = sender.send(recipient, envelope)
            message.attempts += 1
            message.outcome, message.code, message.error = outcome.status, outcome.code, outcome.error
            wait = outcome.retry_after if outcome.retry_after is not None else s.backoff_seconds * 2**attempt
            again = (
                outcome.status == "retry"
                and attempt < s.retries
                and wait <= 30
                and not _too_fast(outcome)
                and sender.take(channel, limit)
            )  # a retry is one more message of the minute
            if again:
                self.outbox.finish(
                    ids, run, message.id, "retry", utcnow(), code=outcome.code, error=outcome.error, settle=False
                )
                self.sleep(wait)
                continue
            later = None
            if outcome.status == "retry":
                runs = max(q.attempts for q in group) // (s.retries + 1)
                later = utcnow() + dt.timedelta(
                    seconds=max(wait, block if _too_fast(outcome) else 60 * 2 ** min(runs, 6))
                )
            self.outbox.finish(
                ids,
                run,
                message.id,
                outcome.status,
                utcnow(),
                code=outcome.code,
                error=outcome.error,
                next_attempt=later,
                max_attempts=s.max_attempts,
            )
            break
        return message


class _Senders:
    """The channels of one run: the SMTP session, robots, and what each may still send this minute."""

    def __init__(self, settings: NoticeSettings, outbox: Any, now: dt.datetime) -> None:
        self.settings, self.outbox, self.now = settings, outbox, now
        self.budget: dict[str, int] = {}
        self._mailer: Any = None

    def channel(self, recipient: str) -> tuple[str, int, int]:
        """(rate-limit key, messages a minute, seconds blocked after "too fast") of ``recipient``."""
        if recipient.startswith("robot:") and recipient[6:] in self.settings.robots:
            return (recipient, *self.settings.robots[recipient[6:]].limit)
        if recipient.startswith("email:") and self.settings.email is not None:
            return "email", self.settings.email.per_minute, 60
        return recipient, 1_000_000, 0

    def take(self, channel: str, limit: int) -> bool:
        if channel not in self.budget:
            self.budget[channel] = limit - self.outbox.messages_since(channel, self.now - dt.timedelta(seconds=60))
        self.budget[channel] -= 1
        return self.budget[channel] >= 0

    def send(self, recipient: str, envelope: Any) -> Any:
        from orchestrator.adapters.notify import Mailer, Outcome, send_robot

        kind, _, name = recipient.partition(":")
        if kind == "robot":
            robot = self.settings.robots.get(name)
            if robot is None:
                return Outcome("failed", error=f"robot {name} is not configured under notices.robots")
            return send_robot(robot, envelope)
        if kind == "email" and self.settings.email is not None:
            if self._mailer is None:
                self._mailer = Mailer(self.settings.email)
            return self._mailer.send(name, envelope)
        return Outcome("failed", error=f"{recipient}: no channel configured for it (notices.email, notices.robots)")

    def close(self) -> None:
        if self._mailer is not None:
            self._mailer.close()


def _by_recipient(items: Iterable[nt.Queued]) -> dict[str, list[nt.Queued]]:
    groups: dict[str, list[nt.Queued]] = {}
    for q in items:
        groups.setdefault(q.recipient, []).append(q)
    return groups


def _message_id(group: list[nt.Queued]) -> str:
    """The same for the same notices: a resend after a crash carries the id of the first try."""
    return hashlib.sha256("\n".join(sorted(q.fingerprint for q in group)).encode()).hexdigest()[:32]


def _too_fast(outcome: Any) -> bool:
    from orchestrator.adapters.notify import RATE_CODES

    return outcome.code in {c for codes in RATE_CODES.values() for c in codes}


def of_application(ledger: Ledger, application: str, limit: int = 200) -> list[dict[str, Any]]:
    """The notices about ``application``, newest first, each with its delivery state (what
    ``govcloud notify status --app`` lists); read from the outbox whether or not notices are configured."""
    from orchestrator.adapters.outbox import Outbox

    return [q.as_dict() for q in Outbox(ledger.engine).listing(None, application, limit)]
