"""Reclamation decided before it acts (Art. 16): what is ours, what is foreign, in which order.

The cloud adapter lists what a project holds as :class:`Found` items; :func:`decide` splits them
into what govcloud deletes (tagged for this application, or made by hand without labels in the
application's own project) and what it leaves for a human (foreign), and orders the deletions by
an explicit dependency graph: a thing is deleted only after everything that uses it. What the
cloud itself made for the project (Neutron's ``default`` security group) is neither: it goes with
the project (:func:`is_builtin`). :func:`before_destroy` picks, of ours, what the engine cannot
delete: the department's data and what it made by hand.

What a run did (or, dry, would do) is reported as :class:`Step` items of a :class:`Summary`,
each :class:`Failure` with the cloud's answer.

Key pairs are in the graph for completeness, but Nova keeps them per user, not per project, and
they carry neither tags nor metadata: the cloud adapter cannot attribute them and never lists
them (govcloud does not create key pairs; ``govcloud:keyPair`` names an existing one).
"""

from __future__ import annotations

import datetime as dt
import graphlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

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

#: Kinds the stacks never create: the data a department keeps in its environment (objects,
#: volume snapshots, server images, database backups). The engine does not know them, and they
#: make it fail (Swift refuses to delete a container with objects, Cinder a volume with snapshots).
DATA_KINDS = frozenset({"object", "snapshot", "image", "database_backup"})

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

    def as_dict(self) -> dict[str, Any]:
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


def is_labelled(found: Found) -> bool:
    """Carries govcloud labels at all (for this application or another)."""
    return bool(found.labels)


def decide(items: list[Found], unit: str, app: str, own_project: bool = False) -> Decision:
    """Split ``items`` into ours (ordered for deletion), foreign and builtin.

    An owned item (a port of our server, an object of our container) follows its owner; one
    whose owner is foreign is foreign too. With ``own_project`` (the project is tagged for this
    application: only its unit's groups, the provider's operations and our user hold roles in
    it), what carries no labels at all was made there by hand (a snapshot, an image, a backup, a
    second container for a large object's segments, a port) and is ours as well; what is
    labelled for someone else stays foreign. Without it, unlabelled means foreign.

    >>> net = Found("network", "n1", labels={"unit": "zwb", "app": "portal"})
    >>> sub = Found("subnet", "s1", labels={"unit": "zwb", "app": "portal"})
    >>> other = Found("volume", "v1", labels={"unit": "zwb", "app": "other"})
    >>> d = decide([net, other, sub], "zwb", "portal")
    >>> [f.id for f in d.delete], [f.id for f in d.foreign]
    (['s1', 'n1'], ['v1'])
    """

    def top(f: Found) -> bool:
        return is_ours(f, unit, app) or (own_project and not is_labelled(f) and not is_builtin(f))

    listed = {f.id for f in items if f.owned_by is None}
    ours_ids = {f.id for f in items if f.owned_by is None and top(f)}
    delete, foreign, builtin = [], [], []
    for found in items:
        if found.owned_by is None:
            mine = found.id in ours_ids
        else:  # follows its owner; an owner gone already leaves it to the project's rule
            mine = found.owned_by in ours_ids or (found.owned_by not in listed and top(found))
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


def before_destroy(decision: Decision) -> Decision:
    """Of ours, what the engine cannot delete, to be deleted before ``pulumi destroy``: the data
    kinds (:data:`DATA_KINDS`) and what was made by hand (no labels, not part of anything).
    Parts the engine removes with their owner (a server's ports, a router's interfaces) and
    what carries our labels (the stack's own) wait for the destroy and the sweep after it.

    >>> ours = {"unit": "zwb", "app": "portal"}
    >>> items = [Found("container", "c", labels=ours), Found("object", "c/a", owned_by="c"),
    ...          Found("container", "c_segments"), Found("object", "c_segments/1", owned_by="c_segments")]
    >>> [f.id for f in before_destroy(decide(items, "zwb", "portal", own_project=True)).delete]
    ['c/a', 'c_segments/1', 'c_segments']
    """
    first = tuple(f for f in decision.delete if f.kind in DATA_KINDS or (f.owned_by is None and not is_labelled(f)))
    return Decision(first, ())


# --- a stack whose project is gone -------------------------------------------------------------

