"""Notices as data: who must be told what, by when, decided from ledger state. Pure.

A :class:`Notice` is (kind, application, environment, due date, audience, payload). Two sources
decide them:

- :func:`from_event`: the event just recorded (a request for the office, a decision for the unit,
  an environment ready or removed, a reclamation due or done); written in the same transaction
  as the event;
- :func:`scan`: what time alone brings (a deadline one working day ahead or missed, a test
  environment 3 days before expiry), :func:`capacity` and :func:`drift` for the cloud's watch.

:func:`address` turns a notice into one :class:`Addressed` notice per recipient (``email:ADDR``
or ``robot:NAME``), from the unit, office and provider channels of the :class:`Directory` and the
manifest's contacts. Its :attr:`Addressed.fingerprint` (kind and topic, application,
environment, due date, recipient) is unique in the outbox: however many scans or processes find
the same notice, it is queued once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from orchestrator.core import lifecycle as lc
from orchestrator.core.workdays import Calendar

UNIT, OFFICE, PROVIDER = "unit", "office", "provider"  #: audiences


@dataclass(frozen=True)
class Kind:
    """A kind of notice: what it tells, the article behind it, who hears it by default."""

    name: str
    article: str
    audience: tuple[str, ...]
    doc: str


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind(
            "request",
            "Art. 11-16",
            (OFFICE,),
            "a unit submitted, asked for a change or termination, confirmed its "
            "backup; or an approval short of the quorum awaits another approver",
        ),
        Kind("decision", "Art. 12-16", (UNIT,), "the e-gov office decided on the unit's request"),
        Kind("provisioned", "Art. 13-15", (UNIT,), "an environment is ready (or a change applied)"),
        Kind("deadline-ahead", "Art. 12-16", (), "a deadline falls due on the next working day"),
        Kind("deadline-missed", "Art. 12-16", (OFFICE, UNIT), "a deadline passed and the step is still not done"),
        Kind("expiry-warning", "Art. 13", (UNIT, PROVIDER), "a test environment expires in 3 days"),
        Kind("test-removed", "Art. 13", (UNIT, OFFICE), "an expired test environment was removed"),
        Kind("reclamation-due", "Art. 16", (PROVIDER,), "a termination was approved: reclaim within 3 working days"),
        Kind("reclaimed", "Art. 16", (UNIT, OFFICE), "every resource of the application is reclaimed"),
        Kind("capacity", "Art. 31", (PROVIDER, OFFICE), "the cloud's use is at or above the threshold"),
        Kind("quota-drift", "Art. 31", (PROVIDER,), "an environment's quotas in the cloud differ from its allocation"),
        Kind(
            "cloud-drift",
            "Art. 31",
            (PROVIDER,),
            "an environment's cloud differs from its approved digest (govcloud drift): new findings",
        ),
    )
}

#: Event type -> notice kind, for the events someone must hear of.
EVENT_KINDS: dict[str, str] = {
    "submitted": "request",
    "change-requested": "request",
    "termination-requested": "request",
    "backup-confirmed": "request",
    "approval-given": "request",
    "accepted": "decision",
    "rejected": "decision",
    "reviewed": "decision",
    "approved": "decision",
    "extended": "decision",
    "test-passed": "decision",
    "change-approved": "decision",
    "termination-approved": "decision",
    "suspended": "decision",
    "rectification-ordered": "decision",
    "rectified": "decision",
    "provisioned": "provisioned",
    "test-expired": "test-removed",
    "reclaimed": "reclaimed",
}
#: Decisions the provider acts on as well as the unit.
PROVIDER_ACTS_ON = frozenset({"approved", "change-approved", "suspended", "rectified"})

#: Who acts before each deadline: the one told a working day ahead, and first told when it is missed.
RESPONSIBLE: dict[str, str] = {
    "accept-or-reject": OFFICE,
    "review": OFFICE,
    "change-review": OFFICE,
    "termination-review": OFFICE,
    "test-ready": PROVIDER,
    "change-applied": PROVIDER,
    "reclamation": PROVIDER,
    "rectification": UNIT,  # missed: the office hears too (deadline-missed), and escalates (Art. 37)
}


@dataclass(frozen=True)
class Notice:
    """One thing to tell. ``topic`` refines the kind (the event, the deadline, the resource) and
    ``notify_on`` is the first day it may go; ``due`` is the date it is about."""

    kind: str
    application: str
    unit: str
    due: dt.date
    audience: tuple[str, ...]
    topic: str = ""
    environment: str | None = None
    notify_on: dt.date | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            due=self.due.isoformat(),
            notify_on=(self.notify_on or self.due).isoformat(),
            audience=list(self.audience),
            payload=dict(self.payload),
        )
        return data


@dataclass(frozen=True)
class Addressed:
    """A notice for one recipient: what the outbox stores, one row each."""

    notice: Notice
    recipient: str

    @property
    def fingerprint(self) -> str:
        """sha256 of (kind[:topic], application, environment, due date, recipient)."""
        n = self.notice
        kind = f"{n.kind}:{n.topic}" if n.topic else n.kind
        key = "\x1f".join((kind, n.application, n.environment or "", n.due.isoformat(), self.recipient))
        return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class Directory:
    """Where each audience is reached (from ``govcloud.yaml`` ``notices``); contacts from manifests."""

    office: tuple[str, ...] = ()
    provider: tuple[str, ...] = ()
    units: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    contacts: bool = True  #: also e-mail the manifest's contacts about their application

    @property
    def empty(self) -> bool:
        """Nobody is told anything."""
        return not (self.office or self.provider or self.units or self.contacts)


NOBODY = Directory(contacts=False)  #: notices not configured


def address(
    notices: Iterable[Notice], directory: Directory, contacts: Mapping[str, Sequence[str]] | None = None
) -> list[Addressed]:
    """One :class:`Addressed` per (notice, recipient), each recipient once per notice.

    ``contacts`` maps an application to its contacts' e-mail addresses (the manifest on record).
    """
    out: list[Addressed] = []
    for notice in notices:
        recipients: dict[str, None] = {}
        for audience in notice.audience:
            if audience == OFFICE:
                recipients.update(dict.fromkeys(directory.office))
            elif audience == PROVIDER:
                recipients.update(dict.fromkeys(directory.provider))
            else:
                recipients.update(dict.fromkeys(directory.units.get(notice.unit, ())))
                if directory.contacts and contacts:
                    recipients.update(dict.fromkeys(f"email:{a}" for a in contacts.get(notice.application, ())))
        out.extend(Addressed(notice, r) for r in recipients)
    return out


def contact_emails(manifest: Mapping[str, Any] | None) -> list[str]:
    """The e-mail addresses of a manifest snapshot's contacts (its ``metadata.contacts``)."""
    return emails(((manifest or {}).get("metadata") or {}).get("contacts"))


