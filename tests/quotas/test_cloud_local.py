"""Capacity and applied quotas against the local OpenStack (``make cloud-up``; cloud
``GOVCLOUD_TEST_CLOUD``, default ``govcloud-local``, from ``clouds.yaml``)."""

from __future__ import annotations

import dataclasses
import os
import uuid

import pytest

from orchestrator.adapters.cloud import Cloud
from orchestrator.core.capacity import assess_all
from orchestrator.core.manifest import Environment
from orchestrator.core.quota.drift import differences
from orchestrator.core.sizing import quotas

pytestmark = pytest.mark.cloud
CLOUD = os.environ.get("GOVCLOUD_TEST_CLOUD", "govcloud-local")


@pytest.fixture(scope="module")
def cloud() -> Cloud:
    return Cloud.connect(CLOUD)


def test_capacity_of_the_local_cloud(cloud):
    assessed = {a.resource: a for a in assess_all(cloud.capacity(), 0.7)}
    for name in ("compute vcpu", "compute ram", "compute disk"):
        assert assessed[name].status in ("ok", "warn") and assessed[name].capacity > 0
    assert all(a.status in ("ok", "warn", "unknown") for a in assessed.values())
    assert all(a.percent is None for a in assessed.values() if a.status == "unknown")


def test_drift_of_a_project_with_the_allocation_and_after_a_change(cloud, examples):
    expected = quotas(examples["open-data"].environments[Environment.TRIAL].resources)
    conn = cloud._conn  # test set-up only: the adapter has no verbs that create projects
    name = f"govcloud-test-drift-{uuid.uuid4().hex[:8]}"
    project = conn.identity.create_project(name=name, domain_id="default", description="govcloud quota drift test")
    try:
        conn.set_compute_quotas(project.id, **expected.compute)
        conn.set_network_quotas(project.id, **expected.network)
        conn.set_volume_quotas(project.id, **expected.block_storage)
        assert differences(expected, cloud.project_quotas(name)) == []
        conn.set_compute_quotas(project.id, cores=expected.compute["cores"] + 1)
        [d] = differences(expected, cloud.project_quotas(name))
        assert (d.service, d.key, d.actual) == ("compute", "cores", expected.compute["cores"] + 1)
        assert dataclasses.asdict(d)["expected"] == expected.compute["cores"]
    finally:
        conn.identity.delete_project(project, ignore_missing=True)
