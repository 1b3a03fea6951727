"""Reclamation against the local OpenStack (cloud ``GOVCLOUD_TEST_CLOUD``, default
``govcloud-local``, from ``clouds.yaml``; ``OS_CLIENT_CONFIG_FILE`` may point at it).

A project tagged for a uniquely named application gets, through openstacksdk and outside any
Pulumi stack: a network, subnet, router with gateway and interface, a security group, a server on
the fake driver with a volume attached, a container with objects, and one foreign volume (labelled
for another application).
The reclamation (real ledger, cloud and sweep; no Pulumi stack) is killed after a few deletions,
resumed, and must leave only the foreign volume (and so keep the project).

Role assignments (issue 8): a uniquely named unit's groups and a provider operations group get
their roles on a project, as a stack grants them; reclaimed, none of theirs is left on it, whether
the project goes or stays, also after a kill between two removals.
The platform is the in-memory Keycloak admin here (see ``test_real_keycloak.py`` for the real one).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import uuid

import pytest

from orchestrator.adapters.cloud import Cloud
from orchestrator.adapters.platform import KeycloakPlatform
from orchestrator.core.platform import AuthSettings
from orchestrator.errors import ExternalError
from orchestrator.services.lifecycle import Lifecycle
from orchestrator.services.reclaim import Reclaimer
from orchestrator.services.reclaim.steps import access_step

from .conftest import EXAMPLES, OPS, at, to_termination_approved
from .fakes import FakeKeycloakAdmin, FakeStacks, Killed

pytestmark = pytest.mark.cloud
CLOUD = os.environ.get("GOVCLOUD_TEST_CLOUD", "govcloud-local")


def no_clients() -> KeycloakPlatform:
    return KeycloakPlatform(FakeKeycloakAdmin(), AuthSettings())


class KilledAfter:
    """The real cloud, whose sweeps die (like a killed process) after ``n`` deletions."""

    def __init__(self, cloud: Cloud, n: int) -> None:
        self.cloud, self.n, self.done = cloud, n, 0

    def __getattr__(self, name):
        return getattr(self.cloud, name)

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
    text = (
        (EXAMPLES / "social-security.yaml")
        .read_text(encoding="utf-8")
        .replace("id: social-security", f"id: {app_id}", 1)
    )
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
    router = conn.network.create_router(
        name=f"{app_id}-router", external_gateway_info={"network_id": public.id} if public else None
    )
    conn.network.set_tags(router, tags)
    conn.network.add_interface_to_router(router, subnet=sub.id)
    group = conn.network.create_security_group(name=f"{app_id}-web")
    conn.network.set_tags(group, tags)
    flavor = conn.compute.find_flavor("m1.tiny")
    image = conn.image.find_image("cirros-tiny")
    server = conn.compute.create_server(
        name=f"{app_id}-web-1", flavor_id=flavor.id, image_id=image.id, networks=[{"uuid": net.id}], metadata=meta
    )
    volume = conn.block_storage.create_volume(name=f"{app_id}-data", size=1, metadata=meta)
    # labelled for another application: foreign (unlabelled, it would be the department's own)
    foreign = conn.block_storage.create_volume(
        name="someone-elses", size=1, metadata={"govcloud:unit": "rsj", "govcloud:app": "someone-else"}
    )
    conn.compute.wait_for_server(server, wait=120)
    conn.block_storage.wait_for_status(volume, "available", wait=60)
    conn.compute.create_volume_attachment(server, volume_id=volume.id)
    conn.block_storage.wait_for_status(volume, "in-use", wait=60)
    container = f"{app_id}-files"
    conn.object_store.create_container(name=container, metadata={f"govcloud-{k}": v for k, v in labels.items()})
    for i in range(3):
        conn.object_store.upload_object(container=container, name=f"report-{i}.txt", data=b"data")
    ids.update(
        net=net.id,
        subnet=sub.id,
        router=router.id,
        group=group.id,
        server=server.id,
        volume=volume.id,
        foreign=foreign.id,
        container=container,
    )
    return ids


def test_killed_reclamation_resumes_and_leaves_only_the_foreign_volume(cloud, app, ledger):
    admin = cloud._conn  # test set-up only: the adapter has no verbs that create resources
    project = admin.identity.create_project(
        name=f"rsj-{app}-test",
        domain_id="default",
        tags=["govcloud:unit=rsj", f"govcloud:app={app}", "govcloud:env=test"],
    )
    try:
        ids = build(admin, project, app)
        lifecycle = Lifecycle(ledger)
        first = Reclaimer(
            lifecycle,
            ledger,
            KilledAfter(cloud, 4),
            FakeStacks(),
            OPS,
            workers=1,
            clock=lambda: at("2026-06-08T10:00"),
            holder="ops@killed:1",
            platform=no_clients(),
        )
        try:
            summary = first.run(app)
            pytest.fail(f"the run was not killed: {summary.failures or summary.steps}")
        except Killed:
            pass
        # a killed process leaves its lease: expired by now, another run takes over
        ledger.acquire(
            f"reclaim:{app}",
            "ops@killed:1",
            dt.timedelta(minutes=1),
            now=dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=5),
        )
        summary = Reclaimer(
            lifecycle, ledger, cloud, FakeStacks(), OPS, platform=no_clients(), clock=lambda: at("2026-06-08T11:00")
        ).run(app)
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


MB = 1024 * 1024


def store_data(conn, admin, ids: dict, app_id: str) -> dict:
    """What a department does with its environment by hand, without labels: a large object
    uploaded in segments (Swift's static large object, its segments in a second container), a
    snapshot of its volume, an image of its server, a port on its network with a security group
    of its own. Returns what it made, by kind."""
    import hashlib
    import json

    container, segments = ids["container"], f"{ids['container']}_segments"
    conn.object_store.create_container(name=segments)
    manifest = []
    for i in range(3):
        chunk = bytes([i]) * MB
        conn.object_store.upload_object(container=segments, name=f"big.iso/{i:08d}", data=chunk)
        manifest.append(
            {"path": f"/{segments}/big.iso/{i:08d}", "etag": hashlib.md5(chunk).hexdigest(), "size_bytes": len(chunk)}
        )
    conn.object_store.put(f"{container}/big.iso", params={"multipart-manifest": "put"}, data=json.dumps(manifest))
    snapshot = conn.block_storage.create_snapshot(volume_id=ids["volume"], name="before-upgrade", force=True)
    # Nova's fake driver never uploads the snapshot's data: the image stays queued, but it is
    # there, owned by the project, as the department's server image would be
    image = conn.compute.create_server_image(ids["server"], name=f"{app_id}-web-1-golden", wait=False)
    assert admin.image.get_image(image.id).owner == conn.current_project_id
    group = conn.network.create_security_group(name="debug")
    port = conn.network.create_port(network_id=ids["net"], name="debug", security_groups=[group.id])
    conn.block_storage.wait_for_status(snapshot, "available", wait=60)
    return {"segments": segments, "snapshot": snapshot.id, "image": image.id, "port": port.id, "group": group.id}


def test_data_and_things_made_by_hand_go_in_one_run(cloud, app, ledger):
    """Issue 24: objects in every container (a large object's segments in a second one), a
    volume snapshot, a server image, a port and a security group made by hand: one run removes
    them all and the project; the foreign volume alone stays."""
    admin = cloud._conn
    project = admin.identity.create_project(
        name=f"rsj-{app}-test",
        domain_id="default",
        tags=["govcloud:unit=rsj", f"govcloud:app={app}", "govcloud:env=test"],
    )
    try:
        ids = build(admin, project, app)
        conn = admin.connect_as_project(project)
        made = store_data(conn, admin, ids, app)
        summary = Reclaimer(
            Lifecycle(ledger),
            ledger,
            cloud,
            FakeStacks(),
            OPS,
            platform=no_clients(),
            clock=lambda: at("2026-06-08T10:00"),
        ).run(app)
        assert summary.failures == [] and summary.reclaimed, summary.failures
        [sweep] = [s for s in summary.steps if s.step == "sweep"]
        assert sweep.deleted["object"] == 3 + 1 + 3 and sweep.deleted["container"] == 2
        assert sweep.deleted["snapshot"] == 1 and sweep.deleted["image"] == 1
        assert (
            sweep.deleted["port"] == 2 and sweep.deleted["security_group"] == 2
        )  # the server's port, ours and by hand
        assert [f["id"] for f in summary.foreign] == [ids["foreign"]]
        assert list(conn.object_store.containers()) == []
        assert admin.block_storage.find_snapshot(made["snapshot"], ignore_missing=True, all_projects=True) is None
        assert admin.image.find_image(made["image"], ignore_missing=True) is None
        assert admin.network.find_port(made["port"], ignore_missing=True) is None
        assert admin.network.find_security_group(made["group"], ignore_missing=True) is None
        assert [v.id for v in conn.block_storage.volumes()] == [ids["foreign"]]
    finally:
        cleanup(admin, project)


def test_a_resource_of_a_gone_project_is_looked_up_by_id(cloud):
    """What the forget step relies on: our admin finds a server, a volume, a network and a
    container of another project by id, and says when they are gone; a container of a project
    that is gone is read through the account (Swift's reseller admin)."""
    admin = cloud._conn
    project = admin.identity.create_project(name=f"govcloud-test-exists-{uuid.uuid4().hex[:8]}", domain_id="default")
    reseller = admin.identity.find_role("ResellerAdmin")
    try:
        for role in ("member", "admin"):
            admin.identity.assign_project_role_to_user(project, admin.current_user_id, admin.identity.find_role(role))
        conn = admin.connect_as_project(project)
        conn.object_store.create_container(name="c")
        with pytest.raises(ExternalError, match="ResellerAdmin"):  # without the role, Swift cannot be asked
            cloud.exists("container", "c", project.id)
        admin.identity.assign_project_role_to_user(admin.current_project_id, admin.current_user_id, reseller)
        cloud = Cloud.connect(CLOUD)  # a token with the role
        net = conn.network.create_network(name="n")
        volume = conn.block_storage.create_volume(name="v", size=1)
        conn.block_storage.wait_for_status(volume, "available", wait=60)
        assert cloud.exists("network", net.id, project.id) and cloud.exists("volume", volume.id, project.id)
        assert cloud.exists("container", "c", project.id) and not cloud.exists("container", "nothing", project.id)
        conn.network.delete_network(net)
        conn.block_storage.delete_volume(volume)
        conn.block_storage.wait_for_delete(volume, wait=60)
        conn.object_store.delete_container("c")
        admin.identity.delete_project(project)
        assert not cloud.exists("network", net.id, project.id) and not cloud.exists("volume", volume.id, project.id)
        assert not cloud.exists("container", "c", project.id)
        assert not cloud.exists("server", str(uuid.uuid4()), project.id)
    finally:
        cleanup(admin, project)
        with contextlib.suppress(Exception):  # not granted if the test failed before
            admin.identity.unassign_project_role_from_user(admin.current_project_id, admin.current_user_id, reseller)


def cleanup(admin, project) -> None:
    """Whatever is left, with openstacksdk's own cleanup, then the default group and the project."""
    if admin.identity.find_project(project.id, ignore_missing=True) is None:
        return
    conn = admin.connect_as_project(project)
    conn.project_cleanup(dry_run=False, wait_timeout=120)
    for group in conn.network.security_groups(project_id=project.id):
        conn.network.delete_security_group(group, ignore_missing=True)
    admin.identity.delete_project(project, ignore_missing=True)


# --- role assignments -------------------------------------------------------------------------


@pytest.fixture
def granted(cloud, unit_app):
    """The project ``<unit>-<app>-test`` tagged for the application, with the grants a stack
    makes (unit admins ``member``, operators ``reader``, provider ops ``member``, our own user
    ``member``) and one role of a user of nobody's; everything made here is deleted afterwards."""
    admin, (unit, app) = cloud._conn, unit_app  # test set-up only: the adapter creates nothing
    project = admin.identity.create_project(
        name=f"{unit}-{app}-test",
        domain_id="default",
        tags=[f"govcloud:unit={unit}", f"govcloud:app={app}", "govcloud:env=test"],
    )
    role = {r: admin.identity.find_role(r) for r in ("member", "reader")}
    groups = [
        admin.identity.create_group(name=f"{unit}-{kind}", domain_id="default")
        for kind in ("admins", "operators", "ops")
    ]
    someone = admin.identity.create_user(name=f"{unit}-alice", domain_id="default")
    for group, r in zip(groups, ("member", "reader", "member"), strict=True):
        admin.identity.assign_project_role_to_group(project, group, role[r])
    admin.identity.assign_project_role_to_user(project, admin.current_user_id, role["member"])
    admin.identity.assign_project_role_to_user(project, someone, role["reader"])
    try:
        yield {
            "unit": unit,
            "app": app,
            "project": project,
            "groups": groups,
            "someone": someone,
            "ops": groups[2].name,
        }
    finally:  # nothing was made inside the project
        admin.identity.delete_project(project, ignore_missing=True)
        for group in groups:
            admin.identity.delete_group(group, ignore_missing=True)
        admin.identity.delete_user(someone, ignore_missing=True)


class DiesRemoving:
    """The real cloud, whose role-assignment removal dies (a killed process) after ``n``."""

    def __init__(self, cloud: Cloud, n: int) -> None:
        self.cloud, self.n, self.done = cloud, n, 0

    def __getattr__(self, name):
        return getattr(self.cloud, name)

    def delete_role_assignment(self, assignment):
        if self.done >= self.n:
            raise Killed()
        self.cloud.delete_role_assignment(assignment)
        self.done += 1


def test_a_kept_project_loses_the_grants_after_a_kill_and_a_resume(cloud, granted):
    admin, project, unit, app = cloud._conn, granted["project"], granted["unit"], granted["app"]
    found = cloud.find_project(project.name)
    with pytest.raises(Killed):
        access_step(DiesRemoving(cloud, 1), "test", found, unit, app, granted["ops"])
    assert len(list(admin.identity.role_assignments(scope_project_id=project.id))) == 4  # of 5, one removed
    step = access_step(cloud, "test", found, unit, app, granted["ops"])  # the re-run
    assert step.status == "done" and step.failures == []
    assert step.deleted == {"role_assignment": 2}  # the third went before the kill
    left = list(admin.identity.role_assignments(scope_project_id=project.id))
    assert sorted((a.user or {}).get("id") for a in left) == sorted([admin.current_user_id, granted["someone"].id])
    for group in granted["groups"]:  # by the unit's groups too: none on the project
        assert [
            a
            for a in admin.identity.role_assignments(group_id=group.id)
            if a.scope.get("project", {}).get("id") == project.id
        ] == []
    assert [f["name"] for f in step.foreign] == [f"user {unit}-alice: reader"]
    assert "ours, with the project" in step.detail


def test_a_deleted_projects_assignments_are_verified_gone(cloud, granted):
    admin, project = cloud._conn, granted["project"]
    found = cloud.find_project(project.name)
    cloud.delete_project(found)
    step = access_step(cloud, "test", found, granted["unit"], granted["app"], granted["ops"])
    assert step.status == "done" and step.deleted == {} and "Keystone removed them with the project" in step.detail
    assert list(admin.identity.role_assignments(scope_project_id=project.id)) == []
    for group in granted["groups"]:
        assert list(admin.identity.role_assignments(group_id=group.id)) == []


def test_a_reclaimed_application_leaves_no_role_assignment(cloud, granted, ledger):
    admin, project = cloud._conn, granted["project"]
    summary = Reclaimer(
        Lifecycle(ledger),
        ledger,
        cloud,
        FakeStacks(),
        OPS,
        platform=no_clients(),
        provider_ops_group=granted["ops"],
        clock=lambda: at("2026-06-08T10:00"),
    ).run(granted["app"])
    assert summary.failures == [] and summary.reclaimed
    assert cloud.find_project(project.name) is None
    assert list(admin.identity.role_assignments(scope_project_id=project.id)) == []
    for group in granted["groups"]:
        assert list(admin.identity.role_assignments(group_id=group.id)) == []
    [access] = [s for s in summary.steps if s.step == "access"]
    assert access.status == "done" and "Keystone removed them with the project" in access.detail
