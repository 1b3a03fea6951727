"""What a provider meets on the real cloud (issue 17), on the test environment of ``social-security``
under a fresh id: the database reachable from its own subnet only, a second ``up`` that records
nothing, room in the quotas for a snapshot and an emergency rule, and a reclamation that counts the
same in its dry run and its run. The tests share one story and run in file order.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from orchestrator.core import dbaccess, naming, sizing
from orchestrator.core.manifest import Environment
from orchestrator.core.validation import load_manifest

from .conftest import CHIEF, CLERK, DAY, EXAMPLE, OPS, UNIT, UNIT_ACTOR, Govcloud, beijing

pytestmark = pytest.mark.e2e


@dataclass
class Story:
    app: str
    manifest: Path

    @property
    def project(self) -> str:
        return naming.project_name(UNIT, self.app, Environment.TEST)


@pytest.fixture(scope="module")
def story(tmp_path_factory, admin, govcloud: Govcloud) -> Story:
    app = f"wt-{uuid.uuid4().hex[:6]}"
    manifest = tmp_path_factory.mktemp("manifests") / f"{app}.yaml"
    manifest.write_text(
        EXAMPLE.read_text(encoding="utf-8").replace("id: social-security", f"id: {app}", 1), encoding="utf-8"
    )
    yield Story(app, manifest)
    stack = naming.stack_name(UNIT, app, Environment.TEST)
    if stack in govcloud.pulumi("stack", "ls", "--json").stdout:  # after a failure: as reclaim would
        govcloud.run("destroy", str(manifest), "--env", "test", "--yes")
        govcloud.run("app", "terminate", app, *UNIT_ACTOR)
        govcloud.run("app", "confirm-backup", app, "--evidence", "none", *UNIT_ACTOR)
        govcloud.run("app", "approve-termination", app, *CHIEF)
        govcloud.run("reclaim", app, *OPS)


def test_up_narrows_the_database_to_the_applications_subnet(govcloud, story, admin):
    m = str(story.manifest)
    govcloud("app", "submit", m, *UNIT_ACTOR, "--at", beijing(-5 * DAY))
    govcloud("app", "accept", story.app, *CLERK, "--at", beijing(-4 * DAY))
    govcloud("app", "review", story.app, "--opinion", "complete", *CLERK, "--at", beijing(-3 * DAY))
    govcloud("app", "approve", story.app, "--env", "test", *CHIEF, "--at", beijing(-2 * DAY))
    result = govcloud.json("up", m, "--env", "test", *OPS)
    assert result["recorded"] == "provisioned"
    [access] = dbaccess.expected(load_manifest(story.manifest), Environment.TEST)
    assert result["databaseAccess"] == [access.as_dict()]
    checked = govcloud.json("database-access", m, "--env", "test")
    assert checked["ok"] and checked["differences"] == [], checked
    # Trove's own group, seen as the cloud's admin: the engine's port from the subnet only
    [instance] = [o for o in _observed(admin, story) if o["name"] == access.instance]
    groups = list(admin.network.security_groups(name=f"trove_sg-{instance['id']}"))
    ingress = {
        (r["protocol"], r["port_range_min"], r["remote_ip_prefix"])
        for g in groups
        for r in g.security_group_rules
        if r["direction"] == "ingress"
    }
    assert groups and ingress == {("tcp", 3306, "172.16.0.0/24")}, ingress


def test_a_second_up_with_nothing_changed_records_nothing(govcloud, story):
    before = govcloud.json("app", "history", story.app)
    result = govcloud.json("up", str(story.manifest), "--env", "test", *OPS)
    assert result["recorded"] is None
    assert {k: v for k, v in result["changes"].items() if k != "same"} == {}, result["changes"]
    assert govcloud.json("app", "history", story.app) == before
    people = govcloud("up", str(story.manifest), "--env", "test", *OPS).stdout
    assert "ledger: nothing recorded (the environment runs this digest with this program)" in people


def test_the_quotas_leave_room_for_a_snapshot_and_an_emergency_rule(govcloud, story, admin):
    project = admin.identity.find_project(story.project, domain_id="default")
    resources = load_manifest(story.manifest).environments[Environment.TEST].resources
    exact = sizing.quotas(resources)
    quota = admin.block_storage.get_quota_set(project.id, usage=True)
    assert quota.gigabytes == 2 * exact.block_storage["gigabytes"] and quota.snapshots == exact.block_storage["volumes"]
    assert quota.usage["gigabytes"] == exact.block_storage["gigabytes"]  # the volumes use all of their share
    ops = admin.connect_as_project(project)
    volume = max(ops.block_storage.volumes(), key=lambda v: v.size)
    group = next(g for g in ops.network.security_groups() if g.name.endswith("-gateway"))

    # exactly at the needs (as before the headroom), the snapshot of a full project is refused
    admin.block_storage.update_quota_set(project.id, gigabytes=exact.block_storage["gigabytes"])
    try:
        with pytest.raises(Exception, match=r"(?i)quota|exceed"):
            ops.block_storage.create_snapshot(volume_id=volume.id, name="refused", force=True)
    finally:
        admin.block_storage.update_quota_set(project.id, gigabytes=2 * exact.block_storage["gigabytes"])

    snapshot = ops.block_storage.create_snapshot(volume_id=volume.id, name="backup-point", force=True)
    rule = ops.network.create_security_group_rule(
        security_group_id=group.id,
        direction="ingress",
        protocol="tcp",
        port_range_min=8443,
        port_range_max=8443,
        remote_ip_prefix="10.20.0.0/16",
        description="emergency",
    )
    try:
        ops.block_storage.wait_for_status(snapshot, "available", failures=["error"], wait=120)
    finally:
        ops.network.delete_security_group_rule(rule, ignore_missing=True)
        ops.block_storage.delete_snapshot(snapshot, ignore_missing=True)
        ops.block_storage.wait_for_delete(snapshot, wait=120)


def test_reclaim_counts_the_same_in_its_dry_run_and_its_run(govcloud, story):
    govcloud("app", "terminate", story.app, *UNIT_ACTOR)
    govcloud("app", "confirm-backup", story.app, "--evidence", "archive B-17", *UNIT_ACTOR)
    govcloud("app", "approve-termination", story.app, *CHIEF)
    dry = json.loads(govcloud("reclaim", story.app, "--dry-run", *OPS, "-o", "json").stdout.splitlines()[-1])
    done = json.loads(govcloud("reclaim", story.app, *OPS, "-o", "json").stdout.splitlines()[-1])
    planned, deleted = dry["summary"]["counts"], done["summary"]["counts"]
    assert done["summary"]["reclaimed"] and deleted == planned, (planned, deleted)
    assert done["summary"]["engine"].get("delete", 0) > sum(deleted.values()) - deleted.get("project", 0) > 0
    people = govcloud("reclaim", story.app, "--dry-run", *OPS).stdout
    assert "was reclaimed already" in people


def _observed(admin: Any, story: Story) -> list[dict[str, Any]]:
    project = admin.identity.find_project(story.project, domain_id="default")
    conn = admin.connect_as_project(project)
    endpoint = conn.endpoint_for("database")
    return conn.session.get(f"{endpoint}/instances", endpoint_filter=None).json()["instances"]
