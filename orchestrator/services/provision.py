"""Preview, up, destroy and refresh of one environment's stack through the Pulumi engine."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.adapters import engine
from orchestrator.adapters.driftlog import DriftLog
from orchestrator.adapters.programfiles import program_fingerprint
from orchestrator.core import naming
from orchestrator.core.manifest import Application, Environment
from orchestrator.errors import ExternalError, GovcloudError, UsageError
from orchestrator.services import stacklock

if TYPE_CHECKING:
    from orchestrator.core.dataloss import Resize
    from orchestrator.core.lifecycle import Actor
    from orchestrator.services.datasafety import DataGuard


def stack_config(
    app: Application,
    path: Path,
    env: Environment,
    external_network: str,
    key_pair: str | None,
    release: Iterable[str] = (),
    suspended: bool | None = None,
) -> dict[str, str]:
    """The ``govcloud:*`` stack config the program reads (paths relative to the repository).

    ``govcloud:releaseData`` is always written, empty unless this run may destroy the data of
    ``release`` (an approved data loss): a later plain ``pulumi up`` protects everything again.
    ``govcloud:suspended`` is written when the ledger was read (``up``): Art. 37's suspension."""
    import json

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
        "govcloud:releaseData": json.dumps(sorted(release)),
    }
    if key_pair:
        config["govcloud:keyPair"] = key_pair
    if suspended is not None:
        config["govcloud:suspended"] = "true" if suspended else "false"
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
    environment, the quota policy has no mandatory objection, and every data-bearing resource
    the change would delete, replace or rebuild is approved for loss in the ledger (issue 25;
    :func:`orchestrator.services.datasafety.guard`). Then, on a live environment, a real preview
    must show no other data loss; Trove resizes go through Trove's API; the engine runs with
    exactly the approved resources unprotected (after a failed up, refreshing first); the cloud
    is compared with the plan; and Trove's access is restricted to the environment's network.
    A success is recorded by ``actor`` at ``at`` (the stated time, default now; the gate is
    judged then): ``provisioned``, or ``reapplied`` with ``reason`` when the environment already
    ran this digest with another program, nothing when digest and program are both the ones it
    runs (``result.recorded`` says which); its payload holds ``payload``, the program's
    fingerprint and what was destroyed and resized. A failure of the engine, a resize or the
    comparison is recorded as ``provision-failed`` with its last lines, and raised.
    """
    from orchestrator.core.validation import load_manifest
    from orchestrator.services.manifests import find_manifest

    path = find_manifest(app_ref, manifests)
    app = load_manifest(path)
    env = Environment(env_name)
    if env not in app.environments:
        raise UsageError(f"{path}: environment {env} is not declared in the manifest")
    external_network = external_network or os.environ.get("GOVCLOUD_EXTERNAL_NETWORK", "public")
    key_pair = key_pair or os.environ.get("GOVCLOUD_KEY_PAIR")
    if operation != "up":
        located = engine.locate()
        platform, secret_keys = platform_config(os.environ)
        config = stack_config(app, path, env, external_network, key_pair)
        stack = naming.stack_name(app.unit, app.id, env)
        with _held(stack, changes=operation != "preview" and not dry_run):
            return engine.run(
                operation,
                stack,
                config | platform,
                located,
                dry_run=dry_run,
                on_progress=on_progress,
                secret_keys=secret_keys,
            )

    from orchestrator.services import datasafety
    from orchestrator.services.admission import Admissions
    from orchestrator.services.plan import plan_application

    admissions = Admissions(at=at)
    plan = plan_application(app, env)
    admission = admissions.admit(plan, app)
    if not admission.allowed:
        raise admission.refusal()
    if actor is None:
        raise UsageError("say who provisions: up records the step in the ledger (--as/--role or an ID token)")
    lifecycle = admissions.lifecycle
    assert lifecycle is not None  # the gate passed: the ledger approved this digest
    guard = datasafety.guard(lifecycle.state(app.id), lifecycle.manifest_at, app, env, plan)
    located = engine.locate()
    platform, secret_keys = platform_config(os.environ)
    state = lifecycle.state(app.id)
    suspended = state.suspension is not None
    config = stack_config(app, path, env, external_network, key_pair, guard.release, suspended) | platform
    up = Up(app, env, plan.stack, config, located, secret_keys, guard, on_progress, suspended)
    program = program_fingerprint()
    drift = DriftLog(lifecycle.store.engine) if hasattr(lifecycle.store, "engine") else None
    drifted = drift.findings(application=app.id, environment=str(env), status=("open",)) if drift else []
    try:
        with stacklock.holding(lifecycle.store, plan.stack):
            result, done = up.run(external_network, key_pair)
        if app.environments[env].resources.databases:
            result = dataclasses.replace(result, database_access=restrict_database_access(app, env))
    except ExternalError as exc:
        try:
            lifecycle.record_failure(
                app.id,
                str(env),
                actor,
                admissions.at,
                app.digest,
                str(exc)[:2000],
                payload={"program": program, **up.done},
            )
        except GovcloudError as unrecorded:
            raise ExternalError(f"{exc}; recording the failure in the ledger failed too: {unrecorded}") from exc
        raise
    if drifted:  # the approved digest applied again over drift: recorded, and the drift resolved by it
        reason = reason or f"applied again over {len(drifted)} drift finding(s) (govcloud drift)"
        payload = {**(payload or {}), "drift": [f["fingerprint"] for f in drifted]}
    turned = suspended != bool(state.deployed.get(str(env), {}).get("suspended"))
    if turned:
        reason = reason or (
            "Art. 37: suspended: servers shut off, public ingress withdrawn"
            if suspended
            else "Art. 37: rectified: servers on, public ingress restored"
        )
    event = lifecycle.record_deployment(
        app.id,
        str(env),
        actor,
        admissions.at,
        app.digest,
        reason=reason,
        payload={"program": program, **(payload or {}), **done, "suspended": suspended},
        remedies=bool(drifted) or turned,
    )
    if drift is not None and drifted:
        drift.reapplied(plan.stack, admissions.at)
    result = dataclasses.replace(result, recorded=event.type if event is not None else None)
    return result


@contextlib.contextmanager
def _held(stack: str, *, changes: bool) -> Iterator[None]:
    """Hold the stack's ledger lease while an operation that changes it runs."""
    if not changes:
        yield
        return
    from orchestrator.adapters.ledger import Ledger

    with stacklock.holding(Ledger.open(), stack):
        yield


