"""Set-up steps of the local cloud that need Python; run by Debian's /usr/bin/python3 where the
packages are (inside the chroot, or on the host), with Debian's openstacksdk 0.101.

    cloudctl.py rings ETC_SWIFT                      build the three Swift rings (one device)
    cloudctl.py register [trove]                     service users, roles, catalog (needs Keystone)
    cloudctl.py populate                             flavors, image, external network (needs APIs)

Every step finds before it creates, so running it again changes nothing. The admin password and
the service password come from the environment (OS_PASSWORD, GOVCLOUD_SERVICE_PASSWORD).
"""

import os
import sys
import time

AUTH_URL = "http://127.0.0.1:5000/v3"
REGION = "RegionOne"
SERVICES = ("nova", "neutron", "placement", "glance", "cinder", "swift")

# type -> (service name, URL); each is registered as public, internal and admin endpoint.
CATALOG = {
    "compute": ("nova", "http://127.0.0.1:8774/v2.1"),
    "placement": ("placement", "http://127.0.0.1:8778"),
    "network": ("neutron", "http://127.0.0.1:9696"),
    "image": ("glance", "http://127.0.0.1:9292"),
    "volumev3": ("cinderv3", "http://127.0.0.1:8776/v3/%(project_id)s"),
    "block-storage": ("cinder", "http://127.0.0.1:8776/v3/%(project_id)s"),
    "object-store": ("swift", "http://127.0.0.1:8080/v1/AUTH_%(project_id)s"),
}

# name -> (vCPUs, RAM MB, root disk GB)
FLAVORS = {
    "m1.tiny": (1, 512, 1),
    "m1.small": (1, 2048, 20),
    "m1.medium": (2, 4096, 40),
    "m1.large": (4, 8192, 80),
    "g.2c4g": (2, 4096, 40),
    "g.4c8g": (4, 8192, 40),
    "g.8c16g": (8, 16384, 40),
}

IMAGE_NAME = "cirros-tiny"
PUBLIC_NET = "public"
PUBLIC_CIDR = "203.0.113.0/24"  # TEST-NET-3: documentation addresses, no dataplane behind them


def say(msg):
    print(f"[cloudctl {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def connect():
    import openstack

    return openstack.connect(
        auth_url=AUTH_URL,
        username="admin",
        password=os.environ["OS_PASSWORD"],
        project_name="admin",
        user_domain_name="Default",
        project_domain_name="Default",
        region_name=REGION,
        identity_api_version="3",
    )


def rings(swift_dir):
    from swift.common.ring import RingBuilder

    for kind, port in (("account", 6202), ("container", 6201), ("object", 6200)):
        builder = RingBuilder(10, 1, 1)
        builder.add_dev(
            {
                "id": 0,
                "region": 1,
                "zone": 1,
                "ip": "127.0.0.1",
                "port": port,
                "device": "d1",
                "weight": 100,
                "meta": "",
            }
        )
        builder.rebalance()
        builder.save(os.path.join(swift_dir, f"{kind}.builder"))
        builder.get_ring().save(os.path.join(swift_dir, f"{kind}.ring.gz"))


TROVE = {"database": ("trove", "http://127.0.0.1:8779/v1.0/%(tenant_id)s")}


def register(with_trove=False):
    conn = connect()
    catalog = dict(CATALOG, **TROVE) if with_trove else CATALOG
    services = SERVICES + ("trove",) if with_trove else SERVICES
    idn = conn.identity
    password = os.environ["GOVCLOUD_SERVICE_PASSWORD"]
    domain = idn.find_domain("default")
    roles = {}
    for name in ("admin", "member", "reader", "service", "ResellerAdmin"):
        roles[name] = idn.find_role(name) or idn.create_role(name=name)
    project = idn.find_project("service", domain_id=domain.id) or idn.create_project(
        name="service", domain_id=domain.id, description="OpenStack services"
    )
    for name in services:
        user = idn.find_user(name, domain_id=domain.id)
        if user is None:
            user = idn.create_user(name=name, domain_id=domain.id, password=password, default_project_id=project.id)
        else:
            idn.update_user(user, password=password)
        for role in ("admin", "service"):
            idn.assign_project_role_to_user(project, user, roles[role])
    existing = {(s.type, s.name): s for s in idn.services()}
    endpoints = {(e.service_id, e.interface) for e in idn.endpoints()}
    for stype, (sname, url) in catalog.items():
        service = existing.get((stype, sname)) or idn.create_service(type=stype, name=sname, is_enabled=True)
        for interface in ("public", "internal", "admin"):
            if (service.id, interface) not in endpoints:
                idn.create_endpoint(service_id=service.id, interface=interface, url=url, region_id=REGION)
    say(f"catalog: {len(catalog)} services, users {', '.join(services)}")


def populate():
    conn = connect()
    for name, (vcpus, ram, disk) in FLAVORS.items():
        if conn.compute.find_flavor(name, ignore_missing=True) is None:
            conn.compute.create_flavor(name=name, vcpus=vcpus, ram=ram, disk=disk, is_public=True)
    if conn.image.find_image(IMAGE_NAME, ignore_missing=True) is None:
        image = conn.image.create_image(
            name=IMAGE_NAME, disk_format="raw", container_format="bare", visibility="public", data=b"\0" * (1 << 20)
        )
        for _ in range(120):
            if conn.image.get_image(image.id).status == "active":
                break
            time.sleep(0.5)
        else:
            sys.exit(f"image {IMAGE_NAME} did not become active")
    net = conn.network.find_network(PUBLIC_NET, ignore_missing=True)
    if net is None:
        net = conn.network.create_network(
            name=PUBLIC_NET,
            is_router_external=True,
            is_shared=False,
            provider_network_type="flat",
            provider_physical_network="public",
        )
    if not list(conn.network.subnets(network_id=net.id)):
        conn.network.create_subnet(
            name=f"{PUBLIC_NET}-subnet",
            network_id=net.id,
            ip_version=4,
            cidr=PUBLIC_CIDR,
            gateway_ip="203.0.113.1",
            is_dhcp_enabled=False,
            allocation_pools=[{"start": "203.0.113.10", "end": "203.0.113.250"}],
        )
    say(f"flavors {', '.join(FLAVORS)}; image {IMAGE_NAME}; network {PUBLIC_NET} {PUBLIC_CIDR}")


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "rings":
        rings(argv[2])
    elif cmd == "register":
        register(with_trove=argv[2:] == ["trove"])
    elif cmd == "populate":
        populate()
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
