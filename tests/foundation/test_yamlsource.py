"""The fast YAML reader gives exactly what ruamel gives, or leaves the document to ruamel."""

from __future__ import annotations

import random

import pytest

from orchestrator.core import yamlsource
from orchestrator.core.yamlsource import ParseFailed, load, parse, plain
from tests.conftest import EXAMPLES, INVALID

#: Documents whose every scalar the fast reader constructs itself.
COMMON = [
    "a: 1\nb: -2\nc: +3\nd: 017\ne: 1.50\nf: -0.5\ng: true\nh: False\ni: ~\nj:\nk: null\n",
    "date: 2026-10-12\nquoted: '2026-10-12'\nport: '22'\nversion: \"15\"\n",
    "yes: no\non: off\ny: n\nwhen: 1:20\nname: 生成的应用\n",
    "list: [a, 'b', 3, 4.0]\nnested: {x: [1, {y: z}]}\n80: http\n1.5: key\ntrue: k\n~: nothing\n",
    "text: |\n  line one\n  line two\nfolded: >\n  one\n  two\n\nkeep: |+\n  x\n\n",
    "base: &b {cpu: 2}\nuse: *b\nlist: &l [1, 2]\nagain: *l\n",
    "\ufeffbom: first\n",
    "explicit: !!str 12\nint: !!int '12'\n",
]

#: Documents the fast reader hands to ruamel (other notations, tags, merges, directives).
LEFT_TO_RUAMEL = [
    "hex: 0x1F\noct: 0o17\nbin: 0b101\nunder: 1_000\n",
    "exp: 1e3\ninf: .inf\nnan: .nan\ndot: 1.\n",
    "at: 2026-10-12T10:00:00Z\nbad-date: 2026-13-45\n",
    "base: &b {cpu: 2}\nmerged:\n  <<: *b\n  ram: 4\n",
    "%YAML 1.1\n---\nflag: yes\n",
    "set: !!set {a, b}\ncustom: !thing x\n",
    "value: =\n",
    "[1, 2]: complex key\n",
    "tab: a\tb\n",
]


def outcome(read, raw: bytes) -> object:
    """What ``read(raw)`` gives: the data, or the problem it was refused with."""
    try:
        return read(raw)
    except ParseFailed as failed:
        return failed.problem


def reference(raw: bytes) -> object:
    return plain(parse(raw))


@pytest.mark.parametrize("text", COMMON + LEFT_TO_RUAMEL)
def test_load_reads_what_ruamel_reads(text):
    raw = text.encode()
    assert outcome(load, raw) == outcome(reference, raw)


@pytest.mark.parametrize("text", COMMON)
def test_common_documents_are_read_without_ruamel(text):
    assert isinstance(yamlsource._fast_load(text.lstrip("\ufeff")), dict)


@pytest.mark.parametrize("text", LEFT_TO_RUAMEL)
def test_other_documents_are_left_to_ruamel(text):
    with pytest.raises(Exception):  # noqa: B017  (any refusal sends the document to ruamel)
        yamlsource._fast_load(text)


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_examples_are_read_fast_and_the_same(path):
    raw = path.read_bytes()
    assert isinstance(yamlsource._fast_load(raw.decode()), dict)
    assert load(raw) == plain(parse(raw))


@pytest.mark.parametrize("path", sorted(INVALID.glob("*.yaml")), ids=lambda p: p.name)
def test_invalid_examples_read_the_same_or_fail_the_same(path):
    raw = path.read_bytes()
    assert outcome(load, raw) == outcome(reference, raw)


@pytest.mark.parametrize("text", ["a: 1\na: 2\n", "a: [1, 2\n", "- a\n- b\n", "", "a:\n\t- b\n", "a: &x [1]\nb: *y\n"])
def test_refusals_are_ruamels(text):
    raw = text.encode()
    assert isinstance(outcome(reference, raw), yamlsource.Problem)
    assert outcome(load, raw) == outcome(reference, raw)


def test_alias_bomb_is_refused_by_the_fast_reader_too():
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 7)]
    raw = ("\n".join(levels) + "\n").encode()
    assert isinstance(yamlsource._fast_load(raw.decode()), dict)  # shared, not expanded
    with pytest.raises(ParseFailed) as caught:
        load(raw)
    assert caught.value.problem.rule == "file-size"


#: Scalars and fragments that YAML readers tend to disagree on.
TRICKY = [
    "a",
    "1",
    "-1",
    "+1",
    "01",
    "0x1",
    "0o7",
    "1.5",
    "1.",
    ".5",
    "1e3",
    "true",
    "True",
    "yes",
    "no",
    "on",
    "~",
    "null",
    "",
    "2026-01-02",
    "2026-13-02",
    "12:30",
    "a b",
    "a:b",
    "a #c",
    "'q'",
    '"d"',
    '"e\\tf"',
    "a\tb",
    "-",
    "[1, 2]",
    "{k: v}",
    "&x v",
    "*x",
    "!!str 5",
    "<<",
    "=",
    ".inf",
    "1_000",
    "0b11",
    "@x",
    "%x",
    "a,b",
    "? q",
    "|",
    ">",
    "'it''s'",
    '"\\u00e9"',
    "-0",
    "1.0",
    "-2.5e-3",
]
KEYS = ["k", "1", "true", "~", "a b", "'q'", "2026-01-02", "<<", "x", "k"]


def _random_document(rng: random.Random) -> str:
    def node(depth: int) -> str:
        kind = rng.random()
        if depth > 2 or kind < 0.5:
            return " " + rng.choice(TRICKY)
        if kind < 0.6:
            return " [" + ", ".join(rng.choice(TRICKY) for _ in range(rng.randint(0, 3))) + "]"
        if kind < 0.7:
            return " {" + ", ".join(f"{rng.choice(KEYS)}: {rng.choice(TRICKY)}" for _ in range(rng.randint(0, 3))) + "}"
        indent = "  " * (depth + 1)
        if kind < 0.85:
            return "".join(f"\n{indent}-{node(depth + 1)}" for _ in range(rng.randint(1, 3)))
        return "".join(f"\n{indent}{rng.choice(KEYS)}:{node(depth + 1)}" for _ in range(rng.randint(1, 3)))

    return "".join(f"{rng.choice(KEYS)}{i}:{node(0)}\n" for i in range(rng.randint(1, 4)))


def _read_fast(raw: bytes) -> bool:
    try:
        return isinstance(yamlsource._fast_load(raw.decode()), dict)
    except Exception:  # noqa: BLE001  (any refusal: ruamel's turn)
        return False


@pytest.mark.filterwarnings("ignore::ruamel.yaml.error.ReusedAnchorWarning")
def test_random_documents_read_the_same_either_way():
    rng = random.Random(20261125)
    documents = [_random_document(rng).encode() for _ in range(600)]
    fast = sum(1 for d in documents if _read_fast(d))
    assert fast > 60, "the fast reader should take a good share of them"
    assert [outcome(load, d) for d in documents] == [outcome(reference, d) for d in documents]
