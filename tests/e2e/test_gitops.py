"""GitOps on the local cloud: a merge request planned, approved, merged and applied by the pipeline's
own job.

A git repository of manifests holds two applications that run their test and trial environments:
``social-security`` (rsj; its production environment left out, the lifecycle story has it) and
``citizen-portal`` (zwb), under fresh ids. A merge request adds one security-group rule to each (a
minor change, Art. 15). ``govcloud gitops plan`` writes the merge-request comment, which must name
the change and the rule resource it adds; the e-gov office approves the changes in the ledger; the
branch is merged; then the ``gitops-apply`` job of ``examples/pipelines/gitlab-ci.yml`` runs as
GitLab runs it: its ``script:`` lines in one shell, in the repository, with the pipeline's
variables (a push to the default branch, the commit before it, the ledger's URL, ``auth: oidc`` and
the provider's real ID token from the local Keycloak). Its ``default.before_script`` (apt-get, pip)
is the image's set-up and is not run: the test's environment has govcloud installed.

Then each of the four stacks must be exactly as planned: the cloud equals the head plan resource
by resource (``cloudcheck``), the engine created the one planned rule and nothing else, no
resource was replaced; and the ledger shows one ``provisioned`` record of each environment at the
new digest, in the provider's name.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator.adapters.platform import KeycloakAdmin
from orchestrator.core import naming
from orchestrator.core.manifest import Environment
from orchestrator.core.stackplan import StackPlan
from orchestrator.core.validation import load_manifest
from orchestrator.services.plan import plan_application
from tests import keycloak_env

from . import cloudcheck
from .conftest import CHIEF, CLERK, DAY, OPS, REPO, Govcloud, beijing, remove_projects, sweep

pytestmark = pytest.mark.e2e
PIPELINE = REPO / "examples" / "pipelines" / "gitlab-ci.yml"
JOB = "gitops-apply"
ENVS = ("test", "trial")
PROVIDER_USER = "provider-operator"  # the local Keycloak's test user with the govcloud-provider role
METRICS_RULE = """          - protocol: tcp
            ports: 9100
            remoteCidr: 10.20.0.0/16
            description: node metrics scraped from the management network
