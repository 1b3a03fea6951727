"""The Pulumi engine through the Automation API: preview, up, destroy, refresh of one stack.

The program is the repository's own (``Pulumi.yaml``, ``main: stacks/``). The engine binaries are
looked up in ``<repo>/.cache/pulumi/bin`` (built by ``scripts/install-pulumi``; the directory is
``$GOVCLOUD_ENGINE_DIR/bin`` when that is set), then on ``PATH``. Plugins are never downloaded
(``PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true``). Backend: ``PULUMI_BACKEND_URL``, by
default the file backend ``file://<repo>/.govcloud/state``. Secrets: the passphrase provider;
``PULUMI_CONFIG_PASSPHRASE`` (or ``..._FILE``) must be set.

Public functions take and return the plain types below; ``pulumi.automation`` is imported only
when an operation runs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.adapters.cloud.credentials import openrc
from orchestrator.errors import ExternalError, UsageError

REPO = Path(__file__).resolve().parents[2]
OPERATIONS = ("preview", "up", "destroy", "refresh")
INSTALL_HINT = "install it with scripts/install-pulumi"


@dataclass(frozen=True)
class Engine:
    """Where the engine is and the environment it runs with."""

    root: Path | None
    """Directory holding ``bin/pulumi``; ``None`` when ``pulumi`` comes from ``PATH``."""
    pulumi_home: Path | None
    env: dict[str, str]


@dataclass(frozen=True)
class Progress:
    """One engine event for people: a resource step starting, done or failed, or a message."""

    kind: str
    """``step``, ``done``, ``failed`` or ``message``."""
    op: str = ""
    type: str = ""
    name: str = ""
    message: str = ""
    severity: str = ""


@dataclass(frozen=True)
class OperationResult:
    """What an operation changed and the stack's outputs (secrets masked)."""

    stack: str
    operation: str
    dry_run: bool
    changes: dict[str, int] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    recorded: str | None = None  #: the ledger event an ``up`` recorded (None: nothing)
    database_access: list[dict[str, Any]] = field(default_factory=list)  #: after ``up``: who may reach each database

    def as_dict(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "operation": self.operation,
            "dryRun": self.dry_run,
            "changes": self.changes,
            "outputs": self.outputs,
            "recorded": self.recorded,
            "databaseAccess": self.database_access,
        }


@dataclass(frozen=True)
class EngineStep:
    """One step a preview says the engine would take on a resource."""

    op: str
    """``create``, ``update``, ``delete``, ``replace``, ``create-replacement``, ``delete-replaced``, ...,
    or ``protected``: the engine refused to delete or replace it because it is protected."""
    type: str
    name: str
    diffs: tuple[str, ...] = ()
    """The inputs that differ (``update``) or force the replacement (``replace``)."""


def _plugin_version(package: str) -> str:
    """The resource plugin version the installed Python SDK expects (its pulumi-plugin.json)."""
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ExternalError(f"the Python package {package} is not installed; run pip install -e '.[dev]'")
    meta = Path(next(iter(spec.submodule_search_locations))) / "pulumi-plugin.json"
    return json.loads(meta.read_text())["version"]


def _find(executable: str, bin_dirs: list[Path], path: str) -> Path | None:
    for directory in bin_dirs:
        candidate = directory / executable
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(executable, path=path)
    return Path(found) if found else None


