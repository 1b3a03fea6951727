"""Reclaiming a project of 200 resources, against openstacksdk's own ``project_cleanup``.

Two projects get the same 200 resources, made in parallel: 80 security groups, 40 networks,
40 volumes and 40 Swift containers (one object each), all tagged for one application. One is
reclaimed by govcloud's sweep (list, decide, delete kind by kind with a small thread pool (16),
verify by listing again, then the default security group and the project itself); the other by
``conn.project_cleanup(dry_run=False)``, which leaves the project, its default security group
and (being generic) does not know Trove, tags or identity. Target: govcloud no slower.

    OS_CLIENT_CONFIG_FILE=/work/wt-cloud/clouds.yaml .venv/bin/python benchmarks/reclaim.py [--workers N]

Needs the local OpenStack (cloud ``GOVCLOUD_TEST_CLOUD``, default ``govcloud-local``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CLOUD = os.environ.get("GOVCLOUD_TEST_CLOUD", "govcloud-local")
MIX = {"security_group": 80, "network": 40, "volume": 40, "container": 40}


def make_project(admin, name: str, app: str):
    tags = ["govcloud:unit=bench", f"govcloud:app={app}", "govcloud:env=test"]
    project = admin.identity.create_project(name=name, domain_id="default", tags=tags)
    me = admin.identity.find_user(admin.current_user_id)
    for role in ("member", "admin"):
        admin.identity.assign_project_role_to_user(project, me, admin.identity.find_role(role))
    admin.set_network_quotas(
        project.id, security_groups=200, networks=100, subnets=100, ports=500, security_group_rules=1000
    )
    admin.set_volume_quotas(project.id, volumes=100, gigabytes=1000)
    return project


def populate(admin, project, app: str) -> None:
    """The 200 resources, tagged for ``app``, made 8 at a time."""
    conn = admin.connect_as_project(project)
    tags = ["govcloud:unit=bench", f"govcloud:app={app}", "govcloud:env=test"]
    meta = {"govcloud:unit": "bench", "govcloud:app": app, "govcloud:env": "test"}

    def group(i):
        conn.network.set_tags(conn.network.create_security_group(name=f"{app}-sg-{i}"), tags)

    def network(i):
        conn.network.set_tags(conn.network.create_network(name=f"{app}-net-{i}"), tags)

    def volume(i):
        conn.block_storage.create_volume(name=f"{app}-vol-{i}", size=1, metadata=meta)

    def container(i):
        name = f"{app}-c-{i}"
        conn.object_store.create_container(name=name, metadata={"govcloud-unit": "bench", "govcloud-app": app})
        conn.object_store.upload_object(container=name, name="o", data=b"x")

    makers = {"security_group": group, "network": network, "volume": volume, "container": container}
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda job: makers[job[0]](job[1]), [(k, i) for k, n in MIX.items() for i in range(n)]))
    deadline = time.monotonic() + 120
    while any(v.status != "available" for v in conn.block_storage.volumes()):
        if time.monotonic() > deadline:
            raise SystemExit("volumes did not become available")
        time.sleep(0.5)


def govcloud(cloud, name: str, app: str, workers: int) -> tuple[float, dict]:
    from orchestrator.core.reclaim import decide
    from orchestrator.services.reclaim.steps import delete_all, sweep_project

    start = time.perf_counter()
    project = cloud.find_project(name)
    sweep = cloud.sweep(project)
    step = sweep_project(sweep, "test", name, "bench", app, workers=workers)
    left = decide(sweep.inventory(), "bench", app)  # verify
    delete_all(sweep, list(left.builtin), workers)
    if not left.delete and not left.foreign:
        cloud.delete_project(project)
    return time.perf_counter() - start, {
        "deleted": step.deleted,
        "failed": len(step.failures),
        "left": len(left.delete),
        "project_deleted": cloud.find_project(name) is None,
    }


def sdk_cleanup(admin, project) -> tuple[float, int]:
    conn = admin.connect_as_project(project)
    start = time.perf_counter()
    conn.project_cleanup(dry_run=False, wait_timeout=300)
    elapsed = time.perf_counter() - start
    left = len(list(conn.network.security_groups(project_id=project.id))) + len(list(conn.block_storage.volumes()))
    return elapsed, left


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    from orchestrator.services.reclaim.steps import WORKERS

    parser.add_argument("--workers", type=int, default=WORKERS)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the 200 resources (a short-lived cloud)")
    args = parser.parse_args()
    for kind in MIX:
        MIX[kind] = max(1, round(MIX[kind] * args.scale))
    from orchestrator.adapters.cloud import Cloud

    cloud = Cloud.connect(CLOUD)
    admin = cloud._conn  # benchmark set-up only
    run = uuid.uuid4().hex[:6]
    ours, theirs = f"bench-rc-{run}", f"bench-sdk-{run}"
    p_ours, p_theirs = (
        make_project(admin, f"bench-{ours}-test", ours),
        make_project(admin, f"bench-{theirs}-test", theirs),
    )
    try:
        t = time.perf_counter()
        populate(admin, p_ours, ours)
        populate(admin, p_theirs, theirs)
        print(f"made 2 x {sum(MIX.values())} resources in {time.perf_counter() - t:.1f} s", flush=True)
        ours_s, result = govcloud(cloud, p_ours.name, ours, args.workers)
        print(f"govcloud sweep ({args.workers} workers): {ours_s:6.1f} s  {result}", flush=True)
        sdk_s, left = sdk_cleanup(admin, p_theirs)
        print(f"openstacksdk project_cleanup:       {sdk_s:6.1f} s  (left: {left} incl. default group; project kept)")
        verdict = "met" if ours_s <= sdk_s else "MISSED"
        print(f"target (govcloud no slower): {verdict}  ratio {ours_s / sdk_s:.2f}")
    finally:
        for project in (p_ours, p_theirs):
            if admin.identity.find_project(project.id, ignore_missing=True) is not None:
                conn = admin.connect_as_project(project)
                conn.project_cleanup(dry_run=False, wait_timeout=120)
                for group in conn.network.security_groups(project_id=project.id):
                    conn.network.delete_security_group(group, ignore_missing=True)
                admin.identity.delete_project(project, ignore_missing=True)


if __name__ == "__main__":
    main()