def restrict_database_access(app: Application, env: Environment) -> list[dict[str, Any]]:
    """Let only the environment's own network reach its databases; who may reach each, after.

    The pinned provider cannot set Trove's access, so it is set through Trove's API after the engine."""
    from orchestrator.adapters.cloud import Cloud
    from orchestrator.services.dbaccess import restrict

    return restrict(app, env, Cloud.connect(os.environ.get("OS_CLOUD") or None))[
        "expected"
    ]  # empty: the OS_* variables


class Up:
    """The steps of one ``up`` after its checks: preview, resizes, unprotect, engine, verify."""

    def __init__(
        self,
        app: Application,
        env: Environment,
        stack: str,
        config: dict[str, str],
        located: engine.Engine,
        secret_keys: set[str],
        guard: DataGuard,
        on_progress: Callable[[engine.Progress], None] | None,
        suspended: bool = False,
    ) -> None:
        self.app, self.env, self.stack, self.config, self.located = app, env, stack, config, located
        self.secret_keys, self.guard, self.on_progress, self.suspended = secret_keys, guard, on_progress, suspended
        self.done: dict[str, Any] = {}
        """What this run did so far (recorded with its success or its failure)."""

    def run(self, external_network: str, key_pair: str | None) -> tuple[engine.OperationResult, dict[str, Any]]:
        from orchestrator.core.dataloss import engine_data_steps
        from orchestrator.services import datasafety, verify

        guard = self.guard
        if guard.live:
            steps = engine.preview_steps(self.stack, self.config, self.located, secret_keys=self.secret_keys)
            unseen = engine_data_steps(steps, guard.disposable, guard.release)
            if unseen:
                raise datasafety.refuse_unseen(self.stack, unseen)
        project = naming.project_name(self.app.unit, self.app.id, self.env)
        for resize in guard.changes.resizes:
            done = resize_database(project, resize)
            if done:
                self.done.setdefault("resized", []).append({"name": resize.name, **done})
        if guard.release:
            engine.unprotect(self.stack, self.located, guard.release)
        deleted = {s.name for s in guard.changes.destroying if s.action == "delete"} | guard.changes.deleted_first
        if deleted:  # before the up (DataChanges.deleted_first says why)
            engine.destroy_targets(self.stack, self.located, deleted, on_progress=self.on_progress)
            self.done["deleted first"] = sorted(deleted)
        result = engine.run(
            "up",
            self.stack,
            self.config,
            self.located,
            on_progress=self.on_progress,
            secret_keys=self.secret_keys,
            refresh=guard.retry,
        )
        if guard.live:  # rules opened behind the stack's back: the groups hold what the manifest declares
            removed = remove_strange_rules(self.stack, self.located)
            if removed:
                self.done["removed rules"] = removed
        if guard.changes.destroying:
            self.done["destroyed"] = [s.as_dict() for s in guard.changes.destroying]
        verification = verify.verify_application(
            self.app, self.env, external_network=external_network, key_pair=key_pair, suspended=self.suspended
        )
        if not verification.matches:
            raise ExternalError(
                f"up of {self.stack} finished but the cloud differs from the plan: "
                + "; ".join(verification.problems[:10])
                + (f" (and {len(verification.problems) - 10} more)" if len(verification.problems) > 10 else "")
                + f"; govcloud verify {self.app.id} --env {self.env} lists them all"
            )
        return result, {**self.done, "verified": True}


def remove_strange_rules(stack: str, located: engine.Engine) -> list[str]:
    """Delete the rules of the stack's security groups that its state does not hold (added by
    hand: cloud drift); what was removed, as people read it."""
    from orchestrator.adapters.cloud import Cloud
    from orchestrator.core.drift import rule_text
    from orchestrator.services.drift import strange_rules

    cloud = Cloud.connect(os.environ.get("OS_CLOUD") or None)
    removed = []
    for group, rule in strange_rules(stack, located, cloud):
        cloud.delete_security_group_rule(rule["id"])
        removed.append(f"{group}: {rule_text(rule)}")
    return removed


def resize_database(project: str, resize: Resize) -> dict[str, Any]:
    """Resize a Trove instance through the cloud's API (the provider would replace it)."""
    from orchestrator.adapters.cloud import Cloud
    from orchestrator.adapters.cloud.plancheck import looked_up

    flavor = looked_up(resize.flavor) if resize.flavor else None
    return Cloud.connect().resize_database(project, resize.name, flavor=flavor, size=resize.size)
