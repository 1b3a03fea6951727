"""Evaluating the active rules of a policy over a stack's facts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from orchestrator.core.manifest import Application, Environment
from orchestrator.core.quota import rules as _rules  # noqa: F401  (each rule registers itself on import)
from orchestrator.core.quota.facts import Holding, StackFacts, context_of, from_application, from_resources
from orchestrator.core.quota.policy import Policy
from orchestrator.core.quota.registry import RULES, QuotaRule, Violation

_compiled: dict[int, tuple[Policy, tuple[QuotaRule, ...]]] = {}


def active_rules(policy: Policy) -> tuple[QuotaRule, ...]:
    """The policy's rules, instantiated once per policy object."""
    entry = _compiled.get(id(policy))
    if entry is None or entry[0] is not policy:
        rules = tuple(RULES[r.name](r.params, policy) for r in policy.rules)
        entry = _compiled[id(policy)] = (policy, rules)
    return entry[1]


def run(rule: QuotaRule, facts: StackFacts) -> list[Violation]:
    """One rule over the facts, its findings as violations with the policy's enforcement."""
    return [
        Violation(
            rule.name, rule.enforcement, rule.article, f.subject, f.message, f.asked, f.allowed, f.used, f.resource
        )
        for f in rule.check(facts)
    ]


def evaluate(facts: StackFacts, policy: Policy) -> list[Violation]:
    """Every violation of the policy's rules by one stack, mandatory first."""
    found: list[Violation] = []
    for rule in active_rules(policy):
        found.extend(run(rule, facts))
    return sorted(found, key=lambda v: v.enforcement != "mandatory")


def check_stack(app: Application, env: Environment, policy: Policy, held: Sequence[Holding] = ()) -> list[Violation]:
    """The violations of ``env`` of ``app``, given what the unit already holds elsewhere.

    ``held`` may include this application environment itself; it is left out.
    """
    return evaluate(from_application(app, env, held), policy)


def check_planned(
    resources: Iterable[Mapping[str, Any]],
    app: Application,
    env: Environment,
    policy: Policy,
    held: Sequence[Holding] = (),
) -> list[Violation]:
    """The violations of planned Pulumi resources (``{type, name, properties}``) of ``env``."""
    return evaluate(from_resources(resources, context_of(app, env, held)), policy)


def mandatory(violations: Iterable[Violation]) -> list[Violation]:
    return [v for v in violations if v.enforcement == "mandatory"]
