"""The whole life of the example ``social-security`` on the local cloud, in order.

Test, trial and production are provisioned along the regulation's timeline (stated times in the
past, ``--at``): test by hand with plain Pulumi as a provider would and then by ``govcloud up``,
which must find nothing to change; trial and production by ``govcloud up``. After each, every
planned resource is compared with the cloud through openstacksdk (and Trove's and Keycloak's
APIs). Once the trial runs, the test environment's window passes and ``govcloud expire`` removes
it, after the department stored its data in it and made things by hand (``handmade``): nothing
of it may remain (project, resources by id, client, stack, what was made by hand). A minor change
is approved and applied without replacing anything; the trial is backed up (a backup of each
kind) and drilled (restored into a scratch project, checked, removed); then both environments get
data and hand-made things, the application is terminated with the trial's backups named as its
final backup (Art. 16), which reclamation keeps in the run's archive project, and reclaimed, a
first run killed in the middle of production's destroy, the second finishing: nothing of it may remain, not in OpenStack
(including a volume created outside Pulumi but labelled for it, the segments' container, the
snapshots, images, backups, ports and groups made by hand), not in Keycloak, not in the Pulumi
backend; only the final backup's copies, in the archive project.

The tests share one story and run in file order; ``make e2e`` stops at the first failure.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import shlex
import signal
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from orchestrator.adapters import engine
from orchestrator.adapters.platform import KeycloakAdmin
from orchestrator.core import backups, naming
from orchestrator.core.manifest import Environment
from orchestrator.core.stackplan import StackPlan
from orchestrator.core.validation import load_manifest
from orchestrator.services.plan import plan_application

from . import cloudcheck, handmade
from .conftest import CHIEF, CLERK, CLOUD, DAY, EXAMPLE, OPS, REPO, UNIT, UNIT_ACTOR, Govcloud, beijing

SITE = "govcloud-site"  #: the backup site of offsite: true (toolchain/cloud/seed.py adds the clouds.yaml entry)

pytestmark = pytest.mark.e2e
METRICS_RULE = """          - protocol: tcp
            ports: 9100
            remoteCidr: 10.20.0.0/16
            description: metrics scraped from the management network
"""


@dataclass
class Story:
    """What the steps hand to each other."""

    app: str
    manifest: Path
    ids: dict[str, dict[str, str]] = field(default_factory=dict)
    """Environment -> planned name -> real id, after the first ``up``."""
    backups: dict[str, str] = field(default_factory=dict)
    """The trial's backups by kind (one of each), the final backup named at termination."""

    @property
    def archive(self) -> str:
        """The provider's archive project of this run (``govcloud.yaml`` ``backups.archiveProject``)."""
        return f"{self.app}-archive"

    def stack(self, env: str) -> str:
        return naming.stack_name(UNIT, self.app, Environment(env))

    def plan(self, env: str) -> StackPlan:
        return plan_application(load_manifest(self.manifest), Environment(env))


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory, admin: Any, keycloak: dict[str, str], govcloud: Govcloud) -> Story:
    """``social-security`` under a fresh id (so runs never meet), and its cleanup however it ends."""
    app = f"ss-{uuid.uuid4().hex[:6]}"
    manifest = tmp_path_factory.mktemp("manifests") / f"{app}.yaml"
    manifest.write_text(
        EXAMPLE.read_text(encoding="utf-8").replace("id: social-security", f"id: {app}", 1), encoding="utf-8"
    )
    story = Story(app, manifest)
    yield story
    stacks = engine.list_stacks(engine.locate(environ=govcloud.env))  # none after a reclaim
    for env in Environment:  # after a failure: the stacks first (Trove's ports block their networks)
        if story.stack(str(env)) in stacks:
            govcloud.run("destroy", str(story.manifest), "--env", str(env), "--yes")
    leftovers(admin, KeycloakAdmin.from_environ(keycloak), app, remove=True)
    from orchestrator.adapters.cloud import Cloud

    assert Cloud.connect(CLOUD).remove_project(story.archive)  # the final backup's copies (Art. 16)
    assert Cloud.connect(SITE).remove_project(backups.offsite_project(UNIT, app))  # the offsite copies


