"""What a plan is: the resources one environment's stack would create, and the verdict on them.

Values only. :mod:`orchestrator.services.plan` makes them (the real program under the mock
runtime), :mod:`orchestrator.services.admission` judges them, the core compares them
(:mod:`orchestrator.core.plandiff`, :mod:`orchestrator.core.dataloss`) and the cloud adapter checks
the cloud against them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from orchestrator.core import sizing
from orchestrator.errors import RuleError

if TYPE_CHECKING:  # the quota machinery is loaded by whoever judges a plan, not by every plan
    from orchestrator.core.quota.registry import Violation


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
class Admission:
    """The verdict on one stack: the gate's refusal (None when it passes), the violations, and the
    ledger event ``up`` would record (``provisioned`` or ``reapplied``; '' when refused)."""

    stack: str
    gate: RuleError | None
    violations: list[Violation] = field(default_factory=list)
    event: str = ""

    @property
    def mandatory(self) -> list[Violation]:
        return [v for v in self.violations if v.enforcement == "mandatory"]

    @property
    def allowed(self) -> bool:
        return self.gate is None and not self.mandatory

    def as_dict(self) -> dict[str, Any]:
        gate: dict[str, Any] = {"passed": self.gate is None}
        if self.gate is not None:
            gate |= {"rule": self.gate.rule, "message": self.gate.args[0], "article": self.gate.article}
        return {
            "gate": gate,
            "quota": {"violations": [v.as_dict() for v in self.violations], "mandatory": len(self.mandatory)},
        }

    def refusal(self) -> RuleError:
        """One error naming every reason the stack may not be provisioned."""
        reasons = ([str(self.gate)] if self.gate else []) + [str(v) for v in self.mandatory]
        return RuleError(
            f"{self.stack} may not be provisioned: " + "; ".join(reasons), rule=self.gate.rule if self.gate else "quota"
        )


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
    #: What the quota policy's headroom adds to the project's quotas (snapshot gigabytes and count,
    #: security-group rules), beside the totals the manifest asks for.
    headroom: dict[str, int] = field(default_factory=dict)
    #: Who may reach each database (the environment's subnet only; set by ``up``: core/dbaccess.py).
    database_access: list[dict[str, Any]] = field(default_factory=list)
    #: The lifecycle gate and quota verdict, when the plan was admitted (``govcloud plan``, ``up``).
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
            "headroom": self.headroom,
            "databaseAccess": self.database_access,
        }
        return planned | (self.admission.as_dict() if self.admission else {})
