"""The ledger reads JSON with orjson, answering exactly as json.loads does, errors included."""

from __future__ import annotations

import json

import pytest

from orchestrator.adapters.ledgerbase import loads

SAME = [
    '{"a": 1, "b": [1.5, -0.0, 1e-7, 12345678901234567890123], "c": null, "a": 2}',  # big int, duplicate key
    b"[12345678901234567890123, 0.30000000000000004, 1.2345678901234567890123]",  # bytes, as psycopg gives
    '{"text": "\\u5e02\\u7535\\u5b50\\u653f\\u52a1\\u529e \\ud83d\\ude00", "nested": {"x": [[], {}]}}',
    '["\\ud800 lone"]',
    '{"digest": "00112233445566778899aa", "n": 123}',
    "NaN",
    "[Infinity, -Infinity]",
    '"plain"',
    "0.1",
    "17",
    b'{"bytes": true}',
]


@pytest.mark.parametrize("text", SAME)
def test_loads_answers_as_json_loads(text):
    ours, theirs = loads(text), json.loads(text)
    assert repr(ours) == repr(theirs)  # repr: NaN != NaN, and -0.0 == 0.0


@pytest.mark.parametrize("text", ["", "{", '{"a": 1,}', "[1] x", "{'a': 1}"])
def test_loads_refuses_as_json_loads(text):
    with pytest.raises(json.JSONDecodeError) as ours:
        loads(text)
    with pytest.raises(json.JSONDecodeError) as theirs:
        json.loads(text)
    assert str(ours.value) == str(theirs.value)
