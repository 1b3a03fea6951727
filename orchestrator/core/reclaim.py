"""Reclamation decided before it acts (Art. 16): what is ours, what is foreign, in which order.

The cloud adapter lists what a project holds as :class:`Found` items; :func:`decide` splits them
into what govcloud deletes (tagged for this application) and what it leaves for a human (foreign),
and orders the deletions by an explicit dependency graph: a thing is deleted only after
everything that uses it.
"""

from __future__ import annotations

import graphlib
from collections import Counter
from dataclasses import dataclass, field

#: kind -> the kinds that must be gone before it can be deleted.
DEPENDS_ON: dict[str, set[str]] = {
    "floating_ip": set(),
    "database_backup": set(),
    "database_instance": {"database_backup"},
    "server": {"floating_ip"},
    "snapshot": set(),
    "volume": {"server", "snapshot", "database_instance"},
    "router_interface": {"floating_ip"},
    "router": {"router_interface"},
    "port": {"server", "router_interface", "database_instance", "floating_ip"},
    "subnet": {"port", "router_interface"},
    "network": {"subnet", "port"},
    "security_group": {"server", "port", "database_instance"},
    "object": set(),
    "container": {"object"},
    "keypair": {"server"},
    "image": {"server", "volume"},
}

#: The order in which kinds are deleted (a topological order of :data:`DEPENDS_ON`).
ORDER: tuple[str, ...] = tuple(graphlib.TopologicalSorter(DEPENDS_ON).static_order())


@dataclass(frozen=True)
class Found:
    """One thing the cloud holds in an environment's project."""

    kind: str
    id: str
    name: str = ""
    labels: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    #: Deleted together with its owner (a server's port, a container's objects): no tag needed.
    owned_by: str | None = None

    def as_dict(self) -> dict:
        return {"kind": self.kind, "id": self.id, "name": self.name, "owned_by": self.owned_by}


@dataclass(frozen=True)
class Decision:
    """What a reclamation run of one environment will delete, in order, and leave alone."""

    delete: tuple[Found, ...]
    foreign: tuple[Found, ...]

    def counts(self) -> dict[str, int]:
        return dict(Counter(f.kind for f in self.delete))


def is_ours(found: Found, unit: str, app: str) -> bool:
    """Tagged for this application: both the unit and the application labels match."""
    return found.labels.get("unit") == unit and found.labels.get("app") == app


def decide(items: list[Found], unit: str, app: str) -> Decision:
    """Split ``items`` into ours (ordered for deletion) and foreign.

    An owned item (a port of our server, an object of our container) follows its owner; one
    whose owner is foreign is foreign too.
    """
    ours_ids = {f.id for f in items if f.owned_by is None and is_ours(f, unit, app)}
    delete, foreign = [], []
    for found in items:
        mine = found.id in ours_ids or (found.owned_by is not None and found.owned_by in ours_ids)
        (delete if mine else foreign).append(found)
    rank = {kind: i for i, kind in enumerate(ORDER)}
    delete.sort(key=lambda f: (rank[f.kind], f.name, f.id))
    foreign.sort(key=lambda f: (rank.get(f.kind, len(rank)), f.name, f.id))
    return Decision(tuple(delete), tuple(foreign))