"""


@dataclass
class App:
    """One application of the repository: its id, unit, the security group the change adds a rule to."""

    example: str
    unit: str
    group: str
    id: str = ""

    @property
    def path(self) -> str:
        return f"manifests/{self.id}.yaml"

    def stack(self, env: str) -> str:
        return naming.stack_name(self.unit, self.id, Environment(env))


@dataclass
class City:
    """The repository, the ledger and the CLI in the pipeline's city; what the steps hand on."""

    repo: Path
    govcloud: Govcloud
    apps: list[App]
    oidc_config: Path
    ids: dict[str, dict[str, str]] = field(default_factory=dict)
    """Stack -> planned name -> real id before the change."""
    merged_onto: str = ""
    """The default branch's commit before the merge (the pipeline's ``CI_COMMIT_BEFORE_SHA``)."""
    planned: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Stack -> the resource difference ``gitops plan`` showed the merge request."""

    def git(self, *args: str) -> str:
        return subprocess.run(["git", *args], cwd=self.repo, check=True, capture_output=True, text=True).stdout.strip()

    def manifest(self, app: App) -> Path:
        return self.repo / app.path

    def plan(self, app: App, env: str) -> StackPlan:
        return plan_application(load_manifest(self.manifest(app)), Environment(env))


def with_rule(text: str, group: str) -> str:
    """The manifest ``text`` with :data:`METRICS_RULE` first in security group ``group``."""
    start = text.index(f"      - name: {group}\n")
    anchor = text.index("        rules:\n", start) + len("        rules:\n")
    return text[:anchor] + METRICS_RULE + text[anchor:]


def without_production(text: str) -> str:
    assert text.count("    production: {}\n") == 1
    return text.replace("    production: {}\n", "")


@pytest.fixture(scope="module")
def city(
    tmp_path_factory: pytest.TempPathFactory,
    admin: Any,
    keycloak: dict[str, str],
    govcloud: Govcloud,
    engine_checkout: Path,
) -> City:
    """A fresh repository of two manifests (commits on ``main``), a ledger of its own, and the
    removal of everything the module made however it ends."""
    home = tmp_path_factory.mktemp("gitops-city")
    repo = home / "manifests-repo"
    env = govcloud.env | {"GOVCLOUD_DATABASE_URL": f"sqlite:///{home / 'ledger.db'}"}
    suffix = uuid.uuid4().hex[:6]
    apps = [App("social-security", "rsj", "app", f"ss-{suffix}"), App("citizen-portal", "zwb", "web", f"cp-{suffix}")]
    made_groups = [
        admin.identity.create_group(name=name, domain_id="default")
        for name in ("zwb-admins", "zwb-operators")
        if admin.identity.find_group(name, domain_id="default") is None
    ]
    oidc_config = home / "govcloud-oidc.yaml"
    oidc_config.write_text(
        f"auth: oidc\noidc:\n  issuer: {keycloak['KEYCLOAK_ISSUER']}\n"
        f"  audience: {keycloak['KEYCLOAK_CLI_CLIENT_ID']}\n"
        f"  roleClaim: {keycloak['KEYCLOAK_ROLE_CLAIM']}\n  unitClaim: {keycloak['KEYCLOAK_UNIT_CLAIM']}\n"
        "  roleMap: {govcloud-egov: egov-office, govcloud-provider: provider, govcloud-unit: unit}\n",
        encoding="utf-8",
    )
    city = City(repo, Govcloud(env), apps, oidc_config)
    repo.mkdir()
    city.git("init", "--quiet", "--initial-branch", "main")
    city.git("config", "user.name", "City Platform Team")
    city.git("config", "user.email", "platform@egov.example.gov.cn")
    # The pipeline's repository vendors govcloud; here the checkout whose engine the tests use.
    shim = repo / "scripts" / "install-pulumi"
    shim.parent.mkdir()
    shim.write_text(f"#!/bin/sh\nexec '{engine_checkout / 'scripts' / 'install-pulumi'}' \"$@\"\n", encoding="utf-8")
    shim.chmod(0o755)
    (repo / "README.md").write_text("The city's application manifests (docs/gitops.md).\n", encoding="utf-8")
    city.git("add", ".")
    city.git("commit", "--quiet", "-m", "the city's manifest repository")
    (repo / "manifests").mkdir()
    for app in apps:
        text = (REPO / "examples" / "manifests" / f"{app.example}.yaml").read_text(encoding="utf-8")
        text = text.replace(f"id: {app.example}", f"id: {app.id}", 1)
        city.manifest(app).write_text(without_production(text) if "production: {}" in text else text, encoding="utf-8")
    city.git("add", ".")
    city.git("commit", "--quiet", "-m", "social security and the citizen portal")
    yield city
    projects = [naming.project_name(app.unit, app.id, Environment(env)) for app in apps for env in ENVS]
    problems = remove_projects(projects)  # directly, not by four engine destroys
    platform = KeycloakAdmin.from_environ(keycloak)
    for app in apps:
        sweep(admin, platform, app.unit, app.id)  # the clients in Keycloak; what a failed removal left
    for group in made_groups:
        admin.identity.delete_group(group, ignore_missing=True)
    left = [p for p in projects if admin.identity.find_project(p, domain_id="default")]
    assert left == [], f"left behind: {left}; " + "; ".join(problems)


def job(name: str) -> tuple[list[str], dict[str, str], list[dict[str, str]]]:
    """The ``script:`` lines, the variables (global and the job's) and the ``rules:`` of job ``name``."""
    pipeline = yaml.safe_load(PIPELINE.read_text(encoding="utf-8"))
    spec = pipeline[name]
    return list(spec["script"]), {**pipeline.get("variables", {}), **spec.get("variables", {})}, spec.get("rules", [])


def rule_holds(expression: str, variables: dict[str, str]) -> bool:
    """A GitLab ``rules: if:`` of ``==`` comparisons joined by ``&&`` (what the example uses)."""

    def value(term: str) -> str:
        term = term.strip()
        return variables.get(term[1:], "") if term.startswith("$") else term.strip('"')

    clauses = [c.split("==") for c in expression.split("&&")]
    assert all(len(c) == 2 for c in clauses), f"not a comparison the test can evaluate: {expression}"
    return all(value(left) == value(right) for left, right in clauses)


def run_job(city: City, name: str, variables: dict[str, str]) -> subprocess.CompletedProcess:
    """Job ``name`` as a GitLab runner runs it on the pipeline's push: its script in one shell."""
    script, defined, rules = job(name)
    env = city.govcloud.env | defined | variables
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"  # govcloud, as `pip install -e .` puts it
    assert rules and any(rule_holds(r["if"], env) for r in rules), f"{name} would not run on this pipeline: {rules}"
    return subprocess.run(
        ["bash", "-eo", "pipefail", "-c", "\n".join(script)],
        cwd=city.repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
    )


def test_both_applications_run_test_and_trial(city, admin):
    """The state a change starts from (Art. 15: a running trial): provisioned by ``govcloud up``."""
    unit_actor = {a.id: ("--as", "owner", "--role", "unit", "--unit", a.unit) for a in city.apps}
    for app in city.apps:
        m, actor = str(city.manifest(app)), unit_actor[app.id]
        city.govcloud("app", "submit", m, *actor, "--at", beijing(-6 * DAY))
        city.govcloud("app", "accept", app.id, *CLERK, "--at", beijing(-5 * DAY))
        city.govcloud("app", "review", app.id, "--opinion", "complete", *CLERK, "--at", beijing(-5 * DAY))
        city.govcloud("app", "approve", app.id, "--env", "test", *CHIEF, "--at", beijing(-4 * DAY))

    def provision(app: App) -> None:
        m = str(city.manifest(app))
        city.govcloud("up", m, "--env", "test", "--at", beijing(-4 * DAY + dt.timedelta(hours=1)), *OPS)
        city.govcloud("app", "test-passed", app.id, "--evidence", "self-test", *CLERK, "--at", beijing(-3 * DAY))
        city.govcloud(
            "app", "approve", app.id, "--env", "trial", *CHIEF, "--at", beijing(-3 * DAY + dt.timedelta(hours=1))
        )
        city.govcloud("up", m, "--env", "trial", "--at", beijing(-2 * DAY), *OPS)

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(provision, city.apps))
    for app in city.apps:
        assert city.govcloud.json("app", "status", app.id)["state"] == "trial"
        for env in ENVS:
            assert cloudcheck.differences(city.plan(app, env), admin) == []
            city.ids[app.stack(env)] = cloudcheck.ids(city.plan(app, env), admin) | cloudcheck.database_ids(
                city.plan(app, env), admin
            )


