"""What the program needs besides the manifest: read from stack config by :mod:`stacks.program`,
given by ``govcloud plan`` and ``verify`` directly."""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.core import sizing
from orchestrator.core.access import DEFAULT_PROVIDER_OPS_GROUP
from orchestrator.core.platform import AuthSettings


@dataclass(frozen=True)
class StackSettings:
    """What the program needs besides the manifest, all from stack config."""

    external_network: str
    key_pair: str | None = None
    auth: AuthSettings = AuthSettings()
    provider_ops_group: str = DEFAULT_PROVIDER_OPS_GROUP
    """The provider's operations group in Keystone (role ``member`` on every project)."""
    release_data: frozenset[str] = frozenset()
    """Data-bearing resources this run may destroy (``govcloud:releaseData``); the rest are protected."""
    headroom: sizing.Headroom = sizing.Headroom()
    """Room for operations added to the project's quotas (the quota policy's ``headroom``)."""
    suspended: bool = False
    """Art. 37 (``govcloud:suspended``): servers shut off, public ingress rules withdrawn."""
