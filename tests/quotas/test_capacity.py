"""Art. 31: 69.9% passes, 70.0% warns; unknown is never 0%; the cloud adapter over openstacksdk fakes."""

from __future__ import annotations

import pytest

from orchestrator.adapters.cloud import Cloud, CloudUnreachable
from orchestrator.core.capacity import Measure, assess, assess_all, effective_capacity, warnings

from .fakecloud import connection, inventory


@pytest.mark.parametrize(
    "used, capacity, status, percent",
    [
        (699, 1000, "ok", 69.9),
        (700, 1000, "warn", 70.0),
        (7, 10, "warn", 70.0),
        (0.7, 1, "warn", 70.0),
        (69.99, 100, "ok", 70.0),
        (1000, 1000, "warn", 100.0),
        (0, 1000, "ok", 0.0),
    ],
)
def test_threshold_boundary(used, capacity, status, percent):
    a = assess(Measure("compute vcpu", used, capacity), 0.70)
    assert (a.status, a.percent) == (status, percent)


@pytest.mark.parametrize("used, capacity", [(None, 100), (5, None), (None, None), (0, 0)])
def test_unknown_is_never_zero_percent(used, capacity):
    a = assess(Measure("block storage", used, capacity), 0.70)
    assert a.status == "unknown" and a.percent is None


def test_warnings_name_every_resource_at_or_above_the_threshold():
    found = warnings(
        assess_all(
            [Measure("a", 70, 100), Measure("b", 69.9, 100), Measure("c", 95, 100), Measure("d", None, None)], 0.7
        )
    )
    assert [a.resource for a in found] == ["a", "c"]


def test_effective_capacity_follows_placement():
    assert effective_capacity(total=64, reserved=4, allocation_ratio=4.0) == 240
    assert effective_capacity(total=4, reserved=8) == 0


def test_compute_from_placement_inventories_and_usages():
    conn = connection(
        providers=[
            (
                [
                    inventory("VCPU", 32, 0, 4.0),
                    inventory("MEMORY_MB", 131072, 2048, 1.0),
                    inventory("DISK_GB", 1000, 0, 1.0),
                ],
                {"VCPU": 64, "MEMORY_MB": 90000, "DISK_GB": 100},
            ),
            ([inventory("VCPU", 32, 0, 4.0)], {"VCPU": 32}),
        ]
    )
    measures = {m.resource: m for m in Cloud(conn, "fake").compute_capacity()}
    assert (measures["compute vcpu"].used, measures["compute vcpu"].capacity) == (96, 256)
    assert (measures["compute ram"].used, measures["compute ram"].capacity) == (90000, 129024)
    assert measures["compute disk"].source == "placement"
    ram = assess(measures["compute ram"], 0.7)
    assert ram.status == "ok" and ram.percent == 69.8


def test_compute_falls_back_to_hypervisor_statistics():
    conn = connection(
        providers=None,
        hypervisors=[
            {
                "vcpus": 16,
                "vcpus_used": 12,
                "memory_size": 65536,
                "memory_used": 1024,
                "local_disk_size": 500,
                "local_disk_used": 50,
            }
        ],
    )
    measures = {m.resource: m for m in Cloud(conn).compute_capacity()}
    assert (measures["compute vcpu"].used, measures["compute vcpu"].capacity, measures["compute vcpu"].source) == (
        12,
        16,
        "hypervisors",
    )


def test_compute_unknown_when_neither_placement_nor_statistics_answer():
    removed = dict.fromkeys(["vcpus", "vcpus_used", "memory_size", "memory_used", "local_disk_size", "local_disk_used"])
    conn = connection(providers=None, hypervisors=[removed])  # microversion 2.88 dropped the statistics
    assert all(assess(m, 0.7).status == "unknown" for m in Cloud(conn).compute_capacity())


def test_block_storage_pools_and_unknown_back_ends():
    conn = connection(providers=[], pools=[("ceph@rbd#rbd", 1000, 300), ("lvm@lvm#lvm", "infinite", "infinite")])
    measures = {m.resource: m for m in Cloud(conn).block_storage_capacity()}
    assert (measures["block storage ceph@rbd#rbd"].used, measures["block storage ceph@rbd#rbd"].capacity) == (700, 1000)
    assert measures["block storage lvm@lvm#lvm"].capacity is None


