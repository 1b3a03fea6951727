"""The govcloud quota policy pack: ``pulumi preview --policy-pack quotas``.

Wraps the rules of ``orchestrator.core.quota`` with the enforcement levels of ``policy.yaml``
(or ``GOVCLOUD_QUOTA_POLICY``). The stack's context (application, environment, MLPS level,
backups, production data) comes from the manifest and environment that the stack config the engine
sends names (``govcloud:manifest``, ``govcloud:environment``, read as the program reads them); what
the unit already holds from the manifest directories every command uses
(:func:`orchestrator.services.manifests.manifest_dirs`, relative to the repository root).
A stack whose config names no valid manifest and environment fails the mandatory ``stack-config``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from orchestrator.adapters.policy_pack import serve
from orchestrator.core.quota import Context, load_policy
from orchestrator.services import quotas
from orchestrator.services.manifests import manifest_dirs

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent  # the Pulumi project (Pulumi.yaml): relative manifest paths start here
POLICY = Path(os.environ.get("GOVCLOUD_QUOTA_POLICY") or HERE / "policy.yaml")


def context(config: Mapping[str, str]) -> Context:
    """The context of the stack whose config the engine sent."""
    return quotas.stack_context(
        config.get("govcloud:manifest"), config.get("govcloud:environment"), PROJECT, manifest_dirs(root=PROJECT)
    )


serve("govcloud-quotas", load_policy(POLICY), context)