def locate(repo: Path = REPO, environ: dict[str, str] | None = None) -> Engine:
    """Find the CLI, the Python language host and the OpenStack, random and Keycloak plugins.

    Raises :class:`ExternalError` (exit 3) with one sentence naming what is missing.
    """
    environ = dict(os.environ if environ is None else environ)
    engine_dir = Path(environ.get("GOVCLOUD_ENGINE_DIR") or repo / ".cache" / "pulumi")
    bin_dir = engine_dir / "bin"
    path = os.pathsep.join([str(bin_dir), environ.get("PATH", "")])
    where = f"in {bin_dir} or on PATH"

    cli = _find("pulumi", [bin_dir], path)
    if cli is None:
        raise ExternalError(f"the Pulumi CLI (pulumi) was not found {where}; {INSTALL_HINT}")
    if _find("pulumi-language-python", [bin_dir, cli.parent], path) is None:
        raise ExternalError(
            f"the Pulumi Python language host (pulumi-language-python) was not found {where}; {INSTALL_HINT}"
        )
    home = Path(
        environ.get("PULUMI_HOME") or (engine_dir / "home" if cli.parent == bin_dir else Path.home() / ".pulumi")
    )
    plugins = (("openstack", "pulumi_openstack"), ("random", "pulumi_random"), ("keycloak", "pulumi_keycloak"))
    for name, package in plugins:
        version = _plugin_version(package)
        installed = home / "plugins" / f"resource-{name}-v{version}" / f"pulumi-resource-{name}"
        if not installed.is_file() and _find(f"pulumi-resource-{name}", [bin_dir, cli.parent], path) is None:
            raise ExternalError(
                f"the Pulumi {name} resource plugin v{version} (pulumi-resource-{name}) was not found "
                f"{where} or in {home / 'plugins'}; {INSTALL_HINT}"
            )

    state = backend_env(repo, environ)
    backend = state["PULUMI_BACKEND_URL"]
    if backend.startswith("file://"):
        Path(backend[len("file://") :]).mkdir(parents=True, exist_ok=True)
    require_passphrase(state, environ)
    env = {
        "PATH": path,
        "PULUMI_HOME": str(home),
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PULUMI_SKIP_UPDATE_CHECK": "true",
    } | state
    env |= openrc(environ=environ)  # OS_CLOUD would defeat the stacks' project-scoped providers
    return Engine(root=engine_dir if cli == bin_dir / "pulumi" else None, pulumi_home=home, env=env)


def backend_env(repo: Path = REPO, environ: dict[str, str] | None = None) -> dict[str, str]:
    """Where the state is and what unlocks it: the environment's ``PULUMI_BACKEND_URL`` and
    passphrase file, else ``govcloud.yaml``'s ``state`` section, else this checkout's file backend."""
    from orchestrator.settings import current_settings, load_settings

    named = (environ or {}).get("GOVCLOUD_CONFIG")  # an environment given for another process
    configured = (load_settings(named) if named else current_settings()).state
    environ = dict(os.environ if environ is None else environ)
    # the environment wins, as it does for plain pulumi; its value is kept (``environ`` may be
    # another process's: its S3 credentials file must reach the engine run from this one)
    env = {k: environ.get(k) or v for k, v in (configured.engine_env() if configured else {}).items()}
    if environ.get("PULUMI_CONFIG_PASSPHRASE"):
        env.pop("PULUMI_CONFIG_PASSPHRASE_FILE", None)
    for name in ("PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE_FILE"):
        if environ.get(name):
            env[name] = environ[name]
    env.setdefault("PULUMI_BACKEND_URL", f"file://{repo / '.govcloud' / 'state'}")
    return env


def require_passphrase(env: dict[str, str], environ: dict[str, str]) -> None:
    """:class:`UsageError` unless a passphrase is set, from the environment or a private file
    outside any checkout."""
    from orchestrator.settings_state import check_passphrase_file

    if environ.get("PULUMI_CONFIG_PASSPHRASE"):
        return
    if env.get("PULUMI_CONFIG_PASSPHRASE_FILE"):
        check_passphrase_file(env["PULUMI_CONFIG_PASSPHRASE_FILE"])
        return
    raise UsageError(
        "set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE, or state.passphraseFile in "
        "govcloud.yaml): it encrypts the stack's secrets, such as database passwords, in the state"
    )


