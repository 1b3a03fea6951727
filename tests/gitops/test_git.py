"""The git adapter on a real repository: changes with renames and awkward names, contents at a commit."""

from __future__ import annotations

import pytest

from orchestrator.adapters import git
from orchestrator.adapters.git import FileChange
from orchestrator.errors import UsageError
from tests.gitops.conftest import GitRepo, example


def test_changes_contents_and_files_at_a_commit(tmp_path):
    r = GitRepo(tmp_path / "repo")
    r.write("manifests/a b.yaml", example("permit-prototype"))
    r.write("manifests/gone.yaml", "x: 1\n")
    r.write("manifests/edit.yaml", "y: 1\n")
    base = r.commit("base")
    r.move("manifests/a b.yaml", "manifests/单位/a b.yaml")
    r.remove("manifests/gone.yaml")
    r.write("manifests/edit.yaml", "y: 2\n")
    r.write("manifests/new.yaml", "z: 1\n")
    head = r.commit("head")

    assert sorted(git.changed_files(r.path, base, head), key=lambda c: c.path) == [
        FileChange("M", "manifests/edit.yaml"),
        FileChange("D", "manifests/gone.yaml"),
        FileChange("A", "manifests/new.yaml"),
        FileChange("R", "manifests/单位/a b.yaml", "manifests/a b.yaml"),
    ]
    assert git.read_files(r.path, base, ["manifests/edit.yaml", "manifests/new.yaml"]) == {
        "manifests/edit.yaml": b"y: 1\n", "manifests/new.yaml": None}
    assert git.list_files(r.path, head, ["manifests"]) == sorted(
        ["manifests/edit.yaml", "manifests/new.yaml", "manifests/单位/a b.yaml"])
    assert git.merge_base(r.path, base, head) == base == git.resolve(r.path, "HEAD~1")
    assert git.deleting_commit(r.path, base, head, "manifests/gone.yaml") == head
    assert git.author(r.path, head) == "Zhao Gang <zhaogang@rsj.example.gov.cn>"
    with git.exported(r.path, base) as tree:
        assert (tree / "manifests" / "gone.yaml").read_text() == "x: 1\n"
    assert not tree.exists()


def test_an_unknown_revision_is_a_usage_error(tmp_path):
    r = GitRepo(tmp_path / "repo")
    r.commit("empty")
    with pytest.raises(UsageError, match="no-such-branch"):
        git.resolve(r.path, "no-such-branch")
    with pytest.raises(UsageError, match="not a git repository"):
        git.resolve(tmp_path, "HEAD")
