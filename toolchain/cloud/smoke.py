#!/usr/bin/env python3
"""Smoke test of the local cloud with openstacksdk 4.x, as govcloud uses it.

Creates a project with quotas, a network, subnet and router with an external gateway, a security
group with rules, a server on the fake driver, a volume attached and detached, a floating IP, a
Swift container with an object; checks that tags and metadata are kept; reports what placement
and the hypervisor list say about capacity; deletes everything. Prints each step; exits 0 when
all pass. Run: OS_CLOUD=govcloud-local python toolchain/cloud/smoke.py (toolchain/cloud/smoke.sh
makes a venv with openstacksdk and does that).
"""

import contextlib
import os
import sys
import time
import uuid

import openstack
from openstack import exceptions, version

TAGS = ["govcloud:unit=smoke", "govcloud:app=smoke", "govcloud:env=test"]
META = {"govcloud:unit": "smoke", "govcloud:app": "smoke", "govcloud:env": "test", "govcloud:digest": "sha256:0"}

steps = []  # (name, seconds, ok, detail)


def step(name):
    """Decorator-like helper: run fn, record and print its outcome."""

    def run(fn):
        t0 = time.monotonic()
        try:
            detail = fn() or ""
            ok = True
        except Exception as exc:  # noqa: BLE001 (a failed step is reported, the run goes on to cleanup)
            detail, ok = f"{type(exc).__name__}: {exc}", False
        dt = time.monotonic() - t0
        steps.append((name, dt, ok, detail))
        print(f"{'PASS' if ok else 'FAIL'} {dt:6.2f}s  {name}{'  -- ' + str(detail) if detail else ''}", flush=True)
        return ok

    return run


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def main():
    cloud = os.environ.get("OS_CLOUD", "govcloud-local")
    admin = openstack.connect(cloud=cloud)
    name = f"smoke-{uuid.uuid4().hex[:8]}"
    r = {}  # created resources
    print(f"openstacksdk {version.__version__}; cloud {cloud}; prefix {name}")

    @step("catalog: every service answers")
    def _():
        found = {s.type for s in admin.identity.services()}
        want = {"identity", "compute", "placement", "network", "image", "volumev3", "block-storage", "object-store"}
        check(want <= found, f"missing {want - found}")
        flavors = sorted(f.name for f in admin.compute.flavors())
        images = [i.name for i in admin.image.images()]
        check("m1.tiny" in flavors and "cirros-tiny" in images, f"{flavors} {images}")
        return f"flavors {', '.join(flavors)}"

    @step("project with the admin user as member and admin")
    def _():
        r["project"] = admin.identity.create_project(name=name, domain_id="default", description="smoke test")
        me = admin.identity.find_user("admin", domain_id="default")
        for role in ("member", "admin"):
            admin.identity.assign_project_role_to_user(r["project"], me, admin.identity.find_role(role))
        r["conn"] = admin.connect_as_project(r["project"])

    pid = r["project"].id if "project" in r else None
    conn = r.get("conn")
    if conn is None:
        return finish(admin, r)

    @step("quotas: compute, network, volume set and read back")
    def _():
        admin.set_compute_quotas(pid, instances=7, cores=13, ram=12345)
        q = admin.get_compute_quotas(pid)
        check((q.instances, q.cores, q.ram) == (7, 13, 12345), f"compute {q}")
        admin.network.update_quota(pid, networks=5, security_groups=9, floating_ips=4, routers=3)
        q = admin.network.get_quota(pid)
        check((q.networks, q.security_groups, q.floating_ips, q.routers) == (5, 9, 4, 3), f"network {q}")
        admin.block_storage.update_quota_set(pid, volumes=6, gigabytes=77, snapshots=5)
        q = admin.block_storage.get_quota_set(pid)
        check((q.volumes, q.gigabytes, q.snapshots) == (6, 77, 5), f"volume {q}")
        return "instances 7, cores 13, ram 12345; networks 5, sg 9, fip 4; volumes 6, 77 GB"

    @step("network, subnet, router with external gateway (tags kept)")
    def _():
        public = conn.network.find_network("public")
        check(public is not None and public.is_router_external, "no external network 'public'")
        net = r["net"] = conn.network.create_network(name=f"{name}-net")
        conn.network.set_tags(net, TAGS)
        sub = r["subnet"] = conn.network.create_subnet(
            name=f"{name}-subnet", network_id=net.id, ip_version=4, cidr="10.42.0.0/24"
        )
        conn.network.set_tags(sub, TAGS)
        router = r["router"] = conn.network.create_router(
            name=f"{name}-router", external_gateway_info={"network_id": public.id}
        )
        conn.network.set_tags(router, TAGS)
        conn.network.add_interface_to_router(router, subnet=sub.id)
        for res, get in (
            (net, conn.network.get_network),
            (sub, conn.network.get_subnet),
            (router, conn.network.get_router),
        ):
            got = get(res.id)
            check(sorted(got.tags) == sorted(TAGS), f"{res.name} tags {got.tags}")
        got = conn.network.get_router(router.id)
        gw = got.external_gateway_info or {}
        check(gw.get("network_id") == public.id, f"gateway {gw}")
        ips = [f["ip_address"] for f in gw.get("external_fixed_ips", [])]
        found = list(conn.network.networks(tags=TAGS[0], project_id=net.project_id))
        check([n.id for n in found] == [net.id], "filter by tag")
        return f"router gateway {', '.join(ips)}"

    @step("security group with rules (tags kept)")
    def _():
        sg = r["sg"] = conn.network.create_security_group(name=f"{name}-sg", description="smoke")
        conn.network.set_tags(sg, TAGS)
        for port in (22, 443):
            conn.network.create_security_group_rule(
                security_group_id=sg.id,
                direction="ingress",
                ethertype="IPv4",
                protocol="tcp",
                port_range_min=port,
                port_range_max=port,
                remote_ip_prefix="0.0.0.0/0",
            )
        conn.network.create_security_group_rule(
            security_group_id=sg.id, direction="ingress", ethertype="IPv4", protocol="icmp"
        )
        got = conn.network.get_security_group(sg.id)
        ingress = [x for x in got.security_group_rules if x["direction"] == "ingress"]
        check(len(ingress) == 3, f"{len(ingress)} ingress rules")
        check(sorted(got.tags) == sorted(TAGS), f"tags {got.tags}")
        return f"{len(got.security_group_rules)} rules"

    @step("server on the fake driver goes ACTIVE (metadata and tags kept)")
    def _():
        flavor = conn.compute.find_flavor("m1.tiny")
        image = conn.image.find_image("cirros-tiny")
        server = conn.compute.create_server(
            name=f"{name}-vm",
            flavor_id=flavor.id,
            image_id=image.id,
            networks=[{"uuid": r["net"].id}],
            security_groups=[{"name": r["sg"].name}],
            metadata=META,
            tags=TAGS[:2],
        )
        r["server"] = server
        server = r["server"] = conn.compute.wait_for_server(server, status="ACTIVE", wait=120)
        got = conn.compute.get_server(server.id)
        check(got.metadata == META, f"metadata {got.metadata}")
        check(sorted(got.tags or []) == sorted(TAGS[:2]), f"tags {got.tags}")
        conn.compute.add_tag_to_server(server, TAGS[2])
        got = conn.compute.get_server(server.id)
        check(sorted(got.tags) == sorted(TAGS), f"tags after add {got.tags}")
        ports = list(conn.network.ports(device_id=server.id))
        check(len(ports) == 1 and ports[0].status == "ACTIVE", f"ports {ports}")
        check(ports[0].binding_vif_type == "ovs", f"vif {ports[0].binding_vif_type}")
        addr = [a["addr"] for n in got.addresses.values() for a in n]
        return f"host {got.hypervisor_hostname or got.compute_host}, addresses {addr}"

    @step("floating IP from 'public' on the server's port")
    def _():
        public = conn.network.find_network("public")
        port = next(conn.network.ports(device_id=r["server"].id))
        fip = r["fip"] = conn.network.create_ip(floating_network_id=public.id, port_id=port.id)
        conn.network.set_tags(fip, TAGS)
        got = conn.network.get_ip(fip.id)
        check(got.port_id == port.id and sorted(got.tags) == sorted(TAGS), f"{got}")
        return got.floating_ip_address

    @step("volume created, attached (in-use), detached (available); metadata kept")
    def _():
        vol = r["volume"] = conn.block_storage.create_volume(name=f"{name}-vol", size=1, metadata=META)
        conn.block_storage.wait_for_status(vol, "available", wait=60)
        got = conn.block_storage.get_volume(vol.id)
        check(got.metadata == META, f"metadata {got.metadata}")
        conn.compute.create_volume_attachment(r["server"], volume_id=vol.id)
        conn.block_storage.wait_for_status(vol, "in-use", wait=60)
        att = list(conn.compute.volume_attachments(r["server"]))
        check([a.volume_id for a in att] == [vol.id], f"attachments {att}")
        conn.compute.delete_volume_attachment(r["server"], vol.id)
        conn.block_storage.wait_for_status(vol, "available", wait=60)
        return f"volume type {got.volume_type}"

    @step("swift container with an object")
    def _():
        cont = r["container"] = conn.object_store.create_container(name=f"{name}-bucket")
        conn.object_store.set_container_metadata(cont, **{"govcloud-unit": "smoke"})
        conn.object_store.upload_object(container=cont.name, name="hello.txt", data=b"hello govcloud\n")
        data = conn.object_store.download_object("hello.txt", container=cont.name)
        check(data == b"hello govcloud\n", f"object {data!r}")
        got = conn.object_store.get_container_metadata(cont.name)
        check(got.metadata.get("govcloud-unit") == "smoke", f"metadata {got.metadata}")
        names = [o.name for o in conn.object_store.objects(cont.name)]
        check(names == ["hello.txt"], f"objects {names}")

    @step("capacity: placement inventories and usages, hypervisors")
    def _():
        out = []
        for rp in admin.placement.resource_providers():
            inv = {i.resource_class: i.total for i in admin.placement.resource_provider_inventories(rp)}
            usages = admin.placement.get(f"/resource_providers/{rp.id}/usages", microversion="1.9").json()["usages"]
            out.append(f"{rp.name}: total {inv}, used {usages}")
            # others may use the cloud too: at least our server's share
            check(usages.get("VCPU", 0) >= 1 and usages.get("MEMORY_MB", 0) >= 512, f"usage {usages}")
        for h in admin.compute.hypervisors(details=True):
            out.append(f"hypervisor {h.name} {h.hypervisor_type} {h.state}/{h.status}")
        return "; ".join(out)

    if "database" in {s.type for s in admin.identity.services()}:
        trove_steps(conn, r)

    return finish(admin, r)


