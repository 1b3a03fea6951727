"""The difference between two plans of one stack: resources added, removed, and changed. Pure.

Resources are matched by (type token, logical name), as the Pulumi engine matches them by URN.
Properties are compared leaf by leaf through nested mappings (``metadata.Quota-Bytes``); a list
is one value, compared whole.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator.core.stackplan import PlannedResource

_MISSING = object()


@dataclass(frozen=True)
class PropertyChange:
    """One property of a resource, before and after (``None`` when absent on that side)."""

    path: str
    before: Any
    after: Any

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "before": self.before, "after": self.after}


@dataclass(frozen=True)
class ResourceRef:
    type: str
    name: str

    def as_dict(self) -> dict[str, str]:
        return {"type": self.type, "name": self.name}


@dataclass(frozen=True)
class ChangedResource:
    type: str
    name: str
    properties: tuple[PropertyChange, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"type": self.type, "name": self.name, "properties": [p.as_dict() for p in self.properties]}


@dataclass(frozen=True)
class ResourceDiff:
    """Added and removed resources, and the changed ones with their changed properties."""

    added: tuple[ResourceRef, ...] = ()
    changed: tuple[ChangedResource, ...] = ()
    removed: tuple[ResourceRef, ...] = ()
    unchanged: int = 0

    @property
    def empty(self) -> bool:
        return not (self.added or self.changed or self.removed)

    def counts(self) -> dict[str, int]:
        return {
            "added": len(self.added),
            "changed": len(self.changed),
            "removed": len(self.removed),
            "unchanged": self.unchanged,
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "counts": self.counts(),
            "added": [r.as_dict() for r in self.added],
            "changed": [r.as_dict() for r in self.changed],
            "removed": [r.as_dict() for r in self.removed],
        }


def diff_resources(before: Iterable[PlannedResource], after: Iterable[PlannedResource]) -> ResourceDiff:
    """What turns the plan ``before`` into the plan ``after``; order of the ``after`` plan kept.

    Example: a server flavor changed from g.2c4g to g.4c8g gives one changed
    ``openstack:compute/instance:Instance`` with ``PropertyChange("flavorName", "g.2c4g", "g.4c8g")``.
    """
    old = {(r.type, r.name): r for r in before}
    new = {(r.type, r.name): r for r in after}
    added = tuple(ResourceRef(*key) for key in new if key not in old)
    removed = tuple(ResourceRef(*key) for key in old if key not in new)
    changed: list[ChangedResource] = []
    unchanged = 0
    for key, resource in new.items():
        if key not in old:
            continue
        props = tuple(property_changes(old[key].properties, resource.properties))
        if props:
            changed.append(ChangedResource(key[0], key[1], props))
        else:
            unchanged += 1
    return ResourceDiff(added, tuple(changed), removed, unchanged)


def substantive(changed: ChangedResource, old_digest: str, new_digest: str) -> tuple[PropertyChange, ...]:
    """The property changes that are more than the new manifest digest in tags and labels.

    Every resource carries ``govcloud:digest``; a changed manifest re-tags them all, which says
    nothing a reviewer needs to read resource by resource.
    """
    import json

    def retagged(p: PropertyChange) -> bool:
        return json.dumps(p.before, sort_keys=True).replace(old_digest, new_digest) == json.dumps(
            p.after, sort_keys=True
        )

    return tuple(p for p in changed.properties if not (old_digest and new_digest and retagged(p)))


def property_changes(before: Mapping[str, Any], after: Mapping[str, Any], prefix: str = "") -> list[PropertyChange]:
    """Leaf properties that differ, by dotted path, in sorted order."""
    found: list[PropertyChange] = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key, _MISSING), after.get(key, _MISSING)
        path = f"{prefix}{key}"
        if isinstance(old, Mapping) and isinstance(new, Mapping):
            found.extend(property_changes(old, new, f"{path}."))
        elif old != new:
            found.append(PropertyChange(path, None if old is _MISSING else old, None if new is _MISSING else new))
    return found
