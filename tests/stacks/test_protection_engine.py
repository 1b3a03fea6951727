"""Protection under the real Pulumi engine (issue 25): what the engine adapter's preview,
unprotect, targeted destroy and whole-stack destroy do with protected resources.

A throwaway project of ``random`` passwords stands in for data-bearing resources (a changed
length replaces a password, as a ForceNew property replaces a volume). Needs the engine of
``scripts/install-pulumi``; fails, never skips, without it (marker ``engine``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from orchestrator.adapters import engine
from orchestrator.errors import ExternalError

from ..conftest import ROOT

pytestmark = pytest.mark.engine

PROGRAM = """\
import json

import pulumi
import pulumi_random as random

config = pulumi.Config("test")
release = set(json.loads(config.get("release") or "[]"))
lengths = json.loads(config.get("lengths") or "{}")
for name in json.loads(config.require("names")):
    random.RandomPassword(name, length=int(lengths.get(name, 12)), special=False,
                          opts=pulumi.ResourceOptions(protect=name not in release))
"""
STACK = "protection"


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, engine.Engine]:
    engine_dir = Path(__import__("os").environ.get("GOVCLOUD_ENGINE_DIR") or ROOT / ".cache" / "pulumi")
    cli = engine_dir / "bin" / "pulumi"
    home = engine_dir / "home"
    version = engine._plugin_version("pulumi_random")
    if not cli.is_file() or not (home / "plugins" / f"resource-random-v{version}").is_dir():
        pytest.fail(
            f"the Pulumi engine or its random plugin v{version} is not installed in {engine_dir}: "
            "run scripts/install-pulumi",
            pytrace=False,
        )
    directory = tmp_path / "project"
    directory.mkdir()
    (directory / "Pulumi.yaml").write_text(
        f"name: protection-test\nruntime:\n  name: python\n  options:\n    virtualenv: {sys.prefix}\n"
    )
    (directory / "__main__.py").write_text(PROGRAM)
    (tmp_path / "state").mkdir()
    env = {
        "PATH": f"{cli.parent}:/usr/bin:/bin",
        "PULUMI_HOME": str(home),
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_BACKEND_URL": f"file://{tmp_path / 'state'}",
        "PULUMI_CONFIG_PASSPHRASE": "test",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
    }
    return directory, engine.Engine(root=engine_dir, pulumi_home=home, env=env)


def config(names: list[str], lengths: dict[str, int] | None = None, release: list[str] = ()) -> dict[str, str]:
    return {
        "test:names": json.dumps(names),
        "test:lengths": json.dumps(lengths or {}),
        "test:release": json.dumps(list(release)),
    }


def test_protected_resources_are_refused_until_exactly_the_released_ones_are_unprotected(project) -> None:
    repo, located = project
    engine.run("up", STACK, config(["a", "b", "c"]), located, repo=repo)
    assert sorted(engine.protected(STACK, located, repo)) == ["a", "b", "c"]

    # the preview of a removal and of a replacement names the protected resources it would destroy
    steps = engine.preview_steps(STACK, config(["a", "b"], {"a": 13}), located, repo=repo)
    refused = {(s.op, s.name) for s in steps if s.op == "protected"}
    assert ("protected", "c") in refused and refused <= {("protected", "a"), ("protected", "c")}, steps
    with pytest.raises(ExternalError, match="protect"):
        engine.run("up", STACK, config(["a", "b"]), located, repo=repo)
    assert sorted(engine.protected(STACK, located, repo)) == ["a", "b", "c"]

    # approved: c deleted first (with its protection lifted), a replaced with protect lifted in the program
    urn = engine.protected(STACK, located, repo)["c"]
    assert engine.unprotect(STACK, located, ["c", "not-there"], repo=repo) == [urn]
    assert sorted(engine.protected(STACK, located, repo)) == ["a", "b"]
    assert len(engine.destroy_targets(STACK, located, ["c"], repo=repo)) == 1
    released = config(["a", "b"], {"a": 13}, release=["a"])
    steps = engine.preview_steps(STACK, released, located, repo=repo)
    assert not [s for s in steps if s.op == "protected"] and ("replace", "a") in {(s.op, s.name) for s in steps}, steps
    result = engine.run("up", STACK, released, located, repo=repo)
    assert result.changes.get("replace") == 1, result
    assert sorted(engine.protected(STACK, located, repo)) == ["b"]

    # an approved removal of the whole stack lifts every protection
    result = engine.destroy_stack(STACK, located, repo=repo)
    assert result.changes.get("delete") == 3, result  # the two passwords and the stack itself
    assert engine.protected(STACK, located, repo) == {}
