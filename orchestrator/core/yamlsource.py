"""Reading YAML with line numbers, and the canonical form behind a manifest's digest.

Every parse failure becomes a :class:`Problem`, never an exception: empty files, tabs, duplicate
keys, binary junk and oversized files are all answered with the line where YAML gave up.

ruamel.yaml (YAML 1.2, line numbers, duplicate-key errors) is the reference reader. :func:`load`
reads the plain data of the common, valid document through libyaml's C parser instead (a tenth
of the time: parsing was a third of a plan's CPU) and hands every document it is not sure about
to ruamel: see :func:`_fast_load`.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, ClassVar

from orchestrator.files import MAX_BYTES

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
    """``("spec", "servers", 0, "flavor")`` -> ``spec.servers[0].flavor``. A key that is not
    shaped like a field name is not echoed (it may be a line of some other file): it shows as
    ``<key of N characters>``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        name = str(part) if FIELD_NAME.fullmatch(str(part)) else f"<key of {len(str(part))} characters>"
        out += f".{name}" if out else name
    return out


#: What :func:`dotted` echoes of a key: a field name (as manifests, policies and settings use),
#: or a number (the years of the calendar file).
FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}|[0-9]{1,12}")


def parse(raw: bytes) -> Any:
    """Parse one YAML document into ruamel's round-trip nodes (which keep line numbers)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError

    text = _text(raw)
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        data = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        reason = " ".join(str(exc.problem or exc.context or "invalid YAML").split())[:200]
        rule = "duplicate-key" if "duplicate" in type(exc).__name__.lower() else "yaml-syntax"
        if rule == "duplicate-key":  # ruamel's text quotes both values: name the key only
            key = re.match(r'found duplicate key "(.*?)" with value', reason)
            reason = f"duplicate key {dotted((key.group(1),))}" if key else "duplicate key"
        raise ParseFailed(Problem(line, "", rule, reason)) from exc
    except Exception as exc:  # ruamel raises assorted errors on junk; all mean "not YAML"
        # its text may quote the file: only the kind of error is echoed
        raise ParseFailed(Problem(None, "", "yaml-syntax", f"not valid YAML ({type(exc).__name__})")) from exc
    if data is None:
        raise ParseFailed(Problem(1, "", "yaml-document", "file is empty; expected a mapping"))
    if not isinstance(data, dict):
        raise ParseFailed(Problem(1, "", "yaml-document", f"expected a mapping at the top, found a {_kind(data)}"))
    return data


def load(raw: bytes) -> Any:
    """The plain data of one YAML document (:func:`plain` of :func:`parse`, usually faster)."""
    text = _text(raw)
    try:
        data = _fast_load(text)
    except Exception:  # noqa: BLE001  (anything the fast reader refuses, ruamel decides)
        data = None
    return plain(data) if isinstance(data, dict) else plain(parse(raw))


def _text(raw: bytes) -> str:
    if len(raw) > MAX_BYTES:
        raise ParseFailed(
            Problem(None, "", "file-size", f"file is {len(raw)} bytes; a manifest is at most {MAX_BYTES}")
        )
    if b"\x00" in raw:
        raise ParseFailed(Problem(None, "", "yaml-syntax", "file is binary (contains NUL bytes)"))
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ParseFailed(Problem(line, "", "yaml-syntax", "file is not UTF-8 text")) from exc


def plain(node: Any) -> Any:
    """Round-trip nodes -> plain dict/list/scalars (keys as strings); refuses alias bombs, keys
    that differ only in type, and strings that are not Unicode text (a ``\\uD800`` escape makes
    a lone surrogate, which nothing can store)."""
    count = 0

    def text(node: Any) -> str:
        value = str(node)
        if not value.isascii():
            try:
                value.encode()
            except UnicodeEncodeError as exc:
                raise ParseFailed(
                    Problem(
                        None,
                        "",
                        "yaml-syntax",
                        "a string holds a lone surrogate "
                        f"(U+{ord(value[exc.start]):04X}, from a \\u escape): not Unicode text",
                    )
                ) from None
        return value

    def walk(value: Any) -> Any:
        nonlocal count
        count += 1
        if count > MAX_NODES:
            raise ParseFailed(Problem(None, "", "file-size", f"document has more than {MAX_NODES} nodes"))
        if isinstance(value, dict):
            out = {text(k): walk(v) for k, v in value.items()}
            if len(out) != len(value):  # 2027 and "2027", true and "True": one key, read twice
                raise ParseFailed(
                    Problem(
                        _own_line(value),
                        "",
                        "duplicate-key",
                        "two keys of one mapping are the same text (e.g. 2027 and '2027')",
                    )
                )
            return out
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
        return text(value)

    return walk(node)


def schema_problems(model: Any, data: Any, root: Any, prefix: Path = ()) -> tuple[Any, list[Problem]]:
    """Validate ``data`` with the Pydantic ``model``: the instance, or None and one problem per error,
    each with its line in ``root`` (the parsed document), its field path and ``schema.<error type>``."""
    from pydantic import ValidationError

    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            loc = prefix + tuple(p for p in error["loc"] if not is_validator_tag(p))
            message = _MESSAGES.get(error["type"], error["msg"].removeprefix("Value error, "))
            if isinstance(error.get("input"), (str, int, float)) and error["type"] != "extra_forbidden":
                message += f", got {_short(error['input'])}"
            problems.append(Problem(line_of(root, loc), dotted(loc), f"schema.{error['type']}", bounded(message)))
        return None, problems


_MESSAGES = {"extra_forbidden": "unknown field", "model_type": "expected a mapping", "dict_type": "expected a mapping"}


def bounded(message: str, limit: int = 300) -> str:
    """A message as printed: control characters escaped, at most ``limit`` characters (a
    validator's message may quote the value it refused)."""
    if not message.isprintable():
        message = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in message)
    return message if len(message) <= limit else message[: limit - 1] + "…"


