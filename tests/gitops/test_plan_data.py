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
    assert {c["path"] for c in data} == {"environments.test.resources.permit-prototype-uploads",
                                         "environments.test.resources.permit-prototype-app-1"}
    [stack] = app.stacks
    assert {(s.action, s.name) for s in stack.data.steps} == {("delete", "permit-prototype-uploads"),
                                                             ("rebuild", "permit-prototype-app-1")}
    assert gitops.summary(found)["destroysData"] == 1

    comment = gitops.render_markdown(found)
    assert "🛑 1 stack(s) where the change destroys data" in comment
    assert "🛑 `zjj.permit-prototype.test` destroys data: volume permit-prototype-uploads (delete:" in comment
    assert "destroys data: server root disk permit-prototype-app-1 (rebuild: imageName debian-12 -> debian-13" in comment
    assert found.as_dict()["applications"][0]["stacks"][0]["data"]["steps"][0]["summary"].startswith("destroys data")


def test_a_stateless_server_s_image_change_destroys_nothing(tmp_path):
    r = GitRepo(tmp_path / "repo")
    r.write("quotas/policy.yaml", (ROOT / "quotas" / "policy.yaml").read_text(encoding="utf-8"))
    r.write("manifests/permit-prototype.yaml", example("permit-prototype").replace(
        "image: debian-12", "image: debian-12\n        stateless: true"))
    base = r.commit("initial")
    r.edit("manifests/permit-prototype.yaml", "image: debian-12", "image: debian-13")
    head = r.commit("new image")
    [app] = gitops.plan(r.path, base, head).applications
    assert app.stacks[0].data.steps == ()
    assert not any(c["reason"].startswith("destroys data") for c in app.classification["changes"])
