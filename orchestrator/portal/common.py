"""What the API and the pages share: the ledger, the actor, the steps and the errors' answers."""

from __future__ import annotations

import collections
import datetime as dt
import functools
import json
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from orchestrator.core import lifecycle as lc
from orchestrator.errors import (
    ConflictError,
    ExternalError,
    GovcloudError,
    ManifestInvalid,
    NotFound,
    RuleError,
    StaleVersion,
    UsageError,
)
from orchestrator.files import FileRefused
from orchestrator.portal.config import PortalConfig
from orchestrator.services.lifecycle import Lifecycle, beijing_now

#: The steps the portal offers, by the verb of ``govcloud app VERB``: the event it records, the
#: :class:`Lifecycle` method and the fields it takes (each a keyword of that method).
STEPS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "accept": ("accepted", "accept", ()),
    "reject": ("rejected", "reject", ("reason",)),
    "review": ("reviewed", "review", ("opinion",)),
    "approve": ("approved", "approve", ("environment",)),
    "extend": ("extended", "extend", ("days", "reason")),
    "test-passed": ("test-passed", "test_passed", ("evidence",)),
    "approve-change": ("change-approved", "approve_change", ()),
    "terminate": ("termination-requested", "terminate", ("reason",)),
    "confirm-backup": ("backup-confirmed", "confirm_backup", ("evidence", "backups")),
    "approve-termination": ("termination-approved", "approve_termination", ()),
}
VERB_OF = {event: verb for verb, (event, _, _) in STEPS.items()}
#: Fields a step cannot go without (the core refuses the others' absence with its own rule).
REQUIRED = {
    "reason": ("reject", "extend"),
    "opinion": ("review",),
    "environment": ("approve",),
    "days": ("extend",),
    "evidence": ("test-passed", "confirm-backup"),
}
#: Refusals of the actor are 403 (role rules, a forged form); the other rules refuse a step the
#: state does not allow (409).
ROLE_RULES = {"role", "own-unit", "no-self-approval", "csrf"}


def config(request: Request) -> PortalConfig:
    return request.app.state.config


def lifecycle(request: Request, expected_sequence: int | None = None) -> Lifecycle:
    """The lifecycle over this process's ledger (opened once, migrated once)."""
    from orchestrator.services.finalbackup import configured_cloud

    return Lifecycle(
        _ledger(config(request).database_url), expected_sequence=expected_sequence, cloud=configured_cloud()
    )


@functools.cache
def _ledger(url: str | None):
    from orchestrator.adapters.ledger import Ledger

    return Ledger.open(url)


T = TypeVar("T")


class Reads:
    """What this process read from one ledger, kept while the ledger's version (:meth:`Ledger.version`,
    replaced by every write in its transaction) stays the same: a page asks for the version (one
    cheap query) instead of reading and judging again. Only reads that are the same for every reader
    are kept (the caller filters them for its actor); the most recently used ``limit`` of them."""

    def __init__(self, limit: int = 256) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._version: str | None = None
        self._answers: collections.OrderedDict[tuple, Any] = collections.OrderedDict()

    def get(self, version: str | None, key: tuple, compute: Callable[[], T]) -> T:
        """The answer of ``compute`` at ``version`` (read before it: what it reads is at least as
        new); with no version, ``compute``'s answer, not kept."""
        if version is None:
            return compute()
        with self._lock:
            if version != self._version:  # a write since (or a ledger restored): nothing kept holds
                self._version = version
                self._answers.clear()
            elif key in self._answers:
                self._answers.move_to_end(key)
                return self._answers[key]
        answer = compute()  # outside the lock: a slow read does not hold up the others
        with self._lock:
            if version == self._version:
                self._answers[key] = answer
                if len(self._answers) > self.limit:
                    self._answers.popitem(last=False)
        return answer


@functools.cache
def _reads(url: str | None) -> Reads:
    return Reads()


def kept(request: Request, key: tuple, compute: Callable[[], T]) -> T:
    """``compute()``, a read of this process's ledger that is the same for every reader, answered
    from what was read before while the ledger has not changed since."""
    url = config(request).database_url
    if not hasattr(request.state, "ledger_version"):  # asked once per request
        request.state.ledger_version = _ledger(url).version()
    return _reads(url).get(request.state.ledger_version, key, compute)