def run(
    operation: str,
    stack_name: str,
    config: dict[str, str],
    engine: Engine,
    *,
    dry_run: bool = False,
    on_progress: Callable[[Progress], None] | None = None,
    repo: Path = REPO,
    secret_keys: Collection[str] = (),
    refresh: bool = False,
) -> OperationResult:
    """Run ``operation`` on ``stack_name`` (created if new) after writing its ``config``; the
    values of ``secret_keys`` are written as secrets (encrypted in ``Pulumi.<stack>.yaml``).

    ``dry_run`` turns ``destroy`` and ``refresh`` into their previews; ``refresh`` makes ``up``
    read the cloud into the state first (a retry after a failure). Engine failures become
    :class:`ExternalError` with the engine's own last lines.
    """
    if operation not in OPERATIONS:
        raise UsageError(f"unknown operation {operation!r}; one of {', '.join(OPERATIONS)}")

    def on_event(event: Any) -> None:
        progress = _progress(event)
        if progress is not None and on_progress is not None:
            on_progress(progress)

    with engine_errors(f"pulumi {operation} of stack {stack_name}"):
        stack = _configured(stack_name, config, engine, repo, secret_keys)
        if operation == "preview":
            result = stack.preview(on_event=on_event)
            return OperationResult(stack_name, operation, True, _counts(result.change_summary))
        if operation == "destroy" and dry_run:
            result = stack.preview_destroy(on_event=on_event)
            return OperationResult(stack_name, operation, True, _counts(result.change_summary))
        if operation == "refresh" and dry_run:
            result = stack.preview_refresh(on_event=on_event)
            return OperationResult(stack_name, operation, True, _counts(result.change_summary))
        action = {"up": stack.up, "destroy": stack.destroy, "refresh": stack.refresh}[operation]
        result = action(on_event=on_event, **({"refresh": True} if refresh and operation == "up" else {}))
        outputs = {k: ("[secret]" if v.secret else v.value) for k, v in stack.outputs().items()}
        return OperationResult(stack_name, operation, False, _counts(result.summary.resource_changes), outputs)


#: The engine's refusals of a protected resource: "unable to replace resource "URN" [as part of
#: replacing ...] as it is currently marked for protection", "unable to delete resource "URN"",
#: "resource "URN" cannot be deleted because it is protected" (quotes escaped in JSON output).
_PROTECTED = re.compile(r'(?:unable to (?:replace|delete) resource|resource) \\?"(urn:pulumi:[^"\\]+)\\?"')


def preview_steps(
    stack_name: str, config: dict[str, str], engine: Engine, *, repo: Path = REPO, secret_keys: Collection[str] = ()
) -> list[EngineStep]:
    """A real ``pulumi preview`` of ``stack_name`` with ``config``: every step it would take (no
    ``same``), with the inputs that differ. A protected resource the preview would delete or
    replace is returned as an ``op="protected"`` step (the engine refuses it, the preview fails);
    other engine failures raise :class:`ExternalError`."""
    from pulumi import automation as auto

    steps: list[EngineStep] = []

    def on_event(event: Any) -> None:
        if event.resource_pre_event is not None:
            meta = event.resource_pre_event.metadata
            if _op(meta.op) != "same":
                diffs = tuple(meta.keys or ()) + tuple(meta.diffs or ())
                steps.append(EngineStep(_op(meta.op), meta.type, meta.urn.rsplit("::", 1)[-1], diffs))

    with engine_errors(f"pulumi preview of stack {stack_name}"):
        try:
            _configured(stack_name, config, engine, repo, secret_keys).preview(on_event=on_event, diff=True)
        except auto.errors.CommandError as exc:
            refused = _PROTECTED.findall(str(exc)) if "protect" in str(exc) else []
            if not refused:
                raise
            steps += [
                EngineStep("protected", urn.split("::")[-2].split("$")[-1], urn.rsplit("::", 1)[-1])
                for urn in dict.fromkeys(refused)
            ]
    return steps


@contextmanager
def engine_errors(what: str) -> Iterator[None]:
    """The one place engine failures become :class:`ExternalError`: ``<what> failed`` with the
    engine's own last lines, or the CLI that could not run with how to install it."""
    from pulumi import automation as auto

    try:
        yield
    except auto.errors.CommandError as exc:
        raise ExternalError(f"{what} failed: {_last_lines(str(exc))}") from exc
    except (OSError, auto.errors.InvalidVersionError) as exc:
        raise ExternalError(f"the Pulumi CLI could not run ({exc}); {INSTALL_HINT}") from exc