def trove_steps(conn, r):
    """Trove (GOVCLOUD_CLOUD_TROVE=1): raw REST through the SDK's session, as openstacksdk's own
    database resources cannot create instances."""
    db = conn.database

    @step("trove: instance with a database and a user goes ACTIVE (real server, volume, port)")
    def _():
        flavor = conn.compute.find_flavor("m1.small")
        body = {
            "instance": {
                "name": f"{r['net'].name[:-4]}-db",
                "flavorRef": flavor.id,
                "volume": {"size": 1},
                "datastore": {"type": "mysql", "version": "5.7"},
                "nics": [{"net-id": r["net"].id}],
                "databases": [{"name": "appdb"}],
                "users": [{"name": "app", "password": "app-secret", "databases": [{"name": "appdb"}]}],
            }
        }
        resp = db.post("/instances", json=body)
        check(resp.status_code == 200, f"create {resp.status_code} {resp.text[:300]}")
        iid = r["trove"] = resp.json()["instance"]["id"]
        status = "?"
        for _ in range(180):
            status = db.get(f"/instances/{iid}").json()["instance"]["status"]
            if status in ("ACTIVE", "HEALTHY", "ERROR"):
                break
            time.sleep(1)
        check(status in ("ACTIVE", "HEALTHY"), f"status {status}")
        return status

    @step("trove: databases, users and root on the instance")
    def _():
        iid = r["trove"]
        check(
            db.post(f"/instances/{iid}/databases", json={"databases": [{"name": "reports"}]}).status_code == 202,
            "create db",
        )
        check(
            db.post(
                f"/instances/{iid}/users",
                json={"users": [{"name": "reader", "password": "reader-secret", "databases": [{"name": "reports"}]}]},
            ).status_code
            == 202,
            "create user",
        )
        names = sorted(d["name"] for d in db.get(f"/instances/{iid}/databases").json()["databases"])
        users = sorted(u["name"] for u in db.get(f"/instances/{iid}/users").json()["users"])
        check(names == ["appdb", "reports"] and users == ["app", "reader"], f"{names} {users}")
        check(db.post(f"/instances/{iid}/root", json={}).status_code == 200, "enable root")
        check(db.get(f"/instances/{iid}/root").json()["rootEnabled"], "root not enabled")
        return f"databases {names}, users {users}, root enabled"

    @step("trove: instance deleted, with its server and volume")
    def _():
        iid = r.pop("trove")
        db.delete(f"/instances/{iid}")
        for _ in range(120):
            if db.get(f"/instances/{iid}").status_code == 404:
                break
            time.sleep(1)
        else:
            raise AssertionError("instance still there")
        left = [v.name for v in conn.block_storage.volumes() if iid in (v.name or "")]
        check(not left, f"volumes left {left}")


