"""Real git repositories in a temporary directory, with real commits, for the gitops tests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "manifests"


class GitRepo:
    """A throwaway repository: ``write``/``remove``/``move`` files, then ``commit`` -> commit id."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True)
        self.git("init", "-q", "-b", "main")
        self.git("config", "user.name", "Zhao Gang")
        self.git("config", "user.email", "zhaogang@rsj.example.gov.cn")
        self.git("config", "commit.gpgsign", "false")

    def git(self, *args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(self.path), *args], check=True, capture_output=True, text=True
        ).stdout.strip()

    def write(self, relative: str, text: str) -> None:
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")

    def read(self, relative: str) -> str:
        return (self.path / relative).read_text(encoding="utf-8")

    def edit(self, relative: str, old: str, new: str) -> None:
        text = self.read(relative)
        assert old in text, f"{old!r} not in {relative}"
        self.write(relative, text.replace(old, new, 1))

    def remove(self, relative: str) -> None:
        self.git("rm", "-q", relative)

    def move(self, old: str, new: str) -> None:
        (self.path / new).parent.mkdir(parents=True, exist_ok=True)
        self.git("mv", old, new)

    def commit(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")


def example(name: str) -> str:
    return (EXAMPLES / f"{name}.yaml").read_text(encoding="utf-8")


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    """A repository with the quota policy and three example manifests under ``manifests/``."""
    r = GitRepo(tmp_path / "repo")
    r.write("quotas/policy.yaml", (ROOT / "quotas" / "policy.yaml").read_text(encoding="utf-8"))
    for name in ("citizen-portal", "permit-prototype", "social-security"):
        r.write(f"manifests/{name}.yaml", example(name))
    r.write("README.md", "city manifests\n")
    r.commit("initial manifests")
    return r


@pytest.fixture
def ledger(tmp_path: Path):
    from orchestrator.adapters.ledger import Ledger

    opened = Ledger.open(f"sqlite:///{tmp_path / 'ledger.db'}")
    yield opened
    opened.close()


def copy_program(repo: GitRepo) -> None:
    """Put govcloud's own program (stacks/, orchestrator/, templates/) into ``repo``, so that the
    base commit can be planned with its own code."""
    for part in ("stacks", "orchestrator", "templates"):
        shutil.copytree(ROOT / part, repo.path / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "Pulumi.yaml", repo.path / "Pulumi.yaml")


@pytest.fixture(autouse=True)
def empty_default_ledger(tmp_path, monkeypatch):
    """The default ledger of a test is an empty SQLite file of its own, never ./.govcloud."""
    monkeypatch.setenv("GOVCLOUD_DATABASE_URL", f"sqlite:///{tmp_path / 'default-ledger.db'}")
