"""Quota services: check a manifest, a unit's usage, applied-quota drift, the cloud's capacity.

"What a unit holds" is answered by :func:`unit_holdings` alone (today: every declared environment
of the manifests in the manifest directories); switching it to the ledger's provisioned environments changes
that one function.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from orchestrator.core import naming
from orchestrator.core.capacity import assess_all, warnings
from orchestrator.core.ids import ENVIRONMENTS
from orchestrator.core.manifest import Application, Environment
from orchestrator.core.quota import Policy, check_stack, load_policy
from orchestrator.core.quota.drift import differences
from orchestrator.core.quota.facts import Context, Holding, context_of
from orchestrator.core.quota.holdings import holdings, unit_usage
from orchestrator.core.sizing import quotas
from orchestrator.core.validation import load_manifest, validate_file
from orchestrator.errors import NotFound, UsageError
from orchestrator.services.manifests import manifest_files

REPO = Path(__file__).resolve().parents[2]


def policy_path(explicit: str | Path | None = None) -> Path:
    """``--policy``, else ``GOVCLOUD_QUOTA_POLICY``, else ``quotas/policy.yaml`` here or in the repo."""
    if explicit:
        return Path(explicit)
    if os.environ.get("GOVCLOUD_QUOTA_POLICY"):
        return Path(os.environ["GOVCLOUD_QUOTA_POLICY"])
    local = Path("quotas/policy.yaml")
    return local if local.exists() else REPO / local


def applications(dirs: Sequence[Path]) -> list[Application]:
    """The valid applications among the manifests of ``dirs`` (:func:`manifest_dirs`; invalid
    ones are skipped). No directory, or one that is not there, is a usage error: a quota judged
    against nothing would pass unseen."""
    if not dirs:
        raise UsageError("no manifest directory: use --manifests DIR or GOVCLOUD_MANIFESTS")
    for directory in dirs:
        if not directory.is_dir():
            raise UsageError(f"{directory}: no such manifest directory")
    reports = (validate_file(p) for p in manifest_files(dirs))
    return [r.application for r in reports if r.application is not None]


def unit_holdings(unit: str | None, dirs: Sequence[Path]) -> list[Holding]:
    """What ``unit`` holds, per application environment. The one place to switch to the ledger."""
    return holdings(applications(dirs), unit)


def find_application(app: str, dirs: Sequence[Path]) -> Application:
    """An application by manifest path, or by id among the manifests of ``dirs``."""
    if Path(app).is_file():
        return load_manifest(app)
    for candidate in applications(dirs):
        if candidate.id == app:
            return candidate
    raise NotFound(f"application {app} has no valid manifest in {_shown(dirs)}")


def _shown(dirs: Sequence[Path]) -> str:
    return os.pathsep.join(str(d) for d in dirs)


def check(manifest: Path, env: Environment | None, policy: Policy, dirs: Sequence[Path]) -> dict[str, Any]:
    """Violations of each environment of ``manifest`` (or of ``env``) under ``policy``.

    The unit's other applications hold what the manifests in ``dirs`` declare; this
    application's other environments hold what this manifest declares.
    """
    app = load_manifest(manifest)
    if env is not None and env not in app.environments:
        raise UsageError(f"{manifest}: environment {env} is not declared")
    held = _with_own(app, unit_holdings(app.unit, dirs))
    stacks: list[dict[str, Any]] = []
    for e in [env] if env else list(app.environments):
        violations = check_stack(app, e, policy, held)
        stacks.append(
            {
                "stack": naming.stack_name(app.unit, app.id, e),
                "env": str(e),
                "violations": [v.as_dict() for v in violations],
            }
        )
    mandatory = sum(v["enforcement"] == "mandatory" for s in stacks for v in s["violations"])
    return {
        "manifest": str(manifest),
        "unit": app.unit,
        "app": app.id,
        "policy": policy.source,
        "stacks": stacks,
        "mandatory": mandatory,
        "ok": mandatory == 0,
    }


def _with_own(app: Application, held: list[Holding]) -> list[Holding]:
    """The unit's holdings with this application's environments as its manifest declares them
    (replacing what the directory holds for it, which may be an older version)."""
    return [h for h in held if h.app != app.id] + holdings([app])


#: What ``quota usage`` counts, in words (the monthly report counts "live" and "used").
DECLARED = (
    "declared: every environment the manifests declare, provisioned or not; the monthly report's "
    '"live" counts provisioned environments only and "used" what the cloud reports'
)


def usage(unit: str | None, policy: Policy, dirs: Sequence[Path]) -> dict[str, Any]:
    """Declared allocation per unit and environment (every environment of the manifests in
    ``dirs``, provisioned or not) against the unit's limits."""
    by_unit: dict[str, list[Holding]] = defaultdict(list)
    if unit is not None:
        by_unit[unit] = []
    for held in unit_holdings(unit, dirs):
        by_unit[held.unit or ""].append(held)
    return {
        "basis": "declared",
        "meaning": DECLARED,
        "manifests": _shown(dirs),
        "units": [unit_usage(u, h, policy).as_dict() for u, h in sorted(by_unit.items())],
    }


