"""``gitops plan``: what a git change does to the stacks, offline.

:func:`affected` reads the change from git and decides which applications and stacks it touches
(``gitops apply`` starts from it too, :mod:`orchestrator.services.gitops_apply`); :func:`plan`
adds, per stack, the quota result, the lifecycle gate and the resource difference between the
base plan and the head plan. Everything is read from git objects, never from the work tree.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.adapters import git
from orchestrator.adapters.programfiles import program_modules
from orchestrator.core import gitops as rules
from orchestrator.core import naming
from orchestrator.core.dataloss import DataChanges, data_changes
from orchestrator.core.ids import ENVIRONMENTS
from orchestrator.core.manifest import Application, Environment
from orchestrator.core.plandiff import ResourceDiff, diff_resources
from orchestrator.core.validation import Report, validate_bytes
from orchestrator.errors import ExternalError

if TYPE_CHECKING:
    from orchestrator.core.quota.policy import Policy
    from orchestrator.core.stackplan import Admission, PlannedResource, StackPlan
    from orchestrator.services.admission import Admissions

POLICY_PATH = "quotas/policy.yaml"
#: Runs the base commit's own ``govcloud plan`` (``PYTHONPATH`` points at the exported tree).
BASE_PLAN_BOOT = (
    "import pathlib, sys; sys.argv[0] = 'govcloud'\n"
    "import orchestrator, stacks\n"
    "for m in (orchestrator, stacks):\n"
    "    assert pathlib.Path(m.__file__).resolve().is_relative_to(pathlib.Path.cwd().resolve()), m.__file__\n"
    "from orchestrator.cli import main; main()"
)


# --- what changed ----------------------------------------------------------------------------


@dataclass
class StackChange:
    """One environment's stack touched by the change, and what ``plan`` found for it."""

    stack: str
    env: str
    change: str
    """``added``, ``removed``, ``modified`` or ``unchanged`` (its manifest environment)."""
    quota: dict[str, Any] | None = None
    gate: dict[str, Any] | None = None
    resources: ResourceDiff | None = None
    data: DataChanges | None = None
    """What the change does to the stack's data (from the same two plans as ``resources``)."""
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "env": self.env,
            "change": self.change,
            "quota": self.quota,
            "gate": self.gate,
            "resources": self.resources.as_dict() if self.resources else None,
            "data": self.data.as_dict() if self.data else None,
            "note": self.note,
        }


@dataclass
class AppChange:
    """One application touched by the change: its manifest at the base and at the head."""

    app: str
    unit: str
    change: str
    """``added``, ``deleted``, ``modified``, ``renamed``, ``shared`` (manifest unchanged) or ``invalid``."""
    causes: list[str]
    base_path: str | None = None
    head_path: str | None = None
    base: Application | None = None
    head: Application | None = None
    problems: list[str] = field(default_factory=list)
    classification: dict[str, Any] = field(default_factory=lambda: {"kind": "", "article": "", "changes": []})
    stacks: list[StackChange] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "unit": self.unit,
            "change": self.change,
            "causes": self.causes,
            "basePath": self.base_path,
            "headPath": self.head_path,
            "baseDigest": self.base.digest if self.base else None,
            "headDigest": self.head.digest if self.head else None,
            "problems": self.problems,
            "classification": self.classification,
            "stacks": [s.as_dict() for s in self.stacks],
        }


@dataclass
class Affected:
    """The applications a change from ``base`` (the merge base) to ``head`` touches."""

    repo: Path
    base: str
    head: str
    shared: list[dict[str, str]]
    applications: list[AppChange]
    policy: Policy | None = field(default=None, repr=False)
    """The head's quota policy, read once (:func:`_policy`)."""

    @property
    def program_changed(self) -> bool:
        return any(s["affects"] == "program" for s in self.shared)

    def as_dict(self) -> dict[str, Any]:
        return {
            "base": self.base,
            "head": self.head,
            "shared": self.shared,
            "programChanged": self.program_changed,
            "summary": summary(self),
            "applications": [a.as_dict() for a in self.applications],
        }


