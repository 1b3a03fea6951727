#!/usr/bin/env python3
"""Seed the local cloud's catalogue with what the example manifests need, or check it is there.

    .venv/bin/python toolchain/cloud/seed.py [--check] [--cloud NAME] [MANIFEST_DIR_OR_FILE ...]

A city's cloud has flavors, images, volume types, Trove datastores and the units' Keystone groups;
``make cloud-up`` makes a generic cloud, so this step (run by ``make cloud-up`` after the cloud and
Keycloak are up, and by the end-to-end tests' fixture) adds what the manifests in
``examples/manifests`` (or the given ones) ask for: every server and database flavor (sized by
``orchestrator.core.sizing``), every image (a public 1 MB raw image: nothing boots it), every volume
type, every Trove datastore version (through Trove's management API, on the image ``cirros-tiny``),
the groups of ``orchestrator.core.access.grants`` for each unit and the provider's operations group
(``GOVCLOUD_PROVIDER_OPS_GROUP``), unlimited quotas for Trove's ``service`` project (where its
instances' servers and volumes live), and the **backup site** of ``offsite: true`` (docs/backups.md):
a project ``govcloud-site`` on which the seeding user holds ``admin``, and (``main`` only) the
entry ``govcloud-site`` in the clouds.yaml in use: the same Keystone and user, scoped to that
project. The local cloud has one OpenStack, so the site is that cloud under another name: it
proves the copying code and its labels, not geographic separation. Idempotent. ``--check``
creates nothing and lists what is missing (exit 1 when something is). The cloud is ``--cloud``, else ``OS_CLOUD``, else
``govcloud-local`` from ``./clouds.yaml``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from orchestrator.core import access, sizing  # noqa: E402
from orchestrator.core.validation import load_manifest  # noqa: E402

#: The image Trove's datastore versions point at (made by ``make cloud-up``).
TROVE_IMAGE = "cirros-tiny"
FLAVOR_DISK_GB = 40
#: The backup site's project and clouds.yaml entry (``govcloud.yaml`` ``backups.site: govcloud-site``).
SITE = "govcloud-site"


@dataclass
class Catalogue:
    """What a set of manifests needs of the cloud, each item with the manifests that need it."""

    flavors: dict[str, set[str]] = field(default_factory=dict)
    images: dict[str, set[str]] = field(default_factory=dict)
    volume_types: dict[str, set[str]] = field(default_factory=dict)
    datastores: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    groups: dict[str, set[str]] = field(default_factory=dict)

    def add(self, kind: str, item, source: str) -> None:
        getattr(self, kind).setdefault(item, set()).add(source)


def needs(paths: list[Path], provider_ops_group: str = access.DEFAULT_PROVIDER_OPS_GROUP) -> Catalogue:
    """The catalogue items the manifests in ``paths`` (files or directories) need."""
    files = [f for p in paths for f in (sorted(p.glob("*.yaml")) if p.is_dir() else [p])]
    catalogue = Catalogue()
    for file in files:
        app = load_manifest(file)
        for grant in access.grants(app.unit, provider_ops_group):
            catalogue.add("groups", grant.group, file.name)
        for spec in app.environments.values():
            r = spec.resources
            for server in r.servers:
                catalogue.add("flavors", server.flavor, file.name)
                catalogue.add("images", server.image, file.name)
                for volume in server.volumes:
                    if volume.type:
                        catalogue.add("volume_types", volume.type, file.name)
            for volume in r.volumes:
                if volume.type:
                    catalogue.add("volume_types", volume.type, file.name)
            for db in r.databases:
                catalogue.add("flavors", db.flavor, file.name)
                catalogue.add("datastores", (db.engine, db.version), file.name)
                if db.volume_type:
                    catalogue.add("volume_types", db.volume_type, file.name)
    return catalogue


def datastores(conn) -> set[tuple[str, str]]:
    """(engine, version) of every active Trove datastore version (empty without Trove)."""
    try:
        endpoint = conn.endpoint_for("database")
    except Exception:  # noqa: BLE001 — no database service in the catalog
        return set()
    found = set()
    for store in conn.session.get(f"{endpoint}/datastores", endpoint_filter=None).json()["datastores"]:
        found |= {(store["name"], v["name"]) for v in store.get("versions", [])}
    return found


def missing(conn, catalogue: Catalogue) -> list[str]:
    """Every needed item the cloud lacks, as ``kind name (needed by ...)``; public items are
    looked up as any project sees them."""

    def by(sources: set[str]) -> str:
        return f" (needed by {', '.join(sorted(sources))})"

    flavors = {f.name for f in conn.compute.flavors(is_public=True)}
    images = {i.name for i in conn.image.images(visibility="public") if i.status == "active"}
    types = {t.name for t in conn.block_storage.types() if t.is_public}
    groups = {g.name for g in conn.identity.groups(domain_id="default")}
    stores = datastores(conn)
    out = [f"flavor {n}{by(s)}" for n, s in catalogue.flavors.items() if n not in flavors]
    out += [f"image {n}{by(s)}" for n, s in catalogue.images.items() if n not in images]
    out += [f"volume type {n}{by(s)}" for n, s in catalogue.volume_types.items() if n not in types]
    out += [f"group {n}{by(s)}" for n, s in catalogue.groups.items() if n not in groups]
    if conn.identity.find_project(SITE, domain_id="default", ignore_missing=True) is None:
        out.append(f"project {SITE} (the backup site of offsite: true)")
    trove = "" if _has_trove(conn) else "; no Trove: GOVCLOUD_CLOUD_TROVE=1 make cloud-up"
    out += [f"datastore {e} {v}{by(s)}{trove}" for (e, v), s in catalogue.datastores.items() if (e, v) not in stores]
    return sorted(out)


def seed(conn, catalogue: Catalogue) -> list[str]:
    """Create what is missing; returns what was created. Trove datastores only when Trove runs."""
    made = []
    for name in catalogue.flavors:
        if conn.compute.find_flavor(name, ignore_missing=True) is None:
            size = sizing.flavor(name)
            conn.compute.create_flavor(
                name=name, vcpus=size.vcpu, ram=size.ram_gb * 1024, disk=FLAVOR_DISK_GB, is_public=True
            )
            made.append(f"flavor {name}")
    for name in catalogue.images:
        if conn.image.find_image(name, ignore_missing=True) is None:
            image = conn.image.create_image(
                name=name, disk_format="raw", container_format="bare", visibility="public", data=b"\0" * (1 << 20)
            )
            _wait(lambda image_id=image.id: conn.image.get_image(image_id).status == "active", f"image {name} active")
            made.append(f"image {name}")
    for name in catalogue.volume_types:
        if conn.block_storage.find_type(name, ignore_missing=True) is None:
            conn.block_storage.create_type(name=name, description="stand-in of the city's type of this name")
            made.append(f"volume type {name}")
    for name in catalogue.groups:
        if conn.identity.find_group(name, domain_id="default", ignore_missing=True) is None:
            conn.identity.create_group(name=name, domain_id="default")
            made.append(f"group {name}")
    if _has_trove(conn):
        made += _datastores(conn, catalogue, datastores(conn))
        service = conn.identity.find_project("service", domain_id="default", ignore_missing=True)
        if (
            service is not None
        ):  # Trove's servers, volumes and their security groups land there: room for every environment
            conn.block_storage.update_quota_set(service.id, gigabytes=-1, volumes=-1)
            conn.compute.update_quota_set(service.id, cores=-1, ram=-1, instances=-1)
            # one security group per instance: Neutron's default of 10 ran out on a cloud that had
            # served a day of test runs ("Quota exceeded for resources: ['security_group']")
            conn.network.update_quota(service.id, security_groups=-1, security_group_rules=-1, ports=-1)
    made += _site(conn)
    return made


def _site(conn) -> list[str]:
    """The backup site's project, with the seeding user as ``admin`` there (the site's connection
    creates each application's offsite project, as a provider's account at a real site would)."""
    project = conn.identity.find_project(SITE, domain_id="default", ignore_missing=True)
    made = []
    if project is None:
        project = conn.identity.create_project(
            name=SITE, domain_id="default", description="govcloud: the local cloud as its own backup site"
        )
        made.append(f"project {SITE}")
    conn.identity.assign_project_role_to_user(project, conn.current_user_id, conn.identity.find_role("admin"))
    return made


def add_site_entry(path: Path, cloud: str) -> bool:
    """Add the entry :data:`SITE` to the clouds.yaml at ``path``: a copy of the entry ``cloud``
    scoped to the project :data:`SITE`. False when it is there already (nothing written)."""
    import yaml

    text = path.read_text(encoding="utf-8")
    clouds = yaml.safe_load(text).get("clouds") or {}
    if SITE in clouds:
        return False
    if cloud not in clouds:
        raise SystemExit(f"{path}: no entry {cloud} to make the backup site's entry {SITE} from")
    entry = dict(clouds[cloud])
    entry["auth"] = dict(entry["auth"]) | {"project_name": SITE}
    block = yaml.safe_dump({SITE: entry}, default_flow_style=False, sort_keys=False)
    extended = text.rstrip("\n") + "\n" + "".join(f"  {line}\n" for line in block.splitlines())
    if SITE not in (yaml.safe_load(extended).get("clouds") or {}):  # the file ends otherwise than in clouds:
        raise SystemExit(f"{path}: could not add the entry {SITE} (clouds: is not the file's last key)")
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)  # keeps the file's mode (0600: it holds a password)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(extended)
    return True


def _has_trove(conn) -> bool:
    try:
        conn.endpoint_for("database")
        return True
    except Exception:  # noqa: BLE001
        return False


def _datastores(conn, catalogue: Catalogue, present: set[tuple[str, str]]) -> list[str]:
    """Register each missing datastore version (Trove's management API) on :data:`TROVE_IMAGE`."""
    endpoint = conn.endpoint_for("database")
    image = conn.image.find_image(TROVE_IMAGE, ignore_missing=True)
    made = []
    for engine, version in sorted(catalogue.datastores.keys() - present):
        if image is None:
            raise SystemExit(f"datastore {engine} {version}: no image {TROVE_IMAGE} to register it on")
        body = {
            "version": {
                "datastore_name": engine,
                "datastore_manager": engine,
                "name": version,
                "image": image.id,
                "active": True,
                "default": False,
                "packages": [],
            }
        }
        response = conn.session.post(
            f"{endpoint}/mgmt/datastore-versions", json=body, endpoint_filter=None, raise_exc=False
        )
        if response.status_code >= 400:
            raise SystemExit(f"datastore {engine} {version}: Trove answered {response.status_code}: {response.text}")
        made.append(f"datastore {engine} {version}")
    return made


def _wait(done, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            raise SystemExit(f"{what}: not after {seconds:.0f} s")
        time.sleep(0.5)


def connect(cloud: str | None):
    import openstack

    if not os.environ.get("OS_CLIENT_CONFIG_FILE") and (REPO / "clouds.yaml").exists():
        os.environ["OS_CLIENT_CONFIG_FILE"] = str(REPO / "clouds.yaml")
    return openstack.connect(cloud=cloud or os.environ.get("OS_CLOUD") or "govcloud-local")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", type=Path, default=[REPO / "examples" / "manifests"])
    parser.add_argument("--check", action="store_true", help="create nothing; list what is missing (exit 1 if any)")
    parser.add_argument("--cloud", help="the clouds.yaml entry [OS_CLOUD, default govcloud-local]")
    args = parser.parse_args(argv)
    catalogue = needs(args.paths, os.environ.get("GOVCLOUD_PROVIDER_OPS_GROUP") or access.DEFAULT_PROVIDER_OPS_GROUP)
    conn = connect(args.cloud)
    if not args.check:
        made = seed(conn, catalogue)
        config = os.environ.get("OS_CLIENT_CONFIG_FILE")
        if config and add_site_entry(Path(config), args.cloud or os.environ.get("OS_CLOUD") or "govcloud-local"):
            made.append(f"clouds.yaml entry {SITE}")
        print(f"seeded: {', '.join(made) or 'nothing was missing'}")
    left = missing(conn, catalogue)
    for item in left:
        print(f"missing: {item}", file=sys.stderr)
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
