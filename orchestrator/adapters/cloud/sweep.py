"""The sweep of one Keystone project: everything it holds as :class:`Found` items, and deletion.

:class:`ProjectSweep` lists servers, volumes and snapshots, floating IPs, ports (router interfaces
among them), routers, networks, subnets, security groups, Swift containers with their objects,
Trove instances with their backups and the images the project owns, each with the govcloud labels
read from its tags or metadata (:mod:`orchestrator.core.naming`). :meth:`ProjectSweep.delete`
deletes one item, ignoring what is already gone (re-runs are idempotent), and waits there for the
asynchronous kinds (servers, volumes, snapshots, Trove) so that the next kind can go.

Parts of a listed thing are not listed on their own: Neutron's own ports (DHCP, gateways,
floating IPs), and the server, volume and ports Trove made for one of its instances; they go with
their owner, and the verifying re-listing shows any that stay. Trove takes no tags: an instance is
labelled by the network its server's port is on. Trove is reached by raw REST through the SDK's
session (the SDK's database resources are broken, see docs). Key pairs are per user and untagged:
never listed (see :mod:`orchestrator.core.reclaim`).

openstacksdk errors are converted here: :class:`DeletionFailed` for one item, ``ExternalError``
for a listing that failed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from orchestrator.core.naming import TAG_KEYS, TAG_PREFIX, parse_tags
from orchestrator.core.reclaim import Found
from orchestrator.errors import ExternalError

#: Seconds to wait for one asynchronous deletion (or a volume to come free) before giving up.
WAIT_SECONDS = 120
#: Listings fetched at once by :meth:`ProjectSweep.inventory`.
LISTING_THREADS = 6
#: Volume states that end by themselves: wait for them before deleting.
VOLUME_BUSY = ("creating", "attaching", "detaching", "in-use", "reserved", "downloading", "backing-up")


class DeletionFailed(ExternalError):
    """One item could not be deleted; the message holds the cloud's answer."""


def labels_from_metadata(metadata: dict[str, Any] | None) -> dict[str, str]:
    """Nova/Cinder/Glance ``{"govcloud:unit": "zwb"}`` -> ``{"unit": "zwb"}``."""
    return {
        k[len(TAG_PREFIX) :]: str(v)
        for k, v in (metadata or {}).items()
        if k.startswith(TAG_PREFIX) and k[len(TAG_PREFIX) :] in TAG_KEYS
    }


def labels_from_headers(metadata: dict[str, Any] | None) -> dict[str, str]:
    """Swift container metadata ``{"govcloud-unit": "zwb"}`` (any case) -> ``{"unit": "zwb"}``."""
    found = {}
    for key, value in (metadata or {}).items():
        key = key.lower()
        if key.startswith("govcloud-") and key[len("govcloud-") :] in TAG_KEYS:
            found[key[len("govcloud-") :]] = str(value)
    return found