#: Pulumi types of the stacks -> the kind the cloud looks up by id (with admin rights) to verify
#: that a resource of a stack whose project is gone is gone too.
STATE_KINDS: dict[str, str] = {
    "openstack:compute/instance:Instance": "server",
    "openstack:compute/volumeAttach:VolumeAttach": "volume_attachment",
    "openstack:blockstorage/volume:Volume": "volume",
    "openstack:networking/network:Network": "network",
    "openstack:networking/subnet:Subnet": "subnet",
    "openstack:networking/port:Port": "port",
    "openstack:networking/router:Router": "router",
    "openstack:networking/routerInterface:RouterInterface": "router_interface",
    "openstack:networking/secGroup:SecGroup": "security_group",
    "openstack:networking/secGroupRule:SecGroupRule": "security_group_rule",
    "openstack:networking/floatingIp:FloatingIp": "floating_ip",
    "openstack:objectstorage/container:Container": "container",
    "openstack:database/instance:Instance": "database_instance",
}
#: Parts of the project itself: Keystone drops role assignments with the project, quota sets
#: are its settings; gone when the project is.
WITH_PROJECT = frozenset(
    {
        "openstack:identity/project:Project",
        "openstack:identity/roleAssignment:RoleAssignment",
        "openstack:compute/quotaSetV2:QuotaSetV2",
        "openstack:networking/quotaV2:QuotaV2",
        "openstack:blockstorage/quoteSetV3:QuoteSetV3",
    }
)
#: In no outside system (a generated password lives only in the state).
STATE_ONLY_PREFIXES = ("random:",)
#: In the unified-authentication platform: gone when the clients step finds none of ours.
PLATFORM_PREFIXES = ("keycloak:",)


def state_check(resource_type: str) -> str:
    """How a resource of a stack whose project is gone is verified gone: ``cloud`` (looked up by
    id as :data:`STATE_KINDS` says), ``project``, ``platform``, ``state`` or ``unknown``.

    >>> state_check("openstack:blockstorage/volume:Volume"), state_check("random:index/randomPassword:RandomPassword")
    ('cloud', 'state')
    """
    if resource_type in STATE_KINDS:
        return "cloud"
    if resource_type in WITH_PROJECT:
        return "project"
    if resource_type.startswith(PLATFORM_PREFIXES):
        return "platform"
    if resource_type.startswith(STATE_ONLY_PREFIXES):
        return "state"
    return "unknown"


# --- what a run reports -------------------------------------------------------------------------


@dataclass
class Failure:
    """One thing that could not be deleted (or listed), with the cloud's answer."""

    environment: str
    kind: str
    id: str
    name: str
    error: str


@dataclass
class Step:
    """One step of one environment: ``empty``, ``destroy`` (or ``forget``), ``sweep``, ``clients``,
    ``project``, ``access``, ``stack``, ``verify``."""

    environment: str
    step: str
    status: str  #: done, skipped, failed, deferred (a later step takes it up), planned (dry run: done)
    detail: str = ""
    #: cloud and platform resources deleted (in a dry run: to be deleted), by kind: the one unit
    #: every count of a reclamation is in, whether the engine or the sweep deleted them
    deleted: dict[str, int] = field(default_factory=dict)
    #: destroy: the engine's own count (its resources: providers, components, passwords too)
    engine: dict[str, int] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    foreign: list[dict[str, Any]] = field(default_factory=list)
    plan: list[dict[str, Any]] = field(default_factory=list)  #: dry run: what would be deleted, in order

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("plan", "engine"):
            if not data[key]:
                data.pop(key)
        return data

    def fail(self, failure: Failure) -> Step:
        """Failed, with ``failure`` (the run goes on)."""
        self.status = "failed"
        self.failures.append(failure)
        return self

    def count(self, kind: str, n: int = 1) -> None:
        self.deleted[kind] = self.deleted.get(kind, 0) + n


@dataclass
class Summary:
    application: str
    dry_run: bool
    steps: list[Step] = field(default_factory=list)
    reclaimed: bool = False
    deadline: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    at: dt.datetime | None = None  #: when its steps are recorded; None: the reclaimer's clock, step by step

    @property
    def failures(self) -> list[Failure]:
        """What could not be deleted, once each, with the first error seen (not "still there")."""
        seen: dict[tuple[str, str, str], Failure] = {}
        for s in self.steps:
            for f in s.failures:
                seen.setdefault((f.environment, f.kind, f.id), f)
        return list(seen.values())

    @property
    def foreign(self) -> list[dict[str, Any]]:
        """Left for a person, once each (a client look-alike in a realm two environments share
        is listed once, under the first)."""
        seen: dict[tuple[str, str], dict[str, Any]] = {}
        for s in self.steps:
            for f in s.foreign:
                seen.setdefault((f["kind"], f["id"]), f)
        return list(seen.values())

    def counts(self) -> dict[str, int]:
        """Deleted (or, in a dry run, to be deleted) by kind over all environments."""
        return _total(s.deleted for s in self.steps)

    def engine(self) -> dict[str, int]:
        """The engine's own counts of its destroys (a breakdown, not the unit of :meth:`counts`)."""
        return _total(s.engine for s in self.steps)

    def as_dict(self) -> dict[str, Any]:
        return {
            "application": self.application,
            "dry_run": self.dry_run,
            "reclaimed": self.reclaimed,
            "counts": self.counts(),
            "engine": self.engine(),
            "failed": len(self.failures),
            "failures": [asdict(f) for f in self.failures],
            "foreign": self.foreign,
            "deadline": self.deadline,
            "note": self.note,
            "steps": [s.as_dict() for s in self.steps],
        }


def _total(counts: Iterable[dict[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for one in counts:
        for key, n in one.items():
            total[key] = total.get(key, 0) + n
    return total
