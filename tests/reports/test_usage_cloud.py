"""Every usage figure govcloud reports, against what the local OpenStack reports for the same
project (``-m cloud``; cloud ``GOVCLOUD_TEST_CLOUD``, default ``govcloud-local``).

A project ``rsj-<app>-test`` (the test environment of a uniquely named application, live in a
fresh ledger) holds a running server, an attached and an unattached volume, a container with
objects (one of them a large object whose segments live in a second container) and an empty
container. The adapter's figures (issue 24: the containers were 0 GB through a connection
scoped by name), the monthly report's used and idle figures and ``quota drift`` of a declared
environment that is not provisioned are compared with openstacksdk's own listings.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import uuid

import pytest

from orchestrator.adapters.cloud import Cloud
from orchestrator.core.usage import GIB
from orchestrator.services import report as svc

pytestmark = pytest.mark.cloud
CLOUD = os.environ.get("GOVCLOUD_TEST_CLOUD", "govcloud-local")
MB = 1024 * 1024


@pytest.fixture(scope="module")
def cloud() -> Cloud:
    return Cloud.connect(CLOUD)


@pytest.fixture(scope="module")
def live(cloud, tmp_path_factory):
    """The project with its resources, and the application's id; everything removed afterwards."""
    from tests.reclaim.test_real_cloud import cleanup

    admin, app = cloud._conn, f"us-{uuid.uuid4().hex[:8]}"  # test set-up only: the adapter creates nothing
    project = admin.identity.create_project(name=f"rsj-{app}-test", domain_id="default")
    try:
        for role in ("member", "admin"):
            admin.identity.assign_project_role_to_user(project, admin.current_user_id, admin.identity.find_role(role))
        conn = admin.connect_as_project(project)
        net = conn.network.create_network(name="n")
        conn.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.43.0.0/24")
        flavor, image = conn.compute.find_flavor("m1.tiny"), conn.image.find_image("cirros-tiny")
        server = conn.compute.create_server(
            name="web-1", flavor_id=flavor.id, image_id=image.id, networks=[{"uuid": net.id}]
        )
        attached = conn.block_storage.create_volume(name="data", size=2)
        loose = conn.block_storage.create_volume(name="scratch", size=1)
        conn.compute.wait_for_server(server, wait=120)
        conn.block_storage.wait_for_status(attached, "available", wait=60)
        conn.compute.create_volume_attachment(server, volume_id=attached.id)
        conn.block_storage.wait_for_status(attached, "in-use", wait=60)
        conn.block_storage.wait_for_status(loose, "available", wait=60)
        for name in ("files", "files_segments", "empty"):
            conn.object_store.create_container(name=name)
        for i in range(3):
            conn.object_store.upload_object(container="files", name=f"scan-{i}.pdf", data=bytes(i + 1) * 1_500_000)
        manifest = []
        for i in range(2):
            chunk = bytes([i]) * MB
            conn.object_store.upload_object(container="files_segments", name=f"big/{i:08d}", data=chunk)
            manifest.append(
                {"path": f"/files_segments/big/{i:08d}", "etag": hashlib.md5(chunk).hexdigest(), "size_bytes": MB}
            )
        conn.object_store.put("files/big", params={"multipart-manifest": "put"}, data=json.dumps(manifest))
        yield app, project, conn
    finally:
        cleanup(admin, project)


def _cloud_says(conn) -> dict:
    """The project's figures as the cloud gives them: servers and volumes listed, each container's
    objects listed and its bytes as Swift's own HEAD answers (raw). A listing's sizes would count a
    large object twice: its manifest lists the whole size, its segments are stored elsewhere."""
    servers = list(conn.compute.servers(details=True))
    volumes = list(conn.block_storage.volumes(details=True))
    containers = {}
    for c in conn.object_store.containers():
        objects = list(conn.object_store.objects(c.name))
        head = conn.object_store.head(c.name)
        assert head.status_code == 204, head.text
        containers[c.name] = (len(objects), int(head.headers["X-Container-Bytes-Used"]))
    return {
        "vcpu": sum(s.flavor["vcpus"] for s in servers if s.status == "ACTIVE"),
        "volume_gb": sum(v.size for v in volumes if v.attachments),
        "containers": containers,
        "object_gb": sum(b for _, b in containers.values()) / GIB,
    }


