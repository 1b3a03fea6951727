"""The cloud adapter's sweep over openstacksdk's own fakes (``openstack.test.fakes``)."""

from __future__ import annotations

from unittest import mock

import pytest
from keystoneauth1 import exceptions as ksa
from openstack import exceptions
from openstack.block_storage.v3 import snapshot, volume
from openstack.compute.v2 import server
from openstack.image.v2 import image
from openstack.network.v2 import floating_ip, network, port, router, security_group, subnet
from openstack.object_store.v1 import container, obj
from openstack.test import fakes

from orchestrator.adapters.cloud.sweep import DeletionFailed, ProjectSweep, labels_from_headers
from orchestrator.core.reclaim import Found, decide

pytestmark = pytest.mark.filterwarnings("ignore:The _compute_attributes method is deprecated")
TAGS = ["govcloud:unit=rsj", "govcloud:app=social-security", "govcloud:env=test", "other-tag"]
META = {"govcloud:unit": "rsj", "govcloud:app": "social-security", "govcloud:env": "test", "x": "y"}


def fake(cls, **attrs):
    return fakes.generate_fake_resource(cls, **attrs)


def connection(**lists) -> mock.Mock:
    conn = mock.Mock(name="connection")
    conn.session.get_endpoint.side_effect = ksa.EndpointNotFound("database")  # no Trove here
    net = conn.network
    net.networks.return_value = lists.get("networks", [])
    net.ports.return_value = lists.get("ports", [])
    net.ips.return_value = lists.get("ips", [])
    net.routers.return_value = lists.get("routers", [])
    net.subnets.return_value = lists.get("subnets", [])
    net.security_groups.return_value = lists.get("groups", [])
    conn.compute.servers.return_value = lists.get("servers", [])
    conn.block_storage.volumes.return_value = lists.get("volumes", [])
    conn.block_storage.snapshots.return_value = lists.get("snapshots", [])
    conn.image.images.return_value = lists.get("images", [])
    containers = lists.get("containers", {})
    conn.object_store.containers.return_value = [fake(container.Container, name=n) for n in containers]
    conn.object_store.get_container_metadata.side_effect = lambda n: mock.Mock(metadata=containers[n][0])
    conn.object_store.objects.side_effect = lambda n: [fake(obj.Object, name=o) for o in containers[n][1]]
    return conn


def test_inventory_labels_every_kind_and_skips_neutrons_own_ports():
    net = fake(network.Network, tags=TAGS, name="social-security-net")
    srv = fake(server.Server, metadata=META, name="social-security-web-1")
    conn = connection(
        networks=[net],
        ports=[
            fake(port.Port, device_owner="network:router_interface", device_id="r1", tags=[], name=""),
            fake(port.Port, device_owner="network:dhcp", device_id="dhcp", tags=[]),
            fake(port.Port, device_owner="network:router_gateway", device_id="r1", tags=[]),
            fake(port.Port, device_owner="compute:nova", device_id=srv.id, tags=[], name="p"),
            fake(port.Port, device_owner="compute:nova", device_id=srv.id, tags=TAGS, name="tagged"),
        ],
        ips=[fake(floating_ip.FloatingIP, tags=TAGS)],
        routers=[fake(router.Router, id="r1", tags=TAGS)],
        subnets=[fake(subnet.Subnet, tags=TAGS)],
        groups=[
            fake(security_group.SecurityGroup, name="default", tags=[]),
            fake(security_group.SecurityGroup, name="web", tags=TAGS),
        ],
        servers=[srv],
        volumes=[fake(volume.Volume, metadata=META), fake(volume.Volume, metadata={}, name="theirs")],
        snapshots=[fake(snapshot.Snapshot, metadata=META)],
        images=[fake(image.Image, tags=[], properties={"govcloud:unit": "rsj", "govcloud:app": "social-security"})],
        containers={"files": ({"Govcloud-Unit": "rsj", "govcloud-app": "social-security"}, ["a.pdf", "b/c.txt"])},
    )
    items = ProjectSweep(conn, "p1").inventory()
    kinds = sorted(f.kind for f in items)
    assert kinds.count("port") == 2 and kinds.count("router_interface") == 1  # dhcp and gateway skipped
    [interface] = [f for f in items if f.kind == "router_interface"]
    assert interface.owned_by == "r1"
    untagged_port = next(f for f in items if f.kind == "port" and f.name == "p")
    assert untagged_port.owned_by == srv.id and untagged_port.labels == {}
    assert next(f for f in items if f.kind == "port" and f.name == "tagged").labels["app"] == "social-security"
    assert {f.id for f in items if f.kind == "object"} == {"files/a.pdf", "files/b/c.txt"}
    assert all(f.owned_by == "files" for f in items if f.kind == "object")
    decision = decide(items, "rsj", "social-security")
    assert [f.name for f in decision.foreign] == ["theirs"]
    assert [f.name for f in decision.builtin] == ["default"]
    assert {f.kind for f in decision.delete} == {
        "floating_ip",
        "server",
        "port",
        "router_interface",
        "router",
        "subnet",
        "network",
        "security_group",
        "volume",
        "snapshot",
        "image",
        "container",
        "object",
    }
    for listing in (conn.network.networks, conn.network.ports, conn.network.routers, conn.network.ips):
        assert listing.call_args.kwargs["project_id"] == "p1"  # never another project's
    conn.image.images.assert_called_once_with(owner="p1")