def leftovers(
    admin: Any,
    platform: KeycloakAdmin,
    app: str,
    remove: bool = False,
    envs: tuple[Environment, ...] = tuple(Environment),
) -> list[str]:
    """Everything of ``app`` (in ``envs``) still in the cloud or the platform (removed too when ``remove``)."""
    found = []
    for env in envs:
        name = naming.project_name(UNIT, app, env)
        if (project := admin.identity.find_project(name, domain_id="default")) is not None:
            found.append(f"project {name}")
            if remove:
                admin.connect_as_project(project).project_cleanup(dry_run=False, wait_timeout=120)
                for group in admin.network.security_groups(project_id=project.id):
                    admin.network.delete_security_group(group, ignore_missing=True)
                admin.identity.delete_project(project, ignore_missing=True)
    label, partial = f"{naming.TAG_PREFIX}app={app}", len(envs) < len(Environment)
    if partial:  # one environment (Neutron: every tag listed must be there)
        [env] = envs
        label += f",{naming.TAG_PREFIX}env={env.value}"
    for kind, listing in (
        ("network", admin.network.networks),
        ("port", admin.network.ports),
        ("router", admin.network.routers),
        ("security group", admin.network.security_groups),
        ("floating IP", admin.network.ips),
        ("subnet", admin.network.subnets),
    ):
        found += [f"{kind} {r.id}" for r in listing(tags=label)]
    meta, names = f"{naming.TAG_PREFIX}app", {env.value for env in envs}

    def ours(metadata: dict | None) -> bool:
        metadata = metadata or {}
        return metadata.get(meta) == app and (not partial or metadata.get(f"{naming.TAG_PREFIX}env") in names)

    found += [f"server {s.id}" for s in admin.compute.servers(all_projects=True) if ours(s.metadata)]
    found += [f"volume {v.id}" for v in admin.block_storage.volumes(all_projects=True) if ours(v.metadata)]
    clients = {naming.client_id(UNIT, app, env) for env in envs}
    for realm in ("government", "government-test"):
        for client in platform.clients(realm, f"{UNIT}-{app}-"):
            if partial and client.client_id not in clients:
                continue
            found.append(f"keycloak client {client.client_id} in {realm}")
            if remove:
                platform.delete_client(realm, client.id)
    return found


def assert_matches(story: Story, env: str, admin: Any, keycloak: dict[str, str]) -> None:
    plan = story.plan(env)
    problems = cloudcheck.differences(plan, admin)
    problems += client_differences(plan, KeycloakAdmin.from_environ(keycloak))
    assert problems == [], f"{plan.stack} differs from its plan:\n  " + "\n  ".join(problems)


def client_differences(plan: StackPlan, platform: KeycloakAdmin) -> list[str]:
    """The environment's client in Keycloak against the planned client and roles."""
    [planned] = [r for r in plan.resources if r.type == "keycloak:openid/client:Client"]
    p = planned.properties
    client = platform.find_client(p["realmId"], p["clientId"])
    if client is None:
        return [f"keycloak client {p['clientId']} in {p['realmId']}: not found"]
    problems = []
    for key, expected in (
        ("redirectUris", sorted(p["validRedirectUris"])),
        ("publicClient", False),
        ("standardFlowEnabled", True),
        ("enabled", True),
    ):
        actual = sorted(client.get(key) or []) if key == "redirectUris" else client.get(key)
        if actual != expected:
            problems.append(f"keycloak client {p['clientId']} {key}: {actual!r}, plan says {expected!r}")
    roles = sorted(r.properties["name"] for r in plan.resources if r.type == "keycloak:index/role:Role")
    actual = sorted(role["name"] for role in platform.client_roles(p["realmId"], client["id"]))
    if actual != roles:
        problems.append(f"keycloak client {p['clientId']} roles: {actual}, plan says {roles}")
    labels = {k: v for k, v in (client.get("attributes") or {}).items() if k.startswith(naming.TAG_PREFIX)}
    if labels != p["extraConfig"]:
        problems.append(f"keycloak client {p['clientId']} labels: {labels}, plan says {p['extraConfig']}")
    return problems


