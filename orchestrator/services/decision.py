"""What a decision decides: the manifest on record against the one last approved (its classified
changes, as ``govcloud changes`` gives them, and the text difference), and per environment the
offline plan (``govcloud plan``): its totals, the resource difference from the approved manifest's
plan, the quota verdict and the lifecycle gate ``up`` would apply. Nothing is written.

Every figure comes from the services the CLI uses: :func:`classify_applications`, :func:`plan_application`,
:class:`~orchestrator.services.admission.Admissions` and the core's :func:`diff_resources`.
"""

from __future__ import annotations

import datetime as dt
import difflib
import threading
from typing import Any

from orchestrator.core import lifecycle as lc
from orchestrator.core.manifest import Application, Environment
from orchestrator.errors import GovcloudError, RuleError
from orchestrator.services.lifecycle import Lifecycle

#: The events that approve a digest (its environments may then run it).
APPROVALS = ("approved", "change-approved")
#: Lines of context around each changed part of the manifest's text difference.
CONTEXT_LINES = 3
_preloaded = threading.Lock()
_ready = False


def decision(service: Lifecycle, application: str, actor: lc.Actor, at: dt.datetime) -> dict[str, Any]:
    """What the steps open to ``actor`` on ``application`` decide (the caller checked it may read it)."""
    from orchestrator.services.datasafety import classify_applications

    state = service.state(application)
    events = service.history(application)
    new = service.manifest(application)
    base_event = next((e for e in reversed(events) if e.type in APPROVALS and e.digest), None)
    old = service.manifest_at(application, base_event.digest) if base_event and base_event.digest else None
    same = old is not None and old.digest == new.digest
    changes = [c.as_dict() for c in classify_applications(old, new)] if old is not None and not same else []
    opened = lc.steps_open(state, actor)
    return {
        "application": application,
        "digest": new.digest,
        "base": None
        if base_event is None
        else {
            "digest": base_event.digest,
            "event": base_event.type,
            "at": base_event.at.isoformat(),
            "sequence": base_event.sequence,
        },
        "same": same,
        "kind": "major" if any(c["kind"] == "major" for c in changes) else ("minor" if changes else "none"),
        "changes": changes,
        "diff": _text_diff(service, application, base_event, events) if not same else [],
        "environments": [
            _environment(
                service,
                state,
                old,
                new,
                Environment(env),
                actor,
                at,
                approving=any(t.event == "approved" and t.environment == env for t in opened),
            )
            for env in _decided(state, new, opened)
        ],
    }


def _decided(state: lc.AppState, new: Application, opened: list[lc.Transition]) -> list[str]:
    """The environments a decision is about: those an approval open now names, else those approved
    or running (a change or a termination touches them), else the first declared (a new submission)."""
    declared = [str(e) for e in new.environments]
    named = [t.environment for t in opened if t.event == "approved" and t.environment in declared]
    current = [e for e in declared if e in state.approved or e in state.provisioned]
    return list(dict.fromkeys(named or current or declared[:1]))


def _environment(
    service: Lifecycle,
    state: lc.AppState,
    old: Application | None,
    new: Application,
    env: Environment,
    actor: lc.Actor,
    at: dt.datetime,
    approving: bool,
) -> dict[str, Any]:
    from orchestrator.core.plandiff import ChangedResource, ResourceDiff, diff_resources, substantive
    from orchestrator.services.admission import Admissions
    from orchestrator.services.plan import plan_application

    _preload()
    try:
        plan = plan_application(new, env)
        before = plan_application(old, env).resources if old is not None and env in old.environments else []
    except GovcloudError as exc:
        return {"env": str(env), "error": str(exc)}
    found = diff_resources(before, plan.resources)
    old_digest = old.digest if old is not None else ""
    kept = [ChangedResource(c.type, c.name, substantive(c, old_digest, new.digest)) for c in found.changed]
    real = tuple(c for c in kept if c.properties)
    resources = ResourceDiff(found.added, real, found.removed, found.unchanged + len(kept) - len(real))
    admission = Admissions(lifecycle=service, at=at).admit(plan, new)
    verdict = admission.as_dict()
    gate = _gate_after_approval(state, str(env), new.digest, actor, at) if approving else verdict["gate"]
    return {
        "env": str(env),
        "stack": plan.stack,
        "totals": plan.totals.as_dict(),
        "headroom": plan.headroom,
        "resources": resources.as_dict(),
        "quota": verdict["quota"],
        "gate": gate,
        "after_approval": approving,
        "event": admission.event,
    }


def _gate_after_approval(state: lc.AppState, env: str, digest: str, actor: lc.Actor, at: dt.datetime) -> dict[str, Any]:
    """The gate ``up`` of ``env`` would meet once this approval is recorded (the core decides both)."""
    try:
        after = lc.apply(state, lc.decide(state, "approved", actor, at, now=at, environment=env))
        return {"passed": True, "event": lc.check_deployment(after, env, digest, at)}
    except RuleError as refused:
        return {"passed": False, "rule": refused.rule, "message": refused.args[0], "article": refused.article}


def _text_diff(service: Lifecycle, application: str, base: lc.Event | None, events: list[lc.Event]) -> list[str]:
    """The unified difference of the manifest snapshots, approved to on record (YAML as submitted)."""
    from ruamel.yaml import YAML

    def text(data: Any) -> list[str]:
        import io

        if data is None:
            return []
        out = io.StringIO()
        yaml = YAML(typ="safe", pure=True)
        yaml.default_flow_style = False
        yaml.representer.sort_base_mapping_type_on_output = False  # the order it was written in
        yaml.dump(data, out)
        return out.getvalue().splitlines()

    old = next(
        (
            e.payload["manifest"]
            for e in reversed(events)
            if base is not None and "manifest" in e.payload and e.digest == base.digest
        ),
        None,
    )
    new = service.manifest_data(application)
    lines = difflib.unified_diff(text(old), text(new), "approved", "on record", n=CONTEXT_LINES, lineterm="")
    return list(lines)


def _preload() -> None:
    """Import what a plan needs once per process, before two threads can plan at once."""
    global _ready
    with _preloaded:
        if not _ready:
            from orchestrator.services.plan import preload_planning

            preload_planning()
            _ready = True
