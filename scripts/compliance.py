"""Writes docs/compliance.md: for each article the regulation maps to software, what carries it.

Read from the registries, never written by hand: the CLI's commands (the articles their help
names), the manifest validation rules, the quota rules, the lifecycle transitions and deadline
clocks; and, for each, the tests that name it (a rule's or event's name as a string, a command as
the words that invoke it). ``python scripts/compliance.py`` prints the document, ``--write``
writes it, ``--check`` exits 1 when the file is stale (``tests/foundation/test_compliance.py``
runs the same check and fails when an article loses its last carrier).
"""

from __future__ import annotations

import ast
import re
import sys
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "compliance.md"
#: The articles the regulation maps to software (regulation.md, "what each asks of the software").
ARTICLES = (4, 11, 12, 13, 14, 15, 16, 17, 20, 21, 22, 24, 30, 31, 36, 37, 40, 45, 50)
#: What each article asks, in a few words (from regulation.md).
ASKS = {
    4: "MLPS level 4+ and classified systems stay off the cloud",
    11: "the application carries plan, self-test report and resource needs",
    12: "accept or reject in 3 working days, review in 2",
    13: "test environment in 2 working days; 15 natural days of test",
    14: "trial of at least 30 days; reasonable, on-demand allocation",
    15: "changes reviewed in 5 working days, applied in 3; major changes tested again",
    16: "termination: data backed up, reviewed in 5 working days, reclaimed in 3",
    17: "next year's projects declared June 1 - August 31",
    20: "every system joins the unified authentication platform",
    21: "tested before going live; the unit adjusts after a failed evaluation",
    22: "data backed up before migrating; old system kept two months",
    24: "each system is connected to data sharing and keeps a resource catalogue",
    30: "data-level backups; a monthly report",
    31: "7x24 operation; warn at 70% of capacity",
    36: "no access to a unit's hosts without authorisation",
    37: "high-risk findings suspend the system; low-risk ones get a deadline",
    40: "MLPS self-classification, third-party test report, filing certificate",
    45: "the yearly assessment per unit",
    50: "resource increments declared each October",
}


@dataclass
class Carrier:
    kind: str  #: command, validation rule, quota rule, transition, deadline
    name: str
    detail: str
    words: tuple[str, ...]  #: what a test writes to name it
    tests: list[str] = field(default_factory=list)


def articles_of(text: str) -> set[int]:
    """``Art. 13-14`` -> {13, 14}; ``Art. 15, 21`` and ``Art. 14, Art. 50`` -> both numbers."""
    found: set[int] = set()
    for match in re.finditer(r"Art\.\s*(\d+(?:\s*-\s*\d+)?(?:\s*,\s*(?:Art\.\s*)?\d+(?:\s*-\s*\d+)?)*)", text):
        for part in re.split(r"\s*,\s*", match.group(1)):
            numbers = [int(n) for n in re.findall(r"\d+", part)]
            found.update(range(numbers[0], numbers[-1] + 1))
    return found


def carriers() -> dict[int, list[Carrier]]:
    sys.path.insert(0, str(ROOT))
    from orchestrator.cli import cli, register_commands
    from orchestrator.core import lifecycle, validation
    from orchestrator.core.quota.registry import RULES

    register_commands()
    found: dict[int, list[Carrier]] = defaultdict(list)

    def add(articles: set[int], carrier: Carrier) -> None:
        for article in sorted(articles & set(ARTICLES)):
            found[article].append(carrier)

    for path, command in _commands(cli):
        text = " ".join(filter(None, [command.help, command.short_help]))
        add(
            articles_of(text),
            Carrier(
                "command",
                f"govcloud {' '.join(path)}",
                (command.short_help or command.help or "").split("\n")[0],
                tuple(path),
            ),
        )
    for rule in validation.RULES.values():
        add(articles_of(rule.article), Carrier("validation rule", rule.name, "", (rule.name,)))
    for name, rule_cls in RULES.items():
        add(articles_of(rule_cls.article), Carrier("quota rule", name, "", (name,)))
    for t in lifecycle.TRANSITIONS:
        env = f" [{t.environment}]" if t.environment else ""
        target = f" -> {t.target}" if t.target else ""
        add(
            articles_of(t.article),
            Carrier("transition", f"{t.event}{env}", f"{', '.join(sorted(t.sources))}{target}: {t.doc}", (t.event,)),
        )
    for rule in lifecycle.DEADLINE_RULES.values():
        limit = "the date its order sets" if rule.name in lifecycle.DATED else f"{rule.days} {rule.count} days"
        add(articles_of(rule.article), Carrier("deadline", rule.name, f"{limit}: {rule.doc}", (rule.name,)))
    _find_tests(found)
    return found