def test_the_merge_request_is_planned_approved_and_merged(city):
    city.git("checkout", "--quiet", "-b", "metrics")
    for app in city.apps:
        path = city.manifest(app)
        path.write_text(with_rule(path.read_text(encoding="utf-8"), app.group), encoding="utf-8")
    city.git("commit", "--quiet", "-am", "scrape node metrics from the management network")

    repo = ("--repo", str(city.repo))
    comment = city.govcloud("gitops", "plan", "--base", "main", *repo).stdout  # the job's comment, before approval
    planned = city.govcloud.json("gitops", "plan", "--base", "main", *repo)
    for app in city.apps:
        rule = f"{app.id}-{app.group}-ingress-tcp-9100-10.20.0.0_16"
        [entry] = [a for a in planned["applications"] if a["app"] == app.id]
        assert (entry["change"], entry["classification"]["kind"]) == ("modified", "minor"), entry
        for stack in entry["stacks"]:
            city.planned[stack["stack"]] = stack["resources"]
            assert stack["quota"]["ok"] and not stack["gate"]["approved"], stack
            assert [r["name"] for r in stack["resources"]["added"]] == [rule], stack["resources"]
            assert stack["resources"]["removed"] == [], stack["resources"]
        assert f"<b>{app.id}</b>: modified, minor change (Art. 15)" in comment, comment
        assert f"`+` SecGroupRule `{rule}`" in comment, comment  # the resource difference names the rule
        for env in ENVS:
            assert f"| `{app.stack(env)}` | modified | minor | ✅ | ⏳ | +1 ~" in comment, comment

    # the unit asks for the change, the office approves it, the merge request is merged
    for app in city.apps:
        unit_actor = ("--as", "owner", "--role", "unit", "--unit", app.unit)
        city.govcloud(
            "app", "change", app.id, str(city.manifest(app)), *unit_actor, "--at", beijing(-2 * dt.timedelta(hours=1))
        )
        city.govcloud("app", "approve-change", app.id, *CHIEF, "--at", beijing(-dt.timedelta(hours=1)))
    city.git("checkout", "--quiet", "main")
    city.merged_onto = city.git("rev-parse", "HEAD")
    city.git("merge", "--quiet", "--no-ff", "metrics", "-m", "Merge branch 'metrics' into 'main'")