def _configured(
    stack_name: str, config: dict[str, str], engine: Engine, repo: Path, secret_keys: Collection[str]
) -> Any:
    """The stack (created if new) with ``config`` written."""
    from pulumi import automation as auto

    command = _command(engine)
    workspace = auto.LocalWorkspaceOptions(
        work_dir=str(repo),
        pulumi_home=str(engine.pulumi_home) if engine.pulumi_home else None,
        env_vars=engine.env,
        secrets_provider="passphrase",
        pulumi_command=command,
    )
    stack = auto.create_or_select_stack(stack_name, work_dir=str(repo), opts=workspace)
    stack.set_all_config({k: auto.ConfigValue(v, secret=k in secret_keys) for k, v in config.items()})
    return stack


def _counts(changes: Any) -> dict[str, int]:
    return {str(getattr(op, "value", op)): int(n) for op, n in (changes or {}).items()}


#: One lock of Pulumi's backend as its "stack is currently locked" error lists it.
_LOCK_LINE = re.compile(r"created by (?P<who>\S+) \(pid (?P<pid>\d+)\) at (?P<at>\S+)")


def _last_lines(text: str, limit: int = 6) -> str:
    """The lines of an engine error that say what went wrong; a held backend lock as one sentence
    naming its holder and the command that clears it once the holder is known to be gone."""
    if "the stack is currently locked by" in text:
        holders = [f"{m['who']} (pid {m['pid']}) since {m['at']}" for m in _LOCK_LINE.finditer(text)]
        stack = re.search(r"\.pulumi/locks/(?:organization/[^/\s]+/)?([^/\s]+)/[^/\s]+\.json", text)
        unlock = f"govcloud state unlock {stack[1]}" if stack else "govcloud state unlock STACK"
        return (
            f"the stack is locked in the state backend by {', '.join(holders) or 'another process'}; "
            f"wait for it to end, or, once you know that process is gone, clear the lock with: {unlock}"
        )
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    return " | ".join((errors or lines)[-limit:])


def _progress(event: Any) -> Progress | None:
    """Engine event -> :class:`Progress` (``None`` for events people need not see)."""
    if event.resource_pre_event is not None:
        meta = event.resource_pre_event.metadata
        return Progress("step", _op(meta.op), meta.type, meta.urn.rsplit("::", 1)[-1])
    if event.res_outputs_event is not None:
        meta = event.res_outputs_event.metadata
        return Progress("done", _op(meta.op), meta.type, meta.urn.rsplit("::", 1)[-1])
    if event.res_op_failed_event is not None:
        meta = event.res_op_failed_event.metadata
        return Progress("failed", _op(meta.op), meta.type, meta.urn.rsplit("::", 1)[-1])
    if event.diagnostic_event is not None and not event.diagnostic_event.ephemeral:
        diag = event.diagnostic_event
        return Progress("message", message=diag.message.strip(), severity=str(diag.severity))
    return None


def _op(op: Any) -> str:
    return str(getattr(op, "value", op))


# --- cloud drift ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Refreshed:
    """One resource as a refresh preview saw it: its outputs in the state (``before``) and in the
    cloud (``after``; ``None`` when the cloud no longer has it). Secrets come masked."""

    urn: str
    type: str
    name: str
    before: dict[str, Any]
    after: dict[str, Any] | None
    inputs: frozenset[str] = frozenset()
    """The properties the program sets (the rest the cloud computes: a port's device, a server's address)."""


def preview_refresh(stack_name: str, engine: Engine, repo: Path = REPO) -> list[Refreshed]:
    """``pulumi refresh --preview-only`` of an existing stack (the program is not run, the state
    is not written): every custom resource whose outputs in the cloud differ from the state."""
    from pulumi import automation as auto

    found: dict[str, Refreshed] = {}

    def on_event(event: Any) -> None:
        meta = (event.res_outputs_event or event.resource_pre_event or _Nothing).metadata
        if meta is None or meta.old is None or not meta.old.custom or meta.type.startswith("pulumi:providers:"):
            return
        before = dict(meta.old.outputs or {})
        after = None if meta.new is None else dict(meta.new.outputs or {})
        if after != before:
            found[meta.urn] = Refreshed(
                meta.urn, meta.type, meta.urn.rsplit("::", 1)[-1], before, after, frozenset(meta.old.inputs or {})
            )

    try:
        clear_stale_locks(stack_name, engine)
        _selected(stack_name, engine, repo).preview_refresh(on_event=on_event, show_secrets=False)
    except auto.errors.CommandError as exc:
        raise ExternalError(
            f"pulumi refresh --preview-only of stack {stack_name} failed: {_last_lines(str(exc))}"
        ) from exc
    except (OSError, auto.errors.InvalidVersionError) as exc:
        raise ExternalError(f"the Pulumi CLI could not run ({exc}); {INSTALL_HINT}") from exc
    return list(found.values())


