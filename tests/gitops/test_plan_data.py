"""``gitops plan`` names each step that destroys data, by what the engine will do (issue 25)."""

from __future__ import annotations

from orchestrator.services import gitops
from tests.gitops.conftest import ROOT, GitRepo, example


def test_a_renamed_volume_and_an_image_change_destroy_data_and_make_the_change_major(tmp_path):
    r = GitRepo(tmp_path / "repo")
    r.write("quotas/policy.yaml", (ROOT / "quotas" / "policy.yaml").read_text(encoding="utf-8"))
    r.write("manifests/permit-prototype.yaml", example("permit-prototype"))
    base = r.commit("initial")
    r.edit("manifests/permit-prototype.yaml", "- name: uploads", "- name: documents")
    r.edit("manifests/permit-prototype.yaml", "image: debian-12", "image: debian-13")
    head = r.commit("permit-prototype: rename the uploads volume, new image")

    found = gitops.plan(r.path, base, head)
    [app] = found.applications
    assert app.classification["kind"] == "major"
    data = [c for c in app.classification["changes"] if c["reason"].startswith("destroys data")]
    assert {c["path"] for c in data} == {
        "environments.test.resources.permit-prototype-uploads",
        "environments.test.resources.permit-prototype-app-1",
    }
    [stack] = app.stacks
    assert {(s.action, s.name) for s in stack.data.steps} == {
        ("delete", "permit-prototype-uploads"),
        ("rebuild", "permit-prototype-app-1"),
    }
    assert gitops.summary(found)["destroysData"] == 1

    comment = gitops.render_markdown(found)
    assert "🛑 1 stack(s) where the change destroys data" in comment
    assert "🛑 `zjj.permit-prototype.test` destroys data: volume permit-prototype-uploads (delete:" in comment
    assert (
        "destroys data: server root disk permit-prototype-app-1 (rebuild: imageName debian-12 -> debian-13" in comment
    )
    assert found.as_dict()["applications"][0]["stacks"][0]["data"]["steps"][0]["summary"].startswith("destroys data")


def test_a_stateless_server_s_image_change_destroys_nothing(tmp_path):
    r = GitRepo(tmp_path / "repo")
    r.write("quotas/policy.yaml", (ROOT / "quotas" / "policy.yaml").read_text(encoding="utf-8"))
    r.write(
        "manifests/permit-prototype.yaml",
        example("permit-prototype").replace("image: debian-12", "image: debian-12\n        stateless: true"),
    )
    base = r.commit("initial")
    r.edit("manifests/permit-prototype.yaml", "image: debian-12", "image: debian-13")
    head = r.commit("new image")
    [app] = gitops.plan(r.path, base, head).applications
    assert app.stacks[0].data.steps == ()
    assert not any(c["reason"].startswith("destroys data") for c in app.classification["changes"])


def social_security_change(tmp_path, *edits: tuple[str, str]):
    r = GitRepo(tmp_path / "repo")
    r.write("quotas/policy.yaml", (ROOT / "quotas" / "policy.yaml").read_text(encoding="utf-8"))
    r.write("manifests/social-security.yaml", example("social-security"))
    base = r.commit("initial")
    for old, new in edits:
        r.edit("manifests/social-security.yaml", old, new)
    head = r.commit("social-security: the change")
    found = gitops.plan(r.path, base, head)
    [app] = found.applications
    return found, app, gitops.render_markdown(found)


def test_a_database_replacement_a_removed_container_and_a_lower_count_are_each_named(tmp_path):
    found, app, comment = social_security_change(
        tmp_path,
        ('version: "8.0"', 'version: "8.4"'),
        ("    containers:\n      - name: scans\n", "    containers:\n      - name: images\n"),
        ("          - name: app\n            count: 2", "          - name: app\n            count: 1"),
    )
    assert app.classification["kind"] == "major"
    trial = next(s for s in app.stacks if s.stack.endswith(".trial"))
    assert {(s.action, s.kind, s.name) for s in trial.data.steps} == {
        ("replace", "database instance", "social-security-benefits"),
        ("delete", "container", "social-security-scans"),
        ("delete", "server root disk", "social-security-app-2"),
        ("delete", "volume", "social-security-app-2-data"),
        ("delete", "volume", "social-security-app-2-logs"),
    }
    stack = "`rsj.social-security.trial`"
    assert (
        f"🛑 {stack} destroys data: database instance social-security-benefits (replace: datastore.version 8.0 -> 8.4"
        in comment
    )
    assert f"🛑 {stack} destroys data: container social-security-scans (delete: no longer in the manifest" in comment
    assert f"🛑 {stack} destroys data: server root disk social-security-app-2 (delete:" in comment
    assert f"🛑 {stack} destroys data: volume social-security-app-2-logs (delete:" in comment
    reasons = [c["reason"] for c in app.classification["changes"] if c["kind"] == "major"]
    assert any(r.startswith("destroys data: database instance social-security-benefits (replace") for r in reasons)
    assert gitops.summary(found)["destroysData"] == 3  # the three stacks


def test_a_trove_resize_keeps_the_data_and_a_shrink_cannot_be_applied(tmp_path):
    _, app, comment = social_security_change(
        tmp_path,
        (
            "            flavor: g.2c4g\n            sizeGb: 50\n",
            "            flavor: g.4c8g\n            sizeGb: 50\n",
        ),
        ("          - name: archive\n            sizeGb: 100\n", "          - name: archive\n            sizeGb: 80\n"),
    )
    [test] = [s for s in app.stacks if s.stack.endswith(".test")]
    assert [r.name for r in test.data.resizes] == ["social-security-benefits"]
    assert (
        "- `rsj.social-security.test` resizes database instance `social-security-benefits` in place through Trove "
        "(keeps its data)" in comment
    )
    assert (
        "🛑 `rsj.social-security.test` cannot be applied: volume social-security-archive (refused: size 100 -> 80 GB: "
        "Cinder cannot shrink a volume)" in comment
    )
    assert not any("database instance" in c["reason"] for c in app.classification["changes"])