#: What :func:`tamper` changes, as :func:`cloudcheck.differences` must report it.
TAMPERED = [
    "volume {app}-archive size: cloud has ",
    "security group {app}-gateway rules: ",
]


def tamper(plan: StackPlan) -> StackPlan:
    """``plan`` with the archive volume one GB larger and one more rule on the gateway group."""
    resources = []
    for r in plan.resources:
        if r.name.endswith("-archive") and r.type.endswith("volume:Volume"):
            r = dataclasses.replace(r, properties={**r.properties, "size": r.properties["size"] + 1})
        resources.append(r)
    rule = next(r for r in resources if r.name.endswith("-gateway-ingress-tcp-443-0.0.0.0_0"))
    resources.append(
        dataclasses.replace(
            rule,
            name=rule.name.replace("-443-", "-8443-"),
            properties={**rule.properties, "portRangeMin": 8443, "portRangeMax": 8443},
        )
    )
    return dataclasses.replace(plan, resources=resources)


def up(govcloud: Govcloud, story: Story, env: str, at: dt.timedelta) -> dict[str, Any]:
    return govcloud.json("up", str(story.manifest), "--env", env, "--at", beijing(at), *OPS)


def test_test_environment_by_hand_with_plain_pulumi_then_by_govcloud(govcloud, story, admin, keycloak):
    m = str(story.manifest)
    govcloud("app", "submit", m, *UNIT_ACTOR, "--at", beijing(-80 * DAY))
    govcloud("app", "accept", story.app, *CLERK, "--at", beijing(-79 * DAY))
    govcloud(
        "app", "review", story.app, "--opinion", "complete; resources reasonable", *CLERK, "--at", beijing(-78 * DAY)
    )
    govcloud("app", "approve", story.app, "--env", "test", *CHIEF, "--at", beijing(-77 * DAY))

    # the provider, by hand, as docs/operations.md says
    stack = story.stack("test")
    digest = govcloud("digest", m).stdout.strip()
    govcloud.pulumi("stack", "init", stack, "--secrets-provider", "passphrase")
    settings = {
        "govcloud:manifest": m,
        "govcloud:environment": "test",
        "govcloud:digest": digest,
        "govcloud:externalNetwork": "public",
        "govcloud:authRealm": "government",
        "govcloud:providerOpsGroup": govcloud.env["GOVCLOUD_PROVIDER_OPS_GROUP"],
        "keycloak:url": govcloud.env["KEYCLOAK_URL"],
        "keycloak:realm": govcloud.env["KEYCLOAK_REALM"],
        "keycloak:clientId": govcloud.env["KEYCLOAK_CLIENT_ID"],
    }
    for key, value in settings.items():
        govcloud.pulumi("config", "set", "-s", stack, key, value)
    govcloud.pulumi(
        "config", "set", "-s", stack, "--secret", "keycloak:clientSecret", govcloud.env["KEYCLOAK_CLIENT_SECRET"]
    )
    by_hand = {k: v for k, v in govcloud.env.items() if not k.startswith("OS_") or k == "OS_CLIENT_CONFIG_FILE"}
    for line in govcloud("openrc", "--cloud", CLOUD).stdout.splitlines():
        verb, _, rest = line.partition(" ")
        key, _, value = rest.partition("=")
        assert verb == "export", line
        by_hand[key] = shlex.split(value)[0] if shlex.split(value) else ""
    govcloud.pulumi("up", "-s", stack, "--yes", "--skip-preview", env=by_hand)
    assert_matches(story, "test", admin, keycloak)
    # the comparison bites: a plan that differs from the cloud is reported, property by property
    reported = sorted(cloudcheck.differences(tamper(story.plan("test")), admin))
    expected = sorted(line.format(app=story.app) for line in TAMPERED)
    assert len(reported) == len(expected), reported
    assert all(got.startswith(want) for got, want in zip(reported, expected, strict=True)), reported

    # the same stack through govcloud: same config, so nothing to change; the ledger records it
    result = up(govcloud, story, "test", -76 * DAY)
    assert {k: v for k, v in result["changes"].items() if k != "same"} == {}, result["changes"]
    assert_matches(story, "test", admin, keycloak)
    status = govcloud.json("app", "status", story.app)
    assert status["state"] == "testing", status