class _Nothing:
    metadata = None


def state_outputs(stack_name: str, engine: Engine, repo: Path = REPO) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(logical name, type, id, outputs) of every custom resource of the stack's state."""
    return [
        (r["urn"].rsplit("::", 1)[-1], r["type"], str(r.get("id") or ""), dict(r.get("outputs") or {}))
        for r in _state(stack_name, engine, repo)
        if r.get("custom") and not str(r.get("type", "")).startswith("pulumi:providers:")
    ]


# --- whole stacks, for reclamation -------------------------------------------------------------


def _command(engine: Engine) -> Any:
    """The Pulumi CLI of ``engine`` for the Automation API (its version is the one we built)."""
    from pulumi import automation as auto

    return auto.PulumiCommand(root=str(engine.root) if engine.root else None, skip_version_check=True)


def _workspace(engine: Engine, repo: Path) -> Any:
    from pulumi import automation as auto

    command = _command(engine)
    return auto.LocalWorkspace(
        work_dir=str(repo),
        pulumi_home=str(engine.pulumi_home) if engine.pulumi_home else None,
        env_vars=engine.env,
        secrets_provider="passphrase",
        pulumi_command=command,
    )


def stack_exists(stack_name: str, engine: Engine, repo: Path = REPO) -> bool:
    """Whether the backend holds state for ``stack_name``."""
    with engine_errors("pulumi stack ls"):
        return any(s.name.split("/")[-1] == stack_name for s in _workspace(engine, repo).list_stacks())


def list_stacks(engine: Engine, repo: Path = REPO) -> list[str]:
    """The names of the stacks the backend holds (reading the backend, as ``pulumi stack ls``)."""
    from pulumi import automation as auto

    try:
        return sorted(s.name.split("/")[-1] for s in _workspace(engine, repo).list_stacks())
    except auto.errors.CommandError as exc:
        raise ExternalError(f"the state backend cannot be read: {_last_lines(str(exc))}") from exc
    except OSError as exc:
        raise ExternalError(f"the Pulumi CLI could not run ({exc}); {INSTALL_HINT}") from exc


def check_writable(engine: Engine, repo: Path = REPO) -> None:
    """Create and remove an empty probe stack: the backend takes writes (lock files are writes)."""
    import socket

    from pulumi import automation as auto

    probe = f"govcloud-doctor-{re.sub(r'[^A-Za-z0-9-]', '-', socket.gethostname())[:40]}-{os.getpid()}"
    workspace = _workspace(engine, repo)
    try:
        workspace.create_stack(probe)
        workspace.remove_stack(probe)
    except auto.errors.CommandError as exc:
        raise ExternalError(f"the state backend refuses writes: {_last_lines(str(exc))}") from exc


def check_decrypts(stack_name: str, engine: Engine, repo: Path = REPO) -> None:
    """Read ``stack_name``'s state with its secrets: the passphrase is the one that encrypted them."""
    from pulumi import automation as auto

    try:
        _run_cli(engine, repo, "stack", "export", "--show-secrets", "--stack", stack_name)
    except auto.errors.CommandError as exc:
        raise ExternalError(f"the secrets of stack {stack_name} cannot be decrypted: {_last_lines(str(exc))}") from exc


def unlock(stack_name: str, engine: Engine, repo: Path = REPO) -> None:
    """Remove every backend lock of ``stack_name`` (``pulumi cancel``): only once its holder is gone."""
    from pulumi import automation as auto

    try:
        _run_cli(engine, repo, "cancel", "--yes", "--stack", stack_name)
    except auto.errors.CommandError as exc:
        raise ExternalError(f"pulumi cancel of stack {stack_name} failed: {_last_lines(str(exc))}") from exc


