"""Manifests, mutated from the examples, through ``validate``, ``digest`` and ``quota check``:
a clean refusal naming the file and the field, or a correct answer; never a traceback or a hang."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from orchestrator.core.yamlsource import dotted, load
from tests.campaign.conftest import examples
from tests.campaign.hostile import answer, dump, mutated, run, text_damage, workdir
from tests.conftest import EXAMPLES

SOURCES = {p.name: p.read_bytes() for p in sorted(EXAMPLES.glob("*.yaml"))}
DOCUMENTS = {name: load(raw) for name, raw in SOURCES.items()}
WORKDIR = workdir()


def written(raw: bytes) -> Path:
    path = WORKDIR / "manifest.yaml"
    path.write_bytes(raw)
    return path


def check_validate(path: Path) -> dict:
    """``validate`` answers 0 (with a digest ``digest`` repeats) or 1 (naming the file and a rule)."""
    result = answer(run("validate", str(path), "-o", "json"), allowed=(0, 1))
    [report] = json.loads(result.stdout)["files"]
    assert report["path"] == str(path) and report["valid"] == (result.exit_code == 0)
    if report["valid"]:
        digest = answer(run("digest", str(path)), allowed=(0,))
        assert digest.stdout.strip() == report["digest"]
    else:
        assert report["errors"] and all(e["rule"] and e["message"] for e in report["errors"])
        assert answer(run("digest", str(path)), allowed=(1,)).stderr.startswith(f"error: {path}: invalid manifest")
    return report


@examples(60)
@given(st.sampled_from(sorted(DOCUMENTS)).flatmap(lambda name: mutated(DOCUMENTS[name])))
def test_mutated_manifests_are_refused_cleanly_or_valid(case):
    document, _ = case
    check_validate(written(dump(document)))


@examples(25)
@given(st.sampled_from(sorted(SOURCES)).flatmap(lambda name: text_damage(SOURCES[name])))
def test_damaged_text_is_refused_cleanly_or_valid(raw):
    check_validate(written(raw))


@examples(20)
@given(st.sampled_from(sorted(DOCUMENTS)).flatmap(lambda name: mutated(DOCUMENTS[name], safe_keys=True)))
def test_an_unknown_key_anywhere_is_refused_by_name(case):
    document, done = case
    added = [path for kind, path in done if kind == "unknown-key"]
    report = check_validate(written(dump(document)))
    if added and not any(kind in ("delete", "replace", "nest") for kind, _ in done):
        assert not report["valid"]
        assert {dotted(path) for path in added} <= {e["field"] for e in report["errors"]}


@examples(20)
@given(st.sampled_from(sorted(DOCUMENTS)).flatmap(lambda name: mutated(DOCUMENTS[name])))
def test_quota_check_of_a_mutated_manifest_is_clean(case):
    document, _ = case
    path = written(dump(document))
    result = answer(run("quota", "check", str(path), "-o", "json"), allowed=(0, 1))
    if result.stdout.strip():
        json.loads(result.stdout)
    else:
        assert str(path) in result.stderr
