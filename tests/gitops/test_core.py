"""The pure parts: the resource difference, which paths count, the order of application."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.core import gitops
from orchestrator.core.gitops import SHARED, apply_chains, is_manifest, shared_hits
from orchestrator.core.plandiff import ChangedResource, PropertyChange, diff_resources, substantive

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class R:
    type: str
    name: str
    properties: dict[str, Any] = field(default_factory=dict)


def test_diff_matches_by_type_and_name_and_lists_leaf_properties():
    before = [
        R("vm", "a", {"flavor": "g.1c2g", "metadata": {"env": "test", "old": 1}, "tags": ["x"]}),
        R("vm", "gone"),
        R("net", "n", {"cidr": "10.0.0.0/24"}),
        R("vol", "same-name"),
    ]
    after = [
        R("vm", "a", {"flavor": "g.2c4g", "metadata": {"env": "test", "new": 2}, "tags": ["x", "y"]}),
        R("net", "n", {"cidr": "10.0.0.0/24"}),
        R("vm", "new"),
        R("disk", "same-name"),
    ]
    diff = diff_resources(before, after)
    assert [(r.type, r.name) for r in diff.added] == [("vm", "new"), ("disk", "same-name")]
    assert [(r.type, r.name) for r in diff.removed] == [("vm", "gone"), ("vol", "same-name")]
    (changed,) = diff.changed
    assert changed.properties == (
        PropertyChange("flavor", "g.1c2g", "g.2c4g"),
        PropertyChange("metadata.new", None, 2),
        PropertyChange("metadata.old", 1, None),
        PropertyChange("tags", ["x"], ["x", "y"]),
    )
    assert diff.counts() == {"added": 2, "changed": 1, "removed": 2, "unchanged": 1}
    assert diff_resources(after, after).empty and not diff.empty


def test_substantive_leaves_out_what_only_the_new_digest_changed():
    changed = ChangedResource(
        "vm",
        "a",
        (
            PropertyChange("tags", ["govcloud:digest=sha256:old"], ["govcloud:digest=sha256:new"]),
            PropertyChange("userData", "digest=sha256:old\nx", "digest=sha256:new\ny"),
        ),
    )
    assert [p.path for p in substantive(changed, "sha256:old", "sha256:new")] == ["userData"]
    assert len(substantive(changed, "", "sha256:new")) == 2  # an added stack has no old digest


def test_manifest_paths_are_yaml_files_under_a_manifest_directory():
    assert is_manifest("manifests/rsj/social-security.yaml")
    assert is_manifest("examples/manifests/citizen-portal.yml")
    assert not is_manifest("examples/invalid/unknown-field.yaml")
    assert not is_manifest("manifests/README.md")
    assert not is_manifest("manifests-old/a.yaml")
    assert is_manifest("city/apps/a.yaml", dirs=["city/apps/"])


def test_shared_files_and_what_they_affect():
    hits = shared_hits(
        [
            "docs/gitops.md",
            "quotas/policy.yaml",
            "stacks/components/compute.py",
            "templates/cloud-init/base.yaml.j2",
            "templates/gitops/merge-request.md.j2",
        ]
    )
    assert [(p, s.affects) for p, s in hits] == [
        ("quotas/policy.yaml", "policy"),
        ("stacks/components/compute.py", "program"),
        ("templates/cloud-init/base.yaml.j2", "program"),
    ]


def test_every_shared_pattern_is_documented():
    doc = (ROOT / "docs" / "gitops.md").read_text(encoding="utf-8")
    for shared in SHARED:
        assert f"| `{shared.pattern}` | {shared.affects} | {shared.reason} |" in doc, shared


def test_apply_chains_run_test_then_trial_then_production_per_application():
    stacks = [("b", "production"), ("a", "trial"), ("b", "test"), ("a", "test"), ("b", "trial")]
    chains = apply_chains(stacks, app_of=lambda s: s[0], env_of=lambda s: s[1])
    assert chains == [[("a", "test"), ("a", "trial")], [("b", "test"), ("b", "trial"), ("b", "production")]]


def test_the_program_fingerprint_covers_the_program_files_and_nothing_else(tmp_path):
    from orchestrator.adapters.programfiles import program_fingerprint

    files = {
        "stacks/program.py": "DEPLOY = 1\n",
        "templates/cloud-init/user-data.yaml.j2": "#cloud-config\n",
        "Pulumi.yaml": "name: govcloud\n",
        "stacks/__pycache__/program.cpython-311.pyc": "bytecode",
        "quotas/policy.yaml": "limits: {}\n",
        "docs/readme.md": "words\n",
    }
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    program = {p: t.encode() for p, t in files.items() if gitops.is_program(p)}
    assert sorted(program) == ["Pulumi.yaml", "stacks/program.py", "templates/cloud-init/user-data.yaml.j2"]
    first = program_fingerprint(tmp_path)
    assert first == gitops.program_fingerprint(program) and first.startswith("sha256:")
    (tmp_path / "docs/readme.md").write_text("other words\n")
    (tmp_path / "quotas/policy.yaml").write_text("limits: {zjj: {}}\n")
    assert program_fingerprint(tmp_path) == first  # neither is the program
    (tmp_path / "stacks/program.py").write_text("DEPLOY = 2\n")
    assert program_fingerprint(tmp_path) != first