def emails(contacts: Any) -> list[str]:
    """The e-mail addresses of a manifest's ``metadata.contacts`` as stored (anything else: none)."""
    if not isinstance(contacts, list):
        return []
    return [c["email"] for c in contacts if isinstance(c, dict) and isinstance(c.get("email"), str)]


# --- deciding -------------------------------------------------------------------------------


def from_event(before: lc.AppState, event: lc.Event, after: lc.AppState, calendar: Calendar) -> list[Notice]:
    """The notices an event causes (none for most provider bookkeeping)."""
    if event.type == "expiry-warned":  # govcloud expire warned: the scan's notice, queued at once
        return [n for n in scan(after, calendar, event.at) if n.kind == "expiry-warning"]
    kind = EVENT_KINDS.get(event.type)
    if kind is None:
        return []
    day = event.at.date()
    base: dict[str, Any] = dict(
        application=event.application,
        unit=after.unit or before.unit,
        environment=event.environment,
        topic=event.type,
        due=day,
    )
    payload = {
        "event": event.type,
        "sequence": event.sequence,
        "actor": event.actor,
        "at": event.at.isoformat(),
        "reason": event.reason,
        "digest": event.digest,
        "state": after.state,
    }
    if event.type == lc.APPROVAL_GIVEN:  # which step, and how far the quorum is
        payload |= {k: event.payload[k] for k in ("step", "quorum", "approvers")}
    audience = KINDS[kind].audience
    if event.type in PROVIDER_ACTS_ON:
        audience = (*audience, PROVIDER)
    if event.type == "provisioned" and after.state == before.state == lc.CHANGE_APPROVED:
        return []  # one environment of several: the unit hears when the change is applied everywhere
    notices = [Notice(kind, audience=audience, payload=payload, **base)]
    if event.type == "termination-approved":
        due, _ = lc.due_date(after, "reclamation", calendar)
        notices.append(
            Notice(
                "reclamation-due",
                audience=KINDS["reclamation-due"].audience,
                notify_on=day,
                payload=payload | {"deadline": "reclamation"},
                **(base | {"due": due, "topic": ""}),
            )
        )
    return notices


