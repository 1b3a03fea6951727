"""Who gets which Keystone role on an environment's project (Art. 20 level by level, Art. 36).

One table, pure: the unit's admins manage their own projects (``member``), the unit's operators
look (``reader``), the provider's operations group operates every project (``member``). Nobody
else gets a role from govcloud; the provisioning user's own ``member`` role is the identity
component's concern. Group membership is the authentication platform's (federated), not ours.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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


@dataclass(frozen=True)
class Assignment:
    """One role assignment found on a project: a role of a group or a user."""

    project_id: str
    role_id: str
    role: str
    actor: str
    """``group`` or ``user``."""
    actor_id: str
    actor_name: str = ""
    inherited: bool = False
    """Inherited to the project's subprojects (``OS-INHERIT``), not on the project itself."""

    kind = "role_assignment"

    @property
    def id(self) -> str:
        return f"{self.project_id}/{self.actor}/{self.actor_id}/{self.role_id}"

    @property
    def name(self) -> str:
        """``group zwb-admins: member``"""
        return f"{self.actor} {self.actor_name or self.actor_id}: {self.role or self.role_id}"

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "name": self.name, "owned_by": None}


@dataclass(frozen=True)
class AssignmentDecision:
    """What reclamation does with the role assignments on an application's project."""

    delete: tuple[Assignment, ...]
    """The application's grants (:func:`grants`' groups), whatever the role."""
    own: tuple[Assignment, ...]
    """The reclaiming user's own role: kept while the project is kept, so a re-run can sweep it."""
    foreign: tuple[Assignment, ...]
    """Anyone else's: not govcloud's to remove; listed for a person."""


def decide_assignments(
    found: list[Assignment],
    unit: str,
    provider_ops_group: str = DEFAULT_PROVIDER_OPS_GROUP,
    own_user_id: str | None = None,
) -> AssignmentDecision:
    """Split the assignments on an existing project of the application.

    >>> a = Assignment("p", "r1", "member", "group", "g1", "zwb-admins")
    >>> b = Assignment("p", "r1", "member", "user", "u9", "alice")
    >>> d = decide_assignments([a, b], "zwb")
    >>> [x.actor_name for x in d.delete], [x.actor_name for x in d.foreign]
    (['zwb-admins'], ['alice'])
    """
    groups = {g.group for g in grants(unit, provider_ops_group)}
    delete = tuple(a for a in found if a.actor == "group" and a.actor_name in groups)
    own = tuple(a for a in found if a.actor == "user" and own_user_id is not None and a.actor_id == own_user_id)
    foreign = tuple(a for a in found if a not in delete and a not in own)
    return AssignmentDecision(delete, own, foreign)
