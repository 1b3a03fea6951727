"""Reading the quota policy file into a :class:`~orchestrator.core.quota.policy.Policy`.

Unknown keys are refused everywhere, including inside each rule's ``params`` (checked against the
registered rule's own params model). Every problem names the file, the field path and the line,
like manifest validation.
"""

from __future__ import annotations

from pathlib import Path as FsPath

from orchestrator.core.quota import rules as _rules  # noqa: F401  (each rule registers itself on import)
from orchestrator.core.quota.policy import ActiveRule, Policy, PolicyDocument
from orchestrator.core.quota.registry import RULES
from orchestrator.core.yamlsource import ParseFailed, Path, Problem, dotted, line_of, parse, plain, schema_problems
from orchestrator.errors import ConfigInvalid


class PolicyInvalid(ConfigInvalid):
    """The quota policy file failed validation (exit 2); ``problems`` holds every problem found."""

    what = "quota policy"


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
    try:
        root = parse(raw)
        data = plain(root)
    except ParseFailed as failed:
        raise PolicyInvalid(source, [failed.problem]) from None
    document, problems = schema_problems(PolicyDocument, data, root)

    def add(path: Path, rule: str, message: str) -> None:
        problems.append(Problem(line_of(root, path), dotted(path), rule, message))

    active: list[ActiveRule] = []
    entries = data.get("rules") if isinstance(data.get("rules"), dict) else {}
    for name, entry in entries.items():
        where: Path = ("rules", name)
        if name not in RULES:
            add(where, "rule-registered", f"unknown rule {name!r}; registered: {', '.join(sorted(RULES))}")
            continue
        params_data = entry.get("params", {}) if isinstance(entry, dict) else {}
        params, found = schema_problems(RULES[name].Params, params_data or {}, root, where + ("params",))
        problems.extend(found)
        if document is not None and params is not None:
            active.append(ActiveRule(name=name, enforcement=document.rules[name].enforcement, params=params))
    if problems or document is None:
        raise PolicyInvalid(source, sorted(problems, key=lambda p: (p.line or 0, p.field)))
    return Policy(
        source=source,
        capacity=document.capacity,
        limits=document.limits,
        rules=tuple(active),
        headroom=document.headroom,
        quorum=document.quorum,
        backups=document.backups,
        drift_ignore=tuple(i.rule() for i in document.drift.ignore),
    )
