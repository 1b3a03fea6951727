"""What a project actually uses, as the cloud reports it, and the idle and over-provisioning rules. Pure.

The cloud adapter returns these types (never openstacksdk objects); the monthly report judges them:

- a server is *idle* when it was shut off for the whole month (status ``SHUTOFF`` since before the
  month began);
- a volume is *idle* when it has been unattached for :data:`UNATTACHED_DAYS` days at month end;
- a container is *idle* when it holds no object;
- an environment is *over-provisioned* in a measure when it uses less than
  :data:`OVERPROVISIONED_BELOW` of what it was allocated.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

UNATTACHED_DAYS = 30
OVERPROVISIONED_BELOW = 0.3
GIB = 1024**3
#: The parts of a project's use the cloud reports, and the measure each gives.
USAGE_PARTS = ("servers", "volumes", "containers")
MEASURE_PART = {"vcpu": "servers", "volume_gb": "volumes", "object_gb": "containers"}


@dataclass(frozen=True)
class ServerUsage:
    """One server: its status and since when (the last status change), its flavor's size."""

    name: str
    status: str  #: Nova's status: ACTIVE, SHUTOFF, ERROR...
    since: dt.datetime | None
    vcpu: int | None = None
    ram_gb: float | None = None

    @property
    def running(self) -> bool:
        return self.status == "ACTIVE"


@dataclass(frozen=True)
class VolumeUsage:
    """One block volume: size, whether attached, and since when its attachment status holds."""

    name: str
    size_gb: int
    attached: bool
    since: dt.datetime | None


@dataclass(frozen=True)
class ContainerUsage:
    """One object-storage container: objects and bytes stored."""

    name: str
    objects: int
    bytes: int


@dataclass(frozen=True)
class ProjectUsage:
    """Everything the cloud reports of one Keystone project (one application environment).

    A part the cloud did not tell is in ``unknown`` with the reason; its measure is ``None``,
    never 0 (an error is not a zero)."""

    project: str
    servers: tuple[ServerUsage, ...] = ()
    volumes: tuple[VolumeUsage, ...] = ()
    containers: tuple[ContainerUsage, ...] = ()
    unknown: dict[str, str] = field(default_factory=dict, hash=False)  #: part -> why it is not known

    @property
    def vcpu(self) -> int | None:
        """vCPU of the running servers."""
        return None if "servers" in self.unknown else sum(s.vcpu or 0 for s in self.servers if s.running)

    @property
    def volume_gb(self) -> int | None:
        """Gigabytes of attached volumes."""
        return None if "volumes" in self.unknown else sum(v.size_gb for v in self.volumes if v.attached)

    @property
    def object_gb(self) -> float | None:
        """Gigabytes stored in the containers."""
        return None if "containers" in self.unknown else sum(c.bytes for c in self.containers) / GIB

    def measure_unknown(self) -> dict[str, str]:
        """Measure (``vcpu``, ``volume_gb``, ``object_gb``) -> why it is not known."""
        return {m: self.unknown[part] for m, part in MEASURE_PART.items() if part in self.unknown}


def idle_server(server: ServerUsage, month_start: dt.datetime) -> bool:
    """Shut off for the whole month: SHUTOFF, and so since the month began (or earlier)."""
    return server.status == "SHUTOFF" and server.since is not None and server.since <= month_start


def idle_volume(volume: VolumeUsage, month_end: dt.datetime) -> bool:
    """Unattached for at least :data:`UNATTACHED_DAYS` days at month end."""
    return (
        not volume.attached
        and volume.since is not None
        and month_end - volume.since >= dt.timedelta(days=UNATTACHED_DAYS)
    )


def idle_container(container: ContainerUsage) -> bool:
    return container.objects == 0


def over_provisioned(allocated: float, used: float) -> bool:
    """Allocation far above use: less than :data:`OVERPROVISIONED_BELOW` of it in use."""
    return allocated > 0 and used < OVERPROVISIONED_BELOW * allocated
