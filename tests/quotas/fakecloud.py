"""A connection built from openstacksdk's own test fakes (``openstack.test.fakes``)."""

from __future__ import annotations

import functools
from unittest import mock

from openstack.block_storage import block_storage_service
from openstack.block_storage.v3 import quota_set as volume_quota_set
from openstack.block_storage.v3 import stats
from openstack.compute import compute_service
from openstack.compute.v2 import hypervisor
from openstack.compute.v2 import quota_set as compute_quota_set
from openstack.network import network_service
from openstack.network.v2 import network, network_ip_availability
from openstack.network.v2 import quota as network_quota
from openstack.placement import placement_service
from openstack.placement.v1 import resource_provider, resource_provider_inventory
from openstack.test import fakes

from orchestrator.core.sizing import Quotas


def inventory(rc: str, total: int, reserved: int = 0, ratio: float = 1.0):
    return fakes.generate_fake_resource(
        resource_provider_inventory.ResourceProviderInventory,
        resource_class=rc,
        total=total,
        reserved=reserved,
        allocation_ratio=ratio,
    )


def connection(
    *,
    providers: list[tuple[list, dict]] | None = None,
    pools: list[tuple[str, object, object]] | None = None,
    externals: list[tuple[str, int, int]] | None = None,
    hypervisors: list[dict] | None = None,
):
    """A fake connection. ``providers``: (inventories, usages) per resource provider; ``pools``:
    (name, total GB, free GB); ``externals``: (name, used IPs, total IPs). ``None``: the service
    refuses (403)."""
    from openstack import exceptions

    conn = mock.Mock(name="connection")
    conn.placement, conn.compute, conn.block_storage, conn.network = _proxies()
    forbidden = exceptions.ForbiddenException("Policy doesn't allow this")

    if providers is None:
        conn.placement.resource_providers.side_effect = exceptions.EndpointNotFound("placement")
    else:
        rps = [
            fakes.generate_fake_resource(resource_provider.ResourceProvider, name=f"node-{i}")
            for i in range(len(providers))
        ]
        by_name = {rp.name: p for rp, p in zip(rps, providers, strict=True)}
        conn.placement.resource_providers.return_value = iter(rps)
        conn.placement.resource_provider_inventories.side_effect = lambda rp: iter(by_name[rp.name][0])
        conn.placement.fetch_resource_provider_usages.side_effect = lambda rp: fakes.generate_fake_resource(
            resource_provider.ResourceProvider, usages=by_name[rp.name][1]
        )
    conn.compute.hypervisors.return_value = iter(
        [fakes.generate_fake_resource(hypervisor.Hypervisor, **h) for h in (hypervisors or [])]
    )
    if pools is None:
        conn.block_storage.backend_pools.side_effect = forbidden
    else:
        conn.block_storage.backend_pools.return_value = iter(
            [
                fakes.generate_fake_resource(
                    stats.Pools, name=n, capabilities={"total_capacity_gb": t, "free_capacity_gb": f}
                )
                for n, t, f in pools
            ]
        )
    if externals is None:
        conn.network.network_ip_availabilities.side_effect = forbidden
        conn.network.networks.return_value = iter([])
    else:
        nets = [fakes.generate_fake_resource(network.Network, name=n) for n, _, _ in externals]
        conn.network.networks.side_effect = lambda **q: iter(nets if q.get("is_router_external") else [])
        conn.network.network_ip_availabilities.return_value = iter(
            [
                fakes.generate_fake_resource(
                    network_ip_availability.NetworkIPAvailability,
                    network_id=net.id,
                    network_name=net.name,
                    used_ips=u,
                    total_ips=t,
                )
                for net, (_, u, t) in zip(nets, externals, strict=True)
            ]
        )
    return conn


@functools.cache
def _built() -> tuple:
    return (
        fakes.generate_fake_proxy(placement_service.PlacementService),
        fakes.generate_fake_proxy(compute_service.ComputeService),
        fakes.generate_fake_proxy(block_storage_service.BlockStorageService, api_version="3"),
        fakes.generate_fake_proxy(network_service.NetworkService),
    )


def _proxies() -> tuple:
    """The autospecced proxies (slow to build: built once), reset for each connection."""
    proxies = _built()
    for p in proxies:
        p.reset_mock(return_value=True, side_effect=True)
    return proxies


def with_quotas(conn, q: Quotas):
    """Make the fake connection report ``q`` as the project's quota sets."""
    from orchestrator.adapters.cloud import NETWORK_QUOTA_ATTRS

    conn.identity.find_project.return_value = mock.Mock(id="p-1", tags=[])  # the project is there
    conn.get_compute_quotas.return_value = fakes.generate_fake_resource(compute_quota_set.QuotaSet, **q.compute)
    conn.get_network_quotas.return_value = fakes.generate_fake_resource(
        network_quota.Quota, **{NETWORK_QUOTA_ATTRS[k]: v for k, v in q.network.items()}
    )
    conn.get_volume_quotas.return_value = fakes.generate_fake_resource(volume_quota_set.QuotaSet, **q.block_storage)
    return conn
