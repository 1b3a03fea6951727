"""Preview, up, destroy and refresh of one environment's stack through the Pulumi engine."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.adapters import engine
from orchestrator.adapters.programfiles import program_fingerprint
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


#: Stack config of the authentication platform and access groups -> environment variable.
AUTH_VARIABLES = {
    "govcloud:authRealm": "GOVCLOUD_AUTH_REALM",
    "govcloud:authTestRealm": "GOVCLOUD_AUTH_TEST_REALM",
    "govcloud:authPlatform": "GOVCLOUD_AUTH_PLATFORM",
    "govcloud:providerOpsGroup": "GOVCLOUD_PROVIDER_OPS_GROUP",
}


def platform_config(environ: Mapping[str, str]) -> tuple[dict[str, str], set[str]]:
    """The platform's stack config from the environment, and which keys are secrets.

    ``GOVCLOUD_AUTH_REALM`` is required, and so is every variable the platform module names
    required (Keycloak: ``KEYCLOAK_URL``, ``KEYCLOAK_CLIENT_ID``, ``KEYCLOAK_CLIENT_SECRET``).
    """
    from stacks.components import auth

    config = {key: environ[var] for key, var in AUTH_VARIABLES.items() if environ.get(var)}
    module = auth.module(config.get("govcloud:authPlatform", auth.DEFAULT_PLATFORM))
    config |= {key: environ[var] for key, (var, _) in module.CONFIG.items() if environ.get(var)}
    missing = [AUTH_VARIABLES["govcloud:authRealm"]] if "govcloud:authRealm" not in config else []
    missing += [module.CONFIG[key][0] for key in module.REQUIRED if key not in config]
    if missing:
        raise UsageError(f"set {', '.join(missing)}: the authentication platform's realm and admin client")
    return config, {key for key, (_, secret) in module.CONFIG.items() if secret and key in config}


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
    at: dt.datetime | None = None,
    reason: str | None = None,
    payload: dict[str, Any] | None = None,
) -> engine.OperationResult:
    """Resolve the manifest, check the environment is declared, write config, run the engine.

    ``up`` is refused before the engine starts unless the ledger approved this digest for the
    environment and the quota policy has no mandatory objection; a successful ``up`` is
    recorded in the ledger by ``actor`` at ``at`` (the stated time, default now; the gate is
    judged then): ``provisioned``, or ``reapplied`` with ``reason`` when the environment already
    ran this digest with another program, nothing when digest and program are both the ones it
    runs (``result.recorded`` says which). The event's payload holds ``payload`` and the program's
    fingerprint.
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

        admissions = Admissions(at=at)
        admission = admissions.admit(plan_application(app, env), app)
        if not admission.allowed:
            raise admission.refusal()
        if actor is None:
            raise UsageError("say who provisions: up records the step in the ledger (--as/--role or an ID token)")
    located = engine.locate()
    platform, secret_keys = platform_config(os.environ)
    stack = naming.stack_name(app.unit, app.id, env)
    result = engine.run(
        operation, stack, config | platform, located,
        dry_run=dry_run, on_progress=on_progress, secret_keys=secret_keys,
    )
    if operation == "up" and app.environments[env].resources.databases:
        from orchestrator.adapters.cloud import Cloud
        from orchestrator.services.dbaccess import restrict

        # the pinned provider cannot set Trove's access: only the application's network may connect
        access = restrict(app, env, Cloud.connect(os.environ.get("OS_CLOUD") or None))  # empty: the OS_* variables
        result = dataclasses.replace(result, database_access=access["expected"])
    if admissions is not None and admissions.lifecycle is not None and actor is not None:
        event = admissions.lifecycle.record_deployment(
            app.id, str(env), actor, admissions.at, app.digest, reason=reason,
            payload={"program": program_fingerprint(), **(payload or {})})
        result = dataclasses.replace(result, recorded=event.type if event is not None else None)
    return result
