"""Which resources hold data, and which steps between two plans of a stack would destroy it. Pure.

Data-bearing: block volumes, Trove database instances, Swift containers, and the servers whose
root disk the manifest does not declare disposable (``stateless: true``). The engine matches
resources by URN (type and logical name), so a resource gone from the plan (removed, renamed, a
lower ``count``) is deleted; a changed property the pinned OpenStack provider cannot update in
place (ForceNew in terraform-provider-openstack v3.4.0) replaces it; a server's image rebuilds it
in place (same id, root disk re-imaged). Each such step on a data-bearing resource destroys data.

Some changes keep the data by another path: a Trove flavor or volume size is resized through
Trove's API before the engine runs (the provider would replace the instance); a volume grows by
Cinder's extend. What no path can do (shrink a volume or a Trove volume) is refused.

Example: the plan of ``app`` with a data volume renamed from ``data`` to ``records`` removes
``openstack:blockstorage/volume:Volume`` ``citizen-portal-app-1-data``:
``DataStep("delete", VOLUME, "citizen-portal-app-1-data", "no longer in the manifest ...")``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from orchestrator.core.plandiff import PropertyChange, diff_resources, substantive
from orchestrator.core.stackplan import PlannedResource

VOLUME = "openstack:blockstorage/volume:Volume"
DATABASE = "openstack:database/instance:Instance"
CONTAINER = "openstack:objectstorage/container:Container"
SERVER = "openstack:compute/instance:Instance"
#: Data-bearing types, each with what people call it.
KINDS = {VOLUME: "volume", DATABASE: "database instance", CONTAINER: "container", SERVER: "server root disk"}

#: Inputs whose change replaces the resource (ForceNew in terraform-provider-openstack v3.4.0,
#: in the names the bridged provider gives them). ``name`` of a volume or container updates in
#: place, but the program names resources by their logical name, so a rename is a new URN.
REPLACED_BY: dict[str, frozenset[str]] = {
    VOLUME: frozenset(
        {
            "region",
            "availabilityZone",
            "snapshotId",
            "sourceVolId",
            "imageId",
            "backupId",
            "consistencyGroupId",
            "sourceReplica",
        }
    ),
    DATABASE: frozenset({"name", "datastore", "networks", "databases", "users", "volumeType"}),
    CONTAINER: frozenset({"region", "storageClass", "storagePolicy"}),
    SERVER: frozenset(
        {
            "region",
            "userData",
            "availabilityZone",
            "availabilityZoneHints",
            "networks",
            "networkMode",
            "configDrive",
            "keyPair",
            "blockDevices",
            "schedulerHints",
            "hypervisorHostname",
        }
    ),
}
#: Server inputs whose change rebuilds the server in place: its root disk is re-imaged.
REBUILT_BY = frozenset({"imageName", "imageId"})
#: Trove inputs resized through Trove's API instead of the provider's replacement.
RESIZED_BY = frozenset({"flavorId", "size"})

Action = Literal["delete", "replace", "rebuild", "refused"]


@dataclass(frozen=True)
class DataStep:
    """One step of the engine that destroys data (``delete``, ``replace``, ``rebuild``), or a
    change no path can make without destroying it (``refused``: never approvable)."""

    action: Action
    type: str
    name: str
    reason: str

    @property
    def kind(self) -> str:
        return KINDS[self.type]

    def __str__(self) -> str:
        verb = "cannot be applied" if self.action == "refused" else "destroys data"
        return f"{verb}: {self.kind} {self.name} ({self.action}: {self.reason})"

    def as_dict(self) -> dict[str, str]:
        return {
            "action": self.action,
            "type": self.type,
            "kind": self.kind,
            "name": self.name,
            "reason": self.reason,
            "summary": str(self),
        }


@dataclass(frozen=True)
class Resize:
    """A Trove instance resized in place through Trove's API (keeps its data)."""

    name: str
    flavor: str | None = None
    """The new flavor's id (``None``: unchanged)."""
    size: int | None = None
    """The new volume size in GB (``None``: unchanged)."""

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "flavor": self.flavor, "size": self.size}


@dataclass(frozen=True)
class DataChanges:
    """What a change does to the data of one stack."""

    steps: tuple[DataStep, ...] = ()
    resizes: tuple[Resize, ...] = ()
    deleted_first: frozenset[str] = frozenset()
    """Every server and volume gone from the plan, data-bearing or not: ``up`` deletes them before
    the engine runs, which would lower the project's quota first (Nova and Cinder refuse a quota
    below what is in use) and create new resources before deleting old ones (over an exact quota)."""

    @property
    def destroying(self) -> tuple[DataStep, ...]:
        """The steps an approval may allow."""
        return tuple(s for s in self.steps if s.action != "refused")

    @property
    def refused(self) -> tuple[DataStep, ...]:
        return tuple(s for s in self.steps if s.action == "refused")

    @property
    def names(self) -> frozenset[str]:
        """The resources whose data the change destroys."""
        return frozenset(s.name for s in self.destroying)

    def as_dict(self) -> dict[str, Any]:
        return {"steps": [s.as_dict() for s in self.steps], "resizes": [r.as_dict() for r in self.resizes]}


