"""Optimisation advice of the monthly report (Art. 30), generated from its facts. Pure.

Advice is data: a code, the unit, application and environment, the resource it names and the
numbers behind it. The templates word it (``advice.<code>`` in ``templates/reports/messages.yaml``).

| code | from |
|---|---|
| ``server-shutoff``, ``volume-unattached``, ``container-empty`` | an idle candidate (release, delete) |
| ``over-provisioned`` | use below 30% of the allocation (reduce to the suggested size) |
| ``near-limit``, ``over-limit`` | a unit at :data:`NEAR_LIMIT` of a limit or above it (Art. 50) |
| ``deadline-missed`` | a deadline of the month missed (Art. 12-16) |
| ``capacity-expand`` | a capacity measure at the threshold (Art. 31) |
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from orchestrator.core.capacity import Assessment
from orchestrator.core.quota.policy import MEASURES

#: A unit using this share of a limit is advised to declare an increment (Art. 50).
NEAR_LIMIT = 0.9


@dataclass(frozen=True)
class Advice:
    """One piece of optimisation advice; the templates word it from ``code`` and ``numbers``."""

    code: str
    unit: str | None
    application: str | None
    env: str | None
    resource: str  #: a resource's name, a measure (vcpu...), a deadline's name or a capacity measure
    numbers: dict[str, Any]


class _Candidate(Protocol):  # read-only members: the report's frozen dataclasses match
    @property
    def kind(self) -> str: ...
    @property
    def application(self) -> str: ...
    @property
    def env(self) -> str: ...
    @property
    def resource(self) -> str: ...
    @property
    def numbers(self) -> dict[str, Any]: ...


class _Deadline(Protocol):
    @property
    def application(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def article(self) -> str: ...
    @property
    def due(self) -> Any: ...
    @property
    def status(self) -> str: ...
    @property
    def taken(self) -> int: ...
    @property
    def allowed(self) -> int: ...
    @property
    def count(self) -> str: ...


def unit_advice(
    unit: str,
    candidates: Iterable[_Candidate],
    allocated: Mapping[str, int],
    limits: Mapping[str, int],
    percent: Mapping[str, float | None],
    over: Iterable[str],
    deadlines: Iterable[_Deadline],
) -> list[Advice]:
    """Advice from a unit's candidates, its use of its limits and its missed deadlines."""
    out = [Advice(c.kind, unit, c.application, c.env, c.resource, c.numbers) for c in candidates]
    for m in MEASURES:
        pct = percent[m]
        if pct is not None and pct >= 100 * NEAR_LIMIT:
            code = "over-limit" if m in over else "near-limit"
            out.append(
                Advice(code, unit, None, None, m, {"allocated": allocated[m], "limit": limits[m], "percent": pct})
            )
    for d in deadlines:
        if d.status == "missed":
            out.append(
                Advice(
                    "deadline-missed",
                    unit,
                    d.application,
                    None,
                    d.name,
                    {
                        "due": d.due.isoformat(),
                        "taken": d.taken,
                        "allowed": d.allowed,
                        "count": d.count,
                        "article": d.article,
                    },
                )
            )
    return out


def capacity_advice(assessed: Iterable[Assessment], threshold: float) -> list[Advice]:
    """Art. 31: each resource at or above the threshold starts an expansion."""
    return [
        Advice(
            "capacity-expand",
            None,
            None,
            None,
            a.resource,
            {
                "percent": a.percent,
                "used": a.used,
                "capacity": a.capacity,
                "unit": a.unit,
                "threshold": round(100 * threshold, 1),
            },
        )
        for a in assessed
        if a.status == "warn"
    ]
