"""The quota rules as Pulumi policies (pulumi_policy): the glue of the ``quotas/`` policy pack.

Each registered rule active in the policy becomes one Pulumi policy of the same name and
enforcement level: rules over single resources become resource validators (checking the type
first), rules over the whole environment become stack validators. Both build the same facts
(:func:`orchestrator.core.quota.facts.from_resources`) and run the same rule objects as the CLI.
Values unknown during preview become :data:`~orchestrator.core.quota.facts.UNKNOWN` and are skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy import proxy as _proxy

from orchestrator.core.quota.engine import active_rules, run
from orchestrator.core.quota.facts import UNKNOWN, Context, from_resources, labels_of
from orchestrator.core.quota.policy import Policy
from orchestrator.core.quota.rules import QuotaRule, Violation, numbers

#: Resolves the application context from the labels found on resources (may be empty).
ContextSource = Callable[[Mapping[str, str]], "Context | None"]

_SENTINELS = {
    _proxy.UNKNOWN_BOOLEAN_VALUE, _proxy.UNKNOWN_NUMBER_VALUE, _proxy.UNKNOWN_STRING_VALUE,
    _proxy.UNKNOWN_ARRAY_VALUE, _proxy.UNKNOWN_ASSET_VALUE, _proxy.UNKNOWN_ARCHIVE_VALUE,
    _proxy.UNKNOWN_OBJECT_VALUE,
}
_LEVELS = {"mandatory": EnforcementLevel.MANDATORY, "advisory": EnforcementLevel.ADVISORY}
_ANONYMOUS = Context(unit=None, app=None, env=None)


def plain(value: Any) -> Any:
    """Resource properties without pulumi_policy's unknown-checking proxies; unknowns -> UNKNOWN."""
    if isinstance(value, (_proxy._DictProxy, _proxy._ListProxy)):
        value = value["__target"]
    if isinstance(value, str) and value in _SENTINELS:
        return UNKNOWN
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def message(v: Violation) -> str:
    """One line: what, how to fix it, the numbers and the article."""
    figures = numbers(v.asked, v.allowed, v.used)
    return f"{v.subject}: {v.message}{f' ({figures})' if figures else ''} [{v.article}]"


class ContextCache:
    """The stack's context, resolved once: every resource of one run belongs to the same stack.

    Resources without labels (security-group rules, Trove instances) use the context found on
    the first labelled resource, or the one the stack configuration names.
    """

    def __init__(self, source: ContextSource) -> None:
        self._source = source
        self._context: Context | None = None

    def get(self, resources: Sequence[Mapping[str, Any]]) -> Context:
        if self._context is None:
            found = self._source(labels_of(resources))
            if found is None:
                return _ANONYMOUS
            self._context = found
        return self._context


def resource_policy(rule: QuotaRule, policy: Policy, contexts: ContextCache) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: Callable[..., None]) -> None:
        if args.resource_type not in rule.resource_types:
            return
        resource = {"type": args.resource_type, "name": args.name, "properties": plain(args.props)}
        facts = from_resources([resource], contexts.get([resource]))
        for v in run(rule, facts):
            report_violation(message(v))

    return ResourceValidationPolicy(
        name=rule.name,
        description=_summary(rule),
        enforcement_level=_LEVELS[policy.rule(rule.name).enforcement],
        validate=validate,
    )


def stack_policy(rule: QuotaRule, policy: Policy, contexts: ContextCache) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation: Callable[..., None]) -> None:
        resources = [
            {"type": r.resource_type, "name": r.name, "properties": plain(r.props), "urn": r.urn}
            for r in args.resources
        ]
        urns = {r["name"]: r["urn"] for r in resources}
        facts = from_resources(resources, contexts.get(resources))
        for v in run(rule, facts):
            report_violation(message(v), urns.get(v.resource or ""))

    return StackValidationPolicy(
        name=rule.name,
        description=_summary(rule),
        enforcement_level=_LEVELS[policy.rule(rule.name).enforcement],
        validate=validate,
    )


def policies(policy: Policy, source: ContextSource) -> list[ResourceValidationPolicy | StackValidationPolicy]:
    """One Pulumi policy per active rule, in the policy file's order."""
    contexts = ContextCache(source)
    return [
        stack_policy(r, policy, contexts) if r.scope == "stack" else resource_policy(r, policy, contexts)
        for r in active_rules(policy)
    ]


def _summary(rule: QuotaRule) -> str:
    doc = (type(rule).__doc__ or rule.name).strip().splitlines()[0]
    return f"{doc} [{rule.article}]"
