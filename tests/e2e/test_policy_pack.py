"""The quota policy pack through the real engine: ``pulumi preview -s <stack> --policy-pack quotas``,
as docs/quotas.md tells a provider to run it, on a stack of the local cloud.

The engine starts the pack through our language host's ``RunPlugin`` and hands it the stack's
config in ``ConfigureStack`` only; the pack must judge exactly the manifest and environment that
config names. Each preview is compared with ``govcloud quota check`` on the same files: the same
rules, the same messages (the pack names the resource, quota check the manifest's item), the
same verdict (exit 0 without a mandatory violation, non-zero with).
Nothing is created: previews only.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from orchestrator.adapters.policy_pack import STACK_CONFIG, message
from orchestrator.core.quota.registry import Violation

from .conftest import CLOUD, EXAMPLE, REPO, Govcloud

pytestmark = [pytest.mark.engine, pytest.mark.cloud]
ENV = "test"
BACKUPS_OFF = ('  backup:\n    schedule: "0 1 * * *"', '  backup:\n    enabled: false\n    schedule: "0 1 * * *"')
#: The shipped flavor list without g.4c8g, the flavor of social-security's test app servers.
FEWER_FLAVORS = (
    "  allowed-flavors:\n    enforcement: mandatory\n    params: {flavors: [g.1c2g, g.2c4g, g.8c16g, g.16c32g]}\n"
)


@pytest.fixture(scope="module")
def provider(govcloud: Govcloud, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a provider at the shell: the engine, the backend, the cloud as ``govcloud openrc``."""
    env = {k: v for k, v in govcloud.env.items() if not k.startswith("OS_") or k == "OS_CLIENT_CONFIG_FILE"}
    for line in govcloud("openrc", "--cloud", CLOUD).stdout.splitlines():
        verb, _, rest = line.partition(" ")
        key, _, value = rest.partition("=")
        assert verb == "export", line
        env[key] = (shlex.split(value) or [""])[0]
    return env


def stack_for(govcloud: Govcloud, provider: dict[str, str], manifest: Path) -> str:
    """A stack configured for ``manifest``'s test environment as docs/operations.md sets one up by hand."""
    app = re.search(r"^  id: (\S+)$", manifest.read_text(encoding="utf-8"), re.M)[1]
    stack = f"rsj.{app}.{ENV}"
    pulumi(provider, "stack", "init", stack, "--secrets-provider", "passphrase")
    settings = {
        "govcloud:manifest": str(manifest),
        "govcloud:environment": ENV,
        "govcloud:digest": govcloud("digest", str(manifest)).stdout.strip(),
        "govcloud:externalNetwork": "public",
        "govcloud:authRealm": "government",
        "keycloak:url": govcloud.env["KEYCLOAK_URL"],
        "keycloak:realm": govcloud.env["KEYCLOAK_REALM"],
        "keycloak:clientId": govcloud.env["KEYCLOAK_CLIENT_ID"],
    }
    for key, value in settings.items():
        pulumi(provider, "config", "set", "-s", stack, key, value)
    pulumi(
        provider,
        "config",
        "set",
        "-s",
        stack,
        "--secret",
        "keycloak:clientSecret",
        govcloud.env["KEYCLOAK_CLIENT_SECRET"],
    )
    return stack


