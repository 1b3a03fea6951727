"""Applied quotas: the project's quota sets as the stack sets them vs what the cloud reports."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from orchestrator.core.sizing import Quotas


@dataclass(frozen=True)
class Difference:
    """One quota whose value in the cloud differs from the environment's allocation."""

    service: str  # compute | network | block_storage
    key: str
    expected: int | None
    actual: int | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def differences(expected: Quotas, actual: Quotas) -> list[Difference]:
    """Every key of ``expected`` whose value the cloud reports otherwise (or not at all)."""
    out = []
    for service, wanted in expected.as_dict().items():
        reported = getattr(actual, service)
        for key, value in wanted.items():
            if reported.get(key) != value:
                out.append(Difference(service, key, value, reported.get(key)))
    return out
