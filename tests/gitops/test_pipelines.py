"""The example pipelines parse, run plan on merge requests and apply on the default branch, and
call govcloud only with options that exist."""

from __future__ import annotations

import re

from ruamel.yaml import YAML

from orchestrator.cli import cli, register_commands
from tests.gitops.conftest import ROOT

PIPELINES = ROOT / "examples" / "pipelines"


def _options_used(text: str) -> list[tuple[tuple[str, ...], str]]:
    """(command path, option) for every ``govcloud ...`` call in ``text``."""
    found = []
    for line in text.splitlines():
        for call in re.findall(r"govcloud ((?:gitops )?[a-z]+[^|>;]*)", line):
            words = call.split()
            path = tuple(words[:2]) if words[0] == "gitops" else (words[0],)
            found += [(path, option) for option in re.findall(r"(?<!\S)--[a-z][a-z-]*", call)]
    return found


def test_every_govcloud_option_in_the_pipelines_exists():
    register_commands()
    for name in ("gitlab-ci.yml", "github-actions.yml"):
        used = _options_used((PIPELINES / name).read_text(encoding="utf-8"))
        assert {p for p, _ in used} >= {("gitops", "plan"), ("gitops", "apply"), ("preview",)}, name
        for path, option in used:
            command = cli
            for part in path:
                command = command.commands[part]
            names = {o for p in command.params for o in p.opts}
            assert option in names, f"{name}: govcloud {' '.join(path)} has no {option}"


def test_gitlab_plans_merge_requests_and_applies_the_default_branch():
    ci = YAML(typ="safe").load((PIPELINES / "gitlab-ci.yml").read_text(encoding="utf-8"))
    assert ci["variables"]["GIT_DEPTH"] == "0"
    assert ci["gitops-plan"]["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}]
    assert "merge_requests/$CI_MERGE_REQUEST_IID/notes" in " ".join(ci["gitops-plan"]["script"])
    assert ci["gitops-preview"]["trigger"]["include"] == [{"artifact": "preview.yml", "job": "gitops-plan"}]
    assert ci["gitops-apply"]["rules"][0]["if"].startswith("$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH")
    # a matrix of three runners, one share each, one pipeline at a time per share
    assert ci["gitops-apply"]["parallel"] == 3
    assert ci["gitops-apply"]["resource_group"] == "govcloud-apply-$CI_NODE_INDEX"
    assert '--shard "${CI_NODE_INDEX:-1}/${CI_NODE_TOTAL:-1}"' in " ".join(ci["gitops-apply"]["script"])


def test_github_plans_pull_requests_and_applies_main():
    flow = YAML(typ="safe").load((PIPELINES / "github-actions.yml").read_text(encoding="utf-8"))
    jobs = flow["jobs"]
    assert jobs["plan"]["if"] == "github.event_name == 'pull_request'"
    assert jobs["preview"]["strategy"]["matrix"] == "${{ fromJSON(needs.plan.outputs.matrix) }}"
    assert jobs["apply"]["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    assert jobs["apply"]["strategy"]["matrix"]["shard"] == [1, 2, 3]
    assert jobs["apply"]["concurrency"]["group"] == "govcloud-apply-${{ matrix.shard }}"
    assert any('--shard "${{ matrix.shard }}/3"' in step.get("run", "") for step in jobs["apply"]["steps"])
    assert any(step.get("with", {}).get("fetch-depth") == 0 for step in jobs["apply"]["steps"])