def affected(repo: Path, base_ref: str, head_ref: str = "HEAD", dirs: Sequence[str] = rules.MANIFEST_DIRS) -> Affected:
    """Read the change from git: changed manifests, shared files, and every stack they touch."""
    head = git.resolve(repo, head_ref)
    base = git.merge_base(repo, git.resolve(repo, base_ref), head)
    changes = git.changed_files(repo, base, head)
    program = program_modules(repo)  # the checkout's: the modules the program imports now
    shared = [
        {"path": p, "affects": r.affects, "reason": r.reason}
        for p, r in rules.shared_hits((c.path for c in changes), program)
    ]
    shared += [
        {"path": c.old_path, "affects": r.affects, "reason": r.reason}
        for c in changes
        if c.old_path
        for _, r in rules.shared_hits([c.old_path], program)
    ]
    pairs: list[tuple[str | None, str | None, str]] = []  # (base path, head path, cause)
    for c in changes:
        old = c.old_path if c.status == "R" else (c.path if c.status in "MD" else None)
        new = c.path if c.status != "D" else None
        old = old if old and rules.is_manifest(old, dirs) else None
        new = new if new and rules.is_manifest(new, dirs) else None
        if old or new:
            verb = {"A": "added", "M": "modified", "D": "deleted"}.get(c.status, f"renamed from {c.old_path}")
            pairs.append((old, new, f"{new or old} {verb}"))
    if shared:
        touched = {p for pair in pairs for p in pair[:2] if p}
        both = set(git.list_files(repo, base, dirs)) & set(git.list_files(repo, head, dirs))
        cause = "shared: " + ", ".join(sorted({s["path"] for s in shared}))
        pairs += [(p, p, cause) for p in sorted(both - touched) if rules.is_manifest(p, dirs)]
    apps = _applications(repo, base, head, pairs)
    return Affected(repo, base, head, shared, apps)


def _applications(repo: Path, base: str, head: str, pairs: list[tuple[str | None, str | None, str]]) -> list[AppChange]:
    """Pair base and head manifests by application id (so a rename or an id moving between files
    is one application) and list each application's stacks."""
    old_raw = git.read_files(repo, base, [p[0] for p in pairs if p[0]])
    new_raw = git.read_files(repo, head, [p[1] for p in pairs if p[1]])
    reports: dict[bytes, Report] = {}

    def report(raw: bytes | None, path: str) -> Report | None:
        if raw is None:
            return None
        key = raw + path.encode()
        if key not in reports:
            reports[key] = validate_bytes(raw, path)
        return reports[key]

    by_id: dict[str, AppChange] = {}
    for old_path, new_path, cause in pairs:
        old = report(old_raw.get(old_path), old_path) if old_path else None
        new = report(new_raw.get(new_path), new_path) if new_path else None
        old_app = old.application if old else None
        new_app = new.application if new else None
        if new is not None and new_path and new_app is None:
            key = old_app.id if old_app else new_path
            entry = by_id.setdefault(key, AppChange(key, old_app.unit if old_app else "", "invalid", []))
            entry.change, entry.head_path = "invalid", new_path
            entry.base_path, entry.base = (old_path, old_app) if old_app else (entry.base_path, entry.base)
            entry.problems = [f"{p.line or '-'}: {p.field or '(file)'}: {p.message} [{p.rule}]" for p in new.problems]
            entry.causes.append(cause)
            continue
        for side, app, path in (("base", old_app, old_path), ("head", new_app, new_path)):
            if app is None:
                continue
            entry = by_id.setdefault(app.id, AppChange(app.id, app.unit, "", []))
            if cause not in entry.causes:
                entry.causes.append(cause)
            if side == "base":
                entry.base, entry.base_path = app, path
            else:
                entry.head, entry.head_path = app, path
    for entry in by_id.values():
        if entry.change != "invalid":  # an invalid head declares no stack anyone can trust
            entry.change, entry.classification = _classify(entry)
            entry.stacks = _stacks(entry)
    return sorted(by_id.values(), key=lambda a: a.app)


