"""What the campaign feeds govcloud (hostile values, mutations of real documents) and how it
judges an answer (:func:`answer`)."""

from __future__ import annotations

import atexit
import copy
import io
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from hypothesis import strategies as st

from tests.campaign.conftest import bounded

#: Strings a careless or hostile user types: line breaks, NUL, terminal escapes, bidi overrides,
#: template and path syntax, YAML look-alikes, huge and odd Unicode.
NASTY = [
    "",
    " ",
    "a\nb",
    "line\r\nforged #2 accepted by root",
    "\x00",
    "nul\x00inside",
    "\x1b[2J\x1b[31mred",
    "\x1b]0;title\x07",
    "\u202eevil\u202c",
    "\u2066iso\u2069",
    "\ufeffbom",
    "zero\u200bwidth",
    "tab\there",
    "{{ 7*7 }}",
    "${HOME}",
    "$(id)",
    "`id`",
    "../../etc/passwd",
    "/etc/shadow",
    "C:\\Windows",
    "%s%n%x",
    "null",
    "~",
    "yes",
    "no",
    "true",
    "0x1F",
    "1e999",
    "-0",
    ".nan",
    "&anchor",
    "*alias",
    "!!python/object",
    "- item",
    "key: value",
    "# comment",
    "'quoted'",
    '"double"',
    "\\",
    "é" * 40,
    "中文名称",
    "👩‍💻" * 10,
    "a" * 5000,
    "x" * 300,
    "\n" * 50,
]
hostile_text = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=12),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, -1, 1, 2**31, 2**63, -(2**63)]),
    st.floats(allow_nan=True, allow_infinity=True),
    hostile_text,
)


def deep(levels: int) -> Any:
    value: Any = "bottom"
    for level in range(levels):
        value = [value] if level % 2 else {"k": value}
    return value


values = st.one_of(
    scalars,
    st.lists(scalars, max_size=4),
    st.dictionaries(hostile_text, scalars, max_size=3),
    st.integers(20, 120).map(deep),
)


def nodes(data: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    """Every (path, value) of a plain document, the root included."""
    yield path, data
    if isinstance(data, dict):
        for key, value in data.items():
            yield from nodes(value, path + (key,))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from nodes(value, path + (index,))


def _set(doc: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = value
    return doc


@st.composite
def mutated(draw, document: Any, *, safe_keys: bool = False) -> tuple[Any, list[tuple[str, tuple]]]:
    """``document`` after one to three mutations; also returns what was done: ("replace" | "delete"
    | "unknown-key" | "nest", path). With ``safe_keys`` an added key is a plain word."""
    doc = copy.deepcopy(document)
    done: list[tuple[str, tuple]] = []
    for _ in range(draw(st.integers(1, 3))):
        path, value = draw(st.sampled_from(list(nodes(doc))))
        kind = draw(st.sampled_from(["replace", "delete", "unknown-key", "nest"]))
        if kind == "unknown-key" and isinstance(value, dict):
            key = draw(st.sampled_from(["surplus", "extra", "x-debug"]) if safe_keys else hostile_text)
            if key in value:
                continue
            value[key] = draw(values)
            done.append((kind, path + (key,)))
        elif kind == "delete" and path:
            parent = doc
            for part in path[:-1]:
                parent = parent[part]
            del parent[path[-1]]
            done.append((kind, path))
        elif kind == "nest":
            doc = _set(doc, path, deep(draw(st.integers(2, 60))))
            done.append((kind, path))
        else:
            doc = _set(doc, path, draw(values))
            done.append(("replace", path))
    return doc, done


def dump(data: Any) -> bytes:
    """YAML text of ``data`` (ruamel: NUL and escapes as double-quoted escapes, nan as .nan)."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.width = 4096
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue().encode("utf-8", "surrogatepass")


@st.composite
def text_damage(draw, raw: bytes) -> bytes:
    """``raw`` with bytes of text damage: a line replaced, the file cut, a tab, or junk bytes."""
    lines = raw.split(b"\n")
    at = draw(st.integers(0, max(0, len(lines) - 1)))
    kind = draw(st.sampled_from(["line", "cut", "tab", "junk"]))
    if kind == "line":
        lines[at] = draw(hostile_text).encode("utf-8", "surrogatepass")
    elif kind == "cut":
        return raw[: draw(st.integers(0, len(raw)))]
    elif kind == "tab":
        lines[at] = b"\t" + lines[at]
    else:
        lines[at] = draw(st.binary(min_size=1, max_size=16))
    return b"\n".join(lines)


def workdir() -> Path:
    """A temporary directory for a module's files, removed when the test process ends (Hypothesis
    runs many examples per test; a pytest ``tmp_path`` would be one for all of them anyway)."""
    path = Path(tempfile.mkdtemp(prefix="govcloud-campaign-"))
    atexit.register(shutil.rmtree, path, True)
    return path


_runner = CliRunner()


def run(*args: str, env: dict[str, str] | None = None, seconds: float = 20) -> Result:
    """``govcloud ARGS`` in-process, bounded in time; exceptions are kept in the result (not raised)."""
    from orchestrator.cli import cli, register_commands

    register_commands()
    with bounded(seconds):
        return _runner.invoke(cli, list(args), env=env, catch_exceptions=True)


def answer(result: Result, allowed: tuple[int, ...] = (0, 1, 2)) -> Result:
    """A clean answer: no exception escaped (no traceback), an exit code in ``allowed``, and a
    refusal says something on stderr or, for ``validate``, on stdout."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback

        trace = "".join(traceback.format_exception(result.exception))
        raise AssertionError(f"traceback (exit {result.exit_code}):\n{trace}\noutput:\n{result.output[-2000:]}")
    assert result.exit_code in allowed, f"exit {result.exit_code}:\n{result.output[-2000:]}"
    assert "Traceback" not in result.output
    if result.exit_code:
        assert (result.stderr or result.stdout).strip(), "a refusal without a word"
    return result
