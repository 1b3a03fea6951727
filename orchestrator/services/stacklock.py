"""One ledger lease per stack, ``stack:<name>``, held by whatever changes it: ``govcloud up``,
``gitops apply`` and reclamation's destroy.

Pulumi's backend has its own lock (a file under ``.pulumi/locks`` of the bucket), but two
processes that take it at the same instant can both see the other's and both stop, and it says
nothing of who holds it in govcloud's terms. The lease is taken first, atomically in the ledger
(shared on PostgreSQL by a team), so exactly one of two runs proceeds and the other is told who
holds the stack and since when; the backend's lock then guards against plain ``pulumi`` by hand.

A process holds its leases re-entrantly: ``gitops apply`` takes the stack, then ``up`` inside it
takes it again without waiting for itself.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

from orchestrator.errors import ConflictError, UsageError

#: How long a stack's lease lasts if its holder dies (the Pulumi backend's own lock stays on).
LEASE_TTL = dt.timedelta(hours=2)
LEASE_POLL_SECONDS = 2.0


class Leases(Protocol):
    def acquire(self, name: str, holder: str, ttl: dt.timedelta) -> bool: ...
    def lease(self, name: str) -> tuple[str, dt.datetime] | None: ...
    def release(self, name: str, holder: str) -> None: ...


def lease_holder() -> str:
    """Who this process is, as a lease holder: the CI job when known, else host and process, with
    the time it started holding (UTC), so a refusal can say "since when". A forked child is a
    holder of its own (its pid differs), never its parent's twin."""
    return _holder(os.getpid())


@functools.cache
def _holder(pid: int) -> str:
    job = os.environ.get("CI_JOB_URL") or (
        f"{os.environ['GITHUB_SERVER_URL']}/{os.environ['GITHUB_REPOSITORY']}/actions/runs/{os.environ['GITHUB_RUN_ID']}"
        if os.environ.get("GITHUB_RUN_ID") and os.environ.get("GITHUB_REPOSITORY")
        else ""
    )
    user = os.environ.get("USER") or os.environ.get("LOGNAME") or str(os.getuid())
    since = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    return f"{job or f'{user}@{socket.gethostname()}'} pid {pid} since {since} UTC {uuid.uuid4().hex[:6]}"[:200]


_held: dict[str, int] = {}
_held_guard = threading.Lock()


def lease_name(stack: str) -> str:
    return f"stack:{stack}"


@contextmanager
def holding(leases: Leases, stack: str, *, wait: float = 0.0, ttl: dt.timedelta = LEASE_TTL) -> Iterator[None]:
    """Hold ``stack``'s lease for the block, polling up to ``wait`` seconds for it;
    :class:`ConflictError` naming the holder when another process keeps it."""
    name, holder = lease_name(stack), lease_holder()
    key = f"{os.getpid()}:{name}"  # a forked child holds nothing of its parent's
    with _held_guard:
        nested = _held.get(key, 0)
        _held[key] = nested + 1
    try:
        if not nested:
            _acquire(leases, name, stack, holder, wait, ttl)
        yield
    finally:
        with _held_guard:
            _held[key] -= 1
            last = not _held[key]
            if last:
                del _held[key]
        if last and not nested:
            leases.release(name, holder)


def _acquire(leases: Leases, name: str, stack: str, holder: str, wait: float, ttl: dt.timedelta) -> None:
    deadline = time.monotonic() + wait
    while not leases.acquire(name, holder, ttl):
        if time.monotonic() >= deadline:
            raise StackHeld(stack, leases.lease(name), wait)
        time.sleep(min(LEASE_POLL_SECONDS, max(0.05, deadline - time.monotonic())))


class StackHeld(ConflictError):
    """Another process holds the stack: try again later, or wait longer."""

    def __init__(self, stack: str, held: tuple[str, dt.datetime] | None, wait: float) -> None:
        who = f" by {held[0]} (lease until {held[1]:%Y-%m-%d %H:%M} UTC)" if held else ""
        super().__init__(
            f"stack {stack} is being changed{who}; waited {wait:g} s (--wait SECONDS to wait "
            f"longer; if that process is gone: govcloud state unlock {stack})"
        )


_HOLDER = re.compile(r"(?:(?P<user>[^@\s]+)@)?(?P<host>\S+) pid (?P<pid>\d+) since ")


def holder_gone(holder: str) -> bool | None:
    """Whether the process of a lease ``holder`` is gone: True or False when it ran on this host,
    None when it ran elsewhere (or as a CI job) and only a person can tell."""
    found = _HOLDER.match(holder)
    if not found or found["host"] != socket.gethostname():
        return None
    try:
        os.kill(int(found["pid"]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def unlock(leases: Leases, stack: str, clear_backend: Callable[[], None], confirm: Callable[[str], bool]) -> str:
    """Clear what a killed process left on ``stack``: its ledger lease and the backend's lock.

    Refused while the lease's holder still runs on this host; otherwise ``confirm`` (a person)
    is asked first, naming the holder, since the backend's lock may also be a plain ``pulumi``
    of someone else. What was cleared."""
    name = lease_name(stack)
    held = leases.lease(name)
    if held is not None and held[1] <= dt.datetime.now(dt.UTC).replace(tzinfo=None):
        held = None  # expired: anyone may take it
    gone = holder_gone(held[0]) if held else None
    if gone is False:
        assert held is not None
        raise ConflictError(
            f"stack {stack} is being changed by {held[0]}, which still runs on this host: "
            "its lock is not stale [rule lock-holder-alive]"
        )
    question = (
        f"{held[0]} holds {stack}{' and is gone' if gone else ''}: is nothing of it, and no plain pulumi, "
        "still changing the stack?"
        if held
        else f"Is every process that was changing {stack} gone?"
    )
    if not confirm(question):
        raise UsageError("not confirmed: nothing cleared")
    if held:
        leases.release(name, held[0])
    clear_backend()
    return f"the lease of {held[0]} and the backend's lock" if held else "the backend's lock"
