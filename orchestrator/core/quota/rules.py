"""The quota rules, one class per rule, registered in :mod:`orchestrator.core.quota.registry`
(which says how to add one); used by the CLI, plan/up and the policy pack."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Iterator
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)

from orchestrator.core.manifest import Environment
from orchestrator.core.quota.facts import (
    DATABASE,
    INSTANCE,
    SECGROUP_RULE,
    UNKNOWN,
    VOLUME,
    Ingress,
    StackFacts,
    add_totals,
)
from orchestrator.core.quota.policy import MEASURES, Measure, Policy, Share
from orchestrator.core.quota.registry import Finding, QuotaRule, RuleParams, register
from orchestrator.core.sizing import FLAVORS, flavor, is_known_flavor

WORLD = ("0.0.0.0/0", "::/0")


def _not_empty(value: tuple[Any, ...]) -> tuple[Any, ...]:
    if not value:
        raise ValueError("give at least one value; an empty list would switch the rule off unnoticed")
    return value


#: Param types: strict (``true`` is not 1, ``"22"`` is not 22), bounded, lists never empty.
Port = Annotated[StrictInt, Field(ge=1, le=65535)]
Level = Annotated[StrictInt, Field(ge=1, le=5)]
Measures = Annotated[tuple[Measure, ...], AfterValidator(_not_empty)]
Names = Annotated[tuple[StrictStr, ...], AfterValidator(_not_empty)]


# --- stack rules -----------------------------------------------------------------------------


@register("unit-limits")
class UnitLimits(QuotaRule):
    """A unit's applications and environments together stay within the unit's limits.

    What the environment asks plus what the unit already holds elsewhere must not exceed the
    unit's limits (``limits.units.<unit>`` over ``limits.default``); exactly at the limit passes.

    Example::

        rules:
          unit-limits: {enforcement: mandatory}
    """

    article = "Art. 14, Art. 50"
    scope = "stack"

    class Params(RuleParams):
        measures: Measures = MEASURES

    def __init__(self, params: BaseModel, policy: Policy) -> None:
        super().__init__(params, policy)
        self._limits: dict[str, Any] = {}

    def check(self, facts: StackFacts) -> Iterator[Finding]:
        if facts.unit is None:
            return
        limits = self._limits.get(facts.unit) or self._limits.setdefault(facts.unit, self.policy.limits.of(facts.unit))
        held = add_totals(h.totals for h in facts.context.held)
        for measure in self.params.measures:
            asked, used, allowed = getattr(facts.totals, measure), getattr(held, measure), getattr(limits, measure)
            if asked and asked + used > allowed:
                yield Finding(
                    f"unit {facts.unit} {measure}",
                    f"{facts.context.app}/{facts.env} asks {asked} {measure} while the unit already holds "
                    f"{used}, over its limit of {allowed}: request less, release resources elsewhere, or "
                    "declare the increment in the yearly resource plan (Art. 50) for the e-gov office",
                    asked,
                    allowed,
                    used,
                )


@register("environment-share")
class EnvironmentShare(QuotaRule):
    """Test and trial are no larger than a set share of the application's production environment.

    Applies when the application declares production; compares each measure.

    Example::

        rules:
          environment-share:
            enforcement: mandatory
            params: {shares: {test: 0.5, trial: 1.0}}
    """

    article = "Art. 14"
    scope = "stack"

    class Params(RuleParams):
        shares: dict[Environment, Share] = {Environment.TEST: 0.5, Environment.TRIAL: 1.0}  # noqa: RUF012 (a pydantic field: copied per instance)
        measures: Measures = ("vcpu", "ram_gb", "volume_gb", "object_gb")

        @field_validator("shares")
        @classmethod
        def _not_production(cls, value: dict[Environment, float]) -> dict[Environment, float]:
            if Environment.PRODUCTION in value:
                raise ValueError("production is the base of every share; give shares for test and trial only")
            return value

    def check(self, facts: StackFacts) -> Iterator[Finding]:
        share = self.params.shares.get(facts.env)
        production = facts.context.production
        if share is None or production is None or facts.env is Environment.PRODUCTION:
            return
        for measure in self.params.measures:
            asked, base = getattr(facts.totals, measure), getattr(production, measure)
            allowed = round(share * base, 2)
            if asked > allowed:
                yield Finding(
                    f"{facts.env} {measure}",
                    f"{facts.env} asks {asked} {measure}, more than {share:.0%} of production's {base} "
                    f"(at most {allowed:g}): size {facts.env} down to what testing needs",
                    asked,
                    allowed,
                )


@register("test-no-production-data")
class NoProductionDataInTest(QuotaRule):
    """The test environment holds no production data.

    Example::

        rules:
          test-no-production-data: {enforcement: mandatory}

    refuses ``environments: {test: {productionData: true}}``.
    """

    article = "Art. 13, Art. 36"
    scope = "stack"

    def check(self, facts: StackFacts) -> Iterator[Finding]:
        if facts.env is Environment.TEST and facts.context.production_data:
            yield Finding(
                "test productionData",
                "the test environment may not hold production data: set productionData: false and "
                "test with synthetic or masked data",
                True,
                False,
            )


@register("level3-backup")
class Level3Backup(QuotaRule):
    """Systems at MLPS level 3 (or the configured level) and above have data backups enabled.

    Example::

        rules:
          level3-backup: {enforcement: mandatory, params: {min_level: 3}}

    refuses ``mlpsLevel: 3`` with ``backup: {enabled: false}``.
    """

    article = "Art. 30, Art. 40"
    scope = "stack"

    class Params(RuleParams):
        min_level: Level = 3

    def check(self, facts: StackFacts) -> Iterator[Finding]:
        level = facts.context.mlps_level
        if level is not None and level >= self.params.min_level and facts.context.backup_enabled is False:
            yield Finding(
                "backup",
                f"an MLPS level {level} system needs data-level backups: set spec.backup.enabled: true "
                "with a schedule and retention",
                False,
                True,
            )


# --- resource rules --------------------------------------------------------------------------


@register("allowed-flavors")
class AllowedFlavors(QuotaRule):
    """Servers and databases use a flavor the cloud offers (the flavor table by default).

    Example::

        rules:
          allowed-flavors:
            enforcement: mandatory
            params: {flavors: [g.1c2g, g.2c4g, g.4c8g]}
    """

    article = "Art. 14"
    resource_types = (INSTANCE, DATABASE)

    class Params(RuleParams):
        flavors: Names = tuple(FLAVORS)

    def check(self, facts: StackFacts) -> Iterator[Finding]:
        for c in facts.computes:
            if c.flavor is not None and c.flavor not in self.params.flavors:
                yield Finding(
                    f"{c.kind} {c.name}",
                    f"flavor {c.flavor} is not offered: choose one of the allowed flavors",
                    c.flavor,
                    list(self.params.flavors),
                    resource=c.name,
                )


@register("ram-vcpu-ratio")
class RamVcpuRatio(QuotaRule):
    """A flavor's RAM per vCPU (GB) stays within bounds: neither starved nor over-provisioned.

    Example::

        rules:
          ram-vcpu-ratio: {enforcement: advisory, params: {min: 1, max: 4}}

    warns about ``g.2c16g`` (8 GB per vCPU).
    """

    article = "Art. 14, Art. 45"
    resource_types = (INSTANCE, DATABASE)

    class Params(RuleParams):
        min: Annotated[StrictFloat, Field(gt=0)] = 1.0
        max: Annotated[StrictFloat, Field(gt=0)] = 4.0

        @model_validator(mode="after")
        def _ordered(self) -> RamVcpuRatio.Params:
            if self.min > self.max:
                raise ValueError(f"min ({self.min:g}) is above max ({self.max:g})")
            return self

    def check(self, facts: StackFacts) -> Iterator[Finding]:
        for c in facts.computes:
            if c.flavor is None or not is_known_flavor(c.flavor):
                continue
            size = flavor(c.flavor)
            ratio = size.ram_gb / size.vcpu
            if not self.params.min <= ratio <= self.params.max:
                yield Finding(
                    f"{c.kind} {c.name}",
                    f"flavor {c.flavor} has {ratio:g} GB RAM per vCPU, outside {self.params.min:g}-"
                    f"{self.params.max:g}: choose a flavor that fits the workload",
                    ratio,
                    [self.params.min, self.params.max],
                    resource=c.name,
                )


@register("max-volume-size")
class MaxVolumeSize(QuotaRule):
    """No single block volume (data, standalone or database) is larger than ``max_gb``.

    Example::

        rules:
          max-volume-size: {enforcement: mandatory, params: {max_gb: 2048}}
    """

    article = "Art. 14, Art. 45"
    resource_types = (VOLUME, DATABASE)

    class Params(RuleParams):
        max_gb: Annotated[StrictInt, Field(gt=0)] = 2048

    def check(self, facts: StackFacts) -> Iterator[Finding]:
        for d in facts.disks:
            if d.size_gb is not None and d.size_gb > self.params.max_gb:
                yield Finding(
                    f"{d.kind} {d.name}",
                    f"{d.size_gb} GB in one volume is over the {self.params.max_gb} GB maximum: split the "
                    "data over several volumes or use object storage",
                    d.size_gb,
                    self.params.max_gb,
                    resource=d.name,
                )


@register("database-ports-closed")
class DatabasePortsClosed(QuotaRule):
    """Database ports are never open to the whole Internet (``0.0.0.0/0`` or ``::/0``).

    Example::

        rules:
          database-ports-closed:
            enforcement: mandatory
            params: {ports: [3306, 5432]}

    refuses ``{protocol: tcp, ports: 3306, remoteCidr: 0.0.0.0/0}``.
    """

    article = "Art. 36"
    resource_types = (SECGROUP_RULE,)

    class Params(RuleParams):
        ports: Annotated[tuple[Port, ...], AfterValidator(_not_empty)] = (1433, 1521, 3306, 5432, 6379, 9200, 27017)

    def check(self, facts: StackFacts) -> Iterator[Finding]:
        for rule in facts.ingress:
            if rule.remote_cidr not in WORLD or rule.protocol not in ("tcp", "udp", "any"):
                continue
            exposed = [p for p in self.params.ports if _covers(rule, p)]
            if exposed:
                yield Finding(
                    f"ingress rule {rule.name}",
                    f"database port(s) {', '.join(map(str, exposed))} open to {rule.remote_cidr}: allow "
                    "only the application's security group (remoteGroup) or a named network",
                    rule.remote_cidr,
                    "a security group or a non-public CIDR",
                    resource=rule.name,
                )


@register("ssh-from-management")
class SshFromManagement(QuotaRule):
    """SSH is reachable only from the management network's CIDRs.

    Example::

        rules:
          ssh-from-management:
            enforcement: mandatory
            params: {cidrs: [10.20.0.0/16]}

    refuses ``{protocol: tcp, ports: 22, remoteCidr: 0.0.0.0/0}`` and SSH from a security group.
    """

    article = "Art. 36"
    resource_types = (SECGROUP_RULE,)

    class Params(RuleParams):
        cidrs: Names
        port: Port = 22

        @field_validator("cidrs")
        @classmethod
        def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
            for cidr in value:
                ipaddress.ip_network(cidr, strict=True)
            return value

    def __init__(self, params: BaseModel, policy: Policy) -> None:
        super().__init__(params, policy)
        self._networks = [ipaddress.ip_network(c) for c in self.params.cidrs]

    def check(self, facts: StackFacts) -> Iterator[Finding]:
        allowed = self._networks
        for rule in facts.ingress:
            if rule.protocol not in ("tcp", "any") or not _covers(rule, self.params.port):
                continue
            if rule.remote_cidr is None and rule.remote_group is None:
                continue  # not known yet (preview)
            if rule.remote_cidr is not None and _within(rule.remote_cidr, allowed):
                continue
            source = rule.remote_cidr or f"security group {rule.remote_group}"
            yield Finding(
                f"ingress rule {rule.name}",
                f"SSH (port {self.params.port}) open to {source}: allow it only from the management "
                f"network ({', '.join(self.params.cidrs)})",
                source,
                list(self.params.cidrs),
                resource=rule.name,
            )


@register("level3-encrypted-volumes")
class Level3EncryptedVolumes(QuotaRule):
    """Systems at MLPS level 3 and above keep every volume on an encrypted volume type.

    Example::

        rules:
          level3-encrypted-volumes:
            enforcement: mandatory
            params: {min_level: 3, types: [encrypted]}

    refuses a level-3 data volume without ``type: encrypted``.
    """

    article = "Art. 40"
    resource_types = (VOLUME, DATABASE)

    class Params(RuleParams):
        min_level: Level = 3
        types: Names = ("encrypted",)

    def check(self, facts: StackFacts) -> Iterator[Finding]:
        level = facts.context.mlps_level
        if level is None or level < self.params.min_level:
            return
        for d in facts.disks:
            if d.type is UNKNOWN or d.type in self.params.types:
                continue
            yield Finding(
                f"{d.kind} {d.name}",
                f"an MLPS level {level} system needs encrypted volumes: set the volume type to "
                f"{' or '.join(self.params.types)} (now {d.type or 'the default type'})",
                d.type,
                list(self.params.types),
                resource=d.name,
            )


def _covers(rule: Ingress, port: int) -> bool:
    if rule.port_min is None and rule.port_max is None:
        return True
    low = rule.port_min if rule.port_min is not None else 1
    high = rule.port_max if rule.port_max is not None else low
    return low <= port <= high


def _within(cidr: str, networks: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    net = _network(cidr)
    if isinstance(net, ipaddress.IPv4Network):
        return any(isinstance(n, ipaddress.IPv4Network) and net.subnet_of(n) for n in networks)
    return net is not None and any(isinstance(n, ipaddress.IPv6Network) and net.subnet_of(n) for n in networks)


@functools.lru_cache(maxsize=4096)
def _network(cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return None