def test_a_second_checkout_shares_the_state_and_one_change_runs_at_a_time(govcloud, story, tmp_path):
    """Issue 22: the state is in the cloud's object storage; a fresh clone (its own code, no
    Pulumi.<stack>.yaml) sees nothing to change; of two ups at once one runs, the other names
    the holder; a killed run's lock is named with the command that clears it, which works."""
    stack = story.stack("test")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
    (clone / ".venv").symlink_to(REPO / ".venv")  # its `make setup` (Pulumi.yaml runs the program in .venv)
    second = Govcloud(govcloud.env | {"PYTHONPATH": str(clone)}, cwd=clone)
    assert not list(clone.glob("Pulumi.*.yaml"))

    checks = {c["check"]: c for c in second.json("doctor", expect=3)}  # the ledger is SQLite on this host
    assert all(checks[name]["ok"] for name in ("configuration", "engine", "backend", "backend writes", "passphrase")), (
        checks
    )
    assert checks["backend"]["message"].startswith("s3://govcloud-state-"), checks["backend"]
    preview = second.json("preview", str(story.manifest), "--env", "test")
    assert {k: v for k, v in preview["changes"].items() if k != "same"} == {}, preview["changes"]

    runs = [
        g.start("up", str(story.manifest), "--env", "test", "--at", beijing(-75 * DAY), *OPS)
        for g in (govcloud, second)
    ]
    outputs = [p.communicate(timeout=1800) for p in runs]
    done = [(p.returncode, out, err) for p, (out, err) in zip(runs, outputs, strict=True)]
    assert sorted(code for code, _, _ in done) == [0, 1], [(c, e[-2000:]) for c, _, e in done]
    refused = next(err for code, _, err in done if code == 1)
    assert f"stack {stack} is being changed by " in refused and " pid " in refused and " since " in refused, refused

    # a refresh killed while it holds the backend's lock (and the stack's lease)
    import openstack

    store = openstack.connect(cloud=CLOUD)  # not admin: see tests/e2e/s3state.py
    bucket = urlsplit(govcloud.env["PULUMI_BACKEND_URL"]).netloc
    killed = govcloud.start("refresh", str(story.manifest), "--env", "test", "--yes", new_session=True)
    deadline = time.monotonic() + 300
    while not any(o.name.startswith(".pulumi/locks/") for o in store.object_store.objects(bucket)):
        assert killed.poll() is None and time.monotonic() < deadline, "the refresh never took the backend's lock"
        time.sleep(0.2)
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait(timeout=60)
    blocked = govcloud.run("up", str(story.manifest), "--env", "test", "--at", beijing(-74 * DAY), *OPS)
    assert blocked.returncode == 1 and f"govcloud state unlock {stack}" in blocked.stderr, blocked.stderr[-2000:]
    govcloud("state", "unlock", stack, "--yes")  # the holder's pid is gone: the lease and the lock are cleared
    assert not any(o.name.startswith(".pulumi/locks/") for o in store.object_store.objects(bucket))
    govcloud("up", str(story.manifest), "--env", "test", "--at", beijing(-74 * DAY), *OPS)


def test_trial_environment(govcloud, story, admin, keycloak):
    govcloud("app", "test-passed", story.app, "--evidence", "self-test report T-1", *CLERK, "--at", beijing(-70 * DAY))
    govcloud("app", "approve", story.app, "--env", "trial", *CHIEF, "--at", beijing(-69 * DAY))
    result = up(govcloud, story, "trial", -68 * DAY)
    assert result["changes"].get("create", 0) > 0 and "replace" not in result["changes"], result["changes"]
    assert_matches(story, "trial", admin, keycloak)


