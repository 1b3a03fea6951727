"""Reclamation decided before it acts (Art. 16): what is ours, what is foreign, in which order.

The cloud adapter lists what a project holds as :class:`Found` items; :func:`decide` splits them
into what govcloud deletes (tagged for this application) and what it leaves for a human (foreign),
and orders the deletions by an explicit dependency graph: a thing is deleted only after
everything that uses it. What the cloud itself made for the project (Neutron's ``default``
security group) is neither: it goes with the project (:func:`is_builtin`).

Key pairs are in the graph for completeness, but Nova keeps them per user, not per project, and
they carry neither tags nor metadata: the cloud adapter cannot attribute them and never lists
them (govcloud does not create key pairs; ``govcloud:keyPair`` names an existing one).
"""

from __future__ import annotations

import graphlib
from collections import Counter
from collections.abc import Iterator
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
    #: Made by the cloud for the project (its ``default`` security group): deleted with the project.
    builtin: tuple[Found, ...] = ()

    def counts(self) -> dict[str, int]:
        """Deletions by kind, in deletion order."""
        return dict(Counter(f.kind for f in self.delete))

    def waves(self) -> Iterator[tuple[str, list[Found]]]:
        """The deletions kind by kind, in :data:`ORDER`: a wave may run in parallel."""
        for kind in ORDER:
            batch = [f for f in self.delete if f.kind == kind]
            if batch:
                yield kind, batch


def is_ours(found: Found, unit: str, app: str) -> bool:
    """Tagged for this application: both the unit and the application labels match."""
    return found.labels.get("unit") == unit and found.labels.get("app") == app


def is_builtin(found: Found) -> bool:
    """Made by the cloud, not by anyone: the untagged ``default`` security group of a project."""
    return found.kind == "security_group" and found.name == "default" and not found.labels


def decide(items: list[Found], unit: str, app: str) -> Decision:
    """Split ``items`` into ours (ordered for deletion), foreign and builtin.

    An owned item (a port of our server, an object of our container) follows its owner; one
    whose owner is foreign, or no longer listed, is foreign too.

    >>> net = Found("network", "n1", labels={"unit": "zwb", "app": "portal"})
    >>> sub = Found("subnet", "s1", labels={"unit": "zwb", "app": "portal"})
    >>> other = Found("volume", "v1", labels={"unit": "zwb", "app": "other"})
    >>> d = decide([net, other, sub], "zwb", "portal")
    >>> [f.id for f in d.delete], [f.id for f in d.foreign]
    (['s1', 'n1'], ['v1'])
    """
    ours_ids = {f.id for f in items if f.owned_by is None and is_ours(f, unit, app)}
    delete, foreign, builtin = [], [], []
    for found in items:
        mine = found.id in ours_ids or (found.owned_by is not None and found.owned_by in ours_ids)
        if mine:
            delete.append(found)
        elif found.owned_by is None and is_builtin(found):
            builtin.append(found)
        else:
            foreign.append(found)
    rank = {kind: i for i, kind in enumerate(ORDER)}
    delete.sort(key=lambda f: (rank[f.kind], f.name, f.id))
    foreign.sort(key=lambda f: (rank.get(f.kind, len(rank)), f.name, f.id))
    return Decision(tuple(delete), tuple(foreign), tuple(builtin))