def _classify(entry: AppChange) -> tuple[str, dict[str, Any]]:
    from orchestrator.core.changes import classify, is_major

    if entry.base is None:
        return "added", {"kind": "new", "article": "Art. 11", "changes": []}
    if entry.head is None:
        return "deleted", {"kind": "termination", "article": "Art. 16", "changes": []}
    if entry.base.digest == entry.head.digest:
        kind = "renamed" if entry.base_path != entry.head_path else "shared"
        return kind, {"kind": "none", "article": "", "changes": []}
    changes = classify(entry.base, entry.head)
    return "modified", {
        "kind": "major" if is_major(changes) else "minor",
        "article": "Art. 15",
        "changes": [c.as_dict() for c in changes],
    }


def _stacks(entry: AppChange) -> list[StackChange]:
    base_envs = set(entry.base.environments) if entry.base else set()
    head_envs = set(entry.head.environments) if entry.head else set()
    either = entry.head or entry.base
    unit = either.unit if either else entry.unit
    stacks = []
    for env in sorted(base_envs | head_envs, key=ENVIRONMENTS.index):
        if env not in base_envs:
            change = "added"
        elif env not in head_envs:
            change = "removed"
        elif entry.base.environments[env] != entry.head.environments[env]:  # type: ignore[union-attr]
            change = "modified"
        else:
            change = "unchanged"
        stacks.append(StackChange(naming.stack_name(unit, entry.app, env), str(env), change))
    return stacks


def summary(found: Affected) -> dict[str, int]:
    stacks = [s for a in found.applications for s in a.stacks]
    return {
        "applications": len(found.applications),
        "stacks": len(stacks),
        "invalid": sum(a.change == "invalid" for a in found.applications),
        "major": sum(a.classification.get("kind") == "major" for a in found.applications),
        "quotaRefused": sum(bool(s.quota and not s.quota["ok"]) for s in stacks),
        "notApproved": sum(bool(s.gate and not s.gate["approved"]) for s in stacks),
        "reapply": sum(bool(s.gate and s.gate["apply"] == "re-apply") for s in stacks),
        "destroysData": sum(bool(s.data and s.data.steps) for s in stacks),
    }


# --- plan ------------------------------------------------------------------------------------


def plan(
    repo: Path,
    base_ref: str,
    head_ref: str = "HEAD",
    dirs: Sequence[str] = rules.MANIFEST_DIRS,
    ledger: Any = None,
    at: dt.datetime | None = None,
) -> Affected:
    """:func:`affected`, then per stack the resource difference between the base plan and the
    head plan, and the admission ``up`` would give the head (lifecycle gate, quota policy; see
    :mod:`orchestrator.services.admission`). Offline; ``ledger`` defaults to the existing one."""
    found = affected(repo, base_ref, head_ref, dirs)
    prepared: list[tuple[Any, str]] = []
    # the ledger, the policy and the units' holdings are read while the forked workers plan
    head_plans = _resource_diffs(found, meanwhile=lambda: prepared.append(_admissions(found, ledger, at)))
    _admit(found, *prepared[0], head_plans)
    return found


def _needs_plan(found: Affected, app: AppChange) -> bool:
    """Resources can differ only when the manifest or the program changed."""
    return (
        found.program_changed
        or (app.base is None) != (app.head is None)
        or (app.base is not None and app.head is not None and app.base.digest != app.head.digest)
    )


