"""Planning: run the real Pulumi program for each environment under the mock runtime.

:func:`plan_application` is the library entry (quotas and gitops reuse it); :func:`plan_manifests`
plans many manifest files, in forked workers when there are several files and several cores,
and with a :class:`~orchestrator.services.plancache.PlanCache` reuses the plans of unchanged files.
``govcloud plan`` admits what this plans: :func:`orchestrator.services.admission.plan_paths`.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator import files
from orchestrator.adapters import pulumimock
from orchestrator.adapters.pulumimock import ProgramRun, batch, forked_map, in_forked_worker, run_program
from orchestrator.core import dbaccess, naming, sizing
from orchestrator.core.manifest import Application, Environment
from orchestrator.core.stackplan import PlannedResource, StackPlan

if TYPE_CHECKING:
    from orchestrator.services.plancache import PlanCache
    from stacks.components.settings import StackSettings

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
SECRET = "[secret]"  # noqa: S105 (what a plan shows in place of a secret, not one)
#: The SDK's marker of a secret value in serialized properties.
_SECRET_SIG = "4dabf18193072939515e22adb298388d"  # noqa: S105 (a public constant of the SDK, not a secret)


def plan_application(app: Application, env: Environment, settings: StackSettings | None = None) -> StackPlan:
    """Plan one environment of ``app`` by running :func:`stacks.program.deploy` under mocks."""
    from stacks.components.settings import StackSettings
    from stacks.program import deploy, policy_headroom

    settings = settings or StackSettings(external_network=PLAN_EXTERNAL_NETWORK, headroom=policy_headroom())
    stack = naming.stack_name(app.unit, app.id, env)

    def program() -> None:
        deploy(app, env, settings)

    run = run_program(program, project=PROJECT, stack=stack, config=PLAN_CONFIG, preview=True)
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
        quotas=sizing.quotas(resources, settings.headroom),
        headroom=settings.headroom.extra(resources),
        database_access=[a.as_dict() for a in dbaccess.expected(app, env)],
    )


def plan_manifest(
    path: Path | str, env: Environment | str | None = None, raw: bytes | None = None
) -> tuple[Application, list[StackPlan]]:
    """The application of manifest ``path`` (content ``raw``, when read already) and the plans of
    its declared environments (or only ``env``), not admitted."""
    from orchestrator.core.validation import load_manifest

    app = load_manifest(path, raw)
    return app, [plan_application(app, e) for e in app.environments if env is None or e.value == str(env)]


def plan_manifests(
    paths: Sequence[Path],
    env: Environment | str | None = None,
    workers: int | None = None,
    cache: PlanCache | None = None,
    meanwhile: Callable[[], None] | None = None,
) -> list[tuple[Application, list[StackPlan]]]:
    """:func:`plan_manifest` of many files, in order; with several files and cores, in forked
    processes. With a ``cache``, a file planned before with the same program comes from it.
    ``meanwhile`` runs in this process while the workers plan, or after planning without them."""
    planned: list[tuple[Application, list[StackPlan]] | None] = [None] * len(paths)
    items: list[tuple[Path | str, bytes | None]] = [(path, None) for path in paths]
    keys: list[str | None] = [None] * len(paths)
    if cache is not None:
        from stacks.program import policy_headroom

        for i, path in enumerate(paths):
            with contextlib.suppress(files.FileRefused):  # unreadable: planning it says so
                raw = files.read_bytes(path, what="manifest")
                items[i] = (path, raw)
                key = keys[i] = cache.key(
                    str(path),
                    raw,
                    None if env is None else str(env),
                    (PLAN_EXTERNAL_NETWORK, PLAN_CONFIG, policy_headroom()),
                )
                planned[i] = cache.get(key)
    todo = [i for i, done in enumerate(planned) if done is None]
    forked = False
    if todo:
        workers = min(workers or os.cpu_count() or 1, len(todo))
        plan_one = functools.partial(_plan_and_keep, env=env, cache=cache)
        work = [(items[i], keys[i]) for i in todo]
        preload_planning()
        with batch():
            if workers <= 1:
                results = [plan_one(w) for w in work]
            else:
                results, forked = _forked(plan_one, work, workers, meanwhile), True
        for i, result in zip(todo, results, strict=True):
            planned[i] = result
    if meanwhile is not None and not forked:
        meanwhile()
    return [done for done in planned if done is not None]


def _plan_and_keep(
    work: tuple[tuple[Path | str, bytes | None], str | None],
    env: Environment | str | None,
    cache: PlanCache | None,
) -> tuple[Application, list[StackPlan]]:
    """:func:`plan_manifest` of the item in ``work``, the result kept in ``cache`` under the key
    beside it (by the worker that planned it, in parallel with the others)."""
    (path, raw), key = work
    result = plan_manifest(path, env, raw)
    if cache is not None and key is not None:
        cache.put(key, result)
    return result


def plan_applications(
    pairs: Sequence[tuple[Application, Environment]],
    workers: int | None = None,
    meanwhile: Callable[[], None] | None = None,
) -> list[StackPlan]:
    """Plan (application, environment) pairs, in order; in forked processes when there are
    more than a few pairs and several cores. ``meanwhile`` runs in this process while the
    workers plan (after they are forked), or after planning when there are no workers."""
    workers = min(workers or os.cpu_count() or 1, max(1, len(pairs) // 4))
    if pairs:
        preload_planning()
    with batch():
        if workers <= 1 or not pairs:
            plans = [plan_application(app, env) for app, env in pairs]
            if meanwhile is not None:
                meanwhile()
            return plans
        return _forked(_plan_pair, pairs, workers, meanwhile)


def _plan_pair(pair: tuple[Application, Environment]) -> StackPlan:
    return plan_application(*pair)


#: Most items a forked worker plans before it exits (its garbage is freed by the exit).
WORKER_ITEMS = 24


def _forked(
    function: Callable[[Any], Any],
    items: Sequence[Any],
    workers: int,
    meanwhile: Callable[[], None] | None = None,
) -> list[Any]:
    """``function`` over ``items`` in forked workers, in chunks that keep every core busy."""
    chunk = max(1, min(WORKER_ITEMS, -(-len(items) // workers)))
    return forked_map(function, items, workers, chunk, initializer=in_forked_worker, meanwhile=meanwhile)


def preload_planning() -> None:
    """Import everything a plan needs, so forked workers start warm and threads never load a lazy
    SDK module at once (one of them would find it half-initialised) (a worker that imports a
    module imports it again in every worker: ``tests/stacks/test_pulumimock.py`` checks that
    planning the examples after this imports nothing)."""
    from orchestrator.core import backups, validation, yamlsource
    from stacks.program import preload

    pulumimock.preload()
    validation.load_manifest  # noqa: B018
    backups.schedule_problem("0 2 * * *")  # croniter, imported by the first schedule checked
    yamlsource.load(b"preload: true\n")  # libyaml's loader is built on the first read
    yamlsource.parse(b"preload: true\n")  # ruamel.yaml (lines of problems) loads its parts on the first parse
    preload()
    pulumimock.freeze_heap()


def _resources(run: ProgramRun) -> list[PlannedResource]:
    """Registered resources in tree order (parents first, siblings by type and name)."""
    by_urn = run.by_urn()

    def path(urn: str) -> tuple[tuple[int, str, str], ...]:
        chain: list[tuple[int, str, str]] = []
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
