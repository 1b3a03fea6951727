"""Change classification of Art. 15: what differs between two manifests, minor or major. Pure.

The explanation is a list of findings (:class:`Change`), one per thing that differs: where
(``path``), what changed in words (``what``) and as data (``detail``), its class (``kind``: minor
or major) and why it has that class (``reason``). The CLI (``govcloud changes``), the gitops
merge-request comment and the portal render this one value.

Major: the MLPS level, a database engine, a new environment, new ingress from 0.0.0.0/0 (or ::/0),
a removed data volume or database, any resource total of an environment growing by more than 50%.
Everything else that differs is minor. A major change resubmits the Art. 11 materials (a new
self-test report) and passes the tests again before approval.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from orchestrator.core.manifest import Application, Rule
from orchestrator.core.sizing import totals

GROWTH_LIMIT = 0.5
#: The resource totals whose growth beyond :data:`GROWTH_LIMIT` makes a change major.
TOTALS = ("vcpu", "ram_gb", "volume_gb", "object_gb", "servers", "database_instances")
#: The kinds of change Art. 15 treats as major here; every finding of another kind is minor.
MAJOR_KINDS = (
    "the MLPS level",
    "a database engine",
    "a new environment",
    "a removed data volume or database",
    "new ingress from anywhere",
    "a resource total growing by more than 50%",
)
MINOR = "minor: not " + ", ".join(MAJOR_KINDS[:-1]) + " or " + MAJOR_KINDS[-1] + " (Art. 15)"


@dataclass(frozen=True)
class Change:
    """One finding: at ``path``, ``what`` changed (``detail``: the same as data); ``kind`` is its
    class and ``reason`` says why it has that class."""

    kind: Literal["major", "minor"]
    path: str
    reason: str
    what: str = ""
    detail: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def classify(old: Application, new: Application) -> list[Change]:
    """Every change from ``old`` to ``new``; empty when the digests are equal."""
    if old.digest == new.digest:
        return []
    changes: list[Change] = []
    if old.mlps_level != new.mlps_level:
        changes.append(
            Change(
                "major",
                "spec.mlpsLevel",
                "the MLPS level decides the protection the system needs: major (Art. 15, 40)",
                f"MLPS level {old.mlps_level} -> {new.mlps_level}",
                {"old": old.mlps_level, "new": new.mlps_level},
            )
        )
    for section in ("metadata", "materials", "auth", "data_sharing", "backup"):
        before, after = _plain(getattr(old, section)), _plain(getattr(new, section))
        path = "metadata" if section == "metadata" else f"spec.{_camel(section)}"
        changes += [_minor(d) for d in _diff(before, after, path)]
    for env, spec in new.environments.items():
        if env not in old.environments:
            t = totals(spec.resources).as_dict()
            changes.append(
                Change(
                    "major",
                    f"environments.{env}",
                    "a new environment is major (Art. 15)",
                    f"environment {env} added ({t['servers']} servers, {t['vcpu']} vCPU, {t['volume_gb']} GB volumes)",
                    {"environment": str(env), "totals": t},
                )
            )
            continue
        before, after = old.environments[env], spec
        prefix = f"environments.{env}"
        for d in _diff(_plain(before), _plain(after), prefix):
            changes += _resource_findings(d)
        changes += _totals(before.resources, after.resources, f"{prefix}.resources")
    for env in old.environments.keys() - new.environments.keys():
        changes.append(
            Change("minor", f"environments.{env}", MINOR, f"environment {env} removed", {"environment": str(env)})
        )
    if not changes:  # the same content in another order or form
        changes.append(Change("minor", "", MINOR, "the same content in another order (the digest differs)"))
    return changes


def is_major(changes: list[Change]) -> bool:
    return any(c.kind == "major" for c in changes)


# --- the structural difference -----------------------------------------------------------------


@dataclass(frozen=True)
class _Diff:
    path: str
    op: Literal["added", "removed", "changed"]
    old: Any = None
    new: Any = None


def _diff(old: Any, new: Any, path: str) -> Iterator[_Diff]:
    """The differences of two plain values: named lists by name, other lists as sets of items."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in [*old, *(k for k in new if k not in old)]:
            sub = f"{path}.{key}"
            if key not in new:
                yield _Diff(sub, "removed", old[key])
            elif key not in old:
                yield _Diff(sub, "added", None, new[key])
            elif old[key] != new[key]:
                yield from _diff(old[key], new[key], sub)
    elif isinstance(old, list) and isinstance(new, list) and _named(old + new):
        key = _named(old + new)
        before, after = {i[key]: i for i in old}, {i[key]: i for i in new}
        for name in [*before, *(n for n in after if n not in before)]:
            sub = f"{path}.{name}"
            if name not in after:
                yield _Diff(sub, "removed", before[name])
            elif name not in before:
                yield _Diff(sub, "added", None, after[name])
            elif before[name] != after[name]:
                yield from _diff(before[name], after[name], sub)
    elif isinstance(old, list) and isinstance(new, list):
        old_items, new_items = [_canonical(i) for i in old], [_canonical(i) for i in new]
        yield from (_Diff(path, "removed", i) for i, c in zip(old, old_items, strict=True) if c not in new_items)
        yield from (_Diff(path, "added", None, i) for i, c in zip(new, new_items, strict=True) if c not in old_items)
    else:
        yield _Diff(path, "changed", old, new)


def _named(items: list[Any]) -> str | None:
    """The key naming each item of a list of mappings (``name``, or ``id`` for catalogue entries)."""
    for key in ("name", "id"):
        if items and all(isinstance(i, dict) and key in i for i in items):
            return key
    return None


def _plain(value: Any) -> Any:
    return value.model_dump(mode="json", by_alias=True, exclude_none=True)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