def _resource_diffs(found: Affected, meanwhile: Callable[[], Any] | None = None) -> dict[str, StackPlan]:
    """Plan what needs it and fill in each stack's resource difference; the head plans by stack."""
    from orchestrator.services.plan import plan_applications

    todo = [a for a in found.applications if a.change != "invalid" and _needs_plan(found, a)]
    for app in found.applications:
        if app not in todo:
            for stack in app.stacks:
                stack.note = stack.note or (
                    "head manifest invalid"
                    if app.change == "invalid"
                    else "same manifest, same program: resources unchanged"
                )
    head_pairs = [(a.head, Environment(s.env)) for a in todo for s in a.stacks if a.head and s.change != "removed"]
    base_pairs = [(a.base, Environment(s.env)) for a in todo for s in a.stacks if a.base and s.change != "added"]
    base_error = ""
    base_plans: Sequence[_BasePlan | StackPlan]
    if found.program_changed:
        head_plans = plan_applications(head_pairs, meanwhile=meanwhile)
        try:
            base_plans = _plan_with_base_program(found, base_pairs)
        except ExternalError as exc:
            base_plans, base_error = [], str(exc)
        except _NoBaseProgram:
            base_plans = plan_applications(base_pairs)
            for app in todo:
                for stack in app.stacks:
                    stack.note = "the base commit has no program of its own: its manifest planned with the head program"
    else:
        plans = plan_applications(head_pairs + base_pairs, meanwhile=meanwhile)
        head_plans, base_plans = plans[: len(head_pairs)], plans[len(head_pairs) :]
    heads = {p.stack: p.resources for p in head_plans}
    bases = {p.stack: p.resources for p in base_plans}
    for app in todo:
        for stack in app.stacks:
            if stack.change != "added" and stack.stack not in bases:
                stack.note = f"base not planned: {base_error or 'the base program planned no such stack'}"
                continue
            stack.resources = diff_resources(bases.get(stack.stack, []), heads.get(stack.stack, []))
            if app.base is not None and app.head is not None and stack.change in ("modified", "unchanged"):
                _classify_data(app, stack, bases[stack.stack], heads[stack.stack])
    return {p.stack: p for p in head_plans}


def _classify_data(app: AppChange, stack: StackChange, base: list, head: list) -> None:
    """The stack's data steps, each a major change of the application (Art. 15)."""
    from orchestrator.services.datasafety import as_changes, disposable

    assert app.base is not None and app.head is not None  # narrowing: only changed apps get here
    env = Environment(stack.env)
    stack.data = data_changes(base, head, disposable(app.base, app.head, env), app.base.digest, app.head.digest)
    if stack.data.steps:
        app.classification["changes"] += [c.as_dict() for c in as_changes(stack.env, stack.data)]
        app.classification["kind"] = "major"
        app.classification["article"] = "Art. 15"


def _isolated_environment(tree: Path) -> dict[str, str]:
    """The environment of a base ``plan``: its code first on ``PYTHONPATH``, no ledger (the
    default SQLite file in an empty home: ``plan`` creates none, so it admits against nothing and
    its verdicts, unused, cost no database; a throwaway ledger that each forked worker migrated
    at once failed with "table events already exists"), and a policy that exists."""
    from orchestrator.services.quotas import policy_path

    policy = tree / POLICY_PATH
    env = {k: v for k, v in os.environ.items() if k != "GOVCLOUD_DATABASE_URL"}
    return env | {
        "PYTHONPATH": os.pathsep.join([str(tree), os.environ.get("PYTHONPATH", "")]),
        "GOVCLOUD_HOME": str(tree / ".govcloud-base"),
        "GOVCLOUD_QUOTA_POLICY": str(policy if policy.is_file() else policy_path().resolve()),
        "GOVCLOUD_PLAN_CACHE": str(tree / ".govcloud-plan-cache"),
    }


class _NoBaseProgram(Exception):
    """The base commit holds no govcloud program (a repository of manifests only)."""


@dataclass(frozen=True)
class _BasePlan:
    stack: str
    resources: list[PlannedResource]


