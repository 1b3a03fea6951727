"""Issue 25 on the local cloud: a change never destroys data silently.

One application (``social-security``'s unit and materials under a fresh id, with lean resources:
a ``stateless`` gateway group, and in its trial two stateful app servers with data volumes, a
Trove database, an archive volume and a container) runs a trial environment with data in it:
objects in its container and a snapshot made by hand of its archive volume. Then the edits of the
issue, each a change request approved by the office: a renamed data volume, a new image for the
stateful servers, a lower server count, each refused by ``up`` without the data-loss approval
(nothing destroyed, checked by id) and done with it, exactly as approved and recorded; one change
without data loss (a new image and a lower count for the stateless gateways, a Trove flavor change
and volume growth), which proceeds and resizes the database in place; a data volume grown over a
quota the provider set by hand, which fails, stays recoverable, and is extended by the retry. Last,
the application is reclaimed (its protection lifted by the approved termination).

The tests share one story and run in file order; a failure stops the rest (one ``up`` each, as
far as it goes: every ``up`` of the trial costs 20-80 s).
"""

from __future__ import annotations

import datetime as dt
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from orchestrator.adapters import engine
from orchestrator.adapters.platform import KeycloakAdmin
from orchestrator.core import naming
from orchestrator.core.manifest import Environment
from orchestrator.core.stackplan import StackPlan
from orchestrator.core.validation import load_manifest
from orchestrator.errors import GovcloudError
from orchestrator.services.plan import plan_application

from . import cloudcheck
from .conftest import DAY, EXAMPLE, Govcloud, beijing
from .test_lifecycle import CHIEF, CLERK, OPS, UNIT, UNIT_ACTOR, leftovers

pytestmark = [pytest.mark.e2e, pytest.mark.data_safety]
NEW_IMAGE = "debian-13"
#: The resources (the unit, materials and the rest are social-security's): the test environment
#: is one small stateless server; the trial holds the data.
RESOURCES = """  resources:
    securityGroups:
      - name: web
        rules:
          - protocol: tcp
            ports: 443
            remoteCidr: 10.20.0.0/16
    servers:
      - name: gateway
        flavor: g.1c2g
        image: debian-12
        count: 1
        stateless: true
        securityGroups: [web]
  environments:
    test: {}
    trial:
      resources:
        servers:
          - name: gateway
            count: 2
          - name: app
            flavor: g.1c2g
            image: debian-12
            count: 2
            securityGroups: [web]
            volumes:
              - name: data
                sizeGb: 1
                type: encrypted
              - name: logs
                sizeGb: 1
                type: encrypted
        databases:
          - name: benefits
            engine: mysql
            version: "8.0"
            flavor: g.2c4g
            sizeGb: 2
            volumeType: encrypted
            databases: [benefits]
            users:
              - name: app
                databases: [benefits]
        volumes:
          - name: archive
            sizeGb: 2
            type: encrypted
            attachTo: app
        containers:
          - name: scans
            sizeGb: 1
"""
APP_IMAGE = "            image: {image}\n            count: 2\n            securityGroups: [web]\n            volumes:"
GATEWAY_IMAGE = "        image: {image}\n        count: 1\n        stateless: true"


