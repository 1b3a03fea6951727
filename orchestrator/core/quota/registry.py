"""The quota rule registry: the base every rule derives from, what a rule yields, and the
registry that names each rule (:mod:`orchestrator.core.quota.rules` holds the rules themselves;
importing :mod:`orchestrator.core.quota` registers all of them).

Adding a rule is one class with the :func:`register` decorator: a stable ``name``, the ``article``
of the regulation behind it, a docstring with an example policy entry, a ``Params`` model that
refuses unknown keys, the Pulumi resource types it looks at (``scope = "resource"``) or
``scope = "stack"`` for rules over the whole environment, and ``check(facts)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from orchestrator.core.quota.facts import StackFacts
    from orchestrator.core.quota.policy import Policy


@dataclass(frozen=True)
class Violation:
    """A rule said no (mandatory) or warns (advisory): what, why, the numbers and the article."""

    rule: str
    enforcement: str
    article: str
    subject: str
    message: str
    asked: Any = None
    allowed: Any = None
    used: Any = None
    resource: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.subject}: {self.message} ({self.rule}, {self.enforcement}) [{self.article}]"


def numbers(asked: Any, allowed: Any, used: Any) -> str:
    """``asked 13, allowed 32, used 20``: the numbers of a violation, lists joined, absent ones left out."""

    def text(value: Any) -> str:
        return ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)

    parts = [("asked", asked), ("allowed", allowed), ("used", used)]
    return "; ".join(f"{name} {text(value)}" for name, value in parts if value is not None)


@dataclass(frozen=True)
class Finding:
    """What ``check`` yields; the engine adds the rule's name, enforcement and article."""

    subject: str
    message: str
    asked: Any = None
    allowed: Any = None
    used: Any = None
    resource: str | None = None


class RuleParams(BaseModel):
    """Base of every rule's params: unknown keys refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class QuotaRule:
    """Base of the registered rules."""

    name: ClassVar[str] = ""
    article: ClassVar[str] = ""
    scope: ClassVar[str] = "resource"
    resource_types: ClassVar[tuple[str, ...]] = ()
    Params: ClassVar[type[BaseModel]] = RuleParams
    params: Any

    def __init__(self, params: BaseModel, policy: Policy) -> None:
        self.params = params
        self.policy = policy
        active = policy.rule(self.name)
        self.enforcement = active.enforcement if active else "mandatory"

    def check(self, facts: StackFacts) -> Iterator[Finding]:
        raise NotImplementedError


RULES: dict[str, type[QuotaRule]] = {}


def register(name: str) -> Any:
    """Class decorator: register a rule under its stable name."""

    def add(cls: type[QuotaRule]) -> type[QuotaRule]:
        if name in RULES:
            raise ValueError(f"quota rule {name} registered twice")
        cls.name = name
        RULES[name] = cls
        return cls

    return add