def drift(app: str, env: Environment, dirs: Sequence[Path], cloud: str | None) -> dict[str, Any]:
    """The project's quota sets as the stack sets them (the needs plus the policy's headroom) vs as
    the cloud reports them. A declared environment whose project the cloud does not hold is ``not
    provisioned``: nothing to compare."""
    from orchestrator.adapters.cloud import Cloud

    application = find_application(app, dirs)
    if env not in application.environments:
        raise UsageError(f"application {application.id} declares no {env} environment")
    project = naming.project_name(application.unit, application.id, env)
    expected = quotas(application.environments[env].resources, policy().headroom.sizing())
    connected = Cloud.connect(cloud)
    if connected.find_project(project) is None:
        return {
            "project": project,
            "status": "not provisioned",
            "expected": expected.as_dict(),
            "actual": None,
            "differences": [],
            "ok": True,
        }
    actual = connected.project_quotas(project)
    found = differences(expected, actual)
    return {
        "project": project,
        "status": "drift" if found else "match",
        "expected": expected.as_dict(),
        "actual": actual.as_dict(),
        "differences": [d.as_dict() for d in found],
        "ok": not found,
    }


def capacity(cloud: str | None, threshold: float) -> dict[str, Any]:
    """The cloud's use in percent per resource, and those at or above ``threshold``."""
    from orchestrator.adapters.cloud import Cloud

    assessed = assess_all(Cloud.connect(cloud).capacity(), threshold)
    return {
        "threshold": threshold,
        "resources": [a.as_dict() for a in assessed],
        "warnings": [a.resource for a in warnings(assessed)],
    }


def policy(explicit: str | Path | None = None) -> Policy:
    return load_policy(policy_path(explicit))


def stack_context(manifest: str | None, env: str | None, project: Path, dirs: Sequence[Path]) -> Context:
    """The context of the stack the policy pack checks: the manifest its config names
    (``govcloud:manifest``, absolute or relative to the ``project`` directory, as the program reads
    it) in the environment it names (``govcloud:environment``); what the unit holds comes from
    :func:`unit_holdings`. Raises :class:`UsageError` naming the key that is missing or wrong,
    :class:`~orchestrator.errors.ManifestInvalid` with every problem of an invalid manifest.
    """
    if not manifest or not env:
        missing = " and ".join(k for k, v in (("govcloud:manifest", manifest), ("govcloud:environment", env)) if not v)
        raise UsageError(
            f"the stack config does not set {missing}, which name the manifest and environment "
            "the stack deploys (`pulumi config set govcloud:manifest <path>`)"
        )
    try:
        environment = Environment(env)
    except ValueError:
        raise UsageError(
            f"config govcloud:environment {env!r} is not one of {', '.join(e.value for e in ENVIRONMENTS)}"
        ) from None
    path = Path(manifest) if Path(manifest).is_absolute() else project / manifest
    if not path.is_file():
        raise UsageError(f"config govcloud:manifest {manifest}: no such file ({path})")
    app = load_manifest(path)
    if environment not in app.environments:
        raise UsageError(
            f"{manifest}: environment {environment} is not declared in the manifest (config govcloud:environment)"
        )
    return context_of(app, environment, _with_own(app, unit_holdings(app.unit, dirs)))