def previous_workday(day: dt.date, calendar: Calendar) -> dt.date:
    """The last working day before ``day`` (the first after a long holiday can be weeks back)."""
    for back in range(1, 60):
        candidate = day - dt.timedelta(days=back)
        if calendar.is_workday(candidate):
            return candidate
    return day - dt.timedelta(days=1)


def scan(state: lc.AppState, calendar: Calendar, now: dt.datetime) -> list[Notice]:
    """What time has brought for one application at ``now``: deadlines one working day ahead or
    missed, and the warning 3 days before its test environment expires."""
    today = now.date()
    found = []
    for d in lc.deadlines(state, calendar, now, running=True):
        who = RESPONSIBLE.get(d.name)
        if who is None:  # the test window and the trial minimum are watched by expiry and the gates
            continue
        payload = {
            "deadline": d.name,
            "article": d.article,
            "start": d.start.isoformat(),
            "due": d.due.isoformat(),
            "provisional": d.provisional,
            "state": state.state,
        }
        base: dict[str, Any] = dict(
            application=state.application, unit=state.unit, topic=d.name, due=d.due, payload=payload
        )
        if d.overdue:
            audience = (who, *(a for a in KINDS["deadline-missed"].audience if a != who))
            found.append(Notice("deadline-missed", audience=audience, notify_on=d.due + dt.timedelta(days=1), **base))
        else:
            ahead = previous_workday(d.due, calendar)
            if today >= ahead:
                found.append(Notice("deadline-ahead", audience=(who,), notify_on=ahead, **base))
    expires = state.test_expires
    if "test" in state.provisioned and expires is not None:
        warn_from = expires - dt.timedelta(days=lc.WARN_DAYS)
        if warn_from <= now < expires:
            found.append(
                Notice(
                    "expiry-warning",
                    state.application,
                    state.unit,
                    expires.date(),
                    KINDS["expiry-warning"].audience,
                    environment="test",
                    notify_on=warn_from.date(),
                    payload={"expires": expires.isoformat(), "test_days": state.test_days, "state": state.state},
                )
            )
    return found


def capacity(assessments: Iterable[Any], threshold: float, today: dt.date) -> list[Notice]:
    """One notice per resource at or above the threshold (Art. 31), once a day."""
    return [
        Notice(
            "capacity",
            "",
            "",
            today,
            KINDS["capacity"].audience,
            topic=a.resource,
            payload={
                "resource": a.resource,
                "percent": a.percent,
                "used": a.used,
                "capacity": a.capacity,
                "unit_of_measure": a.unit,
                "threshold": threshold,
            },
        )
        for a in assessments
        if a.status == "warn"
    ]


def drift(application: str, unit: str, environment: str, differences: Iterable[Any], today: dt.date) -> list[Notice]:
    """One notice when an environment's quotas in the cloud differ from its allocation, once a day."""
    found = [d.as_dict() for d in differences]
    if not found:
        return []
    return [
        Notice(
            "quota-drift",
            application,
            unit,
            today,
            KINDS["quota-drift"].audience,
            environment=environment,
            payload={"differences": found},
        )
    ]


# --- the outbox's view ----------------------------------------------------------------------

PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"  #: outbox states


@dataclass(frozen=True)
class Queued:
    """A notice in the outbox for one recipient, with its delivery state."""

    id: int
    fingerprint: str
    kind: str
    topic: str
    application: str
    unit: str
    environment: str | None
    due: dt.date
    recipient: str
    payload: Mapping[str, Any]
    status: str
    attempts: int
    created_at: dt.datetime
    sent_at: dt.datetime | None = None
    next_attempt: dt.datetime | None = None
    last_error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["payload"] = dict(self.payload)
        for key in ("due", "created_at", "sent_at", "next_attempt"):
            data[key] = data[key].isoformat() if data[key] else None
        return data