class ProjectSweep:
    """The resources of one project, through a connection scoped to it (``connect_as_project``);
    the project's ``default`` security group through ``admin`` (Neutron lets only an admin delete
    it, and a stack gives our user just ``member`` on the project)."""

    def __init__(self, conn: Any, project_id: str, wait_seconds: float = WAIT_SECONDS, admin: Any = None) -> None:
        self._conn = conn
        self._admin = admin if admin is not None else conn
        self.project_id = project_id
        self.wait_seconds = wait_seconds

    # --- inventory -------------------------------------------------------------------------

    def inventory(self) -> list[Found]:
        """Everything the project holds, labelled; raises ``ExternalError`` if a listing fails."""
        try:
            return list(self._inventory())
        except ExternalError:
            raise
        except Exception as exc:  # openstacksdk, keystoneauth and socket errors alike
            raise ExternalError(f"listing project {self.project_id} failed: {_text(exc)}") from exc

    def _listings(self) -> dict[str, list]:
        """Every listing the inventory needs, fetched at once (a few threads: one round trip's time)."""
        net, pid, store = self._conn.network, self.project_id, self._conn.object_store
        calls: dict[str, Callable[[], list]] = {
            "networks": lambda: list(net.networks(project_id=pid)),
            "ports": lambda: list(net.ports(project_id=pid)),
            "ips": lambda: list(net.ips(project_id=pid)),
            "routers": lambda: list(net.routers(project_id=pid)),
            "subnets": lambda: list(net.subnets(project_id=pid)),
            "groups": lambda: list(net.security_groups(project_id=pid)),
            "servers": lambda: list(self._conn.compute.servers(details=True)),
            "volumes": lambda: list(self._conn.block_storage.volumes(details=True)),
            "snapshots": lambda: list(self._conn.block_storage.snapshots(details=True)),
            "images": lambda: list(self._conn.image.images(owner=pid)),
            "containers": lambda: list(store.containers()),
            "trove": self._trove_instances,
            "backups": lambda: self._trove_get("/backups", "backups") if self._has_trove() else [],
        }
        with ThreadPoolExecutor(max_workers=LISTING_THREADS) as pool:
            futures = {name: pool.submit(call) for name, call in calls.items()}
            lists = {name: future.result() for name, future in futures.items()}
            # each container's labels (its metadata) and objects, also at once
            details = list(
                pool.map(
                    lambda c: (store.get_container_metadata(c.name).metadata, [o.name for o in store.objects(c.name)]),
                    lists["containers"],
                )
            )
        lists["containers"] = [
            (c.name, meta, objects) for c, (meta, objects) in zip(lists["containers"], details, strict=True)
        ]
        return lists

    def _inventory(self) -> Iterator[Found]:
        got = self._listings()
        networks, ports, trove = got["networks"], got["ports"], got["trove"]
        trove_servers = {t["server_id"] for t in trove if t.get("server_id")}
        trove_volumes = {t["volume_id"] for t in trove if t.get("volume_id")}
        port_network = {p.device_id: p.network_id for p in ports if p.device_id}
        network_labels = {n.id: parse_tags(n.tags or []) for n in networks}

        for t in trove:
            labels = network_labels.get(port_network.get(t.get("server_id") or ""), {})
            for address in t.get("addresses") or t.get("networks") or []:
                if isinstance(address, dict) and address.get("network") in network_labels:
                    labels = labels or network_labels[address["network"]]
            yield Found("database_instance", t["id"], t.get("name", ""), labels)
        for b in got["backups"]:
            yield Found("database_backup", b["id"], b.get("name") or "", owned_by=b.get("instance_id"))
        for s in got["servers"]:
            if s.id not in trove_servers:
                yield Found("server", s.id, s.name or "", labels_from_metadata(s.metadata))
        for v in got["volumes"]:
            if v.id not in trove_volumes:
                yield Found("volume", v.id, v.name or "", labels_from_metadata(v.metadata))
        for s in got["snapshots"]:
            yield Found("snapshot", s.id, s.name or "", labels_from_metadata(s.metadata))
        for ip in got["ips"]:
            yield Found("floating_ip", ip.id, ip.floating_ip_address or "", parse_tags(ip.tags or []))
        for p in ports:
            owner = p.device_owner or ""
            if owner.startswith("network:router_interface"):
                yield Found("router_interface", p.id, p.name or "", owned_by=p.device_id)
            elif owner.startswith("network:") or p.device_id in trove_servers:
                continue  # Neutron's or Trove's own: goes with its owner
            elif owner.startswith("compute:") and not p.tags:
                yield Found("port", p.id, p.name or "", owned_by=p.device_id)
            else:
                yield Found("port", p.id, p.name or "", parse_tags(p.tags or []))
        for r in got["routers"]:
            yield Found("router", r.id, r.name or "", parse_tags(r.tags or []))
        for s in got["subnets"]:
            yield Found("subnet", s.id, s.name or "", parse_tags(s.tags or []))
        for n in networks:
            yield Found("network", n.id, n.name or "", network_labels[n.id])
        for g in got["groups"]:
            yield Found("security_group", g.id, g.name or "", parse_tags(g.tags or []))
        for name, meta, objects in got["containers"]:
            yield Found("container", name, name, labels_from_headers(meta))
            for o in objects:
                yield Found("object", f"{name}/{o}", o, owned_by=name)
        for i in got["images"]:
            labels = parse_tags(i.tags or []) or labels_from_metadata(i.properties)
            yield Found("image", i.id, i.name or "", labels)

    # --- Trove, by raw REST ----------------------------------------------------------------

    def _has_trove(self) -> bool:
        return self._trove_endpoint() is not None

    def _trove_endpoint(self) -> str | None:
        from keystoneauth1 import exceptions as ksa
        from openstack import exceptions

        try:
            return self._conn.session.get_endpoint(service_type="database", interface="public")
        except (ksa.EndpointNotFound, exceptions.EndpointNotFound):
            return None

    def _trove_instances(self) -> list[dict]:
        if not self._has_trove():
            return []
        return self._trove_get("/instances", "instances", detail=True)

    def _trove_get(self, path: str, key: str, detail: bool = False) -> list[dict]:
        endpoint = self._trove_endpoint()
        response = self._conn.session.get(f"{endpoint}{path}", raise_exc=True)
        items = response.json().get(key, [])
        if detail:  # server_id and volume_id are in the detail an admin sees
            items = [
                self._conn.session.get(f"{endpoint}{path}/{i['id']}", raise_exc=True).json()["instance"] for i in items
            ]
        return items

    def _trove_delete(self, path: str) -> None:
        from keystoneauth1 import exceptions as ksa

        try:
            self._conn.session.delete(f"{self._trove_endpoint()}{path}", raise_exc=True)
        except ksa.NotFound:
            return
        self._wait(lambda: self._trove_exists(path), path)

    def _trove_exists(self, path: str) -> bool:
        from keystoneauth1 import exceptions as ksa

        try:
            self._conn.session.get(f"{self._trove_endpoint()}{path}", raise_exc=True)
            return True
        except ksa.NotFound:
            return False

    # --- deletion --------------------------------------------------------------------------

    def delete(self, found: Found) -> None:
        """Delete ``found``; gone already is fine. Raises :class:`DeletionFailed`."""
        action = getattr(self, f"_delete_{found.kind}", None)
        if action is None:
            raise DeletionFailed(f"{found.kind} {found.id}: govcloud does not delete this kind")
        try:
            action(found)
        except DeletionFailed:
            raise
        except Exception as exc:  # openstacksdk, keystoneauth and socket errors alike
            if _is_not_found(exc):
                return
            raise DeletionFailed(f"{found.kind} {found.id}: {_text(exc)}") from exc

    def _delete_floating_ip(self, f: Found) -> None:
        self._conn.network.delete_ip(f.id, ignore_missing=True)

    def _delete_database_backup(self, f: Found) -> None:
        self._trove_delete(f"/backups/{f.id}")

    def _delete_database_instance(self, f: Found) -> None:
        self._trove_delete(f"/instances/{f.id}")

    def _delete_server(self, f: Found) -> None:
        compute = self._conn.compute
        compute.delete_server(f.id, ignore_missing=True)
        self._wait(lambda: compute.find_server(f.id, ignore_missing=True) is not None, f"server {f.id}")

    def _delete_snapshot(self, f: Found) -> None:
        storage = self._conn.block_storage
        storage.delete_snapshot(f.id, ignore_missing=True)
        self._wait(lambda: storage.find_snapshot(f.id, ignore_missing=True) is not None, f"snapshot {f.id}")

    def _delete_volume(self, f: Found) -> None:
        storage = self._conn.block_storage

        def status() -> str | None:
            volume = storage.find_volume(f.id, ignore_missing=True)
            return volume.status if volume is not None else None

        state = status()
        if state in VOLUME_BUSY:  # e.g. still detaching from a server just deleted
            self._wait(lambda: status() in VOLUME_BUSY, f"volume {f.id} to come free")
            state = status()
        if state is None:
            return
        if state != "deleting":  # a killed run may have asked already
            storage.delete_volume(f.id, ignore_missing=True)
        self._wait(lambda: status() is not None, f"volume {f.id}")

    def _delete_router_interface(self, f: Found) -> None:
        self._conn.network.remove_interface_from_router(f.owned_by, port_id=f.id)

    def _delete_router(self, f: Found) -> None:
        self._conn.network.delete_router(f.id, ignore_missing=True)

    def _delete_port(self, f: Found) -> None:
        self._conn.network.delete_port(f.id, ignore_missing=True)

    def _delete_subnet(self, f: Found) -> None:
        self._conn.network.delete_subnet(f.id, ignore_missing=True)

    def _delete_network(self, f: Found) -> None:
        self._conn.network.delete_network(f.id, ignore_missing=True)

    def _delete_security_group(self, f: Found) -> None:
        conn = self._admin if f.name == "default" and not f.labels else self._conn
        conn.network.delete_security_group(f.id, ignore_missing=True)

    def _delete_object(self, f: Found) -> None:
        container, _, name = f.id.partition("/")
        self._conn.object_store.delete_object(name, container=container, ignore_missing=True)

    def _delete_container(self, f: Found) -> None:
        self._conn.object_store.delete_container(f.id, ignore_missing=True)

    def _delete_image(self, f: Found) -> None:
        self._conn.image.delete_image(f.id, ignore_missing=True)

    # --- waiting, in one place -------------------------------------------------------------

    def _wait(self, pending: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + self.wait_seconds
        delay = 0.2
        while pending():
            if time.monotonic() > deadline:
                raise DeletionFailed(f"{what}: still there after {self.wait_seconds:.0f} s")
            time.sleep(delay)
            delay = min(delay * 1.5, 1.0)


def _is_not_found(exc: BaseException) -> bool:
    from keystoneauth1 import exceptions as ksa
    from openstack import exceptions

    return isinstance(exc, (exceptions.NotFoundException, ksa.NotFound))


def _text(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."
