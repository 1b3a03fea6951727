"""The govcloud quota policy pack: ``pulumi preview --policy-pack quotas``.

Wraps the rules of ``orchestrator.core.quota`` with the enforcement levels of ``policy.yaml``
(or ``GOVCLOUD_QUOTA_POLICY``). The stack's context (application, environment, MLPS level,
backups, production data, what the unit already holds) comes from the stack configuration the
program reads (``govcloud:manifest``, ``govcloud:environment``), else from the resources' labels
and the manifests in ``GOVCLOUD_MANIFESTS`` (default ``examples/manifests``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pulumi_policy import EnforcementLevel, PolicyPack

from orchestrator.adapters.policy_pack import policies
from orchestrator.core.quota import Context, load_policy
from orchestrator.services import quotas

HERE = Path(__file__).resolve().parent
POLICY = Path(os.environ.get("GOVCLOUD_QUOTA_POLICY") or HERE / "policy.yaml")


def _in_project(path: str) -> Path:
    """A path from the stack configuration: relative to the project root (this pack's parent)."""
    candidate = Path(path)
    return candidate if candidate.is_absolute() or candidate.exists() else HERE.parent / candidate


def context(labels: Mapping[str, str]) -> Context | None:
    """The stack's context: the stack configuration first, else the resources' labels."""
    import pulumi

    config = pulumi.Config("govcloud")
    manifest, env = config.get("manifest"), config.get("environment")
    return quotas.stack_context(
        labels,
        _in_project(manifest) if manifest else None,
        env,
        _in_project(str(quotas.manifests_dir())),
    )


PolicyPack(
    name="govcloud-quotas",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=policies(load_policy(POLICY), context),
)