@dataclass
class Story:
    app: str
    manifest: Path
    directory: Path
    at: dt.timedelta = -80 * DAY
    reports: int = 0
    snapshot: str = ""
    history: list[str] = field(default_factory=list)

    @property
    def stack(self) -> str:
        return naming.stack_name(UNIT, self.app, Environment.TRIAL)

    def plan(self) -> StackPlan:
        return plan_application(load_manifest(self.manifest), Environment.TRIAL)

    def when(self) -> str:
        """The next stated time (an hour after the previous one)."""
        self.at += dt.timedelta(hours=1)
        return beijing(self.at)

    def name(self, suffix: str) -> str:
        return f"{self.app}-{suffix}"


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory, admin: Any, keycloak: dict[str, str], govcloud: Govcloud) -> Story:
    app = f"ds-{uuid.uuid4().hex[:6]}"
    directory = tmp_path_factory.mktemp("data-safety")
    text = EXAMPLE.read_text(encoding="utf-8").replace("id: social-security", f"id: {app}", 1)
    text = text[: text.index("\n  resources:\n") + 1] + RESOURCES
    manifest = directory / f"{app}.yaml"
    manifest.write_text(text, encoding="utf-8")
    story = Story(app, manifest, directory)
    yield story
    # after a failure (a reclaimed application has nothing left): the stacks first, their protection
    # lifted as reclamation lifts it (Trove's instances live in its own project: only the stack removes them)
    located = engine.locate(environ=govcloud.env)
    for env in Environment:
        stack = naming.stack_name(UNIT, app, env)
        try:
            if engine.stack_exists(stack, located):
                engine.destroy_stack(stack, located)
        except GovcloudError as exc:
            warnings.warn(f"clean-up: {exc}", stacklevel=1)
    leftovers(admin, KeycloakAdmin.from_environ(keycloak), app, remove=True)
    # a stack that could not be destroyed leaves its Trove instance in Trove's project
    endpoint = admin.endpoint_for("database")
    listed = admin.session.get(f"{endpoint}/mgmt/instances?deleted=false", endpoint_filter=None).json()["instances"]
    for instance in listed:
        if instance["name"].startswith(f"{app}-"):
            admin.session.delete(f"{endpoint}/instances/{instance['id']}", endpoint_filter=None)


@pytest.fixture(scope="module")
def new_image(admin: Any) -> str:
    """A second image in the catalogue, for the image changes."""
    if admin.image.find_image(NEW_IMAGE) is None:
        admin.image.create_image(
            name=NEW_IMAGE,
            disk_format="raw",
            container_format="bare",
            visibility="public",
            data=b"\0" * 1024,
            wait=True,
        )
    return NEW_IMAGE


def ids(story: Story, admin: Any) -> dict[str, str]:
    plan = story.plan()
    return cloudcheck.ids(plan, admin) | cloudcheck.database_ids(plan, admin)


def propose(govcloud: Govcloud, story: Story, *replacements: tuple[str, str]) -> str:
    """The unit requests the edited manifest as a change, the office tests and approves it; the
    story's manifest becomes the new one. Returns what ``govcloud changes`` said."""
    text = story.manifest.read_text(encoding="utf-8")
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    story.reports += 1
    current = text.split("selfTestReport:")[1].split("sha256: ")[1].split("\n")[0]
    text = text.replace(current, f"a{story.reports:x}" * 32)  # a new self-test report (a major change needs one)
    new = story.directory / f"{story.app}-v{story.reports + 1}.yaml"
    new.write_text(text, encoding="utf-8")
    said = govcloud("changes", str(story.manifest), str(new)).stdout
    govcloud("app", "change", story.app, str(new), *UNIT_ACTOR, "--at", story.when())
    govcloud("app", "test-passed", story.app, "--evidence", f"report {story.reports}", *CLERK, "--at", story.when())
    govcloud("app", "approve-change", story.app, *CHIEF, "--at", story.when())
    story.manifest.write_text(text, encoding="utf-8")
    return said


def up(govcloud: Govcloud, story: Story, expect: int | None = 0) -> Any:
    """``govcloud up`` of the trial; ``expect=None`` returns whatever it exited with."""
    args = ("up", str(story.manifest), "--env", "trial", "--at", story.when(), *OPS)
    return govcloud.run(*args) if expect is None else govcloud(*args, expect=expect)


def approve_loss(govcloud: Govcloud, story: Story, names: list[str]) -> None:
    flags = [arg for n in names for arg in ("--resource", n)]
    govcloud(
        "app",
        "confirm-data-loss",
        story.app,
        "--env",
        "trial",
        *flags,
        "--backup",
        f"snapshot {story.snapshot} and cinder backups",
        *UNIT_ACTOR,
        "--at",
        story.when(),
    )
    govcloud("app", "approve-data-loss", story.app, "--env", "trial", *CHIEF, "--at", story.when())


