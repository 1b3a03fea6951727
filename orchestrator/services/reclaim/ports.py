"""What reclamation needs of the outside world: one protocol per system, met by the adapters
(:mod:`orchestrator.adapters.cloud`, :mod:`orchestrator.adapters.engine`,
:mod:`orchestrator.adapters.platform`, :mod:`orchestrator.adapters.ledger`) and, in a dry run,
by their :class:`~orchestrator.services.reclaim.dryrun.DryRun` view."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Protocol

from orchestrator.core.access import Assignment
from orchestrator.core.reclaim import Decision, Found, Step

if TYPE_CHECKING:
    from orchestrator.adapters.engine import StateResource


class Sweep(Protocol):
    """One project's resources (:class:`orchestrator.adapters.cloud.sweep.ProjectSweep`)."""

    def inventory(self) -> list[Found]: ...
    def delete(self, found: Found) -> None: ...


class CloudPort(Protocol):
    """The projects of the cloud (:class:`orchestrator.adapters.cloud.Cloud`)."""

    @property
    def user_id(self) -> str | None:
        """The user our credentials authenticate as (read only)."""
        ...

    def find_project(self, name: str) -> Found | None: ...
    def sweep(self, project: Found) -> Sweep: ...
    def exists(self, kind: str, id: str, project_id: str) -> bool: ...
    def delete_project(self, project: Found) -> None: ...
    def role_assignments(self, project_id: str) -> list[Assignment]: ...
    def delete_role_assignment(self, assignment: Assignment) -> None: ...


class Stacks(Protocol):
    """Whole stacks in the engine's backend (:class:`orchestrator.adapters.engine.EngineStacks`)."""

    def ready(self) -> object:
        """Raise :class:`~orchestrator.errors.ExternalError` when the engine is missing."""
        ...

    def exists(self, stack: str) -> bool: ...
    def held(self, stack: str) -> list[StateResource]:
        """The cloud objects the stack's state holds (providers left out)."""
        ...

    def destroy(self, stack: str) -> dict[str, int]:
        """``pulumi destroy``, protection lifted first (reclamation removes everything)."""
        ...

    def remove(self, stack: str, force: bool = False) -> None: ...


class Platform(Protocol):
    """The unified-authentication platform's admin side
    (:class:`orchestrator.adapters.platform.KeycloakPlatform`, or
    :class:`~orchestrator.adapters.platform.NoPlatform` when none is configured)."""

    @property
    def where(self) -> str:
        """For people: which platform (read only)."""
        ...

    def clients(self, unit: str, app: str, env: str) -> Decision:
        """The environment's clients: ours (``delete``) and look-alikes that are not (``foreign``)."""
        ...

    def delete_client(self, found: Found) -> None:
        """Delete one client of :meth:`clients`; gone already is fine."""
        ...


class LeaseStore(Protocol):
    """Leases in the ledger (:class:`orchestrator.adapters.ledger.Ledger`)."""

    def acquire(self, name: str, holder: str, ttl: dt.timedelta, now: dt.datetime | None = None) -> bool: ...
    def lease(self, name: str) -> tuple[str, dt.datetime] | None: ...
    def release(self, name: str, holder: str) -> None: ...


class Reporter(Protocol):
    """Progress for people or pipelines; every method may be a no-op."""

    def wave(self, environment: str, kind: str, total: int) -> None: ...
    def item(self, environment: str, found: Found, error: str | None) -> None: ...
    def step(self, step: Step) -> None: ...


class QuietReporter:
    def wave(self, environment: str, kind: str, total: int) -> None: ...
    def item(self, environment: str, found: Found, error: str | None) -> None: ...
    def step(self, step: Step) -> None: ...
