"""Quota policy: per-unit limits, per-environment rules and reasonable allocation (Art. 14, 31, 45, 50).

Pure: the policy models (:mod:`.policy`) and the reading of the policy file (:mod:`.policyfile`),
the facts about a stack (:mod:`.facts`), the rule registry (:mod:`.registry`), the rules
(:mod:`.rules`) and the engine (:mod:`.engine`). The CLI, ``plan``/``up`` and the Pulumi
policy pack all evaluate these same rules.
"""

from orchestrator.core.quota.engine import check_planned, check_stack, evaluate, mandatory
from orchestrator.core.quota.facts import Context, Holding, StackFacts, from_application, from_resources
from orchestrator.core.quota.policy import Policy
from orchestrator.core.quota.policyfile import PolicyInvalid, load_policy, parse_policy
from orchestrator.core.quota.registry import RULES, Violation

__all__ = [
    "RULES",
    "Context",
    "Holding",
    "Policy",
    "PolicyInvalid",
    "StackFacts",
    "Violation",
    "check_planned",
    "check_stack",
    "evaluate",
    "from_application",
    "from_resources",
    "load_policy",
    "mandatory",
    "parse_policy",
]