def trove_instance(story: Story, admin: Any) -> dict[str, Any]:
    """The trial's Trove instance as Trove's admin API shows it."""
    instance = ids(story, admin)[f"databases/{story.name('benefits')}"]
    return admin.session.get(
        f"{admin.endpoint_for('database')}/mgmt/instances/{instance}", endpoint_filter=None
    ).json()["instance"]


def last_event(govcloud: Govcloud, story: Story) -> dict[str, Any]:
    return govcloud.json("app", "history", story.app)[-1]


def test_a_trial_environment_with_data(govcloud, story, admin, new_image):
    m = str(story.manifest)
    govcloud("app", "submit", m, *UNIT_ACTOR, "--at", beijing(-80 * DAY))
    govcloud("app", "accept", story.app, *CLERK, "--at", beijing(-79 * DAY))
    govcloud("app", "review", story.app, "--opinion", "complete", *CLERK, "--at", beijing(-78 * DAY))
    govcloud("app", "approve", story.app, "--env", "test", *CHIEF, "--at", beijing(-77 * DAY))
    govcloud("up", m, "--env", "test", "--at", beijing(-76 * DAY), *OPS)
    govcloud("app", "test-passed", story.app, "--evidence", "T-1", *CLERK, "--at", beijing(-70 * DAY))
    govcloud("app", "approve", story.app, "--env", "trial", *CHIEF, "--at", beijing(-69 * DAY))
    govcloud("up", m, "--env", "trial", "--at", beijing(-68 * DAY), *OPS)
    assert last_event(govcloud, story)["payload"]["verified"] is True
    assert govcloud.json("verify", m, "--env", "trial")["matches"] is True

    project = admin.identity.find_project(naming.project_name(UNIT, story.app, Environment.TRIAL), domain_id="default")
    conn = admin.connect_as_project(project)
    container = story.name("scans")
    conn.object_store.upload_object(container=container, name="scan-0001.pdf", data=b"%PDF citizen record")
    # the project's quota is exact: whoever snapshots by hand raises it (and the plan no longer matches)
    quota = admin.block_storage.get_quota_set(project.id)
    admin.block_storage.update_quota_set(project.id, gigabytes=quota.gigabytes + 2)
    archive = conn.block_storage.find_volume(story.name("archive"))
    snapshot = conn.block_storage.create_snapshot(volume_id=archive.id, name="made-by-hand", is_forced=True)
    conn.block_storage.wait_for_status(snapshot, "available", wait=300)
    story.snapshot = snapshot.id
    assert any("gigabytes" in p for p in govcloud.json("verify", m, "--env", "trial", expect=1)["problems"])
    story.at = -50 * DAY  # the test window (15 days from -76) is over: changes apply to the trial alone


def test_renaming_a_data_volume_is_refused_then_done_as_approved(govcloud, story, admin):
    said = propose(govcloud, story, ("              - name: data\n", "              - name: records\n"))
    old = [story.name(f"app-{n}-data") for n in (1, 2)]
    for name in old:
        assert f"destroys data: volume {name} (delete:" in said
    before = ids(story, admin)
    refused = up(govcloud, story, expect=1)
    assert "up would destroy data without an approval" in refused.stderr
    assert all(f"--resource {name}" in refused.stderr for name in old)
    assert ids(story, admin) == before, "something changed although up refused"
    project = admin.identity.find_project(naming.project_name(UNIT, story.app, Environment.TRIAL), domain_id="default")
    conn = admin.connect_as_project(project)
    assert conn.block_storage.get_snapshot(story.snapshot).status == "available"
    # the unit takes its snapshot off the cloud (Art. 16 asks the same before a termination), the
    # provider restores the exact quota: otherwise the cloud differs from the plan and up records no success
    conn.block_storage.delete_snapshot(story.snapshot)
    conn.block_storage.wait_for_delete(conn.block_storage.get_snapshot(story.snapshot), wait=300)
    quota = admin.block_storage.get_quota_set(project.id)
    admin.block_storage.update_quota_set(project.id, gigabytes=quota.gigabytes - 2)

    approve_loss(govcloud, story, old)
    up(govcloud, story)
    after = ids(story, admin)
    gone = {f"volumes/{name}" for name in old}
    for key in gone:
        assert cloudcheck.FIND_BY_ID["volumes"](admin, before[key]) is None, f"{key} still exists"
    assert {k: v for k, v in before.items() if k not in gone} == {k: v for k, v in after.items() if k in before}
    assert {f"volumes/{story.name(f'app-{n}-records')}" for n in (1, 2)} <= after.keys()
    event = last_event(govcloud, story)
    assert event["type"] == "provisioned" and event["payload"]["verified"] is True
    assert sorted(d["name"] for d in event["payload"]["destroyed"]) == old