def test_expire_removes_the_test_environment_completely(govcloud, story, admin, keycloak):
    """The test window (15 days from -76) ended at -61: expire removes it the way reclaim would."""
    at = beijing(-60 * DAY)
    dry = govcloud.json("expire", "--dry-run", *OPS, "--at", at)
    assert [(a["application"], a["action"]) for a in dry["actions"]] == [(story.app, "destroy")], dry
    plan = story.plan("test")
    before = cloudcheck.ids(plan, admin) | cloudcheck.database_ids(plan, admin)
    present = cloudcheck.remaining(before, plan, admin)  # the look-ups find what is there
    assert present[0].startswith("project ") and any(p.startswith("databases/") for p in present), present
    assert len(present) == 1 + sum(k.split("/")[0] in cloudcheck.FIND_BY_ID for k in before), present
    made = handmade.store(admin, UNIT, story.app, "test")  # the department's data, and things made by hand
    report = govcloud.json("expire", *OPS, "--at", at)
    assert report["failed"] == 0 and report["actions"][0]["done"], report
    deleted = report["actions"][0]["deleted"]
    assert deleted.get("project") == 1 and deleted.get("object", 0) >= made.objects, report
    assert handmade.remaining(admin, made) == [], made

    platform = KeycloakAdmin.from_environ(keycloak)
    assert leftovers(admin, platform, story.app, envs=(Environment.TEST,)) == []
    assert cloudcheck.remaining(before, plan, admin) == []
    assert story.stack("test") not in govcloud.pulumi("stack", "ls", "--json").stdout
    assert leftovers(admin, platform, story.app, envs=(Environment.TRIAL,)) != []  # the trial lives on
    status = govcloud.json("app", "status", story.app)
    assert status["state"] == "trial" and "test" not in status["provisioned"], status
    history = govcloud.json("app", "history", story.app)
    assert history[-1]["type"] == "test-expired", history[-1]
    assert {e["payload"]["status"] for e in history if e["type"] == "reclaim-step"} <= {"done", "deferred"}


def test_production_environment_after_thirty_days_of_trial(govcloud, story, admin, keycloak):
    govcloud("app", "approve", story.app, "--env", "production", *CHIEF, "--at", beijing(-35 * DAY))
    up(govcloud, story, "production", -34 * DAY)
    for env in ("trial", "production"):
        assert_matches(story, env, admin, keycloak)
        story.ids[env] = cloudcheck.ids(story.plan(env), admin)
    assert govcloud.json("app", "status", story.app)["state"] == "production"


def test_minor_change_updates_in_place(govcloud, story, admin, keycloak):
    text = story.manifest.read_text(encoding="utf-8")
    # first in its group: rules are named by what they are, so the group's other rules stay
    anchor = "      - name: app\n        rules:\n"
    assert text.count(anchor) == 1
    changed = story.manifest.with_name(f"{story.app}-v2.yaml")
    changed.write_text(text.replace(anchor, anchor + METRICS_RULE, 1), encoding="utf-8")
    assert "change: minor" in govcloud("changes", str(story.manifest), str(changed)).stdout
    govcloud("app", "change", story.app, str(changed), *UNIT_ACTOR, "--at", beijing(-10 * DAY))
    govcloud("app", "approve-change", story.app, *CHIEF, "--at", beijing(-9 * DAY))
    story.manifest.write_text(changed.read_text(encoding="utf-8"), encoding="utf-8")
    envs = ("trial", "production")
    with ThreadPoolExecutor(max_workers=len(envs)) as pool:  # two stacks, two leases: the engines wait at once
        results = list(pool.map(lambda env: up(govcloud, story, env, -8 * DAY), envs))
    for env, result in zip(envs, results, strict=True):
        changes = {k: v for k, v in result["changes"].items() if k != "same"}
        assert changes.get("create") == 1 and "replace" not in changes and "delete" not in changes, changes
        assert_matches(story, env, admin, keycloak)
        assert cloudcheck.ids(story.plan(env), admin) == story.ids[env], "something was replaced"


