"""The quota rules as Pulumi policies (pulumi_policy): the glue of the ``quotas/`` policy pack.

Each registered rule active in the policy becomes one Pulumi policy of the same name and
enforcement level: rules over single resources become resource validators (checking the type
first), rules over the whole environment become stack validators. Both build the same facts
(:func:`orchestrator.core.quota.facts.from_resources`) and run the same rule objects as the CLI.
Values unknown during preview become :data:`~orchestrator.core.quota.facts.UNKNOWN` and are skipped.

The application context (manifest, environment) comes from the stack config the engine sends the
pack in ``ConfigureStack``, which :func:`serve` takes from pulumi_policy's analyzer; when it does
not name a valid manifest and environment, the mandatory policy ``stack-config`` says why (fail
closed) and the rules that need the context find nothing to judge.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

import pulumi_policy
from pulumi_policy import (
    EnforcementLevel,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy import policy as _policy
from pulumi_policy import proxy as _proxy

from orchestrator.core.quota.engine import active_rules, run
from orchestrator.core.quota.facts import UNKNOWN, Context, from_resources
from orchestrator.core.quota.policy import Policy
from orchestrator.core.quota.registry import QuotaRule, Violation, numbers
from orchestrator.errors import GovcloudError

#: The stack's context from its config as the engine sends it (``{"govcloud:manifest": ...}``);
#: raises :class:`GovcloudError` saying why when the config does not name a valid one.
ContextSource = Callable[[Mapping[str, str]], Context]

#: The pack's own precondition, reported as a mandatory violation when it does not hold.
STACK_CONFIG = "stack-config"

_SENTINELS = {
    _proxy.UNKNOWN_BOOLEAN_VALUE,
    _proxy.UNKNOWN_NUMBER_VALUE,
    _proxy.UNKNOWN_STRING_VALUE,
    _proxy.UNKNOWN_ARRAY_VALUE,
    _proxy.UNKNOWN_ASSET_VALUE,
    _proxy.UNKNOWN_ARCHIVE_VALUE,
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


class StackContext:
    """The checked stack's context, resolved once from the stack config the engine sent.

    Until the engine has configured the stack (or when its config names no valid manifest and
    environment) :meth:`context` is anonymous, so that the rules needing it stay silent, and
    :meth:`problem` says what is missing.
    """

    def __init__(self, source: ContextSource) -> None:
        self._source = source
        self._lock = threading.Lock()
        self._stack = ""
        self._config: dict[str, str] | None = None
        self._resolved: Context | str | None = None

    def configure(self, stack: str, config: Mapping[str, str]) -> None:
        """The engine's ConfigureStack: the stack's name and config."""
        with self._lock:
            self._stack, self._config, self._resolved = stack, dict(config), None

    def _resolve(self) -> Context | str:
        with self._lock:
            if self._resolved is None:
                self._resolved = self._judge()
            return self._resolved

    def _judge(self) -> Context | str:
        if self._config is None:
            return (
                "the engine sent the policy pack no stack configuration (ConfigureStack), so it cannot tell "
                "which manifest and environment to judge; the quota rules were not checked"
            )
        try:
            return self._source(self._config)
        except GovcloudError as exc:
            problems = "; ".join(map(str, getattr(exc, "problems", [])))
            return (
                f"stack {self._stack or '?'}: {exc}{f': {problems}' if problems else ''}; "
                "the quota rules that need the application were not checked"
            )

    def context(self) -> Context:
        resolved = self._resolve()
        return resolved if isinstance(resolved, Context) else _ANONYMOUS

    def problem(self) -> str | None:
        resolved = self._resolve()
        return None if isinstance(resolved, Context) else resolved


def resource_policy(rule: QuotaRule, policy: Policy, stack: StackContext) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: Callable[..., None]) -> None:
        if args.resource_type not in rule.resource_types:
            return
        resource = {"type": args.resource_type, "name": args.name, "properties": plain(args.props)}
        facts = from_resources([resource], stack.context())
        for v in run(rule, facts):
            report_violation(message(v))

    return ResourceValidationPolicy(
        name=rule.name,
        description=_summary(rule),
        enforcement_level=_level(policy, rule),
        validate=validate,
    )


def stack_policy(rule: QuotaRule, policy: Policy, stack: StackContext) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation: Callable[..., None]) -> None:
        resources = [
            {"type": r.resource_type, "name": r.name, "properties": plain(r.props), "urn": r.urn}
            for r in args.resources
        ]
        urns = {r["name"]: r["urn"] for r in resources}
        facts = from_resources(resources, stack.context())
        for v in run(rule, facts):
            report_violation(message(v), urns.get(v.resource or ""))

    return StackValidationPolicy(
        name=rule.name,
        description=_summary(rule),
        enforcement_level=_level(policy, rule),
        validate=validate,
    )


def stack_config_policy(stack: StackContext) -> StackValidationPolicy:
    """Mandatory: the stack config names the manifest and environment the rules judge."""

    def validate(args: StackValidationArgs, report_violation: Callable[..., None]) -> None:
        problem = stack.problem()
        if problem:
            report_violation(problem)

    return StackValidationPolicy(
        name=STACK_CONFIG,
        description="The stack config names a valid manifest and one of its environments "
        "(govcloud:manifest, govcloud:environment), which the quota rules judge.",
        enforcement_level=EnforcementLevel.MANDATORY,
        validate=validate,
    )


def policies(policy: Policy, stack: StackContext) -> list[pulumi_policy.Policy]:
    """One Pulumi policy per active rule, in the policy file's order, then ``stack-config``."""
    return [
        *(
            stack_policy(r, policy, stack) if r.scope == "stack" else resource_policy(r, policy, stack)
            for r in active_rules(policy)
        ),
        stack_config_policy(stack),
    ]


def serve(name: str, policy: Policy, source: ContextSource) -> None:
    """Serve the pack to the engine (pulumi_policy's PolicyPack; blocks until stopped).

    pulumi_policy 1.21 keeps only the tags of the engine's ConfigureStack and builds its analyzer
    inside PolicyPack, so the analyzer class is swapped, while PolicyPack is built, for one that
    also hands the stack's name and config to :class:`StackContext`.
    """
    stack = StackContext(source)
    base = _policy._PolicyAnalyzerServicer

    class Analyzer(base):  # type: ignore[misc, valid-type]  # a class found at run time (docstring)
        def ConfigureStack(self, request, context):  # the gRPC method's name
            stack.configure(request.stack, request.config)
            return super().ConfigureStack(request, context)

    _policy._PolicyAnalyzerServicer = Analyzer  # type: ignore[misc]  # swapped on purpose (docstring)
    try:
        pulumi_policy.PolicyPack(
            name=name, enforcement_level=EnforcementLevel.MANDATORY, policies=policies(policy, stack)
        )
    finally:
        _policy._PolicyAnalyzerServicer = base  # type: ignore[misc]  # and put back


def _level(policy: Policy, rule: QuotaRule) -> EnforcementLevel:
    """The Pulumi enforcement level of ``rule`` (one of the policy's own: see active_rules)."""
    active = policy.rule(rule.name)
    if active is None:
        raise KeyError(f"rule {rule.name} is not in the policy")
    return _LEVELS[active.enforcement]


def _summary(rule: QuotaRule) -> str:
    doc = (type(rule).__doc__ or rule.name).strip().splitlines()[0]
    return f"{doc} [{rule.article}]"
