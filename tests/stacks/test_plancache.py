"""The plan cache: a hit yields exactly the plans of a fresh run, any change of input misses."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from orchestrator.cli import cli
from orchestrator.cli import plan as _plan  # noqa: F401  (registers the command)
from orchestrator.services import admission as admission_service
from orchestrator.services import plan as plan_service
from orchestrator.services import plancache
from orchestrator.services.admission import plan_paths
from orchestrator.services.plancache import PlanCache

from .conftest import EXAMPLES, REPO


@pytest.fixture
def cache(tmp_path: Path) -> PlanCache:
    return PlanCache(tmp_path / "cache")


def test_a_cached_plan_is_exactly_the_fresh_one_and_the_program_does_not_run_again(
    cache: PlanCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh = [p.as_dict() for p in plan_paths(EXAMPLES, cache=cache, workers=2)]
    assert len(list(cache.directory.iterdir())) == len(EXAMPLES)
    monkeypatch.setattr(plan_service, "plan_application", lambda *_: pytest.fail("the program ran"))
    assert [p.as_dict() for p in plan_paths(EXAMPLES, cache=cache)] == fresh


def test_admission_is_decided_afresh_on_a_hit(cache: PlanCache, monkeypatch: pytest.MonkeyPatch) -> None:
    plan_paths(EXAMPLES[:1], cache=cache)
    admitted: list[str] = []

    class Counting:
        def admit(self, plan: object, app: object) -> None:
            admitted.append(plan.stack)  # type: ignore[attr-defined]

    monkeypatch.setattr(admission_service, "Admissions", Counting)
    plans = plan_paths(EXAMPLES[:1], cache=cache)
    assert admitted == [p.stack for p in plans] and admitted


def test_a_changed_manifest_another_environment_or_another_path_misses(cache: PlanCache, tmp_path: Path) -> None:
    source = REPO / "examples/manifests/social-security.yaml"
    copy = tmp_path / "social-security.yaml"
    copy.write_bytes(source.read_bytes())
    settings = (plan_service.PLAN_EXTERNAL_NETWORK, plan_service.PLAN_CONFIG)
    key = cache.key(str(copy), copy.read_bytes(), None, settings)
    assert (
        len(
            {
                key,
                cache.key(str(copy), copy.read_bytes() + b"\n# changed\n", None, settings),
                cache.key(str(copy), copy.read_bytes(), "test", settings),
                cache.key(str(source), copy.read_bytes(), None, settings),
                cache.key(str(copy), copy.read_bytes(), None, ("other-network", plan_service.PLAN_CONFIG)),
            }
        )
        == 5
    )


def test_the_key_follows_the_program_the_planner_and_their_imports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {
        "stacks/program.py": "from orchestrator.core import naming\n",
        "orchestrator/__init__.py": "",
        "orchestrator/core/__init__.py": "",
        "orchestrator/core/naming.py": "X = 1\n",
        "orchestrator/services/plan.py": "def plan():\n    from orchestrator import mock\n",
        "orchestrator/mock.py": "Y = 1\n",
        "orchestrator/cli.py": "Z = 1\n",
        "templates/cloud-init/user-data.yaml.j2": "#cloud-config\n",
        "templates/gitops/comment.md.j2": "words\n",
    }
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    monkeypatch.setattr(plancache, "_ROOT", tmp_path)

    def key_after(path: str | None) -> str:
        if path:
            (tmp_path / path).write_text(files[path] + "# changed\n")
        plancache.cache_fingerprint.cache_clear()
        return plancache.cache_fingerprint()

    try:
        keys = [key_after(None)]
        for path in (
            "stacks/program.py",
            "orchestrator/core/naming.py",
            "orchestrator/mock.py",
            "templates/cloud-init/user-data.yaml.j2",
        ):
            keys.append(key_after(path))
        assert len(set(keys)) == 5, "every file of the program and of the planner changes the key"
        for path in ("orchestrator/cli.py", "templates/gitops/comment.md.j2"):
            assert key_after(path) == keys[-1], f"{path} computes no plan"
    finally:
        plancache.cache_fingerprint.cache_clear()


def test_an_unreadable_entry_is_planned_again(cache: PlanCache) -> None:
    fresh = [p.as_dict() for p in plan_paths(EXAMPLES[:1], cache=cache)]
    (entry,) = cache.directory.iterdir()
    entry.write_bytes(b"not a pickle")
    assert [p.as_dict() for p in plan_paths(EXAMPLES[:1], cache=cache)] == fresh
    assert entry.read_bytes() != b"not a pickle"


def test_the_cli_fills_the_cache_unless_told_not_to(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = tmp_path / "cli-cache"
    monkeypatch.setenv("GOVCLOUD_PLAN_CACHE", str(directory))
    path = str(REPO / "examples/manifests/permit-prototype.yaml")
    cold = CliRunner().invoke(cli, ["plan", path, "--no-cache", "--output", "json"])
    assert cold.exit_code == 0, cold.output
    assert not directory.exists()
    warm = [CliRunner().invoke(cli, ["plan", path, "--output", "json"]) for _ in range(2)]
    assert [w.exit_code for w in warm] == [0, 0]
    assert os.listdir(directory)
    assert json.loads(warm[0].stdout) == json.loads(warm[1].stdout) == json.loads(cold.stdout)
