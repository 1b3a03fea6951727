"""``gitops apply``: up every approved stack a change touches, in order, N applications at a time.

Decide first (would the ledger record it?), then lock (a ledger lease per stack; the Pulumi
backend keeps its own lock during ``up``), run ``up`` through
:func:`orchestrator.services.provision.run_operation` (which admits the stack again and records
``provisioned``), and check the ledger shows it. A deleted manifest becomes a termination
proposal for the unit to confirm, never a destroy. Every outcome is a :class:`StackResult`; one
stack's failure stops only the later environments of its own application.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.adapters import git
from orchestrator.core import gitops as rules
from orchestrator.errors import GovcloudError, NotFound, RuleError
from orchestrator.files import shown
from orchestrator.services import stacklock
from orchestrator.services.gitops import Affected, AppChange, StackChange, affected


@dataclass
class StackResult:
    """What ``apply`` did with one stack or one deleted application."""

    stack: str
    app: str
    env: str
    status: str
    """``applied``, ``skipped`` (a rule said no, nothing done), ``failed``, ``blocked`` (an
    earlier environment of the application failed), ``termination-proposed`` (a deleted manifest,
    for the unit to confirm), ``termination-requested`` (by a verified actor of the unit) or
    ``nothing-to-do``."""
    message: str = ""
    changes: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class ApplyReport:
    base: str
    head: str
    results: list[StackResult]

    @property
    def exit_code(self) -> int:
        """0 every stack applied (or nothing to do), 1 some refused by a rule, 3 some failed."""
        statuses = {r.status for r in self.results}
        return 3 if statuses & {"failed", "blocked"} else 1 if "skipped" in statuses else 0

    def as_dict(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for r in self.results:
            counts[r.status] = counts.get(r.status, 0) + 1
        return {"base": self.base, "head": self.head, "counts": counts, "results": [r.as_dict() for r in self.results]}


RunOperation = Callable[..., Any]


def apply(
    repo: Path,
    base_ref: str,
    *,
    actor: Any,
    ledger: Any,
    run: RunOperation | None = None,
    parallel: int = 2,
    wait: float = 0.0,
    at: dt.datetime | None = None,
    dirs: Sequence[str] = rules.MANIFEST_DIRS,
    on_result: Callable[[StackResult], None] | None = None,
    shard: tuple[int, int] = (1, 1),
) -> ApplyReport:
    """Apply what changed from ``base_ref`` to ``HEAD``: ``up`` on every approved stack (the
    environments of one application in order, ``parallel`` applications at a time), recorded in
    the ledger; a deleted manifest becomes a termination proposal (a request only when ``actor`` is a
    verified ID token of the unit). A failure stops only the later
    environments of the same application. ``on_result`` hears of each result as it is known."""
    from orchestrator.adapters.programfiles import program_fingerprint
    from orchestrator.services.lifecycle import Lifecycle, beijing_now

    if run is None:
        from orchestrator.services.plan import preload_planning
        from orchestrator.services.provision import run_operation

        run = run_operation

        # Each stack is planned (admitted) in its thread: the provider SDKs' modules load lazily,
        # and two threads loading one at once found it half-initialised on the local cloud
        # ("module 'pulumi_openstack.identity' has no attribute 'Project'").
        preload_planning()
    found = affected(repo, base_ref, "HEAD", dirs)
    lifecycle = Lifecycle(ledger)
    results: list[StackResult] = []
    todo: list[tuple[AppChange, StackChange]] = []
    guard = threading.Lock()

    def done(result: StackResult) -> StackResult:
        if on_result is not None:
            with guard:
                on_result(result)
        return result

    for app in found.applications:
        if rules.shard_of(app.app, shard[1]) != shard[0]:
            continue  # another runner's
        if app.change == "invalid":
            results.append(
                done(
                    StackResult(
                        app.app, app.app, "", "skipped", "head manifest invalid: " + "; ".join(app.problems[:3])
                    )
                )
            )
        elif app.change == "deleted":
            results.append(done(_request_termination(found, app, lifecycle, actor, at or beijing_now())))
        elif app.change == "shared" and not found.program_changed:
            continue  # only the quota policy changed: the resources cannot
        else:
            for stack in app.stacks:
                if stack.change == "removed":
                    results.append(
                        done(
                            StackResult(
                                stack.stack,
                                app.app,
                                stack.env,
                                "skipped",
                                "environment removed from the manifest: not destroyed; "
                                "ending an environment goes through the lifecycle",
                            )
                        )
                    )
                else:
                    todo.append((app, stack))
    chains = rules.apply_chains(todo, app_of=lambda t: t[0].app, env_of=lambda t: t[1].env)
    program = program_fingerprint() if todo else ""  # once, here: ast.parse in threads fails on 3.11.7

    def run_chain(chain: list[tuple[AppChange, StackChange]]) -> list[StackResult]:
        out: list[StackResult] = []
        for app, stack in chain:
            if out and out[-1].status == "failed":
                out.append(
                    done(
                        StackResult(
                            stack.stack,
                            app.app,
                            stack.env,
                            "blocked",
                            f"not applied: {out[-1].env} of {app.app} failed",
                        )
                    )
                )
                continue
            out.append(done(_apply_stack(found, app, stack, lifecycle, wait, actor, at, run, guard, program)))
        return out

    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        for chain_results in pool.map(run_chain, chains):
            results.extend(chain_results)
    return ApplyReport(found.base, found.head, results)


def _apply_stack(
    found: Affected,
    app: AppChange,
    stack: StackChange,
    lifecycle: Any,
    wait: float,
    actor: Any,
    at: dt.datetime | None,
    run: RunOperation,
    guard: threading.Lock,
    program: str,
) -> StackResult:
    """Decide (the ledger would record it), lock, ``up`` (which records ``provisioned``, or
    ``reapplied`` for an environment already running this digest with another program, nothing
    when ``program`` is the one it runs), check the record; every outcome as a result. The stack
    is decided, admitted and recorded at one time: ``at`` when given, else now (so a later
    environment of the application never precedes the record of an earlier one)."""
    from orchestrator.core import lifecycle as lc
    from orchestrator.core.validation import validate_file
    from orchestrator.services.lifecycle import beijing_now

    at = at or beijing_now()

    assert app.head is not None and app.head_path is not None  # narrowing: deleted apps are not applied
    result = StackResult(stack.stack, app.app, stack.env, "failed")
    path = found.repo / app.head_path
    on_disk = validate_file(path)
    if on_disk.digest != app.head.digest:
        result.message = f"{app.head_path} in the work tree differs from HEAD: check out HEAD cleanly"
        return result
    reason = _reason(found, app)
    try:
        with guard:
            before = lifecycle.state(app.app)
        kind = lc.deployment(before, stack.env, app.head.digest, program)
        lc.decide(
            before,
            lc.REAPPLIED if kind == lc.UNCHANGED else kind,
            actor,
            at,
            environment=stack.env,
            digest=app.head.digest,
            reason=reason,
        )
    except (NotFound, RuleError) as exc:
        result.status, result.message = "skipped", f"not applied: {exc}"
        return result
    except GovcloudError as exc:  # e.g. a stated time before the application's last event
        result.message = f"not applied: {exc}"
        return result
    try:
        with stacklock.holding(lifecycle.store, stack.stack, wait=wait):
            with guard:
                now = lifecycle.state(app.app)
            if (
                _applied_at(lifecycle, app.app, now, stack.env, found.head)
                and now.provisioned.get(stack.env) == app.head.digest
            ):
                result.status, result.message = "applied", f"by another runner at {found.head[:12]}; nothing to do"
                return result
            return _up(found, app, stack, lifecycle, actor, at, run, guard, kind, before, reason, result)
    except GovcloudError as exc:  # the stack is held by another process
        result.message = str(exc)
        return result


def _applied_at(lifecycle: Any, app: str, state: Any, env: str, commit: str) -> bool:
    """Whether the last deployment of ``env`` recorded was an apply of ``commit`` (another runner's)."""
    sequence = state.deployed.get(env, {}).get("sequence")
    if sequence is None:
        return False
    event = next((e for e in lifecycle.history(app) if e.sequence == sequence), None)
    return event is not None and (event.payload or {}).get("commit") == commit


def _up(
    found: Affected,
    app: AppChange,
    stack: StackChange,
    lifecycle: Any,
    actor: Any,
    at: dt.datetime,
    run: RunOperation,
    guard: threading.Lock,
    kind: str,
    before: Any,
    reason: str,
    result: StackResult,
) -> StackResult:
    from orchestrator.core import lifecycle as lc

    assert app.head is not None and app.head_path is not None
    path = found.repo / app.head_path
    try:  # run admits, runs the engine and records the event
        outcome = run("up", str(path), stack.env, actor=actor, at=at, reason=reason, payload=_provenance(found))
        result.changes = dict(getattr(outcome, "changes", {}) or {})
        if kind == lc.UNCHANGED:  # same digest, same program: no event (docs/lifecycle.md)
            result.status, result.message = (
                "applied",
                f"up; nothing recorded ({stack.env} runs this digest and program)",
            )
            return result
        with guard:
            after = lifecycle.state(app.app)
        last = after.deployed.get(stack.env, {})
        if after.provisioned.get(stack.env) != app.head.digest or last.get("sequence", 0) <= before.sequence:
            result.message = (
                f"applied, but the ledger shows no new record of {stack.env} at this digest "
                f"(provisioned: {after.provisioned.get(stack.env)})"
            )
            return result
        result.status, result.message = "applied", f"up; recorded {last['event']} ({app.head.digest[:19]})"
    except RuleError as exc:  # run_operation's own admission said no: the engine never started
        result.status, result.message = "skipped", f"not applied: {exc}"
    except GovcloudError as exc:
        result.message = str(exc)
    except Exception as exc:  # noqa: BLE001 (an engine adapter bug must not stop the other stacks)
        result.message = f"{type(exc).__name__}: {exc}"
    return result


def _reason(found: Affected, app: AppChange) -> str:
    """Why ``apply`` runs ``up`` on the stacks of ``app``: the program files and the manifest
    changes, and the commit. Recorded as the event's reason."""
    program = _program_paths(found)
    causes = [f"program changed: {', '.join(program)}"] if program else []
    causes += [c for c in app.causes if not c.startswith("shared: ")]
    return f"{'; '.join(causes)} (commit {found.head[:12]})"


def _program_paths(found: Affected) -> list[str]:
    """The changed files of the program (not the quota policy), sorted."""
    return sorted({s["path"] for s in found.shared if s["affects"] == "program"})


def _provenance(found: Affected) -> dict[str, Any]:
    """What the ledger event keeps of the change besides its reason: the commit and the program files."""
    return {"commit": found.head, "shared": _program_paths(found)}


def _request_termination(found: Affected, app: AppChange, lifecycle: Any, actor: Any, at: dt.datetime) -> StackResult:
    """A deleted manifest and termination (Art. 16). Commit metadata names nobody verified, so
    the deletion is recorded as a ``termination-proposed`` by the pipeline's actor (the commit's
    author kept as a claim), which the unit confirms with ``app terminate``; only when the
    pipeline's own actor is a verified ID token of the application's unit is it that unit's
    ``termination-requested``. Never a destroy: the office approves, the provider reclaims."""
    from orchestrator.core import lifecycle as lc

    result = StackResult(app.app, app.app, "", "skipped")
    commit = git.deleting_commit(found.repo, found.base, found.head, app.base_path or "")
    try:
        state = lifecycle.state(app.app)
    except NotFound:
        result.status, result.message = "nothing-to-do", "manifest deleted; no ledger entries, so nothing to terminate"
        return result
    if state.state in ("termination-requested", "backup-confirmed", "termination-approved", "reclaimed"):
        result.status, result.message = "termination-requested", f"already {state.state}"
        return result
    reason = f"manifest {app.base_path} deleted in commit {commit[:12]}"
    try:
        if actor.source == "oidc" and actor.role == lc.UNIT and actor.unit == state.unit:
            lifecycle.terminate(app.app, actor, at, reason=reason)
            result.status, result.message = (
                "termination-requested",
                (f"requested by {shown(actor.name)} of {state.unit} (verified ID token; commit {commit[:12]})"),
            )
            return result
        if state.termination_proposed and state.termination_proposed.get("commit") == commit:
            result.status, result.message = (
                "termination-proposed",
                f"already proposed at {state.termination_proposed['at']}",
            )
            return result
        author = git.author(found.repo, commit)[:200]
        lifecycle.propose_termination(
            app.app, actor, at, reason=reason, payload={"commit": commit, "path": app.base_path, "author": author}
        )
    except GovcloudError as exc:
        result.message = f"manifest deleted, termination not proposed: {exc}"
        return result
    result.status, result.message = (
        "termination-proposed",
        (
            f"proposed (commit {commit[:12]}, git author {shown(author)}, unverified); "
            f"unit {state.unit} confirms with: govcloud app terminate {app.app}"
        ),
    )
    return result