def pulumi(env: dict[str, str], *args: str, expect: int | None = 0) -> subprocess.CompletedProcess:
    done = subprocess.run(["pulumi", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    if expect is not None:
        assert done.returncode == expect, (
            f"pulumi {shlex.join(args)} exited {done.returncode}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
        )
    return done


def reported(preview: subprocess.CompletedProcess) -> list[tuple[str, str, str]]:
    """Every violation the preview lists under ``Policies:``: (level, policy, message)."""
    return re.findall(r"- \[(mandatory|advisory)\]\s+(\S+)\s+\(.*\)\n\s+.*\n\s+(.*)\n", preview.stdout)


def verdicts(found: list[tuple[str, str, str]]) -> dict[str, str]:
    return {policy: level for level, policy, _ in found}


def as_reported(violation: dict[str, Any]) -> str:
    """What the pack says after the subject, which names the resource (``server ss-1-app-1``)
    where quota check names the manifest's item (``server app``)."""
    return message(Violation(**violation))[len(violation["subject"]) + 2 :]


def quota_check(govcloud: Govcloud, manifest: Path, policy: Path, manifests: Path) -> dict[str, Any]:
    """``govcloud quota check`` of the same file, environment, policy and manifests directory."""
    checked = govcloud.run(
        "quota",
        "check",
        str(manifest),
        "--env",
        ENV,
        "--policy",
        str(policy),
        "--manifests",
        str(manifests),
        "--output",
        "json",
    )
    assert checked.returncode in (0, 1), checked.stderr
    [stack] = json.loads(checked.stdout)["stacks"]
    return {"exit": checked.returncode, "violations": stack["violations"]}


@dataclass
class Files:
    """What a preview and ``quota check`` both read, and the stacks to remove afterwards."""

    directory: Path
    manifest: Path
    policy: Path
    stacks: list[str] = field(default_factory=list)


@pytest.fixture
def city(tmp_path: Path, govcloud: Govcloud, provider: dict[str, str]) -> Files:
    """A manifests directory with one copy of social-security under a fresh id, and the shipped policy."""
    files = Files(tmp_path / "manifests", tmp_path / "manifests" / "app.yaml", tmp_path / "policy.yaml")
    files.directory.mkdir()
    files.manifest.write_text(
        EXAMPLE.read_text(encoding="utf-8").replace("id: social-security", f"id: ss-{uuid.uuid4().hex[:6]}", 1),
        encoding="utf-8",
    )
    files.policy.write_text((REPO / "quotas" / "policy.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    yield files
    for stack in files.stacks:
        pulumi(provider, "stack", "rm", "-s", stack, "--yes", "--force", expect=None)


def preview(provider: dict[str, str], city: Files, stack: str, **env: str) -> subprocess.CompletedProcess:
    """The documented command, with the pack reading the policy and the manifests directory given."""
    run_env = provider | {"GOVCLOUD_QUOTA_POLICY": str(city.policy), "GOVCLOUD_MANIFESTS": str(city.directory)} | env
    return pulumi(run_env, "preview", "-s", stack, "--policy-pack", "quotas", expect=None)


def test_a_compliant_stack_passes_as_quota_check_says(govcloud, provider, city):
    city.stacks.append(stack := stack_for(govcloud, provider, city.manifest))
    checked = quota_check(govcloud, city.manifest, city.policy, city.directory)
    done = preview(provider, city, stack)
    assert done.returncode == 0 == checked["exit"], f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    assert "failed to start" not in done.stderr and "govcloud-quotas@v0.1.0 (local: quotas)" in done.stdout, done.stdout
    found = verdicts(reported(done))
    assert "mandatory" not in found.values(), found
    assert found == {v["rule"]: v["enforcement"] for v in checked["violations"]}


def test_a_violating_stack_is_refused_with_the_rules_quota_check_names(govcloud, provider, city):
    """One single-resource rule (allowed-flavors, under a policy without g.4c8g) and one stack-wide
    rule (level3-backup: the configured manifest turns backups off), each with its message."""
    text = city.manifest.read_text(encoding="utf-8")
    assert text.count(BACKUPS_OFF[0]) == 1
    city.manifest.write_text(text.replace(*BACKUPS_OFF), encoding="utf-8")
    shipped = city.policy.read_text(encoding="utf-8")
    city.policy.write_text(
        re.sub(r"  allowed-flavors:.*\n(?:    .*\n)*", FEWER_FLAVORS, shipped, count=1), encoding="utf-8"
    )
    city.stacks.append(stack := stack_for(govcloud, provider, city.manifest))

    checked = quota_check(govcloud, city.manifest, city.policy, city.directory)
    done = preview(provider, city, stack)
    assert done.returncode != 0 and checked["exit"] == 1, f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    found = reported(done)
    assert {"allowed-flavors", "level3-backup"} <= {p for level, p, _ in found if level == "mandatory"}, done.stdout
    assert verdicts(found) == {v["rule"]: v["enforcement"] for v in checked["violations"]}
    for v in checked["violations"]:  # the same message, the numbers and the article
        assert any(p == v["rule"] and said.endswith(as_reported(v)) for _, p, said in found), (v, found)


def test_a_stack_the_pack_cannot_place_fails_closed(govcloud, provider, city):
    """The pack cannot know what the unit holds (no manifests directory): a mandatory violation
    that says so, never a pass."""
    city.stacks.append(stack := stack_for(govcloud, provider, city.manifest))
    done = preview(provider, city, stack, GOVCLOUD_MANIFESTS=str(city.directory / "missing"))
    assert done.returncode != 0, done.stdout[-4000:]
    assert verdicts(reported(done)).get(STACK_CONFIG) == "mandatory", done.stdout[-4000:]
    assert f"stack {stack}: " in done.stdout and "no such manifest directory" in done.stdout, done.stdout[-4000:]
