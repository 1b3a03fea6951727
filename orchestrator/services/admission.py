"""What ``plan`` shows and ``up`` enforces before the engine starts: the lifecycle gate and the
quota policy over the planned resources, given what the unit holds according to the ledger.
:func:`plan_paths` is ``govcloud plan``: the manifests planned, each stack admitted."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.core.manifest import Application, Environment
from orchestrator.core.stackplan import Admission, StackPlan
from orchestrator.errors import NotFound, RuleError

if TYPE_CHECKING:
    from orchestrator.core.quota.facts import Holding
    from orchestrator.core.quota.policy import Policy
    from orchestrator.services.lifecycle import Lifecycle
    from orchestrator.services.plancache import PlanCache


class Admissions:
    """Admits stacks against one policy and one ledger (opened once, read for every stack)."""

    def __init__(
        self, policy: Policy | None = None, lifecycle: Lifecycle | None = None, at: dt.datetime | None = None
    ) -> None:
        from orchestrator.services import quotas

        self.policy = policy or quotas.policy()
        self.lifecycle = lifecycle if lifecycle is not None else existing_ledger()
        self.at = at or _now()
        self._held: dict[str, list[Holding]] = {}

    def admit(self, plan: StackPlan, app: Application) -> Admission:
        from orchestrator.core.quota.engine import check_planned

        env = Environment(plan.env)
        violations = check_planned([r.as_dict() for r in plan.resources], app, env, self.policy, self.held(app.unit))
        event, refusal = self.deployment(app, env)
        return Admission(plan.stack, refusal, violations, event)

    def held(self, unit: str) -> list[Holding]:
        """What ``unit`` holds according to the ledger (nothing without a ledger)."""
        if unit not in self._held:
            from orchestrator.core.quota.holdings import holdings

            live = self.lifecycle.provisioned(unit) if self.lifecycle else []
            # one holding per live environment, from the manifest at the digest it runs
            self._held[unit] = [h for a, e in live for h in holdings([a], unit, [(a.id, Environment(e))])]
        return self._held[unit]

    def gate(self, app: Application, env: Environment) -> RuleError | None:
        """The lifecycle gate's refusal of ``env`` of ``app`` at this digest (None: it passes)."""
        return self.deployment(app, env)[1]

    def deployment(self, app: Application, env: Environment) -> tuple[str, RuleError | None]:
        """The event ``up`` of ``env`` would record (``provisioned``, or ``reapplied`` when the
        environment already runs this digest) and the gate's refusal; ('', refusal) when refused.
        Only a rule refuses: a ledger that cannot be read raises (an outside failure, exit 3)."""
        try:
            if self.lifecycle is None:
                raise NotFound(f"application {app.id} has no ledger entries")
            return self.lifecycle.check_provision(app.id, str(env), app.digest, self.at), None
        except RuleError as refused:
            return "", refused
        except NotFound as missing:
            return "", RuleError(
                f"{missing}: submit it and have {env} approved first",
                rule="digest-approved",
                article="Art. 13" if env is Environment.TEST else "Art. 14",
            )


def existing_ledger() -> Lifecycle | None:
    """The ledger, if one exists: plan never creates an empty ledger as a side effect."""
    import os

    from orchestrator.adapters.ledgerfile import database_url

    url = database_url()
    if (
        not os.environ.get("GOVCLOUD_DATABASE_URL")
        and url.startswith("sqlite:///")
        and not Path(url.removeprefix("sqlite:///")).exists()
    ):
        return None
    from orchestrator.adapters.ledger import Ledger  # SQLAlchemy: loaded only for a ledger that exists
    from orchestrator.services.lifecycle import Lifecycle

    return Lifecycle(Ledger.open(url))


def plan_paths(
    paths: Sequence[Path],
    env: Environment | str | None = None,
    workers: int | None = None,
    cache: PlanCache | None = None,
) -> list[StackPlan]:
    """Plan many manifest files (:func:`orchestrator.services.plan.plan_manifests`), each stack
    admitted: the policy and the ledger are read once, while forked workers plan; a plan that
    comes from the cache is admitted afresh."""
    from orchestrator.services.plan import plan_manifests  # the Pulumi SDK: loaded only to plan

    opened: list[Admissions] = []
    planned = plan_manifests(paths, env, workers, cache, meanwhile=lambda: opened.append(Admissions()))
    return [plan for app, plans in planned for plan in _admitted(app, plans, opened[0])]


def _admitted(app: Application, plans: list[StackPlan], admissions: Admissions) -> list[StackPlan]:
    return [replace(p, admission=admissions.admit(p, app)) for p in plans]


def admit_all(plans: Iterable[StackPlan], apps: dict[str, Application]) -> list[Admission]:
    admissions = Admissions()
    return [admissions.admit(plan, apps[plan.source]) for plan in plans]


def _now() -> dt.datetime:
    from orchestrator.services.lifecycle import beijing_now

    return beijing_now()