def _plan_with_base_program(found: Affected, pairs: list[tuple[Application, Environment]]) -> list[_BasePlan]:
    """Plan the base manifests with the base commit's own program: export the base tree and run
    its ``govcloud plan --output json`` in a subprocess, with that tree first on ``PYTHONPATH``."""
    from orchestrator.core.stackplan import PlannedResource

    if not pairs:
        return []
    wanted = {naming.stack_name(app.unit, app.id, env) for app, env in pairs}
    with git.exported(found.repo, found.base) as tree:
        if not all((tree / part).is_file() for part in ("orchestrator/cli/__init__.py", "stacks/program.py")):
            raise _NoBaseProgram()
        paths = sorted({str(tree / app.source) for app, _ in pairs})
        done = subprocess.run(
            [sys.executable, "-c", BASE_PLAN_BOOT, "plan", "--output", "json", *paths],
            cwd=tree,
            env=_isolated_environment(tree),
            capture_output=True,
            check=False,
        )
    if done.returncode != 0:
        raise ExternalError(
            "the base commit's program could not plan its manifests: "
            + " | ".join(done.stderr.decode(errors="replace").strip().splitlines()[-3:])
        )
    stacks = json.loads(done.stdout)["stacks"]
    return [
        _BasePlan(s["stack"], [PlannedResource(r["type"], r["name"], "", r["properties"]) for r in s["resources"]])
        for s in stacks
        if s["stack"] in wanted
    ]


def _admissions(found: Affected, ledger: Any, at: dt.datetime | None) -> tuple[Admissions | None, str]:
    """``up``'s admission with the head's quota policy and the ledger (given, else the existing
    one), each head unit's holdings read; None and the reason when the ledger is unreachable."""
    from orchestrator.services.admission import Admissions, existing_ledger
    from orchestrator.services.lifecycle import Lifecycle

    try:
        lifecycle = Lifecycle(ledger) if ledger is not None else existing_ledger()
        admissions = Admissions(_policy(found), lifecycle, at)
        for unit in {a.head.unit for a in found.applications if a.head is not None}:
            admissions.held(unit)
    except ExternalError as exc:
        return None, str(exc)
    return admissions, ""


def _admit(found: Affected, admissions: Admissions | None, error: str, head_plans: dict[str, StackPlan]) -> None:
    """Each head stack's gate and quota verdict: over its planned resources when it was planned,
    else over its manifest (the same rules: the policy pack's promise)."""
    from orchestrator.core.quota import check_stack
    from orchestrator.core.stackplan import Admission

    for app in found.applications:
        head = app.head
        if head is None:
            continue
        for stack in (s for s in app.stacks if s.change != "removed"):
            env = Environment(stack.env)
            if admissions is None:
                stack.gate = _REFUSED | {"message": f"unknown: {error}"}
                stack.quota = _quota(check_stack(head, env, _policy(found)))
                continue
            plan = head_plans.get(stack.stack)
            if plan is not None:
                admission = admissions.admit(plan, head)
            else:
                event, refusal = admissions.deployment(head, env)
                admission = Admission(
                    stack.stack, refusal, check_stack(head, env, admissions.policy, admissions.held(head.unit)), event
                )
            stack.gate = _gate(found, app, stack.env, admission)
            stack.quota = _quota(admission.violations)


_REFUSED: dict[str, Any] = {"approved": False, "event": None, "apply": None}


def _gate(found: Affected, app: AppChange, env: str, admission: Admission) -> dict[str, Any]:
    """The gate's verdict and, when it passes, what ``apply`` would do with the stack: ``provision``
    it, ``re-apply`` the approved digest it already runs (the program changed or the manifest
    moved: no new approval), or ``nothing`` (only the quota policy changed)."""
    if admission.gate is not None:
        return _REFUSED | {"message": str(admission.gate)}
    gate = {"approved": True, "event": admission.event}
    if app.change == "shared" and not found.program_changed:
        return gate | {
            "apply": "nothing",
            "message": f"{env} approved for this digest; nothing to apply (quota policy only)",
        }
    if admission.event != "reapplied":
        return gate | {"apply": "provision", "message": f"{env} approved for this digest"}
    why = "program changed" if found.program_changed else "manifest moved"
    return gate | {
        "apply": "re-apply",
        "message": f"re-apply: {why} ({env} runs this approved digest; no new approval)",
    }


