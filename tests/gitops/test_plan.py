"""``gitops plan`` on a real repository with real commits: which stacks a change touches, its
class, its quota result, its approval and the resource difference."""

from __future__ import annotations

import json

import pytest

from orchestrator.core import changes
from orchestrator.core.plandiff import PropertyChange
from orchestrator.services import gitops
from tests.gitops.conftest import GitRepo, example


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """One repository, one commit per kind of change (each commit's id under its name)."""
    from tests.gitops.conftest import ROOT

    r = GitRepo(tmp_path_factory.mktemp("history") / "repo")
    r.write("quotas/policy.yaml", (ROOT / "quotas" / "policy.yaml").read_text(encoding="utf-8"))
    for name in ("citizen-portal", "permit-prototype", "social-security"):
        r.write(f"manifests/{name}.yaml", example(name))
    r.write("examples/invalid/broken.yaml", "kind: Application\n")  # not a manifest directory
    commits = {"initial": r.commit("initial")}
    r.write("manifests/open-data-platform.yaml", example("open-data-platform"))
    commits["add"] = r.commit("add open-data-platform")
    r.edit("manifests/permit-prototype.yaml", "flavor: g.1c2g", "flavor: g.2c4g")
    commits["major"] = r.commit("permit-prototype: bigger server")
    r.edit("manifests/permit-prototype.yaml", "sizeGb: 20", "sizeGb: 24")
    commits["minor"] = r.commit("permit-prototype: bigger uploads volume")
    r.move("manifests/social-security.yaml", "manifests/rsj/social-security.yaml")
    commits["rename"] = r.commit("move social-security under its unit")
    r.remove("manifests/citizen-portal.yaml")
    commits["delete"] = r.commit("citizen-portal leaves the cloud")
    r.edit("quotas/policy.yaml", "{max_gb: 2048}", "{max_gb: 10}")
    commits["policy"] = r.commit("volumes of at most 10 GB")
    r.write(
        "manifests/permit-prototype.yaml",
        r.read("manifests/permit-prototype.yaml").replace("mlpsLevel: 1", "mlpsLevel: 9"),
    )
    r.write("docs/readme.md", "not a manifest\n")
    commits["invalid"] = r.commit("an invalid manifest and a document")
    return r, commits


@pytest.fixture(scope="module")
def planned(history, tmp_path_factory):
    """``plan(base, head)`` between two named commits, each pair planned once."""
    from orchestrator.adapters.ledger import Ledger

    r, commits = history
    ledger = Ledger.open(f"sqlite:///{tmp_path_factory.mktemp('ledger') / 'ledger.db'}")
    cache: dict[tuple[str, str], gitops.Affected] = {}

    def plan(base: str, head: str) -> gitops.Affected:
        if (base, head) not in cache:
            cache[base, head] = gitops.plan(r.path, commits[base], commits[head], ledger=ledger)
        return cache[base, head]

    yield plan
    ledger.close()


def by_app(found: gitops.Affected) -> dict[str, gitops.AppChange]:
    return {a.app: a for a in found.applications}


def test_an_added_manifest_is_a_new_application_with_every_resource_added(planned):
    found = planned("initial", "add")
    assert list(by_app(found)) == ["open-data"]
    app = by_app(found)["open-data"]
    assert (app.change, app.classification["kind"], app.base_path, app.head_path) == (
        "added",
        "new",
        None,
        "manifests/open-data-platform.yaml",
    )
    assert [s.stack for s in app.stacks] == ["sjj.open-data.test", "sjj.open-data.trial"]
    for stack in app.stacks:
        assert stack.change == "added"
        assert stack.resources is not None and stack.resources.removed == () and stack.resources.changed == ()
        assert ("openstack:identity/project:Project", f"sjj-open-data-{stack.env}") in {
            (r.type, r.name) for r in stack.resources.added
        }
        assert stack.quota is not None and stack.quota["ok"] is True
        assert stack.gate == {
            "approved": False,
            "event": None,
            "apply": None,
            "message": "application open-data has no ledger entries: "
            f"submit it and have {stack.env} approved first "
            f"({'Art. 13' if stack.env == 'test' else 'Art. 14'})",
        }


