"""Who gets which Keystone role on an environment's project (Art. 20 level by level, Art. 36).

One table, pure: the unit's admins manage their own projects (``member``), the unit's operators
look (``reader``), the provider's operations group operates every project (``member``). Nobody
else gets a role from govcloud; the provisioning user's own ``member`` role is the identity
component's concern. Group membership is the authentication platform's (federated), not ours.
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.core import naming

#: The provider's operations group when stack config ``govcloud:providerOpsGroup`` is not set.
DEFAULT_PROVIDER_OPS_GROUP = "govcloud-provider-ops"
#: ``admin`` is never granted: with OpenStack's legacy policies ``admin`` on any project is
#: administration of the whole cloud, which would let one group into every unit's hosts (Art. 36).
FORBIDDEN_ROLES = frozenset({"admin"})


@dataclass(frozen=True)
class Grant:
    """One role of one Keystone group on the environment's project."""

    group: str
    role: str
    why: str


def grants(unit: str, provider_ops_group: str = DEFAULT_PROVIDER_OPS_GROUP) -> tuple[Grant, ...]:
    """The complete list of group roles on each project of ``unit``.

    >>> [(g.group, g.role) for g in grants("zwb")]
    [('zwb-admins', 'member'), ('zwb-operators', 'reader'), ('govcloud-provider-ops', 'member')]
    """
    table = (
        Grant(naming.unit_group(unit, "admins"), "member", "the unit manages its own projects"),
        Grant(naming.unit_group(unit, "operators"), "reader", "the unit's operators look, change nothing"),
        Grant(provider_ops_group, "member", "the cloud service provider operates every project"),
    )
    return table
