"""The git adapter on a real repository: changes with renames and awkward names, contents at a commit."""

from __future__ import annotations

import pytest

from orchestrator.adapters import git
from orchestrator.adapters.git import FileChange, UnsafePath
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
        "manifests/edit.yaml": b"y: 1\n",
        "manifests/new.yaml": None,
    }
    assert git.list_files(r.path, head, ["manifests"]) == sorted(
        ["manifests/edit.yaml", "manifests/new.yaml", "manifests/单位/a b.yaml"]
    )
    assert git.merge_base(r.path, base, head) == base == git.resolve(r.path, "HEAD~1")
    assert git.deleting_commit(r.path, base, head, "manifests/gone.yaml") == head
    assert git.author(r.path, head) == "Zhao Gang <zhaogang@rsj.example.gov.cn>"
    with git.exported(r.path, base) as tree:
        assert (tree / "manifests" / "gone.yaml").read_text() == "x: 1\n"
    assert not tree.exists()


def test_a_tree_is_exported_and_checked_without_the_data_filter_of_newer_pythons(tmp_path, monkeypatch):
    """Python before 3.11.4 (Debian 12's 3.11.2) has no tar extraction filters: the same refusals by hand."""
    import tarfile

    monkeypatch.delattr(tarfile, "data_filter", raising=False)
    r = GitRepo(tmp_path / "repo")
    r.write("manifests/a.yaml", "x: 1\n")
    (r.path / "link").symlink_to("manifests/a.yaml")
    inside = r.commit("a file and a link inside the tree")
    with git.exported(r.path, inside) as tree:
        assert (tree / "manifests" / "a.yaml").read_text() == "x: 1\n" and (tree / "link").read_text() == "x: 1\n"
    (r.path / "outside").symlink_to("../../etc/passwd")
    outside = r.commit("a link out of the tree")
    with pytest.raises(git.UnsafePath, match="leaves the tree"), git.exported(r.path, outside):
        pass


def test_an_unknown_revision_is_a_usage_error(tmp_path):
    r = GitRepo(tmp_path / "repo")
    r.commit("empty")
    with pytest.raises(UsageError, match="no-such-branch"):
        git.resolve(r.path, "no-such-branch")
    with pytest.raises(UsageError, match="not a git repository"):
        git.resolve(tmp_path, "HEAD")


ODD_NAMES = {  # each a name git would quote, or one that only looks like another
    b"manifests/a\nmanifests/b.yaml": "a newline",
    b"manifests/tab\t.yaml": "U+0009",
    b"manifests/\x1b[31mred.yaml": "U+001B",
    b"manifests/latin1-\xe9.yaml": "not UTF-8",
    b"manifests/ lead.yaml": "whitespace",
    b"manifests/trail.yaml ": "whitespace",
    b"manifests/back\\slash.yaml": "a backslash",
    b'manifests/"quoted".yaml': "a double quote",
    "manifests/evil\u202elmy.yaml".encode(): "U+202E",
}


def _write_bytes_name(r: GitRepo, name: bytes, text: str) -> None:
    import os

    target = os.path.join(os.fsencode(r.path), name)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "wb") as out:
        out.write(text.encode())


@pytest.mark.parametrize("name", list(ODD_NAMES), ids=lambda n: repr(n)[2:30])
def test_a_path_git_would_quote_is_refused_by_name_wherever_it_appears(tmp_path, name):
    r = GitRepo(tmp_path / "repo")
    r.write("manifests/edit.yaml", "y: 1\n")
    base = r.commit("base")
    _write_bytes_name(r, name, "x: 1\n")
    r.write("manifests/edit.yaml", "y: 2\n")
    head = r.commit("an odd name")

    with pytest.raises(UnsafePath) as caught:
        git.changed_files(r.path, base, head)
    message = str(caught.value)
    assert ODD_NAMES[name] in message and caught.value.rule == "git-path-plain" and caught.value.exit_code == 1
    assert "\n" not in message and "\x1b" not in message and "\u202e" not in message  # escaped
    with pytest.raises(UnsafePath):
        git.list_files(r.path, head, ["manifests"])
    assert git.read_files(r.path, head, ["manifests/edit.yaml"]) == {"manifests/edit.yaml": b"y: 2\n"}


def test_contents_are_read_by_object_id_so_no_name_shifts_another_answer(tmp_path):
    r = GitRepo(tmp_path / "repo")
    r.write("manifests/a.yaml", "a: 1\n")
    r.write("manifests/b.yaml", "b: 1\n")
    r.write("manifests/sub/c.yaml", "c: 1\n")
    r.write("manifests/x:y.yaml", "colon: 1\n")  # "HEAD:manifests/x:y.yaml" as a batch line is ambiguous
    head = r.commit("files")
    wanted = ["manifests/b.yaml", "manifests/missing.yaml", "manifests/sub", "manifests/x:y.yaml", "manifests/a.yaml"]
    assert git.read_files(r.path, head, wanted) == {
        "manifests/b.yaml": b"b: 1\n",
        "manifests/missing.yaml": None,
        "manifests/sub": None,
        "manifests/x:y.yaml": b"colon: 1\n",
        "manifests/a.yaml": b"a: 1\n",
    }
    assert git.read_files(r.path, head, ["manifests/*.yaml"]) == {"manifests/*.yaml": None}  # literal, not a glob


def test_gitops_plan_refuses_a_merge_request_with_a_newline_in_a_file_name(tmp_path, run_cli):
    from tests.gitops.conftest import example

    r = GitRepo(tmp_path / "repo")
    r.write("manifests/citizen-portal.yaml", example("citizen-portal"))
    r.write("manifests/permit-prototype.yaml", example("permit-prototype"))
    base = r.commit("two applications")
    # The name's first line is a real manifest path: with "ref:path" lines every later answer shifted,
    # and an edited manifest came back "deleted".
    _write_bytes_name(r, b"manifests/citizen-portal.yaml\nmanifests/zz.yaml", example("citizen-portal"))
    r.edit("manifests/permit-prototype.yaml", "sizeGb: 20", "sizeGb: 30")
    r.commit("an edit, and a file with a newline in its name")

    result = run_cli("gitops", "plan", "--repo", str(r.path), "--base", base, "--output", "json")
    assert result.exit_code == 1 and result.stdout == ""
    assert 'manifests/citizen-portal.yaml\\nmanifests/zz.yaml"' in result.stderr
    assert "a newline" in result.stderr and "Traceback" not in result.stderr


def test_a_manifest_committed_as_a_symbolic_link_is_refused_not_followed(tmp_path):
    import os

    r = GitRepo(tmp_path / "repo")
    r.write("manifests/real.yaml", "a: 1\n")
    os.symlink("/etc/passwd", r.path / "manifests" / "x.yaml")
    head = r.commit("a link")
    with pytest.raises(UnsafePath, match="symbolic link"):
        git.read_files(r.path, head, ["manifests/real.yaml", "manifests/x.yaml"])
    assert git.read_files(r.path, head, ["manifests/real.yaml"]) == {"manifests/real.yaml": b"a: 1\n"}