# --- findings ---------------------------------------------------------------------------------


def _minor(d: _Diff) -> Change:
    return Change("minor", d.path, MINOR, _words(d), {"op": d.op, "old": d.old, "new": d.new})


def _words(d: _Diff) -> str:
    """``d`` for people: ``path old -> new``, ``path added: value``, ``path removed: value``."""
    where = d.path.split(".resources.", 1)[-1]
    if d.op == "changed":
        return f"{where} {_short(d.old)} -> {_short(d.new)}"
    return f"{where} {d.op}: {_short(d.old if d.op == 'removed' else d.new)}"


def _short(value: Any, limit: int = 120) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _resource_findings(d: _Diff) -> list[Change]:
    """One difference inside an environment's resources, classified (several when a removed
    server takes data volumes with it, or an added group brings rules)."""
    parts = d.path.split(".")
    section = parts[3] if len(parts) > 3 and parts[2] == "resources" else ""
    if section == "securityGroups":
        return _group_findings(d, parts)
    if section == "databases" and len(parts) == 5 and d.op == "removed":
        return [
            Change(
                "major",
                d.path,
                "removing a database removes its data: major (Art. 15)",
                f"database {parts[4]} removed",
                {"op": "removed", "database": d.old},
            )
        ]
    if section == "databases" and parts[5:] == ["engine"]:
        return [
            Change(
                "major",
                d.path,
                "a database engine change is major (Art. 15)",
                f"database {parts[4]} engine {d.old} -> {d.new}",
                {"op": "changed", "old": d.old, "new": d.new},
            )
        ]
    found = [_minor(d)]
    if section == "servers" and len(parts) == 5 and d.op == "removed":
        found += [_volume_removed(f"{d.path}.volumes.{v['name']}", v) for v in d.old.get("volumes", [])]
    elif (
        (section == "servers" and parts[5:6] == ["volumes"] and len(parts) == 7)
        or (section == "volumes" and len(parts) == 5)
    ) and d.op == "removed":
        found = [_volume_removed(d.path, d.old)]
    return found


def _volume_removed(path: str, volume: dict[str, Any]) -> Change:
    name = path.split(".resources.", 1)[1]
    return Change(
        "major",
        path,
        "removing a data volume removes its data: major (Art. 15)",
        f"data volume {name} removed ({volume['sizeGb']} GB)",
        {"op": "removed", "volume": volume},
    )


def _group_findings(d: _Diff, parts: list[str]) -> list[Change]:
    """Rules named by what they are: group, direction, protocol, ports, remote."""
    group = parts[4] if len(parts) > 4 else ""
    if len(parts) == 5 and d.op in ("added", "removed"):  # a whole group: its rules one by one
        value = d.new if d.op == "added" else d.old
        head = Change(
            "minor",
            d.path,
            MINOR,
            f"security group {group} {d.op} ({len(value.get('rules', []))} rules)",
            {"op": d.op, "group": group},
        )
        return [head] + [_rule_finding(f"{d.path}.rules", group, d.op, r) for r in value.get("rules", [])]
    if parts[5:] == ["rules"] and d.op in ("added", "removed"):
        return [_rule_finding(d.path, group, d.op, d.new if d.op == "added" else d.old)]
    return [_minor(d)]


def _rule_finding(path: str, group: str, op: str, data: dict[str, Any]) -> Change:
    rule = Rule.model_validate(data)
    ports = (
        "all ports"
        if rule.ports is None
        else (
            f"port {rule.ports.min}" if rule.ports.min == rule.ports.max else f"ports {rule.ports.min}-{rule.ports.max}"
        )
    )
    remote = rule.remote_cidr or f"group {rule.remote_group}"
    where = "from" if rule.direction == "ingress" else "to"
    detail = {
        "op": op,
        "group": group,
        "direction": rule.direction,
        "protocol": rule.protocol,
        "ports": None if rule.ports is None else [rule.ports.min, rule.ports.max],
        "remote": remote,
    }
    what = f"{rule.direction} rule {op} in group {group}: {rule.protocol} {ports} {where} {remote}"
    if op == "added" and rule.direction == "ingress" and rule.is_open_to_world:
        return Change("major", path, f"new ingress from anywhere ({rule.remote_cidr}) is major (Art. 15)", what, detail)
    if op == "added" and rule.direction == "ingress":
        why = f"minor: ingress from {remote} only, not from anywhere (0.0.0.0/0 or ::/0 would be major, Art. 15)"
    elif op == "removed":
        why = "minor: a removed rule only narrows access (Art. 15)"
    else:
        why = "minor: egress is not one of the major kinds (Art. 15)"
    return Change("minor", path, why, what, detail)


def _totals(before: Any, after: Any, prefix: str) -> list[Change]:
    found = []
    old_t, new_t = totals(before).as_dict(), totals(after).as_dict()
    for key in TOTALS:
        old, new = old_t[key], new_t[key]
        if old == new:
            continue
        grow = (
            f"+{(new - old) * 100 // old}%"
            if old and new > old
            else ("from 0" if not old else f"{(new - old) * 100 // old}%")
        )
        detail = {"total": key, "old": old, "new": new}
        if new > old * (1 + GROWTH_LIMIT):
            found.append(
                Change(
                    "major",
                    f"{prefix}.{key}",
                    f"grows by more than 50% ({grow}): major (Art. 15)",
                    f"{key} {old} -> {new} ({grow})",
                    detail,
                )
            )
        else:
            found.append(
                Change(
                    "minor",
                    f"{prefix}.{key}",
                    f"minor: changes by {grow}, within the 50% a minor change may grow (Art. 15)",
                    f"{key} {old} -> {new}",
                    detail,
                )
            )
    return found
