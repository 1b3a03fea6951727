"""Art. 31: the cloud's use against its capacity, and the 70% warning. Pure.

A measure whose service the cloud does not expose (or does not let us read) is *unknown*: it is
reported as such, never as 0%.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

#: Placement resource classes read for compute capacity, with their display names and units.
COMPUTE_CLASSES: dict[str, tuple[str, str]] = {
    "VCPU": ("compute vcpu", "vCPU"),
    "MEMORY_MB": ("compute ram", "MB"),
    "DISK_GB": ("compute disk", "GB"),
}


@dataclass(frozen=True)
class Measure:
    """One resource's use and capacity; ``None`` means the cloud did not tell (``reason``: why)."""

    resource: str
    used: float | None
    capacity: float | None
    unit: str = ""
    source: str = ""
    reason: str = ""


@dataclass(frozen=True)
class Assessment:
    """A measure with its percentage and status: ``ok``, ``warn`` or ``unknown``."""

    resource: str
    used: float | None
    capacity: float | None
    unit: str
    source: str
    percent: float | None
    status: str
    reason: str = ""  #: why the status is unknown

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def effective_capacity(total: float, reserved: float = 0, allocation_ratio: float = 1.0) -> float:
    """Placement's usable capacity of an inventory: ``(total - reserved) * allocation_ratio``."""
    return max(total - reserved, 0) * allocation_ratio


def assess(measure: Measure, threshold: float) -> Assessment:
    """Percent in use (one decimal) and whether it reaches the threshold (at it warns)."""
    reason = ""
    if measure.used is None or measure.capacity is None or measure.capacity <= 0:
        percent, status = None, "unknown"
        reason = measure.reason or (
            "the cloud reports no capacity" if measure.capacity is not None else "the cloud did not report it"
        )
    else:
        ratio = measure.used / measure.capacity
        percent = round(ratio * 100, 1)
        status = "warn" if round(ratio, 9) >= threshold else "ok"
    return Assessment(
        measure.resource, measure.used, measure.capacity, measure.unit, measure.source, percent, status, reason
    )


def assess_all(measures: Iterable[Measure], threshold: float) -> list[Assessment]:
    return [assess(m, threshold) for m in measures]


def warnings(assessments: Iterable[Assessment]) -> list[Assessment]:
    """The resources at or above the threshold."""
    return [a for a in assessments if a.status == "warn"]


def combine(resource: str, parts: Iterable[tuple[float, float]], unit: str, source: str, reason: str = "") -> Measure:
    """Sum (used, capacity) pairs of several providers or pools into one measure; a ``reason``
    (a part the cloud did not tell) makes the whole unknown: a partial sum is not the figure."""
    used = capacity = 0.0
    seen = False
    for u, c in parts:
        used, capacity, seen = used + u, capacity + c, True
    if reason or not seen:
        return Measure(resource, None, None, unit, source, reason)
    return Measure(resource, used, capacity, unit, source)
