"""Database access on the local Trove: the engine's port is open to everyone until govcloud
narrows it to the application's own subnet (docs/operations.md, "Database access").

A project named as the stack would name it, with the application's network and subnet and one
Trove instance made through Trove's API as the stack makes it (no engine needed); everything is
deleted afterwards. Fails, never skips, without the cloud or Trove.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from orchestrator.adapters.cloud import Cloud
from orchestrator.core import dbaccess, naming
from orchestrator.core.manifest import Environment
from orchestrator.core.validation import load_manifest
from orchestrator.services import dbaccess as service

pytestmark = pytest.mark.cloud
ROOT = Path(__file__).resolve().parents[2]
CLOUD = "govcloud-local"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    text = (ROOT / "examples" / "manifests" / "social-security.yaml").read_text(encoding="utf-8")
    app_id = f"dbx-{uuid.uuid4().hex[:6]}"
    path = tmp_path_factory.mktemp("m") / f"{app_id}.yaml"
    path.write_text(text.replace("id: social-security", f"id: {app_id}", 1), encoding="utf-8")
    return load_manifest(path)


@pytest.fixture(scope="module")
def cloud() -> Cloud:
    try:
        return Cloud.connect(CLOUD)
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"the local OpenStack does not answer ({exc}); run make cloud-up")


@pytest.fixture(scope="module")
def environment(app, cloud) -> Any:
    """The test environment's project, network, subnet and database instance, as the stack makes them."""
    admin = cloud._conn
    env = Environment.TEST
    [access] = dbaccess.expected(app, env)
    project = admin.identity.create_project(name=naming.project_name(app.unit, app.id, env), domain_id="default")
    admin.identity.assign_project_role_to_user(project, admin.current_user_id, admin.identity.find_role("member"))
    conn = admin.connect_as_project(project)
    made: dict[str, Any] = {}
    try:
        net = made["net"] = conn.network.create_network(name=f"{app.id}-net")
        conn.network.create_subnet(network_id=net.id, ip_version=4, cidr=access.cidrs[0], name=f"{app.id}-subnet")
        db = app.environments[env].resources.databases[0]
        flavor = admin.compute.find_flavor(db.flavor)
        assert flavor is not None, f"flavor {db.flavor}: run toolchain/cloud/seed.py"
        trove = conn.session
        endpoint = conn.endpoint_for("database")
        body = {
            "instance": {
                "name": access.instance,
                "flavorRef": flavor.id,
                "volume": {"size": 1},
                "datastore": {"type": db.engine, "version": db.version},
                "nics": [{"net-id": net.id}],
            }
        }
        created = trove.post(f"{endpoint}/instances", json=body, endpoint_filter=None, raise_exc=False)
        assert created.status_code == 200, created.text
        iid = made["trove"] = created.json()["instance"]["id"]
        status = "?"
        for _ in range(180):
            status = trove.get(f"{endpoint}/instances/{iid}", endpoint_filter=None).json()["instance"]["status"]
            if status in ("ACTIVE", "HEALTHY", "ERROR"):
                break
            time.sleep(1)
        assert status in ("ACTIVE", "HEALTHY"), status
        yield {"project": project, "access": access, "env": env}
    finally:
        if "trove" in made:
            conn.session.delete(
                f"{conn.endpoint_for('database')}/instances/{made['trove']}", endpoint_filter=None, raise_exc=False
            )
            for _ in range(120):
                gone = (
                    conn.session.get(
                        f"{conn.endpoint_for('database')}/instances/{made['trove']}",
                        endpoint_filter=None,
                        raise_exc=False,
                    ).status_code
                    == 404
                )
                if gone:
                    break
                time.sleep(1)
        if "net" in made:
            for port in conn.network.ports(network_id=made["net"].id):
                if port.device_owner.startswith("network:"):
                    continue
                admin.network.delete_port(port, ignore_missing=True)
            conn.network.delete_network(made["net"], ignore_missing=True)
        admin.identity.delete_project(project, ignore_missing=True)


def test_the_database_port_is_narrowed_to_the_applications_subnet(app, cloud, environment):
    access, env = environment["access"], environment["env"]
    before = service.check(app, env, cloud)
    # Trove's default: the engine's port open to everyone on the application's network
    assert not before["ok"]
    assert f"database {access.instance}: its security group lets in tcp 3306 from 0.0.0.0/0" in before["differences"]

    after = service.restrict(app, env, cloud)
    assert after["ok"] and after["differences"] == [], after
    [observed] = cloud.database_access(environment["project"].name)
    assert observed.allowed_cidrs == access.cidrs == ("172.16.0.0/24",)
    assert [r for r in observed.ingress if r[0] == "tcp"] == [("tcp", 3306, 3306, "172.16.0.0/24")]
    assert all(r[3] == "172.16.0.0/24" for r in observed.ingress), observed.ingress
    assert service.restrict(app, env, cloud)["ok"]  # a second run finds nothing to change