def test_block_storage_not_exposed_is_unknown():
    [m] = Cloud(connection(providers=[], pools=None)).block_storage_capacity()
    assert m.resource == "block storage" and assess(m, 0.7).status == "unknown"


def test_floating_ips_from_ip_availability():
    conn = connection(providers=[], externals=[("public", 180, 250)])
    [m] = Cloud(conn).network_capacity()
    assert (m.resource, m.used, m.capacity) == ("floating ips public", 180, 250)
    assert assess(m, 0.7).status == "warn"


def test_ip_availability_refused_is_unknown():
    [m] = Cloud(connection(providers=[], externals=None)).network_capacity()
    assert assess(m, 0.7).status == "unknown"


CAPACITY_CALLS = {  # each cloud call of the capacity -> the measures it leaves unknown
    "placement.resource_provider_inventories": ("compute vcpu", "compute ram", "compute disk"),
    "placement.fetch_resource_provider_usages": ("compute vcpu", "compute ram", "compute disk"),
    "block_storage.backend_pools": ("block storage",),
    "network.networks": ("floating ips",),
    "network.network_ip_availabilities": ("floating ips",),
}


@pytest.mark.parametrize("call", list(CAPACITY_CALLS))
def test_a_failing_capacity_call_is_unknown_with_its_reason(call):
    from openstack import exceptions

    conn = connection(
        providers=[
            (
                [inventory("VCPU", 32), inventory("MEMORY_MB", 1024), inventory("DISK_GB", 10)],
                {"VCPU": 1, "MEMORY_MB": 1, "DISK_GB": 1},
            )
        ],
        pools=[("fake", 100, 50)],
        externals=[("public", 10, 250)],
    )
    service, method = call.split(".")
    getattr(getattr(conn, service), method).side_effect = exceptions.HttpException(
        "Service Unavailable", http_status=503
    )
    assessed = {a.resource: a for a in (assess(m, 0.7) for m in Cloud(conn, "fake").capacity())}
    unknown = {name for name, a in assessed.items() if a.status == "unknown"}
    assert unknown == set(CAPACITY_CALLS[call]), assessed
    assert all("Service Unavailable" in assessed[n].reason and assessed[n].used is None for n in unknown)
    assert all(a.percent is not None for n, a in assessed.items() if n not in unknown)


def test_placement_and_hypervisors_both_failing_give_both_reasons():
    from openstack import exceptions

    conn = connection(providers=None)
    conn.compute.hypervisors.side_effect = exceptions.HttpException("Forbidden", http_status=403)
    reasons = {assess(m, 0.7).reason for m in Cloud(conn, "fake").compute_capacity()}
    [reason] = reasons
    assert reason.startswith("placement: ") and "hypervisors: " in reason and "Forbidden" in reason


class _Unanswered:
    """A connection whose identity service does not answer: openstacksdk wraps the keystoneauth
    error into an SDKException, as ``Connection.authorize`` does."""

    class config:
        @staticmethod
        def get_auth_args():
            return {"auth_url": "http://203.0.113.1:5000/v3"}

    def authorize(self):
        from keystoneauth1 import exceptions as ksa
        from openstack import exceptions

        try:
            raise ksa.ConnectFailure(
                "Unable to establish connection to http://203.0.113.1:5000/v3/auth/tokens: "
                "HTTPConnectionPool(host='203.0.113.1', port=5000): Max retries exceeded"
            )
        except ksa.ClientException as e:
            raise exceptions.SDKException(str(e))  # noqa: B904  (as openstacksdk does)


def test_unreachable_cloud_is_one_sentence(monkeypatch):
    import openstack

    monkeypatch.setattr(openstack, "connect", lambda **kw: _Unanswered())
    with pytest.raises(CloudUnreachable) as caught:
        Cloud.connect("govcloud-local")
    assert caught.value.exit_code == 3
    assert str(caught.value) == (
        "cloud govcloud-local is unreachable: no answer from http://203.0.113.1:5000/v3 "
        "(connection refused or unreachable)"
    )


def test_missing_cloud_configuration_is_one_sentence(monkeypatch, tmp_path):
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(tmp_path / "none.yaml"))
    with pytest.raises(CloudUnreachable, match=r"^cloud nope is unreachable: Cloud nope was not found\.$"):
        Cloud.connect("nope")