def queue(request: Request, name: str, at: dt.datetime, limit: int) -> list[dict[str, Any]]:
    """:meth:`Lifecycle.queue` ``name`` at ``at`` (whose day is all its deadlines judge by), for every reader."""
    return kept(request, ("queue", name, at.date(), limit), lambda: lifecycle(request).queue(name, at, limit))


def history(request: Request, application: str) -> tuple[list[lc.Event], lc.AppState, list[dict[str, Any]]]:
    """The events of ``application``, the state they fold to and the events as dicts, for every
    reader (:class:`NotFound` when it has none; the caller checks the reader may see it)."""

    def read() -> tuple[list[lc.Event], lc.AppState, list[dict[str, Any]]]:
        events = lifecycle(request).history(application)
        return events, lc.fold(events), [e.as_dict() for e in events]

    return kept(request, ("history", application), read)


def readable(service: Lifecycle, application: str, actor: lc.Actor) -> lc.AppState:
    """The state of ``application`` if ``actor`` may read it; to a unit, another unit's
    application does not exist (:class:`NotFound`, the same answer as an unknown one)."""
    return shown_to(service.state(application), actor)


def shown_to(state: lc.AppState, actor: lc.Actor) -> lc.AppState:
    """``state`` if ``actor`` may read it; else :class:`NotFound`, as for an unknown application."""
    if not lc.may_read(state, actor):
        raise NotFound(f"application {state.application} has no ledger entries")
    return state


def scope(actor: lc.Actor) -> str | None:
    """Whose applications ``actor`` sees: a unit its own (its unit's id), the other roles every unit's."""
    return actor.unit if actor.role == lc.UNIT else None


def visible(items: list[dict[str, Any]], actor: lc.Actor) -> list[dict[str, Any]]:
    """The items (each naming its ``unit``) ``actor`` may see: a unit sees its own."""
    unit = scope(actor)
    return [i for i in items if unit is None or i["unit"] == unit]


def take_step(
    request: Request,
    actor: lc.Actor,
    application: str,
    verb: str,
    fields: dict[str, Any],
    expected_sequence: int | None,
) -> lc.Event:
    """Record one step through the service (the core decides); :class:`UsageError` for an unknown verb
    or a missing field."""
    if verb not in STEPS:
        raise NotFound(f"no step {verb!r}: one of {', '.join(STEPS)}")
    _, method, names = STEPS[verb]
    values = {name: fields.get(name) for name in names}
    if "backups" in values:  # ids, from a JSON list or a form's text (separated by spaces or commas)
        given = values["backups"] or []
        values["backups"] = given.replace(",", " ").split() if isinstance(given, str) else [str(b) for b in given]
    missing = [name for name in names if verb in REQUIRED.get(name, ()) and values[name] in (None, "")]
    if missing:
        raise UsageError(f"{verb} needs {', '.join(missing)}")
    service = lifecycle(request, expected_sequence)
    readable(service, application, actor)
    return getattr(service, method)(application, actor=actor, at=beijing_now(), **values)


def submit(
    request: Request,
    actor: lc.Actor,
    filename: str,
    raw: bytes,
    application: str | None = None,
    expected_sequence: int | None = None,
    preview: bool = False,
) -> Any:
    """Submit an uploaded manifest, or request a change of ``application`` with it (``preview``:
    only classify the change, nothing written)."""
    name = f"upload:{filename or 'manifest.yaml'}"
    service = lifecycle(request, expected_sequence)
    if application is None:
        return service.submit(name, actor, beijing_now(), raw=raw)
    readable(service, application, actor)
    if preview:
        return service.preview_change(application, name, raw)
    return service.change(application, name, actor, beijing_now(), raw=raw)


def status_of(error: GovcloudError) -> int:
    from orchestrator.adapters.oidc import AuthenticationFailed

    if isinstance(error, AuthenticationFailed):
        return 401
    if isinstance(error, ManifestInvalid):
        return 422
    if isinstance(error, RuleError):
        return 403 if error.rule in ROLE_RULES else 409
    if isinstance(error, FileRefused):
        return 413 if "(file-size)" in str(error) else 400
    for kind, status in (
        (StaleVersion, 412),
        (ConflictError, 409),
        (NotFound, 404),
        (UsageError, 400),
        (ExternalError, 503),
    ):
        if isinstance(error, kind):
            return status
    return 500