def test_a_bigger_server_is_a_major_change_with_the_flavor_and_quota_changed(planned):
    app = by_app(planned("add", "major"))["permit-prototype"]
    assert (app.change, app.classification["kind"]) == ("modified", "major")
    assert {c["path"]: c["what"] for c in app.classification["changes"]} == {
        "environments.test.resources.servers.app.flavor": "servers.app.flavor g.1c2g -> g.2c4g",
        "environments.test.resources.vcpu": "vcpu 1 -> 2 (+100%)",
        "environments.test.resources.ram_gb": "ram_gb 2 -> 4 (+100%)",
    }
    assert [c["kind"] for c in app.classification["changes"]] == ["minor", "major", "major"]
    (stack,) = app.stacks
    diff = stack.resources
    assert diff is not None and diff.added == () and diff.removed == ()
    changed = {(c.type, c.name): {p.path: (p.before, p.after) for p in c.properties} for c in diff.changed}
    assert changed["openstack:compute/instance:Instance", "permit-prototype-app-1"]["flavorName"] == (
        "g.1c2g",
        "g.2c4g",
    )
    quota = changed["openstack:compute/quotaSetV2:QuotaSetV2", "zjj-permit-prototype-test-compute-quota"]
    assert quota["cores"] == (1, 2) and quota["ram"] == (2048, 4096)


def test_a_slightly_bigger_volume_is_a_minor_change(planned):
    app = by_app(planned("major", "minor"))["permit-prototype"]
    assert (app.change, app.classification["kind"]) == ("modified", "minor")
    assert [(c["what"], c["reason"]) for c in app.classification["changes"]] == [
        ("volumes.uploads.sizeGb 20 -> 24", changes.MINOR),
        ("volume_gb 20 -> 24", "minor: changes by +20%, within the 50% a minor change may grow (Art. 15)"),
    ]
    markdown = gitops.render_markdown(planned("major", "minor"))
    assert (
        "- minor: `environments.test.resources.volumes.uploads.sizeGb`: volumes.uploads.sizeGb 20 -> 24 — "
        "_minor: not the MLPS level"
    ) in markdown
    (stack,) = app.stacks
    changed = {c.name: {p.path: (p.before, p.after) for p in c.properties} for c in stack.resources.changed}
    assert changed["permit-prototype-uploads"]["size"] == (20, 24)


def test_a_rename_is_one_application_with_nothing_to_plan(planned):
    found = planned("minor", "rename")
    app = by_app(found)["social-security"]
    assert (app.change, app.base_path, app.head_path) == (
        "renamed",
        "manifests/social-security.yaml",
        "manifests/rsj/social-security.yaml",
    )
    assert app.classification["kind"] == "none"
    assert [s.change for s in app.stacks] == ["unchanged"] * 3
    assert all(s.resources is None and "resources unchanged" in s.note for s in app.stacks)
    assert all(s.quota is not None and s.quota["ok"] for s in app.stacks)


def test_a_deleted_manifest_is_a_termination_with_every_resource_removed(planned):
    app = by_app(planned("rename", "delete"))["citizen-portal"]
    assert (app.change, app.classification["kind"], app.head_path) == ("deleted", "termination", None)
    assert [(s.stack, s.change) for s in app.stacks] == [
        ("zwb.citizen-portal.test", "removed"),
        ("zwb.citizen-portal.trial", "removed"),
    ]
    for stack in app.stacks:
        assert stack.resources.added == () and stack.resources.changed == ()
        assert len(stack.resources.removed) > 10
        assert stack.quota is None and stack.gate is None


def test_a_policy_change_rechecks_every_stack_without_planning(planned):
    found = planned("delete", "policy")
    assert found.shared == [{"path": "quotas/policy.yaml", "affects": "policy", "reason": "the quota policy"}]
    assert not found.program_changed
    apps = by_app(found)
    assert set(apps) == {"open-data", "permit-prototype", "social-security"}
    assert all(a.change == "shared" for a in apps.values())
    permit = apps["permit-prototype"].stacks[0]
    assert permit.resources is None
    assert permit.quota["ok"] is False
    assert {v["rule"] for v in permit.quota["violations"] if v["enforcement"] == "mandatory"} == {"max-volume-size"}
    assert gitops.refused(found)


def test_an_invalid_head_manifest_is_reported_and_never_planned(planned):
    found = planned("policy", "invalid")
    app = by_app(found)["permit-prototype"]
    assert app.change == "invalid" and app.head is None and app.base is not None
    assert any("mlpsLevel" in p for p in app.problems)
    assert app.stacks == [] and app.classification["kind"] == ""
    assert gitops.summary(found)["invalid"] == 1 and gitops.refused(found)
    markdown = gitops.render_markdown(found)
    assert "❌ 1 invalid manifest(s)" in markdown
    assert "<b>permit-prototype</b>: invalid" in markdown and "spec.mlpsLevel" in markdown