def test_the_adapters_figures_are_the_clouds(cloud, live):
    _, project, conn = live
    said = _cloud_says(conn)
    assert said["containers"]["files"][0] == 4 and said["containers"]["files"][1] > 0  # there is data
    listed = sum(o.content_length for o in conn.object_store.objects("files"))
    manifest = said["containers"]["files"][1] - 9_000_000  # the scans: 1.5, 3 and 4.5 MB
    assert 0 < manifest < 1000 and listed == 9_000_000 + 2 * MB  # why the HEAD: a listing counts the segments twice
    found = cloud.project_usage(project.name)
    assert found.unknown == {}
    assert {c.name: (c.objects, c.bytes) for c in found.containers} == said["containers"]
    assert (found.vcpu, found.volume_gb) == (said["vcpu"], said["volume_gb"]) and found.vcpu > 0
    assert found.object_gb == pytest.approx(said["object_gb"]) and found.object_gb > 0
    assert sorted((v.name, v.size_gb, v.attached) for v in found.volumes) == [("data", 2, True), ("scratch", 1, False)]


def test_the_reports_used_and_idle_figures_are_the_clouds(cloud, live, tmp_path, policy):
    from orchestrator.adapters.ledger import Ledger
    from orchestrator.services.lifecycle import Lifecycle
    from tests.reclaim.conftest import EXAMPLES, to_testing

    app, _, conn = live
    manifest = tmp_path / f"{app}.yaml"
    manifest.write_text(
        (EXAMPLES / "social-security.yaml").read_text(encoding="utf-8").replace("id: social-security", f"id: {app}", 1),
        encoding="utf-8",
    )
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'ledger.db'}")
    to_testing(Lifecycle(ledger), manifest, app)  # test environment live from 28 Feb 2026
    report = svc.monthly(ledger, "2026-03", policy, cloud=cloud, at=dt.datetime(2026, 3, 10, 12))
    ledger.close()
    said = _cloud_says(conn)
    [env] = [
        e
        for u in report.units
        for a in u.applications
        if a.application == app
        for e in a.environments
        if e.env == "test"
    ]
    assert env.unknown == {}
    assert env.used == {"vcpu": said["vcpu"], "volume_gb": said["volume_gb"], "object_gb": round(said["object_gb"], 3)}
    idle = {(c.kind, c.resource) for u in report.units for c in u.candidates if c.application == app}
    assert ("container-empty", "empty") in idle
    assert not any(kind == "container-empty" and name != "empty" for kind, name in idle)


def test_capacity_figures_are_placements(cloud):
    """The compute measures against placement's own inventories and usages, provider by provider."""
    admin = cloud._conn
    total = {"VCPU": [0.0, 0.0], "MEMORY_MB": [0.0, 0.0], "DISK_GB": [0.0, 0.0]}
    for rp in admin.placement.resource_providers():
        usages = admin.placement.fetch_resource_provider_usages(rp).usages
        for inv in admin.placement.resource_provider_inventories(rp):
            if inv.resource_class in total:
                total[inv.resource_class][0] += usages.get(inv.resource_class, 0)
                total[inv.resource_class][1] += (inv.total - inv.reserved) * inv.allocation_ratio
    measures = {m.resource: m for m in cloud.compute_capacity()}
    for rc, name in (("VCPU", "compute vcpu"), ("MEMORY_MB", "compute ram"), ("DISK_GB", "compute disk")):
        assert (measures[name].used, measures[name].capacity) == tuple(total[rc]), name


def test_drift_of_a_declared_environment_that_is_not_provisioned(tmp_path):
    from orchestrator.core.manifest import Environment
    from orchestrator.services import quotas
    from tests.reclaim.conftest import EXAMPLES

    app = f"np-{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{app}.yaml").write_text(
        (EXAMPLES / "social-security.yaml").read_text(encoding="utf-8").replace("id: social-security", f"id: {app}", 1),
        encoding="utf-8",
    )
    payload = quotas.drift(app, Environment.TRIAL, [tmp_path], CLOUD)
    assert (payload["project"], payload["status"], payload["ok"]) == (f"rsj-{app}-trial", "not provisioned", True)
