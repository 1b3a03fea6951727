"""The quota policy (``quotas/policy.yaml``) as data: Pydantic models validated at load time.

Unknown keys are refused everywhere, including inside each rule's ``params`` (checked against the
rule's own params model). Every problem names the file, the field path and the line, like manifest
validation. The schema is documented in ``docs/quotas.md``.
"""

from __future__ import annotations

from pathlib import Path as FsPath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from orchestrator.core.yamlsource import ParseFailed, Path, Problem, dotted, line_of, parse, plain
from orchestrator.errors import RuleError

Enforcement = Literal["mandatory", "advisory"]

#: The measures a unit's limits and an environment's totals share (fields of ``sizing.Totals``).
MEASURES: tuple[str, ...] = (
    "vcpu", "ram_gb", "volume_gb", "object_gb", "servers", "database_instances", "public_ips",
)


class Strict(BaseModel):
    """Base: unknown keys refused, immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Limits(Strict):
    """A unit's ceiling, summed over all its applications and environments."""

    vcpu: int = Field(ge=0)
    ram_gb: int = Field(ge=0)
    volume_gb: int = Field(ge=0)
    object_gb: int = Field(ge=0)
    servers: int = Field(ge=0)
    database_instances: int = Field(ge=0)
    public_ips: int = Field(ge=0)


class PartialLimits(Strict):
    """A unit's entry: only the measures that differ from the default."""

    vcpu: int | None = Field(default=None, ge=0)
    ram_gb: int | None = Field(default=None, ge=0)
    volume_gb: int | None = Field(default=None, ge=0)
    object_gb: int | None = Field(default=None, ge=0)
    servers: int | None = Field(default=None, ge=0)
    database_instances: int | None = Field(default=None, ge=0)
    public_ips: int | None = Field(default=None, ge=0)


class UnitLimits(Strict):
    default: Limits
    units: dict[str, PartialLimits] = {}

    def of(self, unit: str) -> Limits:
        """The unit's limits: its entry over the default."""
        entry = self.units.get(unit)
        if entry is None:
            return self.default
        return self.default.model_copy(update=entry.model_dump(exclude_none=True))


class Capacity(Strict):
    """Art. 31: warn and start expansion when use reaches this share of capacity."""

    threshold: float = Field(default=0.70, gt=0, le=1)


class RuleEntry(Strict):
    """One rule switched on: its enforcement and its parameters (validated by the rule)."""

    enforcement: Enforcement = "mandatory"
    params: dict[str, Any] = {}


class PolicyDocument(Strict):
    """The file as written."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    api_version: Literal["govcloud/v1"] = Field(alias="apiVersion")
    kind: Literal["QuotaPolicy"]
    capacity: Capacity = Capacity()
    limits: UnitLimits
    rules: dict[str, RuleEntry] = Field(min_length=1)


class ActiveRule(Strict):
    """A registered rule with its enforcement and its validated params."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    name: str
    enforcement: Enforcement
    params: Any


class Policy(Strict):
    """A valid policy: limits, capacity threshold and the active rules in file order."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    source: str
    capacity: Capacity
    limits: UnitLimits
    rules: tuple[ActiveRule, ...]

    def rule(self, name: str) -> ActiveRule | None:
        return next((r for r in self.rules if r.name == name), None)


class PolicyInvalid(RuleError):
    """The quota policy file failed validation; ``problems`` holds every problem found."""

    exit_code = 2

    def __init__(self, path: str, problems: list[Problem]) -> None:
        details = "; ".join(f"{path}:{p}" for p in problems)
        super().__init__(f"invalid quota policy: {details}", rule="policy-valid")
        self.path = path
        self.problems = problems


def load_policy(path: str | FsPath) -> Policy:
    """The valid policy in ``path``; raises :class:`PolicyInvalid` naming every problem."""
    from orchestrator import files

    path = FsPath(path)
    try:
        raw = files.read_bytes(path, what="quota policy")
    except files.FileRefused as refused:
        raise PolicyInvalid(str(path), [Problem(None, "", refused.rule, refused.reason)]) from None
    return parse_policy(raw, str(path))


def parse_policy(raw: bytes, source: str) -> Policy:
    """Parse and validate policy text; raises :class:`PolicyInvalid` naming every problem."""
    from orchestrator.core.quota.rules import RULES  # the registry validates each rule's params

    try:
        root = parse(raw)
        data = plain(root)
    except ParseFailed as failed:
        raise PolicyInvalid(source, [failed.problem]) from None
    problems: list[Problem] = []

    def add(path: Path, rule: str, message: str) -> None:
        problems.append(Problem(line_of(root, path), dotted(path), rule, message))

    document = _validate(PolicyDocument, data, (), add)
    active: list[ActiveRule] = []
    entries = data.get("rules") if isinstance(data.get("rules"), dict) else {}
    for name, entry in entries.items():
        where: Path = ("rules", name)
        if name not in RULES:
            add(where, "rule-registered", f"unknown rule {name!r}; registered: {', '.join(sorted(RULES))}")
            continue
        params_data = entry.get("params", {}) if isinstance(entry, dict) else {}
        params = _validate(RULES[name].Params, params_data or {}, where + ("params",), add)
        if document is not None and params is not None:
            active.append(ActiveRule(name=name, enforcement=document.rules[name].enforcement, params=params))
    if problems or document is None:
        raise PolicyInvalid(source, sorted(problems, key=lambda p: (p.line or 0, p.field)))
    return Policy(source=source, capacity=document.capacity, limits=document.limits, rules=tuple(active))


def _validate(model: type[BaseModel], data: Any, prefix: Path, add) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            loc = prefix + tuple(p for p in error["loc"] if not (isinstance(p, str) and "[" in p))
            message = "unknown field" if error["type"] == "extra_forbidden" else error["msg"]
            add(loc, f"schema.{error['type']}", message)
        return None
