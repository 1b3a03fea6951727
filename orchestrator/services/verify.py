"""``govcloud verify APP --env ENV``: does the cloud hold what the stack's plan says, resource by
resource, and nothing else? ``up`` asks it before it records ``provisioned``."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.core.manifest import Application, Environment
from orchestrator.errors import UsageError


@dataclass(frozen=True)
class Verification:
    """The differences between one stack's plan and the cloud (none: they match)."""

    stack: str
    digest: str
    problems: list[str] = field(default_factory=list)

    @property
    def matches(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {"stack": self.stack, "digest": self.digest, "matches": self.matches, "problems": self.problems}


def settings(external_network: str | None = None, key_pair: str | None = None, suspended: bool = False) -> Any:
    """The program's settings as ``up`` runs it (the plan then names the real network and key)."""
    from stacks.components.settings import StackSettings
    from stacks.program import policy_headroom

    return StackSettings(
        external_network=external_network or os.environ.get("GOVCLOUD_EXTERNAL_NETWORK", "public"),
        key_pair=key_pair or os.environ.get("GOVCLOUD_KEY_PAIR") or None,
        headroom=policy_headroom(),
        suspended=suspended,
    )


def cloud_differences(plan: Any, cloud: str | None = None) -> list[str]:
    """The cloud's differences from ``plan`` (:meth:`orchestrator.adapters.cloud.Cloud.plan_differences`)."""
    from orchestrator.adapters.cloud import Cloud

    return Cloud.connect(cloud).plan_differences(plan)


def verify_application(
    app: Application,
    env: Environment,
    *,
    external_network: str | None = None,
    key_pair: str | None = None,
    cloud: str | None = None,
    suspended: bool = False,
) -> Verification:
    """Plan ``env`` of ``app`` as ``up`` runs it (``suspended``: Art. 37) and compare the plan with the cloud."""
    from orchestrator.services.plan import plan_application

    plan = plan_application(app, env, settings(external_network, key_pair, suspended))
    return Verification(plan.stack, app.digest, cloud_differences(plan, cloud))


def verify(
    app_ref: str,
    env_name: str,
    *,
    manifests: Iterable[Path] = (),
    external_network: str | None = None,
    key_pair: str | None = None,
    cloud: str | None = None,
) -> Verification:
    """``govcloud verify``: resolve the manifest (an id or a path), then :func:`verify_application`."""
    from orchestrator.core.validation import load_manifest
    from orchestrator.services.manifests import find_manifest

    path = find_manifest(app_ref, manifests)
    app = load_manifest(path)
    env = Environment(env_name)
    if env not in app.environments:
        raise UsageError(f"{path}: environment {env} is not declared in the manifest")
    return verify_application(
        app, env, external_network=external_network, key_pair=key_pair, cloud=cloud, suspended=suspended(app.id)
    )


def suspended(application: str) -> bool:
    """Whether the ledger (if there is one) holds a suspension of ``application`` (Art. 37)."""
    from orchestrator.services.admission import existing_ledger

    lifecycle = existing_ledger()
    state = lifecycle.store.find_state(application) if lifecycle is not None else None
    return state is not None and state.suspension is not None