def test_an_image_change_of_stateful_servers_is_refused_then_rebuilds_as_approved(govcloud, story, admin):
    said = propose(govcloud, story, (APP_IMAGE.format(image="debian-12"), APP_IMAGE.format(image=NEW_IMAGE)))
    servers = [story.name(f"app-{n}") for n in (1, 2)]
    assert all(
        f"destroys data: server root disk {s} (rebuild: imageName debian-12 -> {NEW_IMAGE}" in said for s in servers
    )
    before = ids(story, admin)
    refused = up(govcloud, story, expect=1)
    assert "rebuild: imageName" in refused.stderr and ids(story, admin) == before

    approve_loss(govcloud, story, servers)
    up(govcloud, story)
    assert ids(story, admin) == before, "a rebuild keeps every id"
    for name in servers:
        server = admin.compute.get_server(before[f"servers/{name}"])
        assert admin.image.get_image(server.image["id"]).name == NEW_IMAGE
    assert {d["action"] for d in last_event(govcloud, story)["payload"]["destroyed"]} == {"rebuild"}


def test_stateless_servers_change_and_the_database_resizes_in_place(govcloud, story, admin):
    """One change without data loss, one up, three proofs: a new image for the stateless gateways
    and a lower count of them proceed without an approval, and a Trove flavor change with a
    volume growth resizes the instance through Trove's API (same id, the new flavor and size)."""
    said = propose(
        govcloud,
        story,
        (GATEWAY_IMAGE.format(image="debian-12"), GATEWAY_IMAGE.format(image=NEW_IMAGE)),
        ("          - name: gateway\n            count: 2", "          - name: gateway\n            count: 1"),
        ("            flavor: g.2c4g", "            flavor: g.4c8g"),
        ("            sizeGb: 2\n            volumeType", "            sizeGb: 3\n            volumeType"),
    )
    assert "destroys data" not in said
    before = ids(story, admin)
    up(govcloud, story)
    after = ids(story, admin)
    gone = f"servers/{story.name('gateway-2')}"
    assert cloudcheck.FIND_BY_ID["servers"](admin, before[gone]) is None
    kept = {k: v for k, v in before.items() if "gateway-2" not in k}
    assert {k: after.get(k) for k in kept} == kept, "something was replaced (the database instance: resized?)"
    gateway = admin.compute.get_server(before[f"servers/{story.name('gateway-1')}"])
    assert admin.image.get_image(gateway.image["id"]).name == NEW_IMAGE
    event = last_event(govcloud, story)
    assert event["type"] == "provisioned" and "destroyed" not in event["payload"]
    resized = [{k: r[k] for k in ("flavor", "size")} for r in event["payload"]["resized"]]
    assert resized == [{"flavor": "g.4c8g", "size": 3}]
    trove = trove_instance(story, admin)
    assert (trove["flavor"]["id"], trove["volume"]["size"]) == (admin.compute.find_flavor("g.4c8g").id, 3)


def test_a_lower_count_is_refused_then_removes_exactly_the_approved_server_and_volumes(govcloud, story, admin):
    two = APP_IMAGE.format(image=NEW_IMAGE)
    said = propose(govcloud, story, (two, two.replace("count: 2", "count: 1")))
    gone = [story.name("app-2"), story.name("app-2-records"), story.name("app-2-logs")]
    assert all("destroys data: " in said and f" {name} (delete:" in said for name in gone)
    before = ids(story, admin)
    refused = up(govcloud, story, expect=1)
    assert all(f"--resource {name}" in refused.stderr for name in gone) and ids(story, admin) == before

    approve_loss(govcloud, story, gone)
    up(govcloud, story)
    after = ids(story, admin)
    assert cloudcheck.FIND_BY_ID["servers"](admin, before[f"servers/{gone[0]}"]) is None
    for name in gone[1:]:
        assert cloudcheck.FIND_BY_ID["volumes"](admin, before[f"volumes/{name}"]) is None
    kept = {k: v for k, v in before.items() if not any(k.endswith(f"/{n}") for n in gone) and "app-2" not in k}
    assert {k: after.get(k) for k in kept} == kept