def data_bearing(type_: str, name: str, disposable: Collection[str]) -> bool:
    """Whether resource ``name`` of ``type_`` holds data (``disposable``: the instance names of
    ``stateless`` servers)."""
    return type_ in KINDS and not (type_ == SERVER and name in disposable)


def data_changes(
    before: Iterable[PlannedResource],
    after: Iterable[PlannedResource],
    disposable: Collection[str],
    old_digest: str = "",
    new_digest: str = "",
) -> DataChanges:
    """The data steps from the plan ``before`` to the plan ``after`` of one stack.

    ``disposable`` names the instances of ``stateless`` servers on either side.
    """
    before, after = list(before), list(after)
    diff = diff_resources(before, after)
    steps: list[DataStep] = []
    resizes: list[Resize] = []
    for gone in diff.removed:
        if data_bearing(gone.type, gone.name, disposable):
            steps.append(
                DataStep(
                    "delete",
                    gone.type,
                    gone.name,
                    "no longer in the manifest (removed, renamed, or a lower count): the engine deletes it",
                )
            )
    for changed in diff.changed:
        if not data_bearing(changed.type, changed.name, disposable):
            continue
        props = substantive(changed, old_digest, new_digest)
        step = _replacing(changed.type, changed.name, props)
        if step is not None:
            steps.append(step)
            continue
        if changed.type == DATABASE:
            resize = _resize(changed.name, props)
            shrink = next((p for p in props if p.path == "size" and _smaller(p)), None)
            if shrink is not None:
                steps.append(
                    DataStep(
                        "refused",
                        DATABASE,
                        changed.name,
                        f"size {shrink.before} -> {shrink.after} GB: Trove cannot shrink a volume",
                    )
                )
            elif resize is not None:
                resizes.append(resize)
        shrink = next((p for p in props if changed.type == VOLUME and p.path == "size" and _smaller(p)), None)
        if shrink is not None:
            steps.append(
                DataStep(
                    "refused",
                    VOLUME,
                    changed.name,
                    f"size {shrink.before} -> {shrink.after} GB: Cinder cannot shrink a volume",
                )
            )
        image = next((p for p in props if changed.type == SERVER and p.path in REBUILT_BY), None)
        if image is not None:
            steps.append(
                DataStep(
                    "rebuild",
                    SERVER,
                    changed.name,
                    f"{image.path} {image.before} -> {image.after}: the server is rebuilt, its root disk re-imaged",
                )
            )
    first = frozenset(r.name for r in diff.removed if r.type in (SERVER, VOLUME))
    return DataChanges(tuple(steps), tuple(resizes), first)


class EngineStep(Protocol):
    """A step of a real preview (:class:`orchestrator.adapters.engine.EngineStep`), read-only."""

    @property
    def op(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def diffs(self) -> tuple[str, ...]: ...


#: Preview operations that delete a resource's current object (``protected``: the engine refused it).
_DESTROYING_OPS: dict[str, Action] = {
    "delete": "delete",
    "delete-replaced": "replace",
    "replace": "replace",
    "create-replacement": "replace",
    "protected": "replace",
}


def engine_data_steps(
    steps: Iterable[EngineStep], disposable: Collection[str], release: Collection[str] = ()
) -> list[DataStep]:
    """The data steps a real preview shows that ``release`` does not allow: where the offline
    comparison cannot tell (the state differs from the running manifest's plan, the program changed)."""
    found: dict[str, DataStep] = {}
    for step in steps:
        if not data_bearing(step.type, step.name, disposable) or step.name in release or step.name in found:
            continue
        action = _DESTROYING_OPS.get(step.op)
        if action is not None:
            why = (
                "the engine refused it: it is protected"
                if step.op == "protected"
                else f"the engine would {step.op} it" + (f" ({', '.join(step.diffs)})" if step.diffs else "")
            )
            found[step.name] = DataStep(action, step.type, step.name, f"preview: {why}")
        elif step.op == "update" and step.type == SERVER and REBUILT_BY & set(step.diffs):
            found[step.name] = DataStep("rebuild", SERVER, step.name, "preview: the engine would rebuild it (image)")
    return list(found.values())


def _replacing(type_: str, name: str, props: tuple[PropertyChange, ...]) -> DataStep | None:
    forcing = [p for p in props if p.path.split(".")[0] in REPLACED_BY.get(type_, ())]
    if not forcing:
        return None
    what = "; ".join(f"{p.path} {_short(p.before)} -> {_short(p.after)}" for p in forcing)
    return DataStep("replace", type_, name, f"{what}: the provider replaces it (a new, empty one)")


def _resize(name: str, props: tuple[PropertyChange, ...]) -> Resize | None:
    found = {p.path: p.after for p in props if p.path in RESIZED_BY}
    if not found:
        return None
    return Resize(name, flavor=found.get("flavorId"), size=found.get("size"))


def _smaller(p: PropertyChange) -> bool:
    return isinstance(p.before, int) and isinstance(p.after, int) and p.after < p.before


def _short(value: Any, limit: int = 60) -> str:
    text = str(value) if not isinstance(value, Mapping) else repr(dict(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"