def test_the_plan_is_taken_from_the_merge_base(history, planned):
    """A base that moved on after the head branched off: only the head's own changes count."""
    _, commits = history
    found = planned("initial", "major")
    assert set(by_app(found)) == {"open-data", "permit-prototype"}
    assert found.base == commits["initial"]


def test_an_approved_digest_passes_the_gate(history, tmp_path):
    from orchestrator.adapters.ledger import Ledger
    from orchestrator.services.lifecycle import Lifecycle
    from tests.gitops.test_apply import approve_test

    r, commits = history
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'ledger.db'}")
    head = r.git("show", f"{commits['add']}:manifests/open-data-platform.yaml")
    (tmp_path / "odp.yaml").write_text(head + "\n", encoding="utf-8")
    approve_test(Lifecycle(ledger), tmp_path / "odp.yaml", "sjj")
    found = gitops.plan(r.path, commits["initial"], commits["add"], ledger=ledger)
    gates = {s.env: s.gate for s in found.applications[0].stacks}
    assert gates["test"]["approved"] is True
    assert gates["trial"]["approved"] is False and "not approved" in gates["trial"]["message"]
    ledger.close()


def test_cli_outputs(history, run_cli, monkeypatch, tmp_path):
    r, commits = history
    monkeypatch.setenv("GOVCLOUD_DATABASE_URL", f"sqlite:///{tmp_path / 'ledger.db'}")
    args = ("gitops", "plan", "--repo", str(r.path), "--base", commits["add"], "--head", commits["major"])

    matrix = run_cli(*args, "--output", "matrix")
    assert matrix.exit_code == 0, matrix.stderr
    shapes = json.loads(matrix.stdout)
    job = {
        "stack": "zjj.permit-prototype.test",
        "app": "permit-prototype",
        "unit": "zjj",
        "env": "test",
        "manifest": "manifests/permit-prototype.yaml",
    }
    assert shapes["count"] == 1 and shapes["github"] == {"include": [job]}
    assert shapes["gitlab"] == {"parallel": {"matrix": [{k.upper(): v for k, v in job.items()}]}}

    markdown = run_cli(*args)
    assert markdown.exit_code == 0, markdown.stderr
    assert "| `zjj.permit-prototype.test` | modified | major | ✅ | ⏳ | +0 ~" in markdown.stdout
    assert '`flavorName` "g.1c2g" → "g.2c4g"' in markdown.stdout
    assert "only re-tagged with the new digest" in markdown.stdout

    refused = run_cli(
        "gitops",
        "plan",
        "--repo",
        str(r.path),
        "--base",
        commits["policy"],
        "--head",
        commits["invalid"],
        "--output",
        "json",
    )
    assert refused.exit_code == 1
    assert json.loads(refused.stdout)["summary"]["invalid"] == 1

    unknown = run_cli("gitops", "plan", "--repo", str(r.path), "--base", "no-such-branch")
    assert unknown.exit_code == 2 and "no-such-branch" in unknown.stderr


def test_a_program_change_plans_every_stack_with_the_base_and_the_head_program(tmp_path):
    """The base commit's program describes every server's port; the head's (this checkout's)
    does not: the difference shows only if the base ran its own program."""
    from tests.gitops.conftest import copy_program

    r = GitRepo(tmp_path / "repo")
    copy_program(r)
    for name in ("permit-prototype", "citizen-portal"):
        r.write(f"manifests/{name}.yaml", example(name))
    original = r.read("stacks/components/compute.py")
    r.edit(
        "stacks/components/compute.py",
        "            admin_state_up=True,\n",
        '            admin_state_up=True,\n            description="a govcloud server port",\n',
    )
    base = r.commit("ports with a description")
    r.write("stacks/components/compute.py", original)
    head = r.commit("ports without")

    found = gitops.plan(r.path, base, head, ledger=None)
    assert found.program_changed
    assert found.shared == [
        {"path": "stacks/components/compute.py", "affects": "program", "reason": "the Pulumi program"}
    ]
    stacks = [s for a in found.applications for s in a.stacks]
    assert [s.stack for s in stacks] == [
        "zwb.citizen-portal.test",
        "zwb.citizen-portal.trial",
        "zjj.permit-prototype.test",
    ]
    for stack in stacks:
        assert stack.resources is not None, stack.note
        assert stack.resources.added == () and stack.resources.removed == ()
        assert stack.resources.changed and {c.type for c in stack.resources.changed} == {
            "openstack:networking/port:Port"
        }
        for changed in stack.resources.changed:
            assert changed.properties == (PropertyChange("description", "a govcloud server port", None),)


