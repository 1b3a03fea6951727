"""Change classification of Art. 15: what differs between two manifests, minor or major. Pure.

Major: the MLPS level, a database engine, a new environment, new ingress from 0.0.0.0/0 (or ::/0),
a removed data volume or database, any resource total of an environment growing by more than 50%.
Everything else that differs is minor. A major change resubmits the Art. 11 materials (a new
self-test report) and passes the tests again before approval.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

from orchestrator.core.manifest import Application, Resources
from orchestrator.core.sizing import totals

GROWTH_LIMIT = 0.5
#: The resource totals whose growth beyond :data:`GROWTH_LIMIT` makes a change major.
TOTALS = ("vcpu", "ram_gb", "volume_gb", "object_gb", "servers", "database_instances")


@dataclass(frozen=True)
class Change:
    kind: Literal["major", "minor"]
    path: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def classify(old: Application, new: Application) -> list[Change]:
    """Every change from ``old`` to ``new``; empty when the digests are equal."""
    if old.digest == new.digest:
        return []
    changes: list[Change] = []
    major = lambda path, reason: changes.append(Change("major", path, reason))  # noqa: E731
    if old.mlps_level != new.mlps_level:
        major("spec.mlpsLevel", f"MLPS level {old.mlps_level} -> {new.mlps_level}")
    for env, spec in new.environments.items():
        if env not in old.environments:
            major(f"environments.{env}", f"new environment {env}")
            continue
        before, after = old.environments[env].resources, spec.resources
        prefix = f"environments.{env}.resources"
        old_dbs = {d.name: d for d in before.databases}
        for db in after.databases:
            if db.name in old_dbs and old_dbs[db.name].engine != db.engine:
                major(f"{prefix}.databases.{db.name}.engine", f"database engine {old_dbs[db.name].engine} -> {db.engine}")
        for name in sorted(old_dbs.keys() - {d.name for d in after.databases}):
            major(f"{prefix}.databases.{name}", f"database {name} removed")
        for name in sorted(_data_volumes(before) - _data_volumes(after)):
            major(f"{prefix}.{name}", f"data volume {name} removed")
        for group, rule in sorted(_world_ingress(after) - _world_ingress(before)):
            major(f"{prefix}.securityGroups.{group}", f"new ingress from {rule}")
        old_t, new_t = totals(before).as_dict(), totals(after).as_dict()
        for key in TOTALS:
            if new_t[key] > old_t[key] * (1 + GROWTH_LIMIT):
                grow = f"+{(new_t[key] - old_t[key]) * 100 // old_t[key]}%" if old_t[key] else "from 0"
                major(f"{prefix}.{key}", f"{key} {old_t[key]} -> {new_t[key]} ({grow}, over 50%)")
            elif new_t[key] != old_t[key]:
                changes.append(Change("minor", f"{prefix}.{key}", f"{key} {old_t[key]} -> {new_t[key]}"))
    for env in old.environments.keys() - new.environments.keys():
        changes.append(Change("minor", f"environments.{env}", f"environment {env} removed"))
    noted = {c.path.split(".")[0] + "." + c.path.split(".")[1] for c in changes if c.path.count(".") >= 1}
    for section in _differing_sections(old, new):
        if section not in noted:
            changes.append(Change("minor", section, f"{section} changed"))
    return changes


def is_major(changes: list[Change]) -> bool:
    return any(c.kind == "major" for c in changes)


def _data_volumes(r: Resources) -> set[str]:
    names = {f"servers.{s.name}.volumes.{v.name}" for s in r.servers for v in s.volumes}
    return names | {f"volumes.{v.name}" for v in r.volumes}


def _world_ingress(r: Resources) -> set[tuple[str, str]]:
    found = set()
    for group in r.security_groups:
        for rule in group.rules:
            if rule.direction == "ingress" and rule.is_open_to_world:
                ports = f"{rule.ports.min}-{rule.ports.max}" if rule.ports else "all"
                found.add((group.name, f"{rule.remote_cidr} {rule.protocol}/{ports}"))
    return found


def _differing_sections(old: Application, new: Application) -> list[str]:
    """Top-level sections (and each environment) whose content differs."""
    out = [
        f"spec.{name}"
        for name in ("materials", "auth", "data_sharing", "backup")
        if getattr(old, name) != getattr(new, name)
    ]
    if old.metadata != new.metadata:
        out.insert(0, "metadata")
    out += [
        f"environments.{env}"
        for env in new.environments
        if env in old.environments and old.environments[env] != new.environments[env]
    ]
    return out
