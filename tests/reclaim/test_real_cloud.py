"""Reclamation against the local OpenStack (cloud ``GOVCLOUD_TEST_CLOUD``, default
``govcloud-local``, from ``clouds.yaml``; ``OS_CLIENT_CONFIG_FILE`` may point at it).

A project tagged for a uniquely named application gets, through openstacksdk and outside any
Pulumi stack: a network, subnet, router with gateway and interface, a security group, a server on
the fake driver with a volume attached, a container with objects, and one foreign untagged volume.
The reclamation (real ledger, cloud and sweep; no Pulumi stack) is killed after a few deletions,
resumed, and must leave only the foreign volume (and so keep the project).
"""

from __future__ import annotations

import datetime as dt
import os
import uuid

import pytest

from orchestrator.adapters.cloud import Cloud
from orchestrator.services.lifecycle import Lifecycle
from orchestrator.services.reclaim import Reclaimer

from .conftest import EXAMPLES, OPS, at, to_termination_approved
from .fakes import FakeStacks, Killed

pytestmark = pytest.mark.cloud
CLOUD = os.environ.get("GOVCLOUD_TEST_CLOUD", "govcloud-local")


class KilledAfter:
    """The real cloud, whose sweeps die (like a killed process) after ``n`` deletions."""

    def __init__(self, cloud: Cloud, n: int) -> None:
        self.cloud, self.n, self.done = cloud, n, 0

    def find_project(self, name):
        return self.cloud.find_project(name)

    def delete_project(self, project):
        self.cloud.delete_project(project)

    def sweep(self, project):
        real, outer = self.cloud.sweep(project), self

        class Dying:
            def inventory(self):
                return real.inventory()

            def delete(self, found):
                if outer.done >= outer.n:
                    raise Killed()
                real.delete(found)
                outer.done += 1

        return Dying()


@pytest.fixture
def app(tmp_path, ledger):
    """A unique application, terminated and approved in a fresh ledger."""
    app_id = f"rc-{uuid.uuid4().hex[:8]}"
    text = (EXAMPLES / "social-security.yaml").read_text(encoding="utf-8").replace("id: social-security", f"id: {app_id}", 1)
    path = tmp_path / f"{app_id}.yaml"
    path.write_text(text, encoding="utf-8")
    to_termination_approved(Lifecycle(ledger), path, app_id)
    return app_id


@pytest.fixture
def cloud() -> Cloud:
    return Cloud.connect(CLOUD)


def build(admin, project, app_id: str) -> dict:
    """Our resources (tagged) and one foreign volume in ``project``; returns their ids."""
    labels = {"unit": "rsj", "app": app_id, "env": "test", "digest": "sha256:test"}
    tags = [f"govcloud:{k}={v}" for k, v in labels.items()]
    meta = {f"govcloud:{k}": v for k, v in labels.items()}
    me = admin.identity.find_user(admin.current_user_id) if admin.current_user_id else None
    for role in ("member", "admin"):
        admin.identity.assign_project_role_to_user(project, me, admin.identity.find_role(role))
    conn = admin.connect_as_project(project)
    ids: dict = {}
    net = conn.network.create_network(name=f"{app_id}-net")
    conn.network.set_tags(net, tags)
    sub = conn.network.create_subnet(name=f"{app_id}-subnet", network_id=net.id, ip_version=4, cidr="10.42.0.0/24")
    conn.network.set_tags(sub, tags)
    public = admin.network.find_network("public")
    router = conn.network.create_router(name=f"{app_id}-router",
                                        external_gateway_info={"network_id": public.id} if public else None)
    conn.network.set_tags(router, tags)
    conn.network.add_interface_to_router(router, subnet_id=sub.id)
    group = conn.network.create_security_group(name=f"{app_id}-web")
    conn.network.set_tags(group, tags)
    flavor = conn.compute.find_flavor("m1.tiny")
    image = conn.image.find_image("cirros-tiny")
    server = conn.compute.create_server(name=f"{app_id}-web-1", flavor_id=flavor.id, image_id=image.id,
                                        networks=[{"uuid": net.id}], metadata=meta)
    volume = conn.block_storage.create_volume(name=f"{app_id}-data", size=1, metadata=meta)
    foreign = conn.block_storage.create_volume(name="someone-elses", size=1)
    conn.compute.wait_for_server(server, wait=120)
    conn.block_storage.wait_for_status(volume, "available", wait=60)
    conn.compute.create_volume_attachment(server, volume_id=volume.id)
    conn.block_storage.wait_for_status(volume, "in-use", wait=60)
    container = f"{app_id}-files"
    conn.object_store.create_container(name=container, metadata={f"govcloud-{k}": v for k, v in labels.items()})
    for i in range(3):
        conn.object_store.upload_object(container=container, name=f"report-{i}.txt", data=b"data")
    ids.update(net=net.id, subnet=sub.id, router=router.id, group=group.id, server=server.id, volume=volume.id,
               foreign=foreign.id, container=container)
    return ids


def test_killed_reclamation_resumes_and_leaves_only_the_foreign_volume(cloud, app, ledger):
    admin = cloud._conn  # test set-up only: the adapter has no verbs that create resources
    project = admin.identity.create_project(name=f"rsj-{app}-test", domain_id="default",
                                            tags=["govcloud:unit=rsj", f"govcloud:app={app}", "govcloud:env=test"])
    try:
        ids = build(admin, project, app)
        lifecycle = Lifecycle(ledger)
        first = Reclaimer(lifecycle, ledger, KilledAfter(cloud, 4), FakeStacks(), OPS, workers=1,
                          clock=lambda: at("2026-06-08T10:00"), holder="ops@killed:1")
        try:
            summary = first.run(app)
            pytest.fail(f"the run was not killed: {summary.failures or summary.steps}")
        except Killed:
            pass
        # a killed process leaves its lease: expired by now, another run takes over
        ledger.acquire(f"reclaim:{app}", "ops@killed:1", dt.timedelta(minutes=1),
                       now=dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=5))
        summary = Reclaimer(lifecycle, ledger, cloud, FakeStacks(), OPS,
                            clock=lambda: at("2026-06-08T11:00")).run(app)
        assert summary.failures == [], summary.failures
        assert summary.reclaimed
        assert [f["id"] for f in summary.foreign] == [ids["foreign"]]
        conn = admin.connect_as_project(project)
        assert [v.id for v in conn.block_storage.volumes()] == [ids["foreign"]]
        assert list(conn.compute.servers()) == []
        assert list(conn.network.networks(project_id=project.id)) == []
        assert list(conn.network.routers(project_id=project.id)) == []
        assert [g.name for g in conn.network.security_groups(project_id=project.id)] == ["default"]
        assert list(conn.object_store.containers()) == []
        assert cloud.find_project(project.name) is not None  # kept: something foreign is in it
        assert lifecycle.state(app).state == "reclaimed"
    finally:
        cleanup(admin, project)


def cleanup(admin, project) -> None:
    """Whatever is left, with openstacksdk's own cleanup, then the default group and the project."""
    conn = admin.connect_as_project(project)
    conn.project_cleanup(dry_run=False, wait_timeout=120)
    for group in conn.network.security_groups(project_id=project.id):
        conn.network.delete_security_group(group, ignore_missing=True)
    admin.identity.delete_project(project, ignore_missing=True)
