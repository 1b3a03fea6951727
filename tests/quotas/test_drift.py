"""Applied quotas: the project's quota sets vs the environment's allocation."""

from __future__ import annotations

import dataclasses

import pytest

from orchestrator.adapters.cloud import Cloud
from orchestrator.core.manifest import Environment
from orchestrator.core.quota.drift import differences
from orchestrator.core.sizing import quotas
from orchestrator.errors import NotFound

from .fakecloud import connection, with_quotas


def test_equal_quotas_have_no_differences(examples):
    q = quotas(examples["open-data"].environments[Environment.TRIAL].resources)
    assert differences(q, q) == []


def test_each_differing_key_is_listed(examples):
    q = quotas(examples["open-data"].environments[Environment.TRIAL].resources)
    actual = dataclasses.replace(
        q, compute={**q.compute, "cores": 99}, network={k: v for k, v in q.network.items() if k != "port"}
    )
    found = {(d.service, d.key, d.expected, d.actual) for d in differences(q, actual)}
    assert found == {("compute", "cores", q.compute["cores"], 99), ("network", "port", q.network["port"], None)}


def test_adapter_reads_the_three_quota_sets(examples):
    q = quotas(examples["social-security"].environments[Environment.PRODUCTION].resources)
    conn = with_quotas(connection(providers=[]), q)
    assert Cloud(conn).project_quotas("rsj-social-security-production") == q
    conn.get_network_quotas.assert_called_once_with("rsj-social-security-production")


def test_missing_project_is_not_found():
    from openstack import exceptions

    conn = connection(providers=[])
    conn.get_compute_quotas.side_effect = exceptions.NotFoundException("No Project found for nope")
    with pytest.raises(NotFound, match="project nope does not exist"):
        Cloud(conn, "fake").project_quotas("nope")