def _commands(group, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], object]]:
    for name, command in sorted(getattr(group, "commands", {}).items()):
        if getattr(command, "hidden", False):
            continue
        if hasattr(command, "commands"):
            yield from _commands(command, (*path, name))
        else:
            yield (*path, name), command


def _find_tests(found: dict[int, list[Carrier]]) -> None:
    """Fill each carrier's tests: test functions that write its name, or its command's words in a row."""
    index: dict[str, list[tuple[str, list[tuple[str, ...]]]]] = {}
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        tree = ast.parse(path.read_bytes())
        relative = path.relative_to(ROOT).as_posix()
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test_"):
                runs = list(_string_runs(node))
                index.setdefault(relative, []).append((node.name, runs))
    for carriers_ in found.values():
        for carrier in carriers_:
            if carrier.tests:
                continue
            for relative, functions in index.items():
                for name, runs in functions:
                    if any(_contains(run, carrier.words) for run in runs):
                        carrier.tests.append(f"{relative}::{name}")


def _string_runs(function: ast.AST) -> Iterator[tuple[str, ...]]:
    """Each call's or list's string arguments as a run, and each string constant alone."""
    for node in ast.walk(function):
        elements = (
            node.args if isinstance(node, ast.Call) else node.elts if isinstance(node, (ast.List, ast.Tuple)) else None
        )
        if elements is not None:
            yield tuple(e.value for e in elements if isinstance(e, ast.Constant) and isinstance(e.value, str))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield (node.value,)


def _contains(run: tuple[str, ...], words: tuple[str, ...]) -> bool:
    return any(run[i : i + len(words)] == words for i in range(len(run) - len(words) + 1))


#: Tests listed per carrier; the rest are counted.
SHOWN = 3


def render() -> str:
    found = carriers()
    lines = [
        "# Compliance: which part of govcloud carries each article",
        "",
        "Generated by `python scripts/compliance.py --write` from the registries (CLI commands and the",
        "articles their help names, validation rules, quota rules, lifecycle transitions, deadline",
        "clocks) and from the tests that name each carrier; `tests/foundation/test_compliance.py` fails",
        "when this file is stale or an article loses its last carrier. Do not edit by hand.",
        "The regulation, article by article: `../shared/docs/regulation.md`.",
        "",
        "| article | asks | carriers |",
        "|---|---|---|",
    ]
    for article in ARTICLES:
        carried = found.get(article, [])
        kinds = defaultdict(int)
        for c in carried:
            kinds[c.kind] += 1
        summary = ", ".join(f"{n} {k}{'s' if n > 1 else ''}" for k, n in kinds.items()) or "**none yet**"
        lines.append(f"| Art. {article} | {ASKS[article]} | {summary} |")
    for article in ARTICLES:
        lines += ["", f"## Art. {article}: {ASKS[article]}", ""]
        carried = found.get(article, [])
        if not carried:
            lines.append("No command, rule, transition or deadline carries this article yet.")
            continue
        lines += ["| carrier | name | what | tests |", "|---|---|---|---|"]
        for c in carried:
            shown = ", ".join(f"`{t}`" for t in c.tests[:SHOWN])
            more = f" and {len(c.tests) - SHOWN} more" if len(c.tests) > SHOWN else ""
            tests = shown + more if c.tests else "**no test names it**"
            detail = c.detail.replace("|", "\\|")
            lines.append(f"| {c.kind} | `{c.name}` | {detail} | {tests} |")
    return "\n".join(lines) + "\n"


def carried_articles(text: str) -> set[int]:
    """The articles a rendered document shows with at least one carrier."""
    return {int(m.group(1)) for m in re.finditer(r"^\| Art\. (\d+) \| [^|]+ \| (?!\*\*none)", text, re.M)}


def main(argv: list[str]) -> int:
    text = render()
    if "--write" in argv:
        DOC.write_text(text, encoding="utf-8")
    elif "--check" in argv:
        if not DOC.is_file() or DOC.read_text(encoding="utf-8") != text:
            print(f"{DOC.relative_to(ROOT)} is stale: run python scripts/compliance.py --write", file=sys.stderr)
            return 1
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
