"""The idle and over-provisioning rules, and the cloud adapter's per-project usage (openstacksdk fakes)."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from openstack.block_storage.v3 import volume
from openstack.compute.v2 import server
from openstack.object_store.v1 import container
from openstack.test import fakes

from orchestrator.adapters.cloud import Cloud
from orchestrator.core import usage
from orchestrator.core.report import month

APRIL = month("2026-04")


def test_a_server_is_idle_when_shut_off_since_the_month_began():
    def off(since: str, status: str = "SHUTOFF") -> bool:
        return usage.idle_server(usage.ServerUsage("s", status, dt.datetime.fromisoformat(since)), APRIL.start)

    assert off("2026-04-01T00:00") and off("2026-01-15T08:00")
    assert not off("2026-04-01T00:01") and not off("2026-01-15T08:00", "ACTIVE")
    assert not usage.idle_server(usage.ServerUsage("s", "SHUTOFF", None), APRIL.start)


def test_a_volume_is_idle_after_30_days_unattached():
    def unattached(since: str, attached: bool = False) -> bool:
        return usage.idle_volume(usage.VolumeUsage("v", 10, attached, dt.datetime.fromisoformat(since)), APRIL.end)

    assert unattached("2026-04-01T00:00")  # exactly 30 days before 1 May
    assert not unattached("2026-04-01T00:01") and not unattached("2026-01-01T00:00", attached=True)


def test_containers_and_over_provisioning():
    assert usage.idle_container(usage.ContainerUsage("c", 0, 0))
    assert not usage.idle_container(usage.ContainerUsage("c", 1, 0))
    assert usage.over_provisioned(100, 29.9) and not usage.over_provisioned(100, 30)
    assert not usage.over_provisioned(0, 0)


def test_project_usage_from_openstacksdk_resources():
    conn = mock.Mock(name="connection")
    conn.identity.find_project.return_value = mock.Mock(id="p-1")
    conn.compute.servers.return_value = iter(
        [
            fakes.generate_fake_resource(
                server.Server,
                name="app-1",
                status="SHUTOFF",
                updated_at="2026-03-20T04:00:00Z",
                flavor={"vcpus": 8, "ram": 16384},
            ),
            fakes.generate_fake_resource(
                server.Server,
                name="app-2",
                status="ACTIVE",
                updated_at="2026-04-02T16:30:00Z",
                flavor={"vcpus": 2, "ram": 4096},
            ),
        ]
    )
    conn.block_storage.volumes.return_value = iter(
        [
            fakes.generate_fake_resource(
                volume.Volume,
                name="data",
                size=200,
                status="available",
                attachments=[],
                updated_at="2026-03-20T04:00:00.000000",
            ),
            fakes.generate_fake_resource(
                volume.Volume,
                name="logs",
                size=100,
                status="in-use",
                attachments=[{"server_id": "x"}],
                updated_at="2026-03-01T00:00:00.000000",
            ),
        ]
    )
    scoped = conn.connect_as_project.return_value
    scoped.object_store.containers.return_value = iter(
        [  # the account's listing lags: its counts are stale
            fakes.generate_fake_resource(container.Container, name="scans", count=0, bytes=0),
            fakes.generate_fake_resource(container.Container, name="tmp", count=0, bytes=0),
        ]
    )
    heads = {
        "scans": fakes.generate_fake_resource(
            container.Container, name="scans", object_count=1200, bytes_used=5 * usage.GIB
        ),
        "tmp": fakes.generate_fake_resource(container.Container, name="tmp", object_count=0, bytes_used=0),
    }
    scoped.object_store.get_container_metadata.side_effect = heads.get
    found = Cloud(conn, "test").project_usage("rsj-social-security-production")

    conn.identity.find_project.assert_called_once_with("rsj-social-security-production", ignore_missing=True)
    conn.compute.servers.assert_called_once_with(details=True, all_projects=True, project_id="p-1")
    conn.block_storage.volumes.assert_called_once_with(details=True, all_projects=True, project_id="p-1")
    conn.connect_as_project.assert_called_once_with({"id": "p-1"})  # by id: a bare string is taken as a name
    # UTC from the cloud, Beijing time in govcloud
    assert found.servers == (
        usage.ServerUsage("app-1", "SHUTOFF", dt.datetime(2026, 3, 20, 12, 0), 8, 16.0),
        usage.ServerUsage("app-2", "ACTIVE", dt.datetime(2026, 4, 3, 0, 30), 2, 4.0),
    )
    assert found.volumes == (
        usage.VolumeUsage("data", 200, False, dt.datetime(2026, 3, 20, 12, 0)),
        usage.VolumeUsage("logs", 100, True, dt.datetime(2026, 3, 1, 8, 0)),
    )
    assert found.containers == (usage.ContainerUsage("scans", 1200, 5 * usage.GIB), usage.ContainerUsage("tmp", 0, 0))
    assert (found.vcpu, found.volume_gb, found.object_gb) == (2, 100, 5.0) and found.unknown == {}


def _failing(conn: mock.Mock, call: str) -> None:
    """Make one cloud call of the project's usage fail as openstacksdk fails (HTTP 401)."""
    from openstack import exceptions

    error = exceptions.HttpException("The request you have made requires authentication.", http_status=401)
    target, _, method = call.rpartition(".")
    setattr(_attr(conn, target) if target else conn, method, mock.Mock(side_effect=error))


def _attr(obj: object, path: str) -> object:
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


CALLS = {  # each cloud call of a project's usage -> the measures it leaves unknown
    "identity.find_project": {"vcpu", "volume_gb", "object_gb"},
    "compute.servers": {"vcpu"},
    "block_storage.volumes": {"volume_gb"},
    "connect_as_project": {"object_gb"},
    "connect_as_project.return_value.object_store.containers": {"object_gb"},
    "connect_as_project.return_value.object_store.get_container_metadata": {"object_gb"},
}


@pytest.mark.parametrize("call", list(CALLS))
def test_a_failing_call_makes_its_figures_unknown_with_the_reason_never_zero(call):
    conn = mock.Mock(name="connection")
    conn.identity.find_project.return_value = mock.Mock(id="p-1")
    conn.compute.servers.return_value = []
    conn.block_storage.volumes.return_value = []
    store = conn.connect_as_project.return_value.object_store
    store.containers.return_value = [fakes.generate_fake_resource(container.Container, name="scans")]
    store.get_container_metadata.return_value = fakes.generate_fake_resource(
        container.Container, name="scans", object_count=3, bytes_used=4_600_000
    )
    _failing(conn, call)
    found = Cloud(conn, "test").project_usage("rsj-social-security-test")
    assert set(found.measure_unknown()) == CALLS[call]
    assert all("requires authentication" in r and "cloud test" in r for r in found.measure_unknown().values())
    figures = {"vcpu": found.vcpu, "volume_gb": found.volume_gb, "object_gb": found.object_gb}
    assert {m for m, v in figures.items() if v is None} == CALLS[call]  # unknown, not 0


def test_a_project_the_cloud_does_not_know_uses_nothing():
    conn = mock.Mock(name="connection")
    conn.identity.find_project.return_value = None
    assert Cloud(conn, "test").project_usage("zwb-gone-test") == usage.ProjectUsage("zwb-gone-test")
    conn.compute.servers.assert_not_called()
