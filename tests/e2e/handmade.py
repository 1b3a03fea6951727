"""What a department does with its environment by hand before it is reclaimed (issue 24): data
in every container (and a large object uploaded in segments, which live in a second
container), a snapshot of a volume, an image of a server, a Trove backup of its database, a
port on its network with a security group of its own. None of it carries govcloud's labels and
none of it is in the stack: reclamation must remove it all, in one run.

The project's quotas are exactly what the manifest asks (Art. 14), so each is raised first by
what the department adds, as the provider would on its request.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

from orchestrator.core import naming

from .conftest import CLOUD

MB = 1024 * 1024


@dataclass
class Made:
    """What :func:`store` made, by kind, to look each up again afterwards."""

    project_id: str
    containers: list[str] = field(default_factory=list)  #: every container holding objects, the segments' too
    objects: int = 0
    snapshot: str = ""
    image: str = ""
    backup: str = ""
    backup_note: str = ""  #: how the Trove backup went (made, or why it could not be)
    port: str = ""
    group: str = ""


def _trove(conn: Any) -> str:
    return conn.session.get_endpoint(service_type="database", interface="public")


def store(admin: Any, unit: str, app: str, env: str) -> Made:
    """Put the department's data and hand-made things into the environment's project."""
    project = admin.identity.find_project(naming.project_name(unit, app, env), domain_id="default")
    assert project is not None, f"no project for {app} {env}"
    conn = admin.connect_as_project(project)
    made = Made(project.id)

    containers = [c.name for c in conn.object_store.containers()]
    assert containers, "the environment has no container: nothing to store data in"
    for name in containers:
        for i in range(2):
            conn.object_store.upload_object(container=name, name=f"records/{i}.csv", data=f"id,{i}\n".encode() * 1000)
            made.objects += 1
    segments = f"{containers[0]}_segments"  # where python-swiftclient puts them: made by hand, unlabelled
    conn.object_store.create_container(name=segments)
    manifest = []
    for i in range(3):
        chunk = bytes([65 + i]) * MB
        conn.object_store.upload_object(container=segments, name=f"archive.tar/{i:08d}", data=chunk)
        manifest.append(
            {"path": f"/{segments}/archive.tar/{i:08d}", "etag": hashlib.md5(chunk).hexdigest(), "size_bytes": MB}
        )
    answer = conn.object_store.put(
        f"{containers[0]}/archive.tar", params={"multipart-manifest": "put"}, data=json.dumps(manifest)
    )
    assert answer.status_code == 201, answer.text
    made.containers, made.objects = containers + [segments], made.objects + 1 + 3

    volume = next(v for v in conn.block_storage.volumes(details=True))
    quota = admin.block_storage.get_quota_set(project.id)
    # the quota holds the manifest's needs and the policy's headroom, which scheduled backups may
    # have used: whoever snapshots by hand raises it
    admin.block_storage.update_quota_set(
        project.id, gigabytes=quota.gigabytes + volume.size, snapshots=quota.snapshots + 1
    )
    snapshot = conn.block_storage.create_snapshot(volume_id=volume.id, name="before-termination", force=True)
    server = next(s for s in conn.compute.servers())
    # Nova's fake driver uploads no image data: the image stays queued, owned by the project
    made.image = conn.compute.create_server_image(server, name=f"{server.name}-golden", wait=False).id

    net = next(n for n in conn.network.networks(project_id=project.id) if n.tags)
    quota = admin.network.get_quota(project.id)
    admin.network.update_quota(
        project.id,
        ports=quota.ports + 1,
        security_groups=quota.security_groups + 1,
        security_group_rules=quota.security_group_rules + 2,
    )
    group = conn.network.create_security_group(name="debug", description="made by hand")
    made.group = group.id
    made.port = conn.network.create_port(network_id=net.id, name="debug", security_groups=[group.id]).id
    conn.block_storage.wait_for_status(snapshot, "available", wait=120)
    made.snapshot = snapshot.id
    made.backup, made.backup_note = _backup(conn)
    return made


def _backup(conn: Any) -> tuple[str, str]:
    """A Trove backup of the environment's database, as the department would make it."""
    endpoint = _trove(conn)
    instances = conn.session.get(f"{endpoint}/instances", raise_exc=True).json()["instances"]
    assert instances, "the environment has no database instance"
    body = {"backup": {"instance": instances[0]["id"], "name": "before-termination", "description": "by hand"}}
    answer = conn.session.post(f"{endpoint}/backups", json=body, raise_exc=False)
    if answer.status_code >= 400:
        return "", f"Trove refused the backup: {answer.status_code} {answer.text[:300]}"
    backup = answer.json()["backup"]
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        status = conn.session.get(f"{endpoint}/backups/{backup['id']}", raise_exc=True).json()["backup"]["status"]
        if status in ("COMPLETED", "FAILED", "ERROR"):
            return backup["id"], f"backup {backup['id']}: {status}"
        time.sleep(2)
    return backup["id"], f"backup {backup['id']}: still {status} after 90 s"


def remaining(admin: Any, made: Made) -> list[str]:
    """What of ``made`` the cloud still holds, looked up by id with admin rights (containers in
    the project's Swift account, read with Swift's reseller admin role granted for the look-up)."""
    from orchestrator.adapters.cloud import Cloud

    left = []
    if made.snapshot and admin.block_storage.find_snapshot(made.snapshot, ignore_missing=True, all_projects=True):
        left.append(f"snapshot {made.snapshot}")
    if made.image and admin.image.find_image(made.image, ignore_missing=True):
        left.append(f"image {made.image}")
    if made.port and admin.network.find_port(made.port, ignore_missing=True):
        left.append(f"port {made.port}")
    if made.group and admin.network.find_security_group(made.group, ignore_missing=True):
        left.append(f"security group {made.group}")
    if made.backup:  # Trove shows any project's backup to its admin by id
        answer = admin.session.get(f"{_trove(admin)}/backups/{made.backup}", raise_exc=False)
        assert answer.status_code in (200, 404), answer.text
        if answer.status_code == 200:
            left.append(f"database backup {made.backup} ({answer.json()['backup']['status']})")
    reseller = admin.identity.find_role("ResellerAdmin")
    admin.identity.assign_project_role_to_user(admin.current_project_id, admin.current_user_id, reseller)
    try:
        cloud = Cloud.connect(CLOUD)  # a token with the role
        left += [f"container {c}" for c in made.containers if cloud.exists("container", c, made.project_id)]
    finally:
        with contextlib.suppress(Exception):
            admin.identity.unassign_project_role_from_user(admin.current_project_id, admin.current_user_id, reseller)
    return left
