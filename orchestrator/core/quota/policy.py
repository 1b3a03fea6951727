"""The quota policy (``quotas/policy.yaml``) as data: Pydantic models, unknown keys refused
everywhere. Read and validated by :mod:`orchestrator.core.quota.policyfile`; the schema is
documented in ``docs/quotas.md``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt

from orchestrator.core import drift, sizing

Enforcement = Literal["mandatory", "advisory"]

#: One of the measures a unit's limits and an environment's totals share (fields of ``sizing.Totals``).
Measure = Literal["vcpu", "ram_gb", "volume_gb", "object_gb", "servers", "database_instances", "public_ips"]
MEASURES: tuple[Measure, ...] = get_args(Measure)

#: A count or size in a limit: an integer (``true`` and ``"32"`` are refused, not read as numbers).
Count = Annotated[StrictInt, Field(ge=0)]
#: A share between 0 and 1 (an integer 0 or 1 is fine; ``true`` or ``"0.5"`` are refused).
Share = Annotated[StrictFloat, Field(ge=0, le=1)]


class Strict(BaseModel):
    """Base: unknown keys refused, immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Limits(Strict):
    """A unit's ceiling, summed over all its applications and environments."""

    vcpu: Count
    ram_gb: Count
    volume_gb: Count
    object_gb: Count
    servers: Count
    database_instances: Count
    public_ips: Count


class PartialLimits(Strict):
    """A unit's entry: only the measures that differ from the default."""

    vcpu: Count | None = None
    ram_gb: Count | None = None
    volume_gb: Count | None = None
    object_gb: Count | None = None
    servers: Count | None = None
    database_instances: Count | None = None
    public_ips: Count | None = None


class UnitLimits(Strict):
    default: Limits
    units: dict[str, PartialLimits] = {}

    def of(self, unit: str) -> Limits:
        """The unit's limits: its entry over the default."""
        entry = self.units.get(unit)
        if entry is None:
            return self.default
        return self.default.model_copy(update=entry.model_dump(exclude_none=True))


class Capacity(Strict):
    """Art. 31: warn and start expansion when use reaches this share of capacity."""

    threshold: Annotated[StrictFloat, Field(gt=0, le=1)] = 0.70


class Headroom(Strict):
    """Room for operations added to every project's quotas above the manifest's exact needs:
    snapshots for backups (they count against the gigabytes, Art. 30) and spare security-group
    rules for an emergency rule (Art. 37). Zero everywhere: quotas exactly at the needs."""

    snapshot_share: Annotated[StrictFloat, Field(ge=0, le=2)] = 0.0
    snapshots_per_volume: Annotated[StrictInt, Field(ge=0, le=10)] = 0
    security_group_rules: Annotated[StrictInt, Field(ge=0, le=100)] = 0

    def sizing(self) -> sizing.Headroom:
        """The same as the program's :class:`~orchestrator.core.sizing.Headroom`."""
        return sizing.Headroom(**self.model_dump())


class Backups(Strict):
    """How long the provider keeps a terminated application's final backup in its archive project
    (Art. 16; ``govcloud reclaim`` moves it there, ``govcloud backup run`` deletes it after)."""

    final_backup_retention_days: Annotated[StrictInt, Field(ge=1, le=3650)] = 365


#: Distinct approvers a step needs: at least one, at most nine (a bound, not a norm).
Approvers = Annotated[StrictInt, Field(ge=1, le=9)]


class Quorum(Strict):
    """How many distinct e-gov office members approve a step before it takes effect (default 1:
    one approval, as without a quorum). The keys are :data:`orchestrator.core.lifecycle.QUORUM_STEPS`."""

    production: Approvers = 1
    major_change: Approvers = Field(1, alias="major-change")
    termination: Approvers = 1

    def of(self) -> dict[str, int]:
        """Step name -> approvers, as the lifecycle core takes it."""
        return self.model_dump(by_alias=True)


Text = Annotated[str, Field(min_length=1, max_length=500, pattern=r"\S")]


class DriftIgnore(Strict):
    """A known, accepted cloud drift (``govcloud drift``): which findings it hides, who owns it,
    why, and the day it stops hiding them (an expired rule hides nothing)."""

    application: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,62}$")]
    environment: Literal["test", "trial", "production"] | None = None
    resource: Text
    property: Text = "*"
    owner: Text
    reason: Text
    expires: dt.date

    def rule(self) -> drift.IgnoreRule:
        return drift.IgnoreRule(**self.model_dump())


class Drift(Strict):
    ignore: list[DriftIgnore] = []


class RuleEntry(Strict):
    """One rule switched on: its enforcement and its parameters (validated by the rule)."""

    enforcement: Enforcement = "mandatory"
    params: dict[str, Any] = {}


class PolicyDocument(Strict):
    """The file as written."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    api_version: Literal["govcloud/v1"] = Field(alias="apiVersion")
    kind: Literal["QuotaPolicy"]
    capacity: Capacity = Capacity()
    headroom: Headroom = Headroom()
    quorum: Quorum = Quorum()
    backups: Backups = Backups()
    drift: Drift = Drift()
    limits: UnitLimits
    rules: dict[str, RuleEntry] = Field(min_length=1)


class ActiveRule(Strict):
    """A registered rule with its enforcement and its validated params."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    name: str
    enforcement: Enforcement
    params: Any


class Policy(Strict):
    """A valid policy: limits, capacity threshold and the active rules in file order."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    source: str
    capacity: Capacity
    limits: UnitLimits
    rules: tuple[ActiveRule, ...]
    headroom: Headroom = Headroom()
    quorum: Quorum = Quorum()
    backups: Backups = Backups()
    drift_ignore: tuple[drift.IgnoreRule, ...] = ()

    def rule(self, name: str) -> ActiveRule | None:
        return next((r for r in self.rules if r.name == name), None)