def _short(value: str | int | float) -> str:
    """A bounded, escaped rendering of a refused value (control and bidi characters as escapes)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def is_validator_tag(part: Any) -> bool:
    """Pydantic's own steps in an error location (``function-after[...]``, ``list[int]``), not fields."""
    return isinstance(part, str) and ("[" in part or part.startswith("function-"))


def line_of(root: Any, path: Path) -> int | None:
    """Best-effort 1-based line of ``path`` in a round-trip document.

    A path that ends in a key that is missing answers with the line of its nearest parent.
    """
    node, line = root, _own_line(root)
    for part in path:
        try:
            if isinstance(node, dict) and part not in node and isinstance(part, str):
                part = next((k for k in node if str(k) == part), part)  # plain() made the key a string
            if isinstance(node, dict) and part in node:
                line = _positions(node).key(part)[0] + 1
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                line = _positions(node).item(part)[0] + 1
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


def _positions(node: Any) -> Any:
    """ruamel's line and column record of a round-trip node (AttributeError for a plain one)."""
    return node.lc


def _own_line(node: Any) -> int | None:
    lc = getattr(node, "lc", None)
    return lc.line + 1 if lc is not None and lc.line is not None else None


def _kind(value: Any) -> str:
    return "list" if isinstance(value, list) else type(value).__name__


# --- the fast reader -------------------------------------------------------------------------


class _Unsure(Exception):
    """The document uses YAML the fast reader leaves to ruamel."""


@functools.cache
def _fast_loader() -> type | None:
    """A libyaml loader that reads as ruamel does, or None without libyaml.

    Plain scalars get the tag ruamel's own YAML 1.2 resolver gives them; only the common forms
    are constructed here (strings, true/false, null, decimal integers, decimals, dates), and
    anything else (other number notations, timestamps with a time, merge keys, explicit tags,
    duplicate or non-scalar keys, recursive aliases, tabs in plain scalars) raises, so ruamel
    reads the document.
    """
    try:
        from yaml import CSafeLoader, ScalarNode
    except ImportError:
        return None
    from ruamel.yaml.nodes import ScalarNode as RuamelScalar
    from ruamel.yaml.resolver import VersionedResolver

    ruamel = VersionedResolver()

    @functools.lru_cache(maxsize=4096)
    def implicit(value: str) -> str:
        return str(ruamel.resolve(RuamelScalar, value, (True, False)))

    def scalar(loader: Any, node: Any) -> Any:
        value = node.value
        tag = node.tag
        if not node.style and "\t" in value:  # plain: None, or "" from the C parser
            raise _Unsure("tab in a plain scalar")  # libyaml takes it, ruamel refuses it
        if tag == _STR:
            return value
        if tag == _BOOL and value in _BOOLS:
            return _BOOLS[value]
        if tag == _NULL and value in ("", "~", "null", "Null", "NULL"):
            return None
        if tag == _INT and _DECIMAL.fullmatch(value):
            return int(value)
        if tag == _FLOAT and _DECIMAL_POINT.fullmatch(value):
            return float(value)
        if tag == _TIMESTAMP and _DATE.fullmatch(value):
            return dt.date.fromisoformat(value)
        raise _Unsure(tag)

    def sequence(loader: Any, node: Any) -> list[Any]:
        return [loader.construct_object(child, deep=True) for child in node.value]

    def mapping(loader: Any, node: Any) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == _MERGE:
                raise _Unsure("key")
            key = scalar(loader, key_node)
            if key in out:
                raise _Unsure("duplicate key")
            out[key] = loader.construct_object(value_node, deep=True)
        return out

    def unsure(loader: Any, *_: Any) -> Any:
        raise _Unsure("tag")

    class Loader(CSafeLoader):
        yaml_constructors: ClassVar[dict[Any, Any]] = {}

        def resolve(self, kind: Any, value: Any, implicit_: Any) -> str:
            if kind is ScalarNode and implicit_[0]:
                return implicit(value)
            return str(super().resolve(kind, value, implicit_))  # type: ignore[no-untyped-call]  # PyYAML's stub

    for tag in (_STR, _BOOL, _NULL, _INT, _FLOAT, _TIMESTAMP):
        Loader.add_constructor(tag, scalar)
    Loader.add_constructor("tag:yaml.org,2002:seq", sequence)
    Loader.add_constructor("tag:yaml.org,2002:map", mapping)
    Loader.add_constructor(None, unsure)
    return Loader


def _fast_load(text: str) -> Any:
    """The document read by :func:`_fast_loader`; raises when ruamel must read it (also for a
    ``%YAML`` directive, which can change how ruamel resolves scalars)."""
    loader_class = _fast_loader()
    if loader_class is None or text.startswith("%") or "\n%" in text:
        raise _Unsure("reader")
    loader = loader_class(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


_STR, _BOOL, _NULL = "tag:yaml.org,2002:str", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null"
_INT, _FLOAT, _TIMESTAMP = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:timestamp"
_MERGE = "tag:yaml.org,2002:merge"
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_DECIMAL = re.compile(r"[-+]?[0-9]+")
_DECIMAL_POINT = re.compile(r"[-+]?[0-9]+\.[0-9]+")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
