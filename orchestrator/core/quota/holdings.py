"""What a unit holds: per application environment totals, and the unit's usage against its limits."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from orchestrator.core.manifest import Application, Environment
from orchestrator.core.quota.facts import Holding, add_totals
from orchestrator.core.quota.policy import MEASURES, Policy
from orchestrator.core.sizing import totals


def holdings(
    applications: Iterable[Application],
    unit: str | None = None,
    environments: Iterable[tuple[str, Environment]] | None = None,
) -> list[Holding]:
    """Holdings of ``unit`` (every unit when ``None``) from applications' manifests.

    ``environments`` restricts them to the (application, environment) pairs actually provisioned
    (as the ledger tells); without it every declared environment counts.
    """
    allowed = set(environments) if environments is not None else None
    return [
        Holding(app.id, env, totals(spec.resources), app.unit)
        for app in applications
        if unit is None or app.unit == unit
        for env, spec in app.environments.items()
        if allowed is None or (app.id, env) in allowed
    ]


@dataclass(frozen=True)
class UnitUsage:
    """A unit's allocation per application environment against its limits."""

    unit: str
    holdings: tuple[Holding, ...]
    limits: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        total = add_totals(h.totals for h in self.holdings).as_dict()
        return {
            "unit": self.unit,
            "basis": "declared",
            "environments": [
                {"app": h.app, "env": str(h.env), **{m: getattr(h.totals, m) for m in MEASURES}} for h in self.holdings
            ],
            "total": {m: total[m] for m in MEASURES},
            "limits": self.limits,
            "percent": {m: (round(100 * total[m] / self.limits[m], 1) if self.limits[m] else None) for m in MEASURES},
            "over": [m for m in MEASURES if total[m] > self.limits[m]],
        }


def unit_usage(unit: str, held: Iterable[Holding], policy: Policy) -> UnitUsage:
    return UnitUsage(unit, tuple(held), policy.limits.of(unit).model_dump())