def _run_cli(engine: Engine, repo: Path, *args: str) -> str:
    """Run one Pulumi CLI command the Automation API has no method for; its stdout."""
    command = _command(engine)
    env = {**engine.env, **({"PULUMI_HOME": str(engine.pulumi_home)} if engine.pulumi_home else {})}
    return command.run(list(args), str(repo), env).stdout


@dataclass(frozen=True)
class StateResource:
    """One cloud object a stack's state holds (a custom resource; providers are not counted)."""

    urn: str
    type: str
    id: str
    protected: bool = False


def _selected(stack_name: str, engine: Engine, repo: Path) -> Any:
    from pulumi import automation as auto

    return auto.Stack.select(stack_name, _workspace(engine, repo))


def stack_resources(stack_name: str, engine: Engine, repo: Path = REPO) -> list[StateResource]:
    """What the state of ``stack_name`` holds (``pulumi stack export``), providers left out."""
    deployment = {"resources": _state(stack_name, engine, repo)}
    return [
        StateResource(r["urn"], r["type"], str(r.get("id") or ""), bool(r.get("protect")))
        for r in deployment.get("resources") or []
        if r.get("custom") and not str(r.get("type", "")).startswith("pulumi:providers:")
    ]


def _unprotect(stack: Any) -> int:
    """Lift ``protect`` from every resource of ``stack`` (``pulumi state unprotect --all``); how many."""
    exported = stack.export_stack()
    resources = (exported.deployment or {}).get("resources") or []
    protected = [r for r in resources if r.get("protect")]
    for r in protected:
        r["protect"] = False
    if protected:
        stack.import_stack(exported)
    return len(protected)


def clear_stale_locks(stack_name: str, engine: Engine) -> int:
    """Remove the file backend's locks on ``stack_name`` whose process is gone: a ``pulumi`` killed
    with the govcloud that ran it (``.pulumi/locks/.../<stack>/<id>.json`` names its pid and host).
    A lock of a process still alive, or of another host (whose processes cannot be seen from
    here), stays, and the engine then says the stack is locked. How many were removed."""
    import socket

    backend = engine.env.get("PULUMI_BACKEND_URL", "")
    if not backend.startswith("file://"):
        return 0
    removed = 0
    for lock in (Path(backend[len("file://") :]) / ".pulumi" / "locks").glob(f"**/{stack_name}/*.json"):
        try:
            holder = json.loads(lock.read_text(encoding="utf-8"))
            pid, host = int(holder["pid"]), str(holder["hostname"])
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not a lock we can judge: the engine will name it
        if host == socket.gethostname() and not _alive(pid):
            lock.unlink(missing_ok=True)
            removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's: alive
        return True
    return True


def _state(stack_name: str, engine: Engine, repo: Path) -> list[dict[str, Any]]:
    """The resources of the stack's state (``pulumi stack export``)."""
    with engine_errors(f"pulumi stack export of {stack_name}"):
        state = _selected(stack_name, engine, repo).export_stack()
    return (state.deployment or {}).get("resources") or []


def protected(stack_name: str, engine: Engine, repo: Path = REPO) -> dict[str, str]:
    """Logical name -> URN of every protected resource in the stack's state."""
    return {r["urn"].rsplit("::", 1)[-1]: r["urn"] for r in _state(stack_name, engine, repo) if r.get("protect")}


def destroy_targets(
    stack_name: str,
    engine: Engine,
    names: Collection[str],
    *,
    on_progress: Callable[[Progress], None] | None = None,
    repo: Path = REPO,
) -> list[str]:
    """``pulumi destroy --target`` of the resources named ``names`` (logical names; those not in
    the state are skipped) and of what depends on them (attachments, addresses). An up deletes a
    resource gone from the program only after creating the new ones, which an exact project quota
    refuses (a renamed volume) and a lowered quota cannot follow (fewer servers): an approved
    deletion therefore goes first. Returns the URNs targeted; their protection must be lifted."""
    urns = [
        r["urn"]
        for r in _state(stack_name, engine, repo)
        if r.get("custom") and r["urn"].rsplit("::", 1)[-1] in set(names)
    ]
    if not urns:
        return []

    def on_event(event: Any) -> None:
        progress = _progress(event)
        if progress is not None and on_progress is not None:
            on_progress(progress)

    with engine_errors(f"pulumi destroy --target of {len(urns)} resource(s) of stack {stack_name}"):
        _selected(stack_name, engine, repo).destroy(target=urns, target_dependents=True, on_event=on_event)
    return urns