def test_backups_of_the_trial_and_a_restore_drill(govcloud, story, admin):
    """Art. 30 and 44 once the trial runs: a backup of each kind the trial holds, copied to the
    backup site (``offsite: true``; on the local cloud the site is the same cloud under the
    clouds.yaml entry ``govcloud-site``), then a drill that restores them into a scratch project,
    checks them and removes it."""
    config = Path(govcloud.env["GOVCLOUD_CONFIG"])
    config.write_text(
        config.read_text(encoding="utf-8") + f"backups:\n  site: {SITE}\n  archiveProject: {story.archive}\n",
        encoding="utf-8",
    )
    [run] = govcloud.json("backup", "run", story.app, "--env", "trial", "--force", *OPS)
    assert run["missed"] == [] and run["volume_kind"] == "volume-snapshot", run
    story.backups = {b["kind"]: b["id"] for b in run["taken"]}
    assert sorted(story.backups) == ["container", "database", "volume-snapshot"], run
    offsite = {o["kind"]: o for o in run["offsite"]}
    assert offsite["volume-snapshot"]["action"] == "offsite-skipped"  # no API reads a snapshot
    copies = {offsite[k]["copy"] for k in ("container", "database")}
    site = admin.identity.find_project(backups.offsite_project(UNIT, story.app), domain_id="default")
    assert site is not None and "govcloud:purpose=offsite-backup" in site.tags
    assert {c.name for c in admin.connect_as_project(site).object_store.containers()} == copies
    drill = govcloud.json("backup", "drill", story.app, "--env", "trial", *OPS)
    assert drill["ok"] and drill["scratch_removed"], drill
    assert {c["kind"] for c in drill["checks"]} == set(story.backups)
    assert admin.identity.find_project(drill["scratch_project"], domain_id="default") is None


def test_reclaim_leaves_nothing(govcloud, story, admin, keycloak, tmp_path):
    """Both environments full of the department's data and things made by hand (issue 24); the
    first run is killed (the process group, the engine with it) in the middle of production's
    destroy; the second finishes with nothing left."""
    project = admin.identity.find_project(
        naming.project_name(UNIT, story.app, Environment.PRODUCTION), domain_id="default"
    )
    labels = {f"{naming.TAG_PREFIX}{k}": v for k, v in {"unit": UNIT, "app": story.app, "env": "production"}.items()}
    # the project's quota is exactly what the manifest asks: whoever adds a volume by hand raises it
    quota = admin.block_storage.get_quota_set(project.id)
    admin.block_storage.update_quota_set(project.id, volumes=quota.volumes + 1, gigabytes=quota.gigabytes + 1)
    outside = admin.connect_as_project(project).block_storage.create_volume(
        name="made-by-hand", size=1, metadata=labels
    )
    admin.block_storage.wait_for_status(outside, "available", wait=120)
    import openstack

    def store(env: str) -> handmade.Made:  # a connection of its own per thread
        return handmade.store(openstack.connect(cloud=CLOUD), UNIT, story.app, env)

    envs = ("trial", "production")
    with ThreadPoolExecutor(max_workers=len(envs)) as pool:  # two projects: their snapshots and backups wait at once
        made = dict(zip(envs, pool.map(store, envs), strict=True))
    print({env: m.backup_note for env, m in made.items()})  # what Trove's fake guest made of the backups

    govcloud("app", "terminate", story.app, *UNIT_ACTOR, "--at", beijing(-3 * dt.timedelta(hours=1)))
    # the final backup (Art. 16): checked in the ledger and the cloud, kept in the run's archive
    # project (govcloud.yaml backups.archiveProject, set by the backup step)
    govcloud(
        "app",
        "confirm-backup",
        story.app,
        "--evidence",
        "archive B-1",
        *UNIT_ACTOR,
        *(f"--backup={b}" for b in story.backups.values()),
        "--at",
        beijing(-2 * dt.timedelta(hours=1)),
    )
    govcloud("app", "approve-termination", story.app, *CHIEF, "--at", beijing(-dt.timedelta(hours=1)))

    killed = killed_in_destroy(govcloud, story, "production")
    assert project.id == admin.identity.find_project(project.name, domain_id="default").id  # kept: the stack holds
    assert story.stack("production") in govcloud.pulumi("stack", "ls", "--json").stdout
    take_over(govcloud, story.app, killed)
    # the killed run also left the stack's lease and the backend's lock: cleared as docs/reclaim.md says
    govcloud("state", "unlock", story.stack("production"), "--yes")

    lines = govcloud("reclaim", story.app, *OPS, "--output", "json").stdout.splitlines()
    steps = [json.loads(line)["step"] for line in lines[:-1]]
    summary = json.loads(lines[-1])["summary"]
    assert steps and all(s["status"] in ("done", "skipped", "deferred") for s in steps), steps
    assert summary["failures"] == [] and summary["reclaimed"], summary
    assert [s["step"] for s in steps if s["environment"] == "production"][:2] == ["empty", "destroy"], steps

    assert steps[0]["step"] == "archive" and steps[0]["status"] == "done", steps[0]  # archived in the killed run
    # the copies at the backup site go last, with the site's project (offsite: true)
    assert steps[-1]["step"] == "offsite" and steps[-1]["deleted"] == {"offsite copy": 2, "offsite project": 1}
    assert admin.identity.find_project(backups.offsite_project(UNIT, story.app), domain_id="default") is None
    archive = admin.identity.find_project(story.archive, domain_id="default")
    assert archive is not None and "govcloud:purpose=backup-archive" in archive.tags
    kept = admin.connect_as_project(archive)
    [volume] = kept.block_storage.volumes()
    labels = {f"{naming.TAG_PREFIX}{k}": v for k, v in {"app": story.app, "env": "trial", "backup": "final"}.items()}
    assert labels.items() <= volume.metadata.items() and volume.status == "available"
    containers = {c.name for c in kept.object_store.containers()}
    assert any(c.startswith(f"{UNIT}-{story.app}-trial-final-container") for c in containers), containers
    trove = kept.session.get(f"{kept.endpoint_for('database')}/backups").json()["backups"]
    assert [b["status"] for b in trove] == ["RESTORED"] and "govcloud:backup=final" in trove[0]["description"]
    # the archive's volume is the only thing of the application left anywhere
    assert leftovers(admin, KeycloakAdmin.from_environ(keycloak), story.app) == [f"volume {volume.id}"]
    assert admin.block_storage.find_volume(outside.id, ignore_missing=True, all_projects=True) is None
    for env, m in made.items():
        assert handmade.remaining(admin, m) == [], (env, m)
    stacks = govcloud.pulumi("stack", "ls", "--json").stdout
    assert story.app not in stacks
    assert govcloud.json("app", "status", story.app)["state"] == "reclaimed"


