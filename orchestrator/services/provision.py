"""Preview, up, destroy and refresh of one environment's stack through the Pulumi engine."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.adapters import engine
from orchestrator.core import naming
from orchestrator.core.manifest import Application, Environment
from orchestrator.errors import UsageError

if TYPE_CHECKING:
    from orchestrator.core.lifecycle import Actor


def stack_config(app: Application, path: Path, env: Environment, external_network: str,
                 key_pair: str | None) -> dict[str, str]:
    """The ``govcloud:*`` stack config the program reads (paths relative to the repository)."""
    resolved = path.resolve()
    try:
        manifest = str(resolved.relative_to(engine.REPO))
    except ValueError:
        manifest = str(resolved)
    config = {
        "govcloud:manifest": manifest,
        "govcloud:environment": str(env),
        "govcloud:digest": app.digest,
        "govcloud:externalNetwork": external_network,
    }
    if key_pair:
        config["govcloud:keyPair"] = key_pair
    return config


def run_operation(
    operation: str,
    app_ref: str,
    env_name: str,
    *,
    manifests: Iterable[Path] = (),
    external_network: str | None = None,
    key_pair: str | None = None,
    dry_run: bool = False,
    on_progress: Callable[[engine.Progress], None] | None = None,
    actor: Actor | None = None,
) -> engine.OperationResult:
    """Resolve the manifest, check the environment is declared, write config, run the engine.

    ``up`` is refused before the engine starts unless the ledger approved this digest for the
    environment and the quota policy has no mandatory objection; a successful ``up`` is
    recorded in the ledger as provisioned by ``actor``.
    """
    from orchestrator.core.validation import load_manifest
    from orchestrator.services.manifests import find_manifest

    path = find_manifest(app_ref, manifests)
    app = load_manifest(path)
    env = Environment(env_name)
    if env not in app.environments:
        raise UsageError(f"{path}: environment {env} is not declared in the manifest")
    config = stack_config(
        app, path, env,
        external_network or os.environ.get("GOVCLOUD_EXTERNAL_NETWORK", "public"),
        key_pair or os.environ.get("GOVCLOUD_KEY_PAIR"),
    )
    admissions = None
    if operation == "up":
        from orchestrator.services.admission import Admissions
        from orchestrator.services.plan import plan_application

        admissions = Admissions()
        admission = admissions.admit(plan_application(app, env), app)
        if not admission.allowed:
            raise admission.refusal()
        if actor is None:
            raise UsageError("say who provisions: up records the step in the ledger (--as/--role or an ID token)")
    located = engine.locate()
    stack = naming.stack_name(app.unit, app.id, env)
    result = engine.run(operation, stack, config, located, dry_run=dry_run, on_progress=on_progress)
    if admissions is not None and admissions.lifecycle is not None and actor is not None:
        admissions.lifecycle.record_provisioned(app.id, str(env), actor, admissions.at, app.digest)
    return result