def test_the_pipelines_apply_job_changes_each_stack_as_planned(city, admin, keycloak):
    before, head = city.merged_onto, city.git("rev-parse", "HEAD")
    digests = {app.id: load_manifest(city.manifest(app)).digest for app in city.apps}
    done = run_job(
        city,
        JOB,
        {
            "CI": "true",
            "GITLAB_CI": "true",
            "CI_PIPELINE_SOURCE": "push",
            "CI_DEFAULT_BRANCH": "main",
            "CI_COMMIT_BRANCH": "main",
            "CI_COMMIT_SHA": head,
            "CI_COMMIT_BEFORE_SHA": before,
            "CI_PROJECT_DIR": str(city.repo),
            "CI_JOB_NAME": JOB,
            "CI_JOB_URL": "https://gitlab.example/city/manifests/-/jobs/7",
            "GOVCLOUD_CONFIG": str(city.oidc_config),
            "GOVCLOUD_ID_TOKEN": keycloak_env.id_token(keycloak, PROVIDER_USER),
        },
    )
    assert done.returncode == 0, (
        f"the {JOB} job failed ({done.returncode})\n{done.stdout[-4000:]}\n{done.stderr[-6000:]}"
    )
    report = json.loads((city.repo / "apply.json").read_text(encoding="utf-8"))  # the job's artifact
    assert (report["base"], report["head"]) == (before, head)
    assert report["counts"] == {"applied": 4}, report
    problems = []
    for result in report["results"]:
        changes, planned = result["changes"], city.planned[result["stack"]]
        # the planned rule created; every planned change (re-tags included) an update; nothing replaced
        expected = {"create": len(planned["added"]), "update": len(planned["changed"])}
        if {k: v for k, v in changes.items() if k != "same"} != expected:
            problems.append(f"{result['stack']}: the engine did {changes}, the plan said {expected}")
    for app in city.apps:
        for env in ENVS:
            plan = city.plan(app, env)
            problems += [f"{app.stack(env)}: {p}" for p in cloudcheck.differences(plan, admin)]
            if cloudcheck.ids(plan, admin) | cloudcheck.database_ids(plan, admin) != city.ids[app.stack(env)]:
                problems.append(f"{app.stack(env)}: something was replaced")
        history = city.govcloud.json("app", "history", app.id)
        approved = max(i for i, e in enumerate(history) if e["type"] == "change-approved")
        after = [e for e in history[approved + 1 :] if e["type"] in ("provisioned", "reapplied")]
        if sorted(e["environment"] for e in after) != sorted(ENVS):  # once each
            problems.append(f"{app.id}: recorded after the approval: {after}")
        for event in after:
            got = (event["type"], event["digest"], event["actor"], event["actor_role"], event["actor_source"])
            if got != ("provisioned", digests[app.id], PROVIDER_USER, "provider", "oidc") or not re.search(
                rf"\(commit {head[:12]}\)", event["reason"] or ""
            ):
                problems.append(f"{app.id}: {event}")
        if (state := city.govcloud.json("app", "status", app.id)["state"]) != "trial":
            problems.append(f"{app.id}: state {state} after the change, not trial")
    assert problems == [], "\n".join(problems)