def killed_in_destroy(govcloud: Govcloud, story: Story, env: str, after: float = 8.0) -> int:
    """Start ``govcloud reclaim``, and kill it with its engine (SIGKILL to the process group, as a
    machine that dies) ``after`` seconds into the destroy of ``env``; its pid."""
    import os
    import signal
    import subprocess
    import sys
    import time

    command = [str(Path(sys.executable).with_name("govcloud")), "reclaim", story.app, *OPS, "--output", "json"]
    process = subprocess.Popen(
        command,
        cwd=REPO,
        env=govcloud.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        for line in process.stdout:
            step = json.loads(line).get("step", {})
            if step.get("environment") == env and step.get("step") == "empty":
                break
        else:
            pytest.fail(f"reclaim ended before the destroy of {env}: {process.stderr.read()[-3000:]}")
        time.sleep(after)
        assert process.poll() is None, "the destroy ended before the kill: kill sooner"
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=60)
    return process.pid


def take_over(govcloud: Govcloud, app: str, pid: int) -> None:
    """A killed run leaves its lease (15 minutes): let it expire, as another operator waits for."""
    import socket

    from orchestrator.adapters.ledger import Ledger

    ledger = Ledger.open(f"sqlite:///{Path(govcloud.env['GOVCLOUD_HOME']) / 'ledger.db'}")
    holder, ttl = f"ops@{socket.gethostname()}:{pid}", dt.timedelta(minutes=15)
    assert ledger.lease(f"reclaim:{app}")[0] == holder
    past = dt.datetime.now(dt.UTC).replace(tzinfo=None) - 2 * ttl
    assert ledger.acquire(f"reclaim:{app}", holder, ttl, now=past)
    ledger.close()