def unprotect(stack_name: str, engine: Engine, names: Collection[str] | None = None, repo: Path = REPO) -> list[str]:
    """``pulumi state unprotect``: lift the protection of the resources named ``names`` (logical
    names; those not protected or not in the state are skipped), or of every resource when
    ``names`` is None. Returns the URNs unprotected.

    Only an approved data loss (``govcloud up`` with the ledger's approval) or an approved removal
    (reclamation after ``termination-approved``, test expiry) lifts protection: the program
    protects every data-bearing resource again on the next ``up``.
    """
    workspace = _workspace(engine, repo)
    env = {**workspace.env_vars, **({"PULUMI_HOME": workspace.pulumi_home} if workspace.pulumi_home else {})}
    if names is None:
        calls, done = [["state", "unprotect", "--all", "--yes", "--stack", stack_name]], ["*"]
    else:
        urns = [urn for name, urn in protected(stack_name, engine, repo).items() if name in set(names)]
        calls, done = ([["state", "unprotect", *urns, "--yes", "--stack", stack_name]] if urns else []), urns
    with engine_errors(f"pulumi state unprotect on {stack_name}"):
        for args in calls:
            workspace.pulumi_command.run(args, str(repo), env)
    return done


def destroy_stack(
    stack_name: str, engine: Engine, *, on_progress: Callable[[Progress], None] | None = None, repo: Path = REPO
) -> OperationResult:
    """``pulumi destroy`` of an existing stack, without running the program (no config needed).

    Reclamation destroys everything (Art. 16, after an approved termination and a confirmed
    backup): the ``protect`` the stacks put on data-bearing resources is lifted first, as
    ``pulumi state unprotect --all`` would, and the count is in ``changes["unprotect"]``. A lock
    left by a killed run is removed first (:func:`clear_stale_locks`; ``changes["stale_lock"]``)."""

    def on_event(event: Any) -> None:
        progress = _progress(event)
        if progress is not None and on_progress is not None:
            on_progress(progress)

    with engine_errors(f"pulumi destroy of stack {stack_name}"):
        stale = clear_stale_locks(stack_name, engine)
        stack = _selected(stack_name, engine, repo)
        unprotected = _unprotect(stack)
        result = stack.destroy(on_event=on_event)
        changes = _counts(result.summary.resource_changes)
        if unprotected:
            changes["unprotect"] = unprotected
        if stale:
            changes["stale_lock"] = stale
        return OperationResult(stack_name, "destroy", False, changes)


def remove_stack(stack_name: str, engine: Engine, repo: Path = REPO, force: bool = False) -> None:
    """``pulumi stack rm``: the stack and its (now empty) state; gone already is fine. ``force``
    removes a state that still holds resources: only for resources verified gone from the cloud."""
    with engine_errors(f"pulumi stack rm {stack_name}"):
        if stack_exists(stack_name, engine, repo):
            _workspace(engine, repo).remove_stack(stack_name, force=force or None)


class EngineStacks:
    """Whole stacks in the engine's backend, as reclamation uses them; the engine is located on
    first use (:class:`ExternalError`, exit 3, when it is missing)."""

    def __init__(self, repo: Path = REPO) -> None:
        self.repo = repo
        self._engine: Engine | None = None

    def ready(self) -> Engine:
        """The engine; raises :class:`ExternalError` when it is missing."""
        if self._engine is None:
            self._engine = locate(self.repo)
        return self._engine

    def exists(self, stack: str) -> bool:
        return stack_exists(stack, self.ready(), self.repo)

    def held(self, stack: str) -> list[StateResource]:
        """The cloud objects the stack's state holds (providers left out)."""
        return stack_resources(stack, self.ready(), self.repo)

    def destroy(self, stack: str) -> dict[str, int]:
        """``pulumi destroy``, protection lifted first (reclamation removes everything): the engine's counts."""
        return destroy_stack(stack, self.ready(), repo=self.repo).changes

    def remove(self, stack: str, force: bool = False) -> None:
        remove_stack(stack, self.ready(), self.repo, force=force)
