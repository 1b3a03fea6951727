"""Lifecycle rules of Art. 10-16: states, events, who may do what, deadlines and gates. Pure.

An application's state is never stored as such: it is the fold (:func:`fold`) of its events.
:func:`decide` checks one requested step against the state (transition, role, step rules, gates)
and returns the event to append; the ledger adapter appends it and the state follows.

Actors: ``Actor(name, role, unit)``. The unit an actor belongs to is a separate field (CLI
``--unit`` or ``GOVCLOUD_UNIT``), not encoded in the name: a ``unit`` actor must name its unit and
may act only for that unit's applications; an ``egov-office`` actor that names a unit may not
decide on that unit's requests, and nobody decides on a request they recorded themselves.

Times are naive datetimes in Beijing time (the regulation's clock); deadlines count whole days.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal

from orchestrator.core.ids import unit_id
from orchestrator.core.workdays import Calendar
from orchestrator.errors import GovcloudError, HistoryInvalid, RuleError, UsageError

# --- states, roles, events ----------------------------------------------------------------

NEW = "new"  #: before the first event
SUBMITTED, REJECTED, ACCEPTED, REVIEWED = "submitted", "rejected", "accepted", "reviewed"
TESTING, TRIAL, PRODUCTION = "testing", "trial", "production"
CHANGE_REQUESTED, CHANGE_APPROVED = "change-requested", "change-approved"
TERMINATION_REQUESTED, BACKUP_CONFIRMED = "termination-requested", "backup-confirmed"
TERMINATION_APPROVED, RECLAIMED = "termination-approved", "reclaimed"
#: Art. 21: during testing the unit adjusts (a revised manifest) and the office reviews it again.
ADJUSTMENT_SUBMITTED, ADJUSTMENT_REJECTED = "adjustment-submitted", "adjustment-rejected"
STATES = (
    NEW,
    SUBMITTED,
    REJECTED,
    ACCEPTED,
    REVIEWED,
    TESTING,
    ADJUSTMENT_SUBMITTED,
    ADJUSTMENT_REJECTED,
    TRIAL,
    PRODUCTION,
    CHANGE_REQUESTED,
    CHANGE_APPROVED,
    TERMINATION_REQUESTED,
    BACKUP_CONFIRMED,
    TERMINATION_APPROVED,
    RECLAIMED,
)
#: After an applied change the application returns to the state it was operating in.
RESUME = "<operating state>"

#: The same approved digest applied again to a live environment (no new approval: the manifest is
#: the one approved; the program that turns it into resources changed). Leaves the state as it is.
REAPPLIED = "reapplied"
#: Not an event: an ``up`` of a live environment at the digest and with the program it already
#: runs. Nothing of the lifecycle happened, so nothing is recorded (the engine's history has the run).
UNCHANGED = "unchanged"

#: A deleted manifest seen by ``gitops apply`` without a verified actor of the unit: recorded as a
#: proposal (who deleted it, by commit metadata, is a claim), never as the unit's request.
TERMINATION_PROPOSED = "termination-proposed"
#: Data loss of issue 25: the unit confirms (with backup evidence), the office approves, up applies.
DATA_LOSS_CONFIRMED, DATA_LOSS_APPROVED = "data-loss-confirmed", "data-loss-approved"
#: An up that failed, or whose result differs from the plan; recorded with the engine's last lines.
PROVISION_FAILED = "provision-failed"
#: Quorum (issue 21): one office member's approval of a step that needs more distinct approvers
#: than have acted; the N-th distinct approval records the step itself. A withdrawn one no longer counts.
APPROVAL_GIVEN, APPROVAL_WITHDRAWN = "approval-given", "approval-withdrawn"
#: Art. 37: a high-risk finding suspends the system (servers off, public ingress withdrawn) until
#: rectified; a lower-risk one orders rectification by a date; ``rectified`` ends either.
SUSPENDED, RECTIFICATION_ORDERED, RECTIFIED = "suspended", "rectification-ordered", "rectified"
RISKS = ("high", "low")

UNIT, EGOV, PROVIDER = "unit", "egov-office", "provider"
ROLES = (UNIT, EGOV, PROVIDER)

TEST_DAYS = 15  #: Art. 13
TRIAL_DAYS = 30  #: Art. 14
WARN_DAYS = 3  #: `expire` warns this many days before a test environment goes

#: The regulation (长政办发〔2018〕22号) is in force from this day: no step under it is stated earlier.
IN_FORCE = dt.datetime(2018, 6, 12)
#: A recorded step may be stated at most this far after the clock of the machine recording it.
CLOCK_SKEW = dt.timedelta(minutes=10)
#: Reading (``status``, ``deadlines``) may be judged at most this far ahead of the clock.
LOOK_AHEAD = dt.timedelta(days=366 * 5)


@dataclass(frozen=True)
class Actor:
    """Who records an event; ``source`` says how they were known (``local``: --as/--role)."""

    name: str
    role: str
    unit: str | None = None
    source: str = "local"

    def __post_init__(self) -> None:
        if not self.name:
            raise UsageError("actor name is empty: use --as NAME or GOVCLOUD_ACTOR")
        if self.role not in ROLES:
            raise UsageError(f"role {self.role!r} unknown: one of {', '.join(ROLES)}")
        if self.role == UNIT and not self.unit:
            raise UsageError("a unit actor names its unit: use --unit UNIT or GOVCLOUD_UNIT")
        if self.unit is not None:  # every actor is built here: no disguised unit gets past (" zjj", "ZJJ")
            object.__setattr__(self, "unit", unit_id(self.unit, _UNIT_FIELD.get(self.source, "actor unit")))


#: Where an actor's unit came from, by ``Actor.source``, for the refusal of a malformed one.
_UNIT_FIELD = {"local": "--unit (GOVCLOUD_UNIT)", "oidc": "the ID token's unit claim"}


@dataclass(frozen=True)
class Event:
    """One ledger entry. ``at`` is the stated time, ``recorded_at`` the real (UTC) time."""

    application: str
    sequence: int
    type: str
    actor: str
    actor_role: str
    at: dt.datetime
    actor_unit: str | None = None
    actor_source: str = "local"
    digest: str | None = None
    environment: str | None = None
    reason: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    recorded_at: dt.datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready; the manifest snapshot in the payload is left out (``app history`` stays short).
        Shallow: the payload's values are the event's own (``asdict`` deep-copied the manifest only
        to drop it, most of the time of a history page)."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["at"] = self.at.isoformat()
        data["recorded_at"] = self.recorded_at.isoformat() if self.recorded_at else None
        data["payload"] = {k: v for k, v in self.payload.items() if k != "manifest"}
        return data


# --- the transition table -----------------------------------------------------------------


@dataclass(frozen=True)
class Transition:
    """Event ``event`` (for ``environment``, if set) moves ``sources`` to ``target``.

    ``target`` None leaves the state as it is; :data:`RESUME` returns to the operating state.
    """

    event: str
    sources: frozenset[str]
    target: str | None
    roles: frozenset[str]
    article: str
    doc: str
    environment: str | None = None


def _t(
    event: str, sources: str, target: str | None, role: str, article: str, doc: str, env: str | None = None
) -> Transition:
    return Transition(event, frozenset(sources.split()), target, frozenset([role]), article, doc, env)


_OPERATING = f"{TESTING} {TRIAL} {PRODUCTION}"
_ADJUSTING = f"{ADJUSTMENT_SUBMITTED} {ADJUSTMENT_REJECTED}"  #: testing, with a revised manifest pending or refused
#: Where an up may change a live environment, and so destroy data.
_MAY_LOSE_DATA = f"{_OPERATING} {_ADJUSTING} {CHANGE_REQUESTED} {CHANGE_APPROVED}"
_TEST_MAY_LIVE = (
    f"{_OPERATING} {_ADJUSTING} {CHANGE_REQUESTED} {CHANGE_APPROVED} {TERMINATION_REQUESTED} "
    f"{BACKUP_CONFIRMED} {TERMINATION_APPROVED}"
)
TRANSITIONS: tuple[Transition, ...] = (
    _t("submitted", f"{NEW} {REJECTED}", SUBMITTED, UNIT, "Art. 11", "the unit submits (or resubmits) its manifest"),
    _t("accepted", SUBMITTED, ACCEPTED, EGOV, "Art. 12", "the e-gov office accepts the application"),
    _t("rejected", SUBMITTED, REJECTED, EGOV, "Art. 12", "the e-gov office rejects it, with reasons"),
    _t("reviewed", ACCEPTED, REVIEWED, EGOV, "Art. 12", "the review opinion: complete, resources reasonable"),
    _t(
        "approved",
        f"{REVIEWED} {TESTING}",
        None,
        EGOV,
        "Art. 13",
        "the test environment is approved for a digest",
        "test",
    ),
    _t("approved", f"{TESTING} {TRIAL}", None, EGOV, "Art. 14", "the trial run is approved for a digest", "trial"),
    _t("approved", f"{TRIAL} {PRODUCTION}", None, EGOV, "Art. 14", "production is approved for a digest", "production"),
    _t("provisioned", f"{REVIEWED} {TESTING}", TESTING, PROVIDER, "Art. 13", "the test environment is ready", "test"),
    _t("provisioned", f"{TESTING} {TRIAL}", TRIAL, PROVIDER, "Art. 14", "the trial environment is open", "trial"),
    _t("provisioned", f"{TRIAL} {PRODUCTION}", PRODUCTION, PROVIDER, "Art. 14", "production is open", "production"),
    _t("provisioned", CHANGE_APPROVED, RESUME, PROVIDER, "Art. 15", "an approved change is applied to an environment"),
    _t(
        REAPPLIED,
        f"{_OPERATING} {_ADJUSTING} {CHANGE_REQUESTED} {CHANGE_APPROVED}",
        None,
        PROVIDER,
        "Art. 31",
        "a live environment is applied again at the digest it runs (the program or its templates changed)",
    ),
    _t("extended", f"{TESTING} {_ADJUSTING}", None, EGOV, "Art. 13", "the e-gov office extends the test period"),
    _t(
        "adjustment-submitted",
        f"{TESTING} {ADJUSTMENT_REJECTED}",
        ADJUSTMENT_SUBMITTED,
        UNIT,
        "Art. 21",
        "during testing the unit submits a revised manifest (after a failed evaluation, or any adjustment)",
    ),
    _t(
        "adjustment-rejected",
        ADJUSTMENT_SUBMITTED,
        ADJUSTMENT_REJECTED,
        EGOV,
        "Art. 12, 21",
        "the e-gov office refuses the revised manifest, with reasons; the unit submits another",
    ),
    _t(
        "adjustment-reviewed",
        ADJUSTMENT_SUBMITTED,
        TESTING,
        EGOV,
        "Art. 12, 21",
        "the review opinion on the revised manifest; the office then approves it for test",
    ),
    _t("expiry-warned", _TEST_MAY_LIVE, None, PROVIDER, "Art. 13", "the test environment expires soon"),
    _t("test-expired", _TEST_MAY_LIVE, None, PROVIDER, "Art. 13", "the test environment was destroyed at expiry"),
    _t(
        "test-passed",
        f"{TESTING} {CHANGE_REQUESTED}",
        None,
        EGOV,
        "Art. 21",
        "the e-gov office records a passed performance and security test",
    ),
    _t(
        "change-requested",
        f"{TRIAL} {PRODUCTION}",
        CHANGE_REQUESTED,
        UNIT,
        "Art. 15",
        "the unit requests a change (new manifest)",
    ),
    _t("change-approved", CHANGE_REQUESTED, CHANGE_APPROVED, EGOV, "Art. 15", "the e-gov office approves the change"),
    Transition(
        TERMINATION_PROPOSED,
        frozenset(f"{REVIEWED} {_OPERATING} {_ADJUSTING}".split()),
        None,
        frozenset([PROVIDER, UNIT]),
        "Art. 16",
        "a pipeline saw the manifest deleted: a proposal the unit confirms with termination-requested",
    ),
    _t(
        "termination-requested",
        f"{REVIEWED} {_OPERATING} {_ADJUSTING}",
        TERMINATION_REQUESTED,
        UNIT,
        "Art. 16",
        "the unit requests termination",
    ),
    _t(
        "backup-confirmed",
        TERMINATION_REQUESTED,
        BACKUP_CONFIRMED,
        UNIT,
        "Art. 16",
        "the unit has taken its data off and backed it up",
    ),
    _t(
        "termination-approved",
        BACKUP_CONFIRMED,
        TERMINATION_APPROVED,
        EGOV,
        "Art. 16",
        "the e-gov office approves the termination",
    ),
    _t(
        "reclaim-step",
        TERMINATION_APPROVED,
        None,
        PROVIDER,
        "Art. 16",
        "one step of a reclamation run (destroy, sweep, clients, project, stack, verify)",
    ),
    _t(
        "reclaim-step",
        _TEST_MAY_LIVE,
        None,
        PROVIDER,
        "Art. 13",
        "one step of removing an expired test environment (govcloud expire), as a reclamation run removes one",
        "test",
    ),
    _t("reclaimed", TERMINATION_APPROVED, RECLAIMED, PROVIDER, "Art. 16", "the provider has reclaimed every resource"),
    _t(
        DATA_LOSS_CONFIRMED,
        _MAY_LOSE_DATA,
        None,
        UNIT,
        "Art. 15",
        "the unit confirms, with its backup evidence, that an up of a digest may destroy the data of named resources",
    ),
    _t(
        DATA_LOSS_APPROVED,
        _MAY_LOSE_DATA,
        None,
        EGOV,
        "Art. 15",
        "the e-gov office approves the data loss the unit confirmed: up may destroy exactly those resources",
    ),
    _t(
        APPROVAL_GIVEN,
        f"{TRIAL} {PRODUCTION}",
        None,
        EGOV,
        "Art. 14",
        "one office member approves production where the policy's quorum asks for more distinct approvers",
        "production",
    ),
    _t(
        APPROVAL_GIVEN,
        f"{CHANGE_REQUESTED} {BACKUP_CONFIRMED}",
        None,
        EGOV,
        "Art. 15-16",
        "one office member approves a major change or a termination where the quorum asks for more",
    ),
    _t(
        APPROVAL_WITHDRAWN,
        f"{TRIAL} {PRODUCTION}",
        None,
        EGOV,
        "Art. 14",
        "an office member withdraws their approval of production before the quorum is reached",
        "production",
    ),
    _t(
        APPROVAL_WITHDRAWN,
        f"{CHANGE_REQUESTED} {BACKUP_CONFIRMED}",
        None,
        EGOV,
        "Art. 15-16",
        "an office member withdraws their approval of a major change or a termination before the quorum is reached",
    ),
    _t(
        SUSPENDED,
        _MAY_LOSE_DATA,
        None,
        EGOV,
        "Art. 37",
        "a security inspection found a high risk: the system is suspended (servers off, public ingress withdrawn) "
        "until rectified; the provider's up applies it",
    ),
    _t(
        RECTIFICATION_ORDERED,
        _MAY_LOSE_DATA,
        None,
        EGOV,
        "Art. 37",
        "a security inspection found a lower risk: the unit rectifies it by the date the office sets",
    ),
    _t(
        RECTIFIED,
        _MAY_LOSE_DATA,
        None,
        EGOV,
        "Art. 37",
        "the office accepts the rectification evidence: a suspension is lifted (the provider's up restores it)",
    ),
    _t(
        PROVISION_FAILED,
        f"{REVIEWED} {_OPERATING} {CHANGE_REQUESTED} {CHANGE_APPROVED}",
        None,
        PROVIDER,
        "Art. 15",
        "an up failed or left the cloud different from the plan; an approved change returns to the operating "
        "state, so the unit may request a revert or a new change",
    ),
)
EVENT_TYPES = tuple(dict.fromkeys(t.event for t in TRANSITIONS))
#: One command, the event the state calls for: during testing a change is an adjustment (Art. 21),
#: and the office reviews or rejects it as it does a submission (Art. 12).
STEP_EVENTS: dict[str, dict[str, str]] = {
    "change-requested": {TESTING: "adjustment-submitted", ADJUSTMENT_REJECTED: "adjustment-submitted"},
    "reviewed": {ADJUSTMENT_SUBMITTED: "adjustment-reviewed"},
    "rejected": {ADJUSTMENT_SUBMITTED: "adjustment-rejected"},
}


def event_for(state: AppState, step: str) -> str:
    """The event ``step`` (``change-requested``, ``reviewed``, ``rejected``) records in ``state``."""
    return STEP_EVENTS.get(step, {}).get(state.state, step)


#: Decisions of the e-gov office on a unit's request: the requester's unit may not take them.
DECISIONS = frozenset(t.event for t in TRANSITIONS if EGOV in t.roles)


def transition(state: str, event: str, environment: str | None = None) -> Transition:
    """The transition ``event`` takes from ``state``; a :class:`RuleError` when there is none."""
    candidates = [t for t in TRANSITIONS if t.event == event and t.environment in (None, environment)]
    if not candidates:
        raise UsageError(f"unknown event {event!r}" + (f" for environment {environment}" if environment else ""))
    for t in candidates:
        if state in t.sources:
            return t
    allowed = sorted(set().union(*(t.sources for t in candidates)))
    what = f"{event} ({environment})" if environment else event
    raise RuleError(
        f"{what} is not allowed in state {state}; allowed from: {', '.join(allowed)}",
        rule=f"transition:{event}",
        article=candidates[0].article,
    )


# --- derived state --------------------------------------------------------------------------


@dataclass
class AppState:
    """What the events of one application add up to. Times are ISO strings (JSON-ready)."""

    application: str
    unit: str = ""
    state: str = NEW
    sequence: int = 0
    last_at: str | None = None
    digest: str | None = None  #: the latest submitted or requested manifest
    materials: dict[str, str | None] = field(default_factory=dict)  #: material -> sha256
    approved: dict[str, str] = field(default_factory=dict)  #: environment -> approved digest
    provisioned: dict[str, str] = field(default_factory=dict)  #: live environment -> digest
    #: live environment -> its last ``provisioned`` or ``reapplied`` event: event, at, sequence, program
    deployed: dict[str, dict[str, Any]] = field(default_factory=dict)
    operating: str | None = None  #: trial or production while a change is pending
    change: dict[str, Any] | None = None  #: kind, digest, tested, environments
    requested_by: str | None = None  #: the person behind the pending unit request
    #: a pending ``termination-proposed``: at, commit, path, the commit's (unverified) author
    termination_proposed: dict[str, Any] | None = None
    test_started: str | None = None
    test_days: int = TEST_DAYS
    test_warned_until: str | None = None
    tested_digest: str | None = None
    trial_started: str | None = None
    clocks: dict[str, list[str | None]] = field(default_factory=dict)  #: deadline -> [start, end]
    #: the one-shot decisions in force (:func:`once_key`): digest, actor, at, sequence, event
    decided: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: environment -> the data loss confirmed for an up: digest, resources, evidence, confirmed_by, approved_by
    data_loss: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: environment -> its last failed up (at, error), until an up of it succeeds
    failed: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: quorum step -> the approvals given short of its quorum: digest, quorum, by [actor, at, sequence]
    approvals: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Art. 37: the suspension in force (finding, reference, at, by), None when running
    suspension: dict[str, Any] | None = None
    #: Art. 37: the last rectification ordered (finding, reference, due, at, by; rectified: when done)
    rectification: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AppState:
        return cls(**data)

    @property
    def test_expires(self) -> dt.datetime | None:
        """When the test window ends: start + 15 natural days + extensions (Art. 13)."""
        if not self.test_started:
            return None
        return dt.datetime.fromisoformat(self.test_started) + dt.timedelta(days=self.test_days)

    @property
    def production_opens(self) -> dt.datetime | None:
        """The earliest time production may open: 30 natural days after the trial began (Art. 14)."""
        if not self.trial_started:
            return None
        return dt.datetime.fromisoformat(self.trial_started) + dt.timedelta(days=TRIAL_DAYS)


def fold(events: list[Event], application: str | None = None) -> AppState:
    """The state after ``events`` (one application's, in sequence order); :class:`HistoryInvalid`
    naming the event when one does not follow from the ones before (a ledger edited by hand)."""
    state = AppState(application or (events[0].application if events else ""))
    for event in events:
        state = apply_recorded(state, event)
    return state


def apply_recorded(state: AppState, event: Event) -> AppState:
    """:func:`apply` for an event read back from the ledger: :class:`HistoryInvalid` naming the
    event when it does not follow from the state (govcloud never records such an event)."""
    try:
        return apply(state, event)
    except (GovcloudError, AttributeError, KeyError, TypeError, ValueError) as exc:
        raise HistoryInvalid(
            f"event #{event.sequence} ({event.type!r}) of {state.application} does not follow from the ones before: "
            f"{exc}; govcloud does not write such a history (edited by hand?)"
        ) from exc


def apply(state: AppState, event: Event) -> AppState:
    """The state after one more event; the event was checked by :func:`decide` when recorded."""
    s = replace(
        state,
        approved=dict(state.approved),
        provisioned=dict(state.provisioned),
        deployed=dict(state.deployed),
        clocks={k: list(v) for k, v in state.clocks.items()},
        change=dict(state.change) if state.change else None,
        data_loss={k: dict(v) for k, v in state.data_loss.items()},
        failed=dict(state.failed),
        approvals={k: {**v, "by": list(v["by"])} for k, v in state.approvals.items()},
    )
    t = transition(s.state, event.type, event.environment)
    at = event.at.isoformat()
    s.sequence, s.last_at = event.sequence, at
    # the steps that key a per-environment map (approved, provisioned, data loss, failed) always name one,
    # and those that record a digest (approved, provisioned) always carry one (decide sees to both)
    env, p, digest = event.environment or "", event.payload, event.digest or ""

    def start(name: str) -> None:
        s.clocks[name] = [at, None]

    def deployed() -> dict[str, Any]:
        return {
            "event": event.type,
            "at": at,
            "sequence": event.sequence,
            "program": p.get("program"),
            "suspended": bool(p.get("suspended")),
        }

    def decided(key: str) -> None:
        entry: dict[str, Any] = {
            "digest": event.digest,
            "actor": event.actor,
            "at": at,
            "sequence": event.sequence,
            "event": event.type,
        }
        if p.get("approvers"):  # a quorum's (a single approver's entry stays as ledgers hold it)
            entry["approvers"] = list(p["approvers"])
        s.decided = {**s.decided, key: entry}

    def stop(*names: str) -> None:
        for name in names:
            if name in s.clocks and s.clocks[name][1] is None:
                s.clocks[name][1] = at

    kind = event.type
    step = quorum_step(state, kind, env)
    if step is not None:  # the step took effect: its approvals are spent
        s.approvals.pop(step.name, None)
    if kind in (APPROVAL_GIVEN, APPROVAL_WITHDRAWN) and p.get("step") not in QUORUM_STEPS:
        raise ValueError(f"step {p.get('step')!r} is not a quorum step")  # hand-edited: HistoryInvalid
    if kind == APPROVAL_GIVEN:
        entry = s.approvals.get(p["step"])
        if entry is None or entry["digest"] != event.digest:  # those for another digest no longer count
            entry = s.approvals[p["step"]] = {"digest": event.digest, "by": []}
        entry["quorum"] = int(p["quorum"])
        entry["by"].append({"actor": event.actor, "at": at, "sequence": event.sequence})
    elif kind == APPROVAL_WITHDRAWN:
        entry = s.approvals[p["step"]]
        entry["by"] = [a for a in entry["by"] if a["actor"] != event.actor]
        if not entry["by"]:
            del s.approvals[p["step"]]
    if kind in ("provisioned", REAPPLIED):  # an up that succeeded consumed its data-loss approval
        s.data_loss.pop(env, None)
        s.failed.pop(env, None)
    if kind in ("submitted", "change-requested", "adjustment-submitted"):
        s.unit = p.get("unit", s.unit)
        s.digest = event.digest
        s.materials = dict(p.get("materials", {}))
        s.requested_by = event.actor
    if kind == "submitted":
        start("accept-or-reject")
    elif kind in ("accepted", "rejected"):
        stop("accept-or-reject")
        if kind == "accepted":
            start("review")
    elif kind == "reviewed":
        stop("review")
        start("test-ready")
    elif kind == "approved":
        s.approved[env] = digest
        decided(once_key(kind, env))
    elif kind == "adjustment-submitted":
        start("adjustment-review")
    elif kind in ("adjustment-rejected", "adjustment-reviewed"):
        stop("adjustment-review")
        if kind == "adjustment-reviewed":
            start("adjustment-ready")
    elif kind == "provisioned":
        s.provisioned[env] = digest
        s.deployed[env] = deployed()
        if env == "test" and s.state in (REVIEWED, TESTING):
            stop("test-ready")
            if s.digest == event.digest:  # the reviewed revision is in place
                stop("adjustment-ready")
            if not s.test_started:
                s.test_started = at
                start("test-window")
        elif env == "trial" and not s.trial_started:
            s.trial_started = at
            start("trial-minimum")
        elif env == "production":
            stop("trial-minimum")
    elif kind == REAPPLIED:
        s.deployed[env] = deployed()
    elif kind == DATA_LOSS_CONFIRMED:
        s.data_loss[env] = {
            "digest": event.digest,
            "resources": list(p["resources"]),
            "evidence": event.reason,
            "confirmed_by": event.actor,
            "approved_by": None,
        }
    elif kind == DATA_LOSS_APPROVED:
        s.data_loss[env]["approved_by"] = event.actor
    elif kind == PROVISION_FAILED:
        s.failed[env] = {"at": at, "digest": event.digest, "error": event.reason}
        if s.state == CHANGE_APPROVED:  # back to operating: the unit may request a revert or a new change
            s.state, s.operating, s.change = s.operating or TRIAL, None, None
            stop("change-applied")
    elif kind == SUSPENDED:
        s.suspension = {"finding": event.reason, "reference": p.get("reference"), "at": at, "by": event.actor}
    elif kind == RECTIFICATION_ORDERED:
        s.rectification = {
            "finding": event.reason,
            "reference": p.get("reference"),
            "due": p["due"],
            "at": at,
            "by": event.actor,
            "rectified": None,
        }
        start("rectification")
    elif kind == RECTIFIED:
        s.suspension = None
        if s.rectification and not s.rectification.get("rectified"):
            s.rectification = {**s.rectification, "rectified": at}
        stop("rectification")
    elif kind == "extended":
        s.test_days += int(p["days"])
        if "test" not in s.provisioned and "test-window" in s.clocks:
            s.clocks["test-window"][1] = None  # expired, now reopened for a new test environment
    elif kind == "expiry-warned":
        s.test_warned_until = s.test_expires.isoformat() if s.test_expires else None
    elif kind == "test-expired":
        s.provisioned.pop("test", None)
        s.deployed.pop("test", None)
        stop("test-window")
    elif kind == "test-passed":
        s.tested_digest = event.digest
        decided(once_key(kind, env))
        if s.change:
            s.change["tested"] = True
    elif kind == "change-requested":
        s.operating = s.state
        s.change = {"kind": p.get("kind", "minor"), "digest": event.digest, "tested": False, "environments": []}
        s.decided = {k: v for k, v in s.decided.items() if k != once_key("test-passed")}  # the change is tested anew
        s.approvals.pop("major-change", None)  # a new request is approved anew
        start("change-review")
    elif kind == "change-approved":
        assert s.change is not None  # narrowing: the table allows change-approved only in change-review
        expires = s.test_expires
        gone = "test" if expires and event.at >= expires else None  # an expired test env is not changed
        s.change["environments"] = sorted(e for e in s.provisioned if e != gone)
        for live in s.change["environments"]:
            s.approved[live] = digest
            decided(once_key("approved", live))
        s.requested_by = None
        stop("change-review")
        start("change-applied")
    elif kind == TERMINATION_PROPOSED:
        s.termination_proposed = {"at": at, **{k: p.get(k) for k in ("commit", "path", "author")}}
    elif kind == "termination-requested":
        s.requested_by = event.actor
        s.termination_proposed = None
        start("termination-review")
    elif kind == "termination-approved":
        s.requested_by = None
        stop("termination-review")
        start("reclamation")
    elif kind == "reclaimed":
        s.provisioned.clear()
        s.deployed.clear()
        stop("reclamation", "test-window", "change-applied")

    if t.target == RESUME:
        assert s.change is not None  # narrowing: RESUME is reached only from a change
        if all(s.provisioned.get(e) == s.change["digest"] for e in s.change["environments"]):
            s.state, s.operating, s.change = s.operating or TRIAL, None, None
            stop("change-applied")
    elif t.target is not None:
        s.state = t.target
    return s


# --- deciding a step ------------------------------------------------------------------------


def decide(
    state: AppState,
    kind: str,
    actor: Actor,
    at: dt.datetime,
    *,
    now: dt.datetime | None = None,
    environment: str | None = None,
    digest: str | None = None,
    reason: str | None = None,
    payload: dict[str, Any] | None = None,
    quorum: Mapping[str, int] | None = None,
) -> Event:
    """Check one step against ``state`` and return the event that records it; ``now`` is the
    recording machine's clock (Beijing time), which bounds the stated ``at`` (:func:`check_stated`).
    ``quorum``: distinct approvers each :data:`QUORUM_STEPS` step needs (the policy's; default 1):
    an approval short of it is recorded as :data:`APPROVAL_GIVEN`, the N-th as the step itself.

    Raises :class:`RuleError` (transition, role, step rule or gate; each names its article).
    """
    if kind == APPROVAL_GIVEN:
        raise UsageError(f"{APPROVAL_GIVEN} is recorded by approving the step itself")
    t = transition(state.state, kind, environment)
    check_actor(state, t, actor, payload or {})
    check_stated(at, now)
    if state.last_at and at < dt.datetime.fromisoformat(state.last_at):
        raise UsageError(f"--at {at.isoformat()} precedes the last event of {state.application} ({state.last_at})")
    payload = dict(payload or {})
    if kind in ("rejected", "adjustment-rejected") and not reason:
        raise RuleError("a rejection carries its reasons", rule="rejection-reasons", article="Art. 12")
    if kind == "extended" and (int(payload.get("days", 0)) <= 0 or not reason):
        raise RuleError(
            "an extension names a positive number of days and a reason", rule="extension", article="Art. 13"
        )
    if kind == "backup-confirmed" and not reason:
        raise RuleError("the backup confirmation names its evidence", rule="backup-evidence", article="Art. 16")
    if kind in ("approved", "test-passed"):
        digest = digest or state.digest
    if kind == "approved" and environment == "production":
        production_gate(state, at)
    if kind == "provisioned":
        digest = digest or state.approved.get(environment or "")
        provision_gate(state, environment or "", digest, at)
    if kind == REAPPLIED:
        digest = digest or state.provisioned.get(environment or "")
        reapply_gate(state, environment or "", digest, at)
        if not reason:
            raise RuleError(
                "a re-application says why (which shared files changed)", rule="reapply-reason", article="Art. 31"
            )
    if kind == "change-approved":
        assert state.change is not None  # narrowing: allowed only in change-review
        digest = state.change["digest"]
        if state.change["kind"] == "major" and not state.change["tested"]:
            raise RuleError(
                "a major change passes the performance and security tests again before approval: "
                "record test-passed first",
                rule="major-change-tested",
                article="Art. 15",
            )
    if kind in (DATA_LOSS_CONFIRMED, DATA_LOSS_APPROVED):
        digest = data_loss_gate(state, kind, environment, digest, reason, payload, actor)
    if kind == PROVISION_FAILED and not reason:
        raise RuleError("a failed up is recorded with what failed", rule="failure-reason", article="Art. 15")
    if kind in (SUSPENDED, RECTIFICATION_ORDERED, RECTIFIED):
        inspection_gate(state, kind, at, reason, payload)
    if kind in ("expiry-warned", "test-expired", "extended") and not state.test_started:
        raise RuleError(f"{state.application} has no test environment", rule="test-window", article="Art. 13")
    if kind == APPROVAL_WITHDRAWN:
        digest = withdrawal_gate(state, actor, environment, payload)
    check_once(state, t, environment, digest)
    step = quorum_step(state, kind, environment)
    if step is not None:
        kind, counted = count_approval(state, step, actor, digest, (quorum or {}).get(step.name, 1))
        payload.update(counted)
    return Event(
        application=state.application,
        sequence=state.sequence + 1,
        type=kind,
        actor=actor.name,
        actor_role=actor.role,
        actor_unit=actor.unit,
        actor_source=actor.source,
        at=at,
        digest=digest,
        environment=environment,
        reason=reason,
        payload=payload,
    )


def check_actor(state: AppState, t: Transition, actor: Actor, payload: dict[str, Any]) -> None:
    """Role rules (Art. 6-9): the role of the step, the unit's own applications, no self-approval."""
    what = f"{t.event} ({t.environment})" if t.environment else t.event
    if actor.role not in t.roles:
        raise RuleError(
            f"{what} is for role {', '.join(sorted(t.roles))}, not {actor.role}", rule="role", article="Art. 6-9"
        )
    owner = state.unit or payload.get("unit", "")
    if actor.role == UNIT and actor.unit != owner:
        raise RuleError(
            f"unit {actor.unit} may not act for {state.application}, an application of unit {owner}",
            rule="own-unit",
            article="Art. 6-9",
        )
    if t.event in DECISIONS and (actor.unit == owner or (state.requested_by and actor.name == state.requested_by)):
        raise RuleError(
            f"{actor.name} ({actor.unit or 'no unit'}) may not decide on a request of their own unit {owner}",
            rule="no-self-approval",
            article="Art. 6-9",
        )


#: Steps a person records by hand (the CLI's ``app`` commands and the portal's buttons); the others
#: are recorded by ``up``, ``expire``, ``reclaim`` and ``gitops``.
MANUAL = (
    "accepted",
    "rejected",
    "reviewed",
    "approved",
    "extended",
    "test-passed",
    "change-approved",
    "termination-requested",
    "backup-confirmed",
    "termination-approved",
)


def steps_open(state: AppState, actor: Actor) -> list[Transition]:
    """The manual steps ``actor`` may take from ``state`` by the transition, role and one-shot
    rules (the step's own rules and gates still decide when it is taken)."""
    found = []
    for t in TRANSITIONS:
        if t.event in MANUAL and state.state in t.sources:
            try:
                check_actor(state, t, actor, {})
                if t.event in ONCE:
                    check_once(state, t, t.environment, state.digest)
                step = quorum_step(state, t.event, t.environment)
                if step is not None:  # not offered to who approved it already
                    count_approval(state, step, actor, step_digest(state, step), 1)
            except RuleError:
                continue
            found.append(t)
    return found


def may_read(state: AppState, actor: Actor) -> bool:
    """A unit reads only its own applications; the office and the provider read every one (Art. 6-9)."""
    return actor.role != UNIT or actor.unit == state.unit


def report_scope(actor: Actor, unit: str | None) -> str | None:
    """The unit a report or an assessment (Art. 30, 45) covers for ``actor``: a unit its own,
    whatever it asks; the office and the provider ``unit``, or every unit (None)."""
    return actor.unit if actor.role == UNIT else unit


def check_reads_capacity(actor: Actor) -> None:
    """The cloud's capacity (Art. 31) is watched by the provider and acted on by the office; a unit does not read it."""
    if actor.role not in (EGOV, PROVIDER):
        raise RuleError(
            f"{actor.name} ({actor.role}) may not read the cloud's capacity: the provider and the e-gov office do",
            rule="role",
            article="Art. 31",
        )


#: Whose move it is in each state where someone else waits for a decision (Art. 12-16).
WAITING_ON = {
    SUBMITTED: EGOV,
    ACCEPTED: EGOV,
    REVIEWED: EGOV,
    CHANGE_REQUESTED: EGOV,
    BACKUP_CONFIRMED: EGOV,
    CHANGE_APPROVED: PROVIDER,
    TERMINATION_APPROVED: PROVIDER,
}


def to_provision(state: AppState) -> list[str]:
    """The environments approved at a digest they do not yet run (the provider's queue, Art. 13-15)."""
    if state.state in (TERMINATION_APPROVED, RECLAIMED):
        return []
    return [env for env, digest in state.approved.items() if state.provisioned.get(env) != digest]


#: One-shot steps: recorded once for the same (environment and) digest; a second one doubles the
#: record (two approvers at once, or one approving again) and is refused.
ONCE = ("approved", "test-passed", "provisioned", "expiry-warned", "test-expired")


def once_key(kind: str, environment: str | None = None) -> str:
    """The key of a one-shot decision in :attr:`AppState.decided`: ``approved:test``, ``test-passed``."""
    return f"{kind}:{environment}" if kind == "approved" else kind


def check_once(state: AppState, t: Transition, environment: str | None, digest: str | None) -> None:
    """Refuse a one-shot step already recorded: the same approval (environment and digest, Art.
    13-14), the same passed test, a provisioning of an environment live at that digest (the
    engine records ``reapplied`` then), a second warning or expiry of the same test window.
    Steps whose transition changes the state are once by the transition table already."""
    if t.event not in ONCE:
        return
    what = f"{t.event} ({environment})" if environment else t.event
    prior = state.decided.get(once_key(t.event, environment))
    if t.event in ("approved", "test-passed") and prior and prior["digest"] == digest:
        raise RuleError(
            f"{what} of {state.application} is recorded already for digest {digest}: by "
            f"{' and '.join(prior.get('approvers') or [prior['actor']])} at "
            f"{prior['at']} (event #{prior['sequence']}, {prior['event']}); it is recorded once per digest",
            rule="decided-once",
            article=t.article,
        )
    if t.event == "provisioned" and digest is not None and state.provisioned.get(environment or "") == digest:
        last = state.deployed.get(environment or "", {})
        raise RuleError(
            f"{environment} of {state.application} is provisioned already at {digest} (event #{last.get('sequence')} "
            f"at {last.get('at')}); applying it again is recorded as {REAPPLIED} by govcloud up",
            rule="decided-once",
            article=t.article,
        )
    if t.event in ("expiry-warned", "test-expired") and "test" not in state.provisioned:
        raise RuleError(
            f"{state.application} has no live test environment ({t.event} is recorded once per window)",
            rule="decided-once",
            article=t.article,
        )
    if t.event == "expiry-warned" and state.test_expires and state.test_warned_until == state.test_expires.isoformat():
        raise RuleError(
            f"the expiry of {state.application}'s test environment at {state.test_warned_until} is warned of already",
            rule="decided-once",
            article=t.article,
        )


# --- quorum ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuorumStep:
    """An office decision the quota policy may ask several distinct approvers for (``quorum:``)."""

    name: str  #: the key in the policy's ``quorum`` section and of ``app withdraw --step``
    event: str
    environment: str | None
    article: str
    doc: str


QUORUM_STEPS: dict[str, QuorumStep] = {
    q.name: q
    for q in (
        QuorumStep("production", "approved", "production", "Art. 14", "production approval"),
        QuorumStep("major-change", "change-approved", None, "Art. 15", "major change approval"),
        QuorumStep("termination", "termination-approved", None, "Art. 16", "termination approval"),
    )
}


def quorum_step(state: AppState, kind: str, environment: str | None) -> QuorumStep | None:
    """The quorum step that ``kind`` (for ``environment``) is in ``state``; None for any other
    step (a minor change is approved by one, whatever the policy)."""
    if kind in (APPROVAL_GIVEN, APPROVAL_WITHDRAWN):
        return None
    for step in QUORUM_STEPS.values():
        if step.event == kind and step.environment in (None, environment):
            if step.name == "major-change" and (state.change or {}).get("kind") != "major":
                return None
            return step
    return None


def step_digest(state: AppState, step: QuorumStep) -> str | None:
    """The digest an approval of ``step`` names in ``state`` (a termination names none)."""
    if step.name == "production":
        return state.digest
    if step.name == "major-change":
        return (state.change or {}).get("digest")
    return None


def approvals_counted(state: AppState, step: QuorumStep, digest: str | None) -> list[dict[str, Any]]:
    """The approvals of ``step`` given at ``digest`` and not withdrawn: actor, at, sequence."""
    entry = state.approvals.get(step.name)
    return list(entry["by"]) if entry and entry["digest"] == digest else []


def count_approval(
    state: AppState, step: QuorumStep, actor: Actor, digest: str | None, quorum: int
) -> tuple[str, dict[str, Any]]:
    """What ``actor``'s approval of ``step`` records: (:data:`APPROVAL_GIVEN` or the step's own
    event, payload additions). The same person is counted once (rule ``distinct-approvers``)."""
    given = approvals_counted(state, step, digest)
    prior = next((a for a in given if a["actor"] == actor.name), None)
    if prior is not None:
        raise RuleError(
            f"{actor.name} approved the {step.doc} of {state.application} already, at {prior['at']} (event "
            f"#{prior['sequence']}); the policy asks for {quorum} distinct approvers, each counted once",
            rule="distinct-approvers",
            article=step.article,
        )
    approvers = [a["actor"] for a in given] + [actor.name]
    if len(approvers) < quorum:
        return APPROVAL_GIVEN, {"step": step.name, "quorum": quorum, "approvers": approvers}
    return step.event, ({"quorum": quorum, "approvers": approvers} if len(approvers) > 1 or quorum > 1 else {})


def withdrawal_gate(state: AppState, actor: Actor, environment: str | None, payload: dict[str, Any]) -> str | None:
    """A withdrawal names a quorum step (``payload["step"]``) that ``actor`` approved at the
    digest it now approves, short of its quorum; returns that digest."""
    step = QUORUM_STEPS.get(payload.get("step", ""))
    if step is None or step.environment != environment:
        raise UsageError(f"withdraw names a step: one of {', '.join(QUORUM_STEPS)}")
    digest = step_digest(state, step)
    if not any(a["actor"] == actor.name for a in approvals_counted(state, step, digest)):
        raise RuleError(
            f"{actor.name} has no approval of the {step.doc} of {state.application} to withdraw "
            "(only one's own approval, given short of the quorum, can be withdrawn)",
            rule="approval-withdrawable",
            article=step.article,
        )
    return digest


def pending_approvals(state: AppState) -> dict[str, dict[str, Any]]:
    """Each quorum step with approvals that still count: digest, quorum, count, by."""
    found = {}
    for name, entry in state.approvals.items():
        given = approvals_counted(state, QUORUM_STEPS[name], step_digest(state, QUORUM_STEPS[name]))
        if given:
            found[name] = {"digest": entry["digest"], "quorum": entry["quorum"], "count": len(given), "by": given}
    return found


def check_stated(
    at: dt.datetime, now: dt.datetime | None, *, ahead: dt.timedelta = CLOCK_SKEW, what: str = "--at"
) -> None:
    """A stated time lies in the window govcloud accepts: not before the regulation is in force
    (:data:`IN_FORCE`), not after ``now`` + ``ahead`` (a step is recorded when it happens: by
    default :data:`CLOCK_SKEW`). Past times stay open for replaying a history. No ``now``: no
    upper bound (replaying into a ledger of one's own)."""
    if at < IN_FORCE or (now is not None and at > now + ahead):
        upper = (
            f" and at most {_span(ahead)} after now ({now.isoformat(timespec='minutes')}, Beijing time)" if now else ""
        )
        raise UsageError(
            f"{what} {at.isoformat()} is outside the time govcloud accepts: from {IN_FORCE.date().isoformat()} "
            f"(the regulation in force){upper}"
        )


def _span(delta: dt.timedelta) -> str:
    return f"{delta.days} days" if delta.days else f"{int(delta.total_seconds() // 60)} minutes"


# --- gates ----------------------------------------------------------------------------------


def data_loss_gate(
    state: AppState,
    kind: str,
    environment: str | None,
    digest: str | None,
    reason: str | None,
    payload: dict[str, Any],
    actor: Actor,
) -> str:
    """The rules of a data-loss confirmation and approval; returns the digest they name.

    The unit confirms for one environment and one digest (default: the manifest on record) the
    resources whose data an up may destroy, with its backup evidence; the office approves that
    confirmation as it stands (``payload["resources"]`` set to the confirmed ones), never its own.
    """
    if not environment:
        raise UsageError(f"{kind} names the environment (--env)")
    if kind == DATA_LOSS_CONFIRMED:
        names = payload.get("resources")
        if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
            raise RuleError(
                "a data-loss confirmation names the resources whose data may be destroyed",
                rule="data-loss-resources",
                article="Art. 15",
            )
        if not reason:
            raise RuleError(
                "a data-loss confirmation names its backup evidence (where the data is kept)",
                rule="backup-evidence",
                article="Art. 15",
            )
        payload["resources"] = sorted(set(names))
        return digest or state.digest or ""
    confirmed = state.data_loss.get(environment)
    if confirmed is None:
        raise RuleError(
            f"no data loss of {environment} of {state.application} is confirmed by the unit: "
            "it confirms first, with its backup evidence",
            rule="data-loss-confirmed",
            article="Art. 15",
        )
    if confirmed["approved_by"]:
        raise RuleError(
            f"the data loss of {environment} of {state.application} is approved already "
            f"(by {confirmed['approved_by']})",
            rule="data-loss-approved",
            article="Art. 15",
        )
    if digest and digest != confirmed["digest"]:
        raise RuleError(
            f"the unit confirmed the data loss for {confirmed['digest']}, not {digest}",
            rule="data-loss-digest",
            article="Art. 15",
        )
    if actor.name == confirmed["confirmed_by"]:
        raise RuleError(
            f"{actor.name} may not approve a data loss they confirmed", rule="no-self-approval", article="Art. 6-9"
        )
    payload["resources"] = list(confirmed["resources"])
    approved: str = confirmed["digest"]
    return approved


def inspection_gate(state: AppState, kind: str, at: dt.datetime, reason: str | None, payload: dict[str, Any]) -> None:
    """Art. 37: a suspension or a rectification order names the inspection's finding and
    reference (an order also its due date, after ``at``); one of each at a time; ``rectified``
    needs its evidence and something to end."""
    article = "Art. 37"
    open_order = (
        state.rectification if state.rectification is not None and not state.rectification.get("rectified") else None
    )
    if kind == RECTIFIED:
        if not reason:
            raise RuleError(
                "a rectification is recorded with its evidence", rule="rectification-evidence", article=article
            )
        if state.suspension is None and open_order is None:
            raise RuleError(
                f"{state.application} is neither suspended nor ordered to rectify anything",
                rule="rectification-open",
                article=article,
            )
        return
    if not reason or not str(payload.get("reference") or "").strip():
        raise RuleError(
            "an inspection finding is recorded with its text and the inspection's reference",
            rule="inspection-finding",
            article=article,
        )
    if kind == SUSPENDED and state.suspension is not None:
        raise RuleError(
            f"{state.application} is suspended already (since {state.suspension['at']}, "
            f"{state.suspension['reference']})",
            rule="suspended-once",
            article=article,
        )
    if kind == RECTIFICATION_ORDERED:
        if open_order is not None:
            raise RuleError(
                f"{state.application} has a rectification open already, due {open_order['due']}",
                rule="rectification-open",
                article=article,
            )
        try:
            due = dt.date.fromisoformat(str(payload.get("due")))
        except ValueError:
            raise RuleError(
                f"--due {payload.get('due')!r} is not a date (YYYY-MM-DD)", rule="rectification-due", article=article
            ) from None
        if due <= at.date():
            raise RuleError(
                f"the rectification is due {due.isoformat()}, not after the order ({at.date().isoformat()})",
                rule="rectification-due",
                article=article,
            )
        payload["due"] = due.isoformat()


def approved_data_loss(state: AppState, environment: str, digest: str) -> frozenset[str]:
    """The resources whose data an up of ``environment`` at ``digest`` may destroy: those the unit
    confirmed and the office approved for that digest (empty when none)."""
    loss = state.data_loss.get(environment)
    if not loss or not loss["approved_by"] or loss["digest"] != digest:
        return frozenset()
    return frozenset(loss["resources"])


def deployment(state: AppState, environment: str, digest: str | None, program: str | None = None) -> str:
    """What an ``up`` of ``environment`` at ``digest`` with ``program`` (its fingerprint) records:
    ``provisioned`` for a new digest; for the digest the environment runs, :data:`UNCHANGED`
    (nothing) when ``program`` is the one last applied, else :data:`REAPPLIED`."""
    if digest is None or state.provisioned.get(environment) != digest:
        return "provisioned"
    last = state.deployed.get(environment, {}).get("program")
    return UNCHANGED if program is not None and program == last else REAPPLIED


def check_deployment(
    state: AppState, environment: str, digest: str, at: dt.datetime, program: str | None = None
) -> str:
    """May an ``up`` of ``environment`` at ``digest`` be recorded at ``at`` (transition and gate;
    the role is the recorder's)? Returns what it records (:func:`deployment`); :class:`RuleError`
    when not. An unchanged run passes the same gates as a re-application."""
    kind = deployment(state, environment, digest, program)
    (provision_gate if kind == "provisioned" else reapply_gate)(state, environment, digest, at)
    transition(state.state, REAPPLIED if kind == UNCHANGED else kind, environment)  # after the gate: it says more
    return kind


def reapply_gate(state: AppState, environment: str, digest: str | None, at: dt.datetime) -> None:
    """A re-application needs the environment live at ``digest`` and that digest still approved
    for it (after an approved change, the change is applied, not the old digest again)."""
    live = state.provisioned.get(environment)
    if live is None or live != digest:
        what = f"runs {live}" if live else "is not provisioned"
        raise RuleError(
            f"{environment} of {state.application} {what}: only a live environment is re-applied at the digest it runs",
            rule="reapply-live",
            article="Art. 31",
        )
    provision_gate(state, environment, digest, at)


def production_gate(state: AppState, at: dt.datetime) -> None:
    """Production: 30 natural days of trial (Art. 14), third-party report and MLPS filing (Art. 40)."""
    opens = state.production_opens
    if opens is None or at < opens:
        when = f"no earlier than {opens.isoformat()}" if opens else "after a trial run"
        raise RuleError(
            f"production may open only after {TRIAL_DAYS} natural days of trial: {when}",
            rule="trial-30-days",
            article="Art. 14",
        )
    missing = [m for m in ("third_party_test_report", "mlps_filing_certificate") if not state.materials.get(m)]
    if missing:
        raise RuleError(
            f"production needs {' and '.join(missing)} in the manifest", rule="production-materials", article="Art. 40"
        )


def provision_gate(state: AppState, environment: str, digest: str | None, at: dt.datetime) -> None:
    """May ``environment`` be provisioned with ``digest`` at ``at``? Used by record, plan and up."""
    article = "Art. 13" if environment == "test" else "Art. 14"
    approved = state.approved.get(environment)
    if approved is None:
        raise RuleError(
            f"{environment} of {state.application} is not approved", rule="digest-approved", article=article
        )
    if digest != approved:
        raise RuleError(
            f"{environment} of {state.application} is approved for {approved}, not {digest}",
            rule="digest-approved",
            article=article,
        )
    if environment == "test" and state.test_expires and at >= state.test_expires:
        raise RuleError(
            f"the test environment of {state.application} expired at {state.test_expires.isoformat()}; "
            "the e-gov office may extend it",
            rule="test-expired",
            article="Art. 13",
        )
    if environment == "production" and "production" not in state.provisioned:
        production_gate(state, at)


# --- deadlines ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeadlineRule:
    """A clock started and stopped by events; ``not-before`` clocks are earliest dates."""

    name: str
    article: str
    days: int
    count: Literal["working", "natural"]
    doc: str
    kind: Literal["due", "not-before"] = "due"


DEADLINE_RULES: dict[str, DeadlineRule] = {
    r.name: r
    for r in (
        DeadlineRule("accept-or-reject", "Art. 12", 3, "working", "accept or reject after submission"),
        DeadlineRule("review", "Art. 12", 2, "working", "review opinion after acceptance"),
        DeadlineRule("test-ready", "Art. 13", 2, "working", "test environment ready after the review"),
        DeadlineRule("test-window", "Art. 13", TEST_DAYS, "natural", "test environment gone (plus extensions)"),
        DeadlineRule(
            "adjustment-review", "Art. 12, 21", 2, "working", "review opinion on a revised manifest in testing"
        ),
        DeadlineRule("adjustment-ready", "Art. 13", 2, "working", "revised test environment ready after its review"),
        DeadlineRule("trial-minimum", "Art. 14", TRIAL_DAYS, "natural", "production no earlier", "not-before"),
        DeadlineRule("change-review", "Art. 15", 5, "working", "change reviewed after the request"),
        DeadlineRule("change-applied", "Art. 15", 3, "working", "change applied after approval"),
        DeadlineRule("termination-review", "Art. 16", 5, "working", "termination reviewed after the request"),
        DeadlineRule("reclamation", "Art. 16", 3, "working", "resources reclaimed after approval"),
        DeadlineRule(
            "rectification", "Art. 37", 0, "natural", "a lower-risk finding rectified by the date the office set"
        ),
    )
}


DeadlineStatus = Literal["met", "missed", "open", "paused"]


@dataclass(frozen=True)
class Deadline:
    application: str
    name: str
    article: str
    start: dt.date
    due: dt.date
    provisional: bool
    status: DeadlineStatus
    working_days: int  #: working days elapsed from the start to the end (or to now)
    done: dt.date | None
    days: int = 0  #: days elapsed from the start to the end (or to now), of the rule's own kind
    count: str = "working"  #: the rule's kind of day: working | natural

    @property
    def overdue(self) -> bool:
        return self.status == "missed" and self.done is None

    def as_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}  # plain values: asdict's deep copy is waste
        data.update(
            start=self.start.isoformat(),
            due=self.due.isoformat(),
            overdue=self.overdue,
            done=self.done.isoformat() if self.done else None,
        )
        return data


#: Deadlines whose due date the step that starts them states (``days`` 0): Art. 37's rectification.
DATED = ("rectification",)
#: Deadlines that count the system's running time (Art. 13-14): paused while it is suspended (Art. 37).
RUNNING_CLOCKS = ("test-window", "trial-minimum")


def paused(state: AppState, name: str) -> bool:
    """Whether clock ``name`` of ``state`` is paused: it counts running time and the system is suspended."""
    return name in RUNNING_CLOCKS and state.suspension is not None and state.clocks[name][1] is None


def clock_start(state: AppState, name: str) -> dt.date:
    """The day clock ``name`` of ``state`` started (apply starts every clock with its time)."""
    started = state.clocks[name][0]
    if started is None:
        raise ValueError(f"clock {name} of {state.application} has no start")
    return dt.datetime.fromisoformat(started).date()


def due_date(state: AppState, name: str, calendar: Calendar) -> tuple[dt.date, bool]:
    """The due date of clock ``name`` of ``state`` and whether it is provisional."""
    rule = DEADLINE_RULES[name]
    start = clock_start(state, name)
    if name in DATED and state.rectification:
        return dt.date.fromisoformat(state.rectification["due"]), False
    days = state.test_days if name == "test-window" else rule.days
    if rule.count == "natural":
        result = calendar.add_natural_days(start, days)
    else:
        result = calendar.add_working_days(start, days)
    return result.date, result.provisional


def deadlines(state: AppState, calendar: Calendar, now: dt.datetime, running: bool = False) -> list[Deadline]:
    """Every clock of ``state`` (only the running ones if ``running``) as a deadline, judged at ``now``."""
    result = []
    for name, (_, ended) in state.clocks.items():
        if running and ended is not None:
            continue
        rule = DEADLINE_RULES[name]
        due, provisional = due_date(state, name, calendar)
        start = clock_start(state, name)
        done = dt.datetime.fromisoformat(ended).date() if ended else None
        status: DeadlineStatus
        if paused(state, name):
            status = "paused"
        elif rule.kind == "not-before":
            status = "missed" if done and done < due else ("met" if (done or now.date()) >= due else "open")
        elif done:
            status = "met" if done <= due else "missed"
        else:
            status = "open" if now.date() <= due else "missed"
        until = done or now.date()
        working = calendar.working_days_between(start, until)
        days = (until - start).days if rule.count == "natural" else working
        result.append(
            Deadline(
                state.application, name, rule.article, start, due, provisional, status, working, done, days, rule.count
            )
        )
    return result


def next_due(state: AppState, calendar: Calendar) -> dt.date | None:
    """The earliest due date of a running (not stopped) deadline: what makes the app overdue."""
    dues = [
        due_date(state, name, calendar)[0]
        for name, (_, ended) in state.clocks.items()
        if ended is None and DEADLINE_RULES[name].kind == "due"
    ]
    return min(dues, default=None)