def test_a_volume_grown_over_a_quota_set_by_hand_fails_recoverably_then_extends(govcloud, story, admin):
    record = story.name("app-1-records")
    grown = (
        "              - name: records\n                sizeGb: 1",
        "              - name: records\n                sizeGb: 2",
    )
    propose(govcloud, story, grown)
    digest = govcloud("digest", str(story.manifest)).stdout.strip()
    before = ids(story, admin)
    # The provider capped the project's encrypted gigabytes by hand at exactly what it holds. (Its
    # gigabytes are the program's: up raises them before any volume grows, so an exact gigabytes
    # quota stops nothing; a volume type's quota it does not manage.)
    project = admin.identity.find_project(naming.project_name(UNIT, story.app, Environment.TRIAL), domain_id="default")
    held = sum(
        v.size
        for v in admin.block_storage.volumes(all_projects=True, project_id=project.id)
        if v.volume_type == "encrypted"
    )
    admin.block_storage.update_quota_set(project.id, gigabytes_encrypted=held)
    failed = up(govcloud, story, expect=None)
    event = last_event(govcloud, story)
    assert failed.returncode == 3 and event["type"] == "provision-failed", (failed.returncode, failed.stderr[-2000:])
    assert "VolumeSizeExceedsAvailableQuota" in event["reason"], event["reason"]  # Cinder names the gigabytes
    assert admin.block_storage.get_volume(before[f"volumes/{record}"]).size == 1
    assert govcloud.json("app", "status", story.app)["state"] == "trial"  # a revert or a new change may be requested
    verified = govcloud.json("verify", str(story.manifest), "--env", "trial", expect=1)
    assert not verified["matches"] and any(record in p for p in verified["problems"]), verified
    # the failed extend left its new size in the engine's state: only a refresh shows it is not so
    state = {
        name: outputs for name, _, _, outputs in engine.state_outputs(story.stack, engine.locate(environ=govcloud.env))
    }
    assert state[record]["size"] == 2, state[record]

    admin.block_storage.update_quota_set(project.id, gigabytes_encrypted=-1)  # the provider lifts the cap
    up(govcloud, story)  # the retry refreshes first, extends, and records provisioned once verify agrees
    assert ids(story, admin)[f"volumes/{record}"] == before[f"volumes/{record}"]
    assert admin.block_storage.get_volume(before[f"volumes/{record}"]).size == 2
    events = govcloud.json("app", "history", story.app)
    assert [e["type"] for e in events if e["digest"] == digest][-2:] == ["provision-failed", "provisioned"]
    assert events[-1]["payload"]["verified"] is True
    assert govcloud.json("verify", str(story.manifest), "--env", "trial")["matches"] is True


def test_the_data_survived_and_reclamation_lifts_protection(govcloud, story, admin, keycloak):
    project = admin.identity.find_project(naming.project_name(UNIT, story.app, Environment.TRIAL), domain_id="default")
    conn = admin.connect_as_project(project)
    assert conn.object_store.download_object("scan-0001.pdf", container=story.name("scans")) == b"%PDF citizen record"

    govcloud("app", "terminate", story.app, *UNIT_ACTOR, "--at", story.when())
    govcloud("app", "confirm-backup", story.app, "--evidence", "archive B-1", *UNIT_ACTOR, "--at", story.when())
    govcloud("app", "approve-termination", story.app, *CHIEF, "--at", story.when())
    govcloud("reclaim", story.app, *OPS, "--output", "json")
    assert leftovers(admin, KeycloakAdmin.from_environ(keycloak), story.app) == []
    assert govcloud.json("app", "status", story.app)["state"] == "reclaimed"