def _quota(violations: list) -> dict[str, Any]:
    return {
        "ok": not any(v.enforcement == "mandatory" for v in violations),
        "violations": [v.as_dict() for v in violations],
    }


def _policy(found: Affected) -> Policy:
    """The head commit's ``quotas/policy.yaml``; the installed policy when the repository has none."""
    from orchestrator.core.quota.policyfile import parse_policy
    from orchestrator.services.quotas import policy as default_policy

    if found.policy is None:
        raw = git.read_files(found.repo, found.head, [POLICY_PATH])[POLICY_PATH]
        found.policy = parse_policy(raw, f"{found.head[:12]}:{POLICY_PATH}") if raw is not None else default_policy()
    return found.policy


def matrix(found: Affected) -> dict[str, Any]:
    """One CI job per head stack: GitHub ``strategy.matrix`` and GitLab ``parallel:matrix`` shapes."""
    jobs = [
        {"stack": s.stack, "app": a.app, "unit": a.unit, "env": s.env, "manifest": a.head_path}
        for a in found.applications
        if a.head is not None
        for s in a.stacks
        if s.change != "removed"
    ]
    return {
        "count": len(jobs),
        "github": {"include": jobs},
        "gitlab": {"parallel": {"matrix": [{k.upper(): v for k, v in job.items()} for job in jobs]}},
    }


#: Up to this many added (or removed) resources of one type are named in the comment, more are counted.
NAMED_PER_TYPE = 3


def render_markdown(found: Affected) -> str:
    """The merge-request comment (``templates/gitops/merge-request.md.j2``)."""
    from orchestrator.adapters.templates import render

    return render(
        "gitops/merge-request.md.j2", plan=found.as_dict(), summary=summary(found), resources=_resource_view(found)
    )


def _resource_view(found: Affected) -> dict[str, dict[str, Any]]:
    """Per stack, the resource difference as a reviewer reads it: added and removed resources per
    type, named when there are at most :data:`NAMED_PER_TYPE` of a type (a merge request's change)
    and counted otherwise (a new application), changed ones with their substantive properties
    (values shortened), and how many were only re-tagged with the new digest."""
    from collections import defaultdict

    from orchestrator.core.plandiff import substantive

    def short_type(token: str) -> str:
        return token.rsplit(":", 1)[-1]

    def per_type(refs) -> list[str]:
        names: dict[str, list[str]] = defaultdict(list)
        for r in refs:
            if not r.type.startswith("govcloud:"):
                names[short_type(r.type)].append(r.name)
        return [
            f"{t} " + ", ".join(f"`{n}`" for n in found) if len(found) <= NAMED_PER_TYPE else f"{len(found)} {t}"
            for t, found in names.items()
        ]

    view: dict[str, dict[str, Any]] = {}
    for app in found.applications:
        old = app.base.digest if app.base else ""
        new = app.head.digest if app.head else ""
        for stack in app.stacks:
            diff = stack.resources
            if diff is None:
                continue
            changed, retagged = [], 0
            for c in diff.changed:
                props = substantive(c, old, new)
                if props:
                    changed.append(
                        {
                            "type": short_type(c.type),
                            "name": c.name,
                            "props": [(p.path, _short(p.before), _short(p.after)) for p in props],
                        }
                    )
                else:
                    retagged += 1
            view[stack.stack] = {
                "added": per_type(diff.added),
                "removed": per_type(diff.removed),
                "changed": changed,
                "retagged": retagged,
            }
    return view


def _short(value: Any, limit: int = 60) -> str:
    if isinstance(value, str) and "\n" in value:
        return f"({value.count(chr(10)) + 1} lines)"
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def refused(found: Affected) -> bool:
    """Did a rule say no: an invalid manifest or a mandatory quota violation?"""
    s = summary(found)
    return bool(s["invalid"] or s["quotaRefused"])
