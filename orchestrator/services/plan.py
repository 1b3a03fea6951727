"""``govcloud plan``: run the real Pulumi program for each environment under the mock runtime.

:func:`plan_application` is the library entry (quotas and gitops reuse it); :func:`plan_paths`
plans many manifest files, in a process pool when there are several files and several cores.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.core import naming, sizing
from orchestrator.core.manifest import Application, Environment

if TYPE_CHECKING:
    from orchestrator.adapters.mockruntime import ProgramRun
    from orchestrator.services.admission import Admission, Admissions
    from stacks.program import StackSettings

#: The Pulumi project name (``Pulumi.yaml``).
PROJECT = "govcloud"
#: Placeholder for what a plan cannot know about the cloud.
PLAN_EXTERNAL_NETWORK = os.environ.get("GOVCLOUD_EXTERNAL_NETWORK", "public")
#: Placeholder stack config of the authentication platform's provider (a plan reaches no platform).
PLAN_CONFIG = {
    "keycloak:url": "https://sso.invalid",
    "keycloak:clientId": "govcloud-plan",
    "keycloak:clientSecret": "plan-placeholder",
}
SECRET = "[secret]"
#: The SDK's marker of a secret value in serialized properties.
_SECRET_SIG = "4dabf18193072939515e22adb298388d"


@dataclass(frozen=True)
class PlannedResource:
    """A resource the program registers: type token, logical name and its input properties."""

    type: str
    name: str
    parent: str
    """Logical name of the parent ('' for the stack itself)."""
    properties: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"type": self.type, "name": self.name, "properties": self.properties}


@dataclass(frozen=True)
class StackPlan:
    """Everything one environment's stack would create, with its totals and project quotas."""

    stack: str
    app: str
    unit: str
    env: str
    digest: str
    source: str
    resources: list[PlannedResource]
    totals: sizing.Totals
    quotas: sizing.Quotas
    #: The lifecycle gate and quota verdict, when the plan was admitted (``plan_file``).
    admission: Admission | None = None

    def as_dict(self) -> dict[str, Any]:
        planned = {
            "stack": self.stack,
            "app": self.app,
            "unit": self.unit,
            "env": self.env,
            "digest": self.digest,
            "resources": [r.as_dict() for r in self.resources],
            "totals": self.totals.as_dict(),
        }
        return planned | (self.admission.as_dict() if self.admission else {})


def plan_application(
    app: Application, env: Environment, settings: StackSettings | None = None
) -> StackPlan:
    """Plan one environment of ``app`` by running :func:`stacks.program.deploy` under mocks."""
    from orchestrator.adapters.mockruntime import run_program
    from stacks.program import StackSettings, deploy

    settings = settings or StackSettings(external_network=PLAN_EXTERNAL_NETWORK)
    stack = naming.stack_name(app.unit, app.id, env)
    run = run_program(
        lambda: deploy(app, env, settings), project=PROJECT, stack=stack, config=PLAN_CONFIG, preview=True
    )
    resources = app.environments[env].resources
    return StackPlan(
        stack=stack,
        app=app.id,
        unit=app.unit,
        env=str(env),
        digest=app.digest,
        source=app.source,
        resources=_resources(run),
        totals=sizing.totals(resources),
        quotas=sizing.quotas(resources),
    )


def plan_file(path: Path | str, env: Environment | str | None = None, admit: bool = True) -> list[StackPlan]:
    """Plan every declared environment of a manifest file (or only ``env``), each with its
    admission (lifecycle gate and quota policy) unless ``admit`` is false."""
    from orchestrator.core.validation import load_manifest

    app = load_manifest(path)
    wanted = [e for e in app.environments if env is None or e.value == str(env)]
    plans = [plan_application(app, e) for e in wanted]
    if admit:
        plans = [replace(p, admission=_admissions().admit(p, app)) for p in plans]
    return plans


@functools.cache
def _admissions() -> Admissions:
    """One per process (forked workers make their own): the policy and ledger, read once."""
    from orchestrator.services.admission import Admissions

    return Admissions()


def plan_paths(
    paths: Sequence[Path], env: Environment | str | None = None, workers: int | None = None
) -> list[StackPlan]:
    """Plan many manifest files; with several files and cores, in a pool of forked processes."""
    workers = min(workers or os.cpu_count() or 1, len(paths))
    _preload()
    if workers <= 1:
        return [plan for path in paths for plan in plan_file(path, env)]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("fork")
    chunk = max(1, min(32, len(paths) // (workers * 4)))
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        results = pool.map(plan_file, paths, [env] * len(paths), chunksize=chunk)
        return [plan for plans in results for plan in plans]


def plan_applications(
    pairs: Sequence[tuple[Application, Environment]], workers: int | None = None,
    meanwhile: Callable[[], None] | None = None,
) -> list[StackPlan]:
    """Plan (application, environment) pairs, in order; in forked processes when there are
    more than a few pairs and several cores. ``meanwhile`` runs in this process while the
    workers plan (after they are forked), or after planning when there are no workers."""
    workers = min(workers or os.cpu_count() or 1, max(1, len(pairs) // 4))
    if pairs:
        _preload()
    if workers <= 1 or not pairs:
        plans = [plan_application(app, env) for app, env in pairs]
        if meanwhile is not None:
            meanwhile()
        return plans
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("fork")
    chunk = max(1, min(16, len(pairs) // (workers * 4)))
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        results = pool.map(_plan_pair, pairs, chunksize=chunk)
        if meanwhile is not None:
            meanwhile()
        return list(results)


def _plan_pair(pair: tuple[Application, Environment]) -> StackPlan:
    return plan_application(*pair)


def _preload() -> None:
    """Import everything a plan needs, so forked workers start warm."""
    import orchestrator.core.validation  # noqa: F401
    import pulumi.runtime.mocks  # noqa: F401
    from orchestrator.adapters.mockruntime import freeze_heap
    from stacks.program import preload

    preload()
    freeze_heap()


def _resources(run: ProgramRun) -> list[PlannedResource]:
    """Registered resources in tree order (parents first, siblings by type and name)."""
    by_urn = run.by_urn()

    def path(urn: str) -> tuple:
        chain: list[tuple[str, str]] = []
        while urn in by_urn:
            r = by_urn[urn]
            chain.append((_RANK.get(r.type, len(_RANK)), r.type, r.name))
            urn = r.parent
        return tuple(reversed(chain))

    ordered = sorted(run.resources, key=lambda r: path(r.urn))
    return [
        PlannedResource(
            type=r.type,
            name=r.name,
            parent=by_urn[r.parent].name if r.parent in by_urn else "",
            properties=_clean(r.inputs),
        )
        for r in ordered
    ]


#: Sibling order in a plan: the order in which the program builds an environment.
_RANK = {
    t: i
    for i, t in enumerate(
        [
            "govcloud:identity:Identity",
            "openstack:identity/project:Project",
            "govcloud:access:Access",
            "govcloud:auth:KeycloakClient",
            "govcloud:network:Network",
            "govcloud:security:SecurityGroups",
            "govcloud:compute:Compute",
            "openstack:networking/port:Port",
            "govcloud:storage:Storage",
            "govcloud:database:Databases",
        ]
    )
}


def _clean(value: Any) -> Any:
    """Secrets become ``[secret]``; whole floats (protobuf numbers) become ints."""
    if isinstance(value, dict):
        if _SECRET_SIG in value:
            return SECRET
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value

