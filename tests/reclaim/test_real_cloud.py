"""Reclamation against the local OpenStack (cloud ``GOVCLOUD_TEST_CLOUD``, default
``govcloud-local``, from ``clouds.yaml``; ``OS_CLIENT_CONFIG_FILE`` may point at it).

A project tagged for a uniquely named application gets, through openstacksdk and outside any
Pulumi stack: a network, subnet, router with gateway and interface, a security group, a server on
the fake driver with a volume attached, a container with objects, and one foreign untagged volume.
The reclamation (real ledger, cloud and sweep; no Pulumi stack) is killed after a few deletions,
resumed, and must leave only the foreign volume (and so keep the project).

Role assignments (issue 8): a uniquely named unit's groups and a provider operations group get
their roles on a project, as a stack grants them; reclaimed, none of theirs is left on it, whether
the project goes or stays, also after a kill between two removals.
The platform is the in-memory Keycloak admin here (see ``test_real_keycloak.py`` for the real one).
"""

from __future__ import annotations

import datetime as dt
import os
import uuid

import pytest

from orchestrator.adapters.cloud import Cloud
from orchestrator.adapters.platform import KeycloakPlatform
from orchestrator.core.platform import AuthSettings
from orchestrator.services.lifecycle import Lifecycle
from orchestrator.services.reclaim import Reclaimer, access_step

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
    conn.network.add_interface_to_router(router, subnet=sub.id)
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
                          clock=lambda: at("2026-06-08T10:00"), holder="ops@killed:1", platform=no_clients())
        try:
            summary = first.run(app)
            pytest.fail(f"the run was not killed: {summary.failures or summary.steps}")
        except Killed:
            pass
        # a killed process leaves its lease: expired by now, another run takes over
        ledger.acquire(f"reclaim:{app}", "ops@killed:1", dt.timedelta(minutes=1),
                       now=dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=5))
        summary = Reclaimer(lifecycle, ledger, cloud, FakeStacks(), OPS, platform=no_clients(),
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


# --- role assignments -------------------------------------------------------------------------


@pytest.fixture
def granted(cloud, unit_app):
    """The project ``<unit>-<app>-test`` tagged for the application, with the grants a stack
    makes (unit admins ``member``, operators ``reader``, provider ops ``member``, our own user
    ``member``) and one role of a user of nobody's; everything made here is deleted afterwards."""
    admin, (unit, app) = cloud._conn, unit_app  # test set-up only: the adapter creates nothing
    project = admin.identity.create_project(name=f"{unit}-{app}-test", domain_id="default",
                                            tags=[f"govcloud:unit={unit}", f"govcloud:app={app}", "govcloud:env=test"])
    role = {r: admin.identity.find_role(r) for r in ("member", "reader")}
    groups = [admin.identity.create_group(name=f"{unit}-{kind}", domain_id="default")
              for kind in ("admins", "operators", "ops")]
    someone = admin.identity.create_user(name=f"{unit}-alice", domain_id="default")
    for group, r in zip(groups, ("member", "reader", "member")):
        admin.identity.assign_project_role_to_group(project, group, role[r])
    admin.identity.assign_project_role_to_user(project, admin.current_user_id, role["member"])
    admin.identity.assign_project_role_to_user(project, someone, role["reader"])
    try:
        yield {"unit": unit, "app": app, "project": project, "groups": groups, "someone": someone,
               "ops": groups[2].name}
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
        assert [a for a in admin.identity.role_assignments(group_id=group.id)
                if a.scope.get("project", {}).get("id") == project.id] == []
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
    summary = Reclaimer(Lifecycle(ledger), ledger, cloud, FakeStacks(), OPS, platform=no_clients(),
                        provider_ops_group=granted["ops"], clock=lambda: at("2026-06-08T10:00")).run(granted["app"])
    assert summary.failures == [] and summary.reclaimed
    assert cloud.find_project(project.name) is None
    assert list(admin.identity.role_assignments(scope_project_id=project.id)) == []
    for group in granted["groups"]:
        assert list(admin.identity.role_assignments(group_id=group.id)) == []
    [access] = [s for s in summary.steps if s.step == "access"]
    assert access.status == "done" and "Keystone removed them with the project" in access.detail
