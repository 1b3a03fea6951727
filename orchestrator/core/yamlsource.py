"""Reading YAML with line numbers, and the canonical form behind a manifest's digest.

Every parse failure becomes a :class:`Problem`, never an exception: empty files, tabs, duplicate
keys, binary junk and oversized files are all answered with the line where YAML gave up.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

MAX_BYTES = 1024 * 1024
MAX_NODES = 200_000

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a file: where, which rule, why, and the article behind it."""

    line: int | None
    field: str
    rule: str
    message: str
    article: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "field": self.field,
            "rule": self.rule,
            "message": self.message,
            "article": self.article,
        }

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "file"
        field = f" {self.field}:" if self.field else ""
        article = f" [{self.article}]" if self.article else ""
        return f"{where}:{field} {self.message} ({self.rule}){article}"


class ParseFailed(Exception):
    """Internal: the text is not a YAML mapping; carries the problem to report."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def dotted(path: Path) -> str:
    """``("spec", "servers", 0, "flavor")`` -> ``spec.servers[0].flavor``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse(raw: bytes) -> Any:
    """Parse one YAML document into ruamel's round-trip nodes (which keep line numbers)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError

    if len(raw) > MAX_BYTES:
        raise ParseFailed(
            Problem(None, "", "file-size", f"file is {len(raw)} bytes; a manifest is at most {MAX_BYTES}")
        )
    if b"\x00" in raw:
        raise ParseFailed(Problem(None, "", "yaml-syntax", "file is binary (contains NUL bytes)"))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ParseFailed(Problem(line, "", "yaml-syntax", "file is not UTF-8 text")) from exc
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        data = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        reason = " ".join(str(exc.problem or exc.context or "invalid YAML").split())
        rule = "duplicate-key" if "duplicate" in type(exc).__name__.lower() else "yaml-syntax"
        raise ParseFailed(Problem(line, "", rule, reason)) from exc
    except Exception as exc:  # ruamel raises assorted errors on junk; all mean "not YAML"
        raise ParseFailed(Problem(None, "", "yaml-syntax", f"not valid YAML: {exc}")) from exc
    if data is None:
        raise ParseFailed(Problem(1, "", "yaml-document", "file is empty; expected a manifest mapping"))
    if not isinstance(data, dict):
        raise ParseFailed(
            Problem(1, "", "yaml-document", f"expected a mapping at the top, found a {_kind(data)}")
        )
    return data


def plain(node: Any) -> Any:
    """Round-trip nodes -> plain dict/list/scalars; refuses alias bombs."""
    count = 0

    def walk(value: Any) -> Any:
        nonlocal count
        count += 1
        if count > MAX_NODES:
            raise ParseFailed(
                Problem(None, "", "file-size", f"document has more than {MAX_NODES} nodes")
            )
        if isinstance(value, dict):
            return {str(k): walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float):
            return float(value)
        if isinstance(value, (dt.date, dt.datetime)):
            return value.isoformat()
        return str(value)

    return walk(node)


def line_of(root: Any, path: Path) -> int | None:
    """Best-effort 1-based line of ``path`` in a round-trip document.

    A path that ends in a key that is missing answers with the line of its nearest parent.
    """
    node, line = root, _own_line(root)
    for part in path:
        try:
            if isinstance(node, dict) and part in node:
                line = node.lc.key(part)[0] + 1
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                line = node.lc.item(part)[0] + 1
                node = node[part]
            else:
                break
        except (AttributeError, KeyError, IndexError, TypeError):
            break
    return line


def canonical(data: Any) -> str:
    """Key-sorted compact JSON: the same for any key order, comments or whitespace."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest_of(data: Any) -> str:
    return "sha256:" + hashlib.sha256(canonical(data).encode()).hexdigest()


def _own_line(node: Any) -> int | None:
    lc = getattr(node, "lc", None)
    return lc.line + 1 if lc is not None and lc.line is not None else None


def _kind(value: Any) -> str:
    return "list" if isinstance(value, list) else type(value).__name__
