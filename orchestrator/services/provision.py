"""Preview, up, destroy and refresh of one environment's stack through the Pulumi engine."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from orchestrator.adapters import engine
from orchestrator.core import naming
from orchestrator.core.manifest import Application, Environment
from orchestrator.errors import UsageError


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
) -> engine.OperationResult:
    """Resolve the manifest, check the environment is declared, write config, run the engine."""
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
    located = engine.locate()
    stack = naming.stack_name(app.unit, app.id, env)
    return engine.run(operation, stack, config, located, dry_run=dry_run, on_progress=on_progress)