def finish(admin, r):
    conn = r.get("conn", admin)

    def gone(fn):
        with contextlib.suppress(exceptions.NotFoundException):
            fn()

    @step("delete everything")
    def _():
        if "trove" in r:
            conn.database.delete(f"/instances/{r['trove']}")
            for _ in range(120):
                if conn.database.get(f"/instances/{r['trove']}").status_code == 404:
                    break
                time.sleep(1)
        if "container" in r:
            for o in conn.object_store.objects(r["container"].name):
                conn.object_store.delete_object(o, container=r["container"].name)
            conn.object_store.delete_container(r["container"])
        if "fip" in r:
            conn.network.delete_ip(r["fip"])
        if "volume" in r:
            vol = conn.block_storage.get_volume(r["volume"].id)
            if vol.status == "in-use":
                conn.compute.delete_volume_attachment(r["server"], vol.id)
                conn.block_storage.wait_for_status(vol, "available", wait=60)
            conn.block_storage.delete_volume(vol)
            conn.block_storage.wait_for_delete(vol, wait=60)
        if "server" in r:
            conn.compute.delete_server(r["server"])
            conn.compute.wait_for_delete(r["server"], wait=60)
        if "router" in r:
            if "subnet" in r:
                gone(lambda: conn.network.remove_interface_from_router(r["router"], subnet_id=r["subnet"].id))
            conn.network.delete_router(r["router"])
        if "sg" in r:
            conn.network.delete_security_group(r["sg"])
        if "subnet" in r:
            conn.network.delete_subnet(r["subnet"])
        if "net" in r:
            conn.network.delete_network(r["net"])
        if "project" in r:
            pid = r["project"].id
            for sg in admin.network.security_groups(project_id=pid):  # the default group
                admin.network.delete_security_group(sg)
            admin.identity.delete_project(r["project"])
        if "net" in r:
            check(admin.network.find_network(r["net"].id, ignore_missing=True) is None, "network still there")
        if "server" in r:
            check(
                admin.compute.find_server(r["server"].id, ignore_missing=True, all_projects=True) is None,
                "server still there",
            )

    failed = [s for s in steps if not s[2]]
    total = sum(s[1] for s in steps)
    print(f"{len(steps) - len(failed)} passed, {len(failed)} failed  ({total:.1f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