def test_swift_header_labels_any_case():
    assert labels_from_headers({"GOVCLOUD-UNIT": "a", "govcloud-app": "b", "govcloud-x": "c", "quota-bytes": "1"}) == {
        "unit": "a",
        "app": "b",
    }


def test_trove_instances_are_labelled_by_their_network_and_own_their_server_volume_and_port():
    net = fake(network.Network, tags=TAGS)
    conn = connection(
        networks=[net],
        ports=[fake(port.Port, device_owner="compute:nova", device_id="trove-vm", network_id=net.id, tags=[])],
        servers=[fake(server.Server, id="trove-vm", metadata={})],
        volumes=[fake(volume.Volume, id="trove-vol", metadata={})],
    )
    conn.session.get_endpoint.side_effect = None
    conn.session.get_endpoint.return_value = "http://trove/v1.0/p1"
    bodies = {
        "http://trove/v1.0/p1/instances": {"instances": [{"id": "db1"}]},
        "http://trove/v1.0/p1/instances/db1": {
            "instance": {"id": "db1", "name": "social-security-db", "server_id": "trove-vm", "volume_id": "trove-vol"}
        },
        "http://trove/v1.0/p1/backups": {"backups": [{"id": "bk1", "name": "b", "instance_id": "db1"}]},
    }
    conn.session.get.side_effect = lambda url, **kw: mock.Mock(json=lambda: bodies[url])
    items = ProjectSweep(conn, "p1").inventory()
    assert sorted((f.kind, f.id) for f in items) == [
        ("database_backup", "bk1"),
        ("database_instance", "db1"),
        ("network", net.id),
    ]
    decision = decide(items, "rsj", "social-security")
    assert [f.id for f in decision.delete] == ["bk1", "db1", net.id] and decision.foreign == ()


def test_delete_ignores_what_is_gone_and_converts_errors():
    conn = connection()
    sweep = ProjectSweep(conn, "p1", wait_seconds=0.5)
    conn.network.delete_network.side_effect = exceptions.NotFoundException("gone")
    sweep.delete(Found("network", "n1"))  # a re-run after a kill: no error
    conn.network.remove_interface_from_router.side_effect = exceptions.NotFoundException("no such port")
    sweep.delete(Found("router_interface", "port1", owned_by="r1"))
    conn.network.remove_interface_from_router.assert_called_once_with("r1", port_id="port1")
    conn.network.delete_security_group.side_effect = exceptions.ConflictException("Security Group in use")
    with pytest.raises(DeletionFailed) as failed:
        sweep.delete(Found("security_group", "sg1"))
    assert "security_group sg1" in str(failed.value) and "in use" in str(failed.value)


def test_objects_are_deleted_in_their_container():
    conn = connection()
    ProjectSweep(conn, "p1").delete(Found("object", "files/b/c.txt", "b/c.txt", owned_by="files"))
    conn.object_store.delete_object.assert_called_once_with("b/c.txt", container="files", ignore_missing=True)


def test_a_volume_already_deleting_is_waited_for_not_deleted_again(monkeypatch):
    conn = connection()
    states = iter(["deleting", "deleting", None])
    conn.block_storage.find_volume.side_effect = lambda *a, **k: (
        lambda s: None if s is None else fake(volume.Volume, status=s)
    )(next(states))
    monkeypatch.setattr("time.sleep", lambda s: None)
    ProjectSweep(conn, "p1", wait_seconds=5).delete(Found("volume", "v1"))
    conn.block_storage.delete_volume.assert_not_called()


def test_a_volume_still_detaching_is_waited_for_then_deleted(monkeypatch):
    conn = connection()
    states = iter(["detaching", "available", "available", "deleting", None])
    conn.block_storage.find_volume.side_effect = lambda *a, **k: (
        lambda s: None if s is None else fake(volume.Volume, status=s)
    )(next(states))
    monkeypatch.setattr("time.sleep", lambda s: None)
    ProjectSweep(conn, "p1", wait_seconds=5).delete(Found("volume", "v1"))
    conn.block_storage.delete_volume.assert_called_once_with("v1", ignore_missing=True)


def test_a_server_that_does_not_go_away_is_a_failure(monkeypatch):
    conn = connection()
    conn.compute.find_server.return_value = fake(server.Server, status="ERROR")
    with pytest.raises(DeletionFailed) as failed:
        ProjectSweep(conn, "p1", wait_seconds=0.3).delete(Found("server", "s1"))
    assert "still there" in str(failed.value)