def test_a_manifest_only_repository_plans_its_base_with_the_head_program(tmp_path):
    r = GitRepo(tmp_path / "repo")
    r.write("manifests/permit-prototype.yaml", example("permit-prototype"))
    base = r.commit("manifests only")
    r.write("templates/cloud-init/base.yaml.j2", "#cloud-config\n")
    head = r.commit("a template of its own")

    found = gitops.plan(r.path, base, head, ledger=None)
    (stack,) = found.applications[0].stacks
    assert stack.resources is not None and stack.resources.empty
    assert stack.note == "the base commit has no program of its own: its manifest planned with the head program"


def test_after_a_program_change_live_environments_are_reapplied_without_new_approval(tmp_path, ledger):
    from orchestrator.services.lifecycle import Lifecycle
    from tests.gitops.test_apply import at, to_production

    r = GitRepo(tmp_path / "repo")
    for name in ("social-security", "permit-prototype"):
        r.write(f"manifests/{name}.yaml", example(name))
    base = r.commit("manifests only")
    to_production(Lifecycle(ledger), r.path / "manifests/social-security.yaml", "rsj")
    r.write("templates/cloud-init/base.yaml.j2", "#cloud-config\npackage_upgrade: true\n")
    head = r.commit("upgrade packages at boot")

    found = gitops.plan(r.path, base, head, ledger=ledger, at=at(60))
    gates = {s.stack: s.gate for a in found.applications for s in a.stacks}
    for env in ("test", "trial", "production"):
        assert gates[f"rsj.social-security.{env}"] == {
            "approved": True,
            "event": "reapplied",
            "apply": "re-apply",
            "message": f"re-apply: program changed ({env} runs this approved digest; no new approval)",
        }
    assert gates["zjj.permit-prototype.test"]["approved"] is False  # never submitted
    assert (gitops.summary(found)["reapply"], gitops.summary(found)["notApproved"]) == (3, 1)
    markdown = gitops.render_markdown(found)
    assert "🔁 3 stack(s) to re-apply at the approved digest they run" in markdown
    assert "| `rsj.social-security.trial` | shared | none | ✅ | 🔁 re-apply | +0 ~0 -0 |" in markdown


def test_an_unreachable_ledger_leaves_the_gate_unknown(history, monkeypatch, tmp_path):
    r, commits = history
    monkeypatch.setenv("GOVCLOUD_DATABASE_URL", f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'ledger.db'}")
    found = gitops.plan(r.path, commits["minor"], commits["rename"])
    gates = [s.gate for a in found.applications for s in a.stacks]
    assert gates and all(g["approved"] is False and g["message"].startswith("unknown: ledger database") for g in gates)


def test_the_comment_names_a_few_added_resources_and_counts_many(tmp_path):
    """Many added resources of a type are counted; a merge request's few added or removed ones are
    named, so that the reviewer sees which."""
    from orchestrator.adapters.ledger import Ledger
    from orchestrator.services.gitops import NAMED_PER_TYPE, _resource_view

    r = GitRepo(tmp_path / "repo")
    r.write("manifests/permit-prototype.yaml", example("permit-prototype"))
    base = r.commit("initial")
    r.edit(
        "manifests/permit-prototype.yaml", "        image: debian-12\n", "        image: debian-12\n        count: 5\n"
    )
    r.edit(
        "manifests/permit-prototype.yaml",
        "            remoteCidr: 10.0.0.0/8\n",
        "            remoteCidr: 10.0.0.0/8\n          - protocol: tcp\n            ports: 9100\n"
        "            remoteCidr: 10.20.0.0/16\n",
    )
    head = r.commit("five servers and a metrics rule")
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'ledger.db'}")
    try:
        view = _resource_view(gitops.plan(r.path, base, head, ledger=ledger))["zjj.permit-prototype.test"]
    finally:
        ledger.close()
    assert f"{5 - 1} Instance" in view["added"] and NAMED_PER_TYPE < 5 - 1, view["added"]
    assert "SecGroupRule `permit-prototype-web-ingress-tcp-9100-10.20.0.0_16`" in view["added"], view["added"]