def problem(error: GovcloudError) -> dict[str, Any]:
    """RFC 9457 problem details of ``error``, with the rule and the article when a rule said no."""
    status = status_of(error)
    rule = getattr(error, "rule", "") or ""
    body: dict[str, Any] = {
        "type": f"urn:govcloud:problem:{rule or type(error).__name__}",
        "title": _TITLES.get(status, "refused"),
        "status": status,
        "detail": str(error),
    }
    if rule:
        body["rule"] = rule
    article = getattr(error, "article", "")  # rule errors name the regulation's article
    if article:
        body["article"] = article
    if isinstance(error, ManifestInvalid):
        body["problems"] = [p.as_dict() for p in error.problems]
    return body


_TITLES = {
    400: "bad request",
    401: "not signed in",
    403: "not allowed for this actor",
    404: "not found",
    409: "not allowed in this state",
    412: "the application changed meanwhile",
    413: "too large",
    422: "invalid manifest",
    500: "internal error",
    503: "an outside system failed",
}


def problem_response(error: GovcloudError) -> JSONResponse:
    body = problem(error)
    headers = {"WWW-Authenticate": "Bearer"} if body["status"] == 401 else None
    return JSONResponse(body, status_code=body["status"], media_type="application/problem+json", headers=headers)


class Json(JSONResponse):
    """JSON as ``--output json`` prints it (dates and times as ``str`` gives them, text unescaped)."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, default=str).encode()


async def threaded(function, *args, **kwargs):
    return await run_in_threadpool(function, *args, **kwargs)


def ledger(request: Request):
    """This process's ledger (what the reports and the outbox read)."""
    return _ledger(config(request).database_url)


def capacity() -> dict[str, Any]:
    """``govcloud capacity`` of the cloud named by ``OS_CLOUD``, at the policy's threshold (Art. 31)."""
    import os

    from orchestrator.services import quotas

    cloud = os.environ.get("OS_CLOUD")
    if not cloud:
        raise ExternalError("no cloud named: start the portal with OS_CLOUD (and OS_CLIENT_CONFIG_FILE) set")
    return {"cloud": cloud} | quotas.capacity(cloud, quotas.policy().capacity.threshold)


def monthly(request: Request, actor: lc.Actor, month: str, unit: str | None = None):
    """``govcloud report monthly`` figures of ``month`` as ``actor`` may read them (a unit: its own)."""
    from orchestrator.services import quotas, report

    source, error = report.connect(None)
    return report.monthly(
        ledger(request),
        month,
        quotas.policy(),
        unit=_unit(actor, unit),
        cloud=source,
        cloud_error=error,
        at=beijing_now(),
    )


def assessment(request: Request, actor: lc.Actor, year: int, unit: str | None = None):
    """``govcloud report assessment`` figures of ``year`` as ``actor`` may read them (a unit: its own)."""
    from orchestrator.services import report

    source, error = report.connect(None)
    return report.assessment(ledger(request), year, unit=_unit(actor, unit), cloud=source, cloud_error=error)


def _unit(actor: lc.Actor, unit: str | None) -> str | None:
    from orchestrator.core.ids import unit_id

    return lc.report_scope(actor, unit_id(unit, "unit") if unit else None)


def notices(request: Request, application: str, actor: lc.Actor, limit: int = 200) -> list[dict[str, Any]]:
    """The notices about ``application`` (which ``actor`` may read) and their delivery state."""
    from orchestrator.services.notices import of_application

    readable(lifecycle(request), application, actor)
    return of_application(ledger(request), application, limit)


def decision(request: Request, application: str, actor: lc.Actor) -> dict[str, Any]:
    """What the steps open on ``application`` decide: manifest and plan differences, quota verdict, gate."""
    from orchestrator.services.decision import decision as decided

    service = lifecycle(request)
    readable(service, application, actor)
    return decided(service, application, actor, beijing_now())
