"""Every example is valid; every invalid example breaks exactly the rule it names."""

from __future__ import annotations

import re

import pytest

from orchestrator.core.validation import RULES, validate_file
from tests.conftest import EXAMPLES, INVALID, ROOT

VALID = sorted(EXAMPLES.glob("*.yaml"))
BROKEN = sorted(INVALID.glob("*.yaml"))


def expected_rule(path) -> str:
    return re.search(r"^# expect: (\S+)", path.read_text(encoding="utf-8"), re.M).group(1)


def test_there_are_at_least_four_examples_of_different_shape():
    assert len(VALID) >= 4
    envs = {tuple(sorted(validate_file(p).application.environments)) for p in VALID}
    assert len(envs) >= 3, "examples should differ in their environments"


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_example_is_valid(path):
    report = validate_file(path)
    assert report.problems == []
    assert report.valid and report.digest.startswith("sha256:")


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.name)
def test_invalid_example_breaks_its_rule(path):
    report = validate_file(path)
    assert not report.valid
    assert {p.rule for p in report.problems} == {expected_rule(path)}
    assert all(p.line for p in report.problems), "every problem names its line"


@pytest.mark.parametrize("name", sorted(RULES))
def test_every_rule_is_documented_and_has_a_failing_example(name):
    registered = RULES[name]
    assert "Example" in registered.doc, f"rule {name} needs an example in its docstring"
    assert name in {expected_rule(p) for p in BROKEN}, f"rule {name} has no example in examples/invalid"


def test_the_complete_example_of_the_manifest_docs_is_valid():
    from orchestrator.core.validation import validate_bytes

    text = (ROOT / "docs" / "manifest.md").read_text(encoding="utf-8")
    example = text.split("## A complete example", 1)[1].split("```yaml\n", 1)[1].split("\n```", 1)[0]
    report = validate_bytes(example.encode(), "docs/manifest.md (A complete example)")
    assert report.valid, [str(p) for p in report.problems]
