"""The backups of one environment's project (openstacksdk): what there is to back up, the backups
the project holds, and taking, deleting and restoring them.

- Trove instance backups through Trove's backup API (raw REST through the SDK's session, as the
  sweep reaches Trove); Trove takes no tags, so our labels are in the backup's description.
- Cinder volume backups where the cloud runs ``cinder-backup``, else Cinder snapshots (kind
  ``volume-snapshot``): which one a cloud gets is decided by :meth:`ProjectBackups.volume_kind`.
- Swift containers copied object by object (server-side copy) to a backup container named
  ``<container>--backup-<YYYYmmddTHHMMSS>``, whose metadata holds the labels, the source, the time
  and a checksum over the copied objects' names and ETags.

A restore into another project (a drill's scratch project, a fresh environment) moves what Cinder
makes in the backup's project with a volume transfer, copies a container's objects through both
projects' connections, and for Trove copies the backup's object into the target project's Trove
container and registers it there (``restore_from``) before creating the instance from it.
Every cloud error becomes :class:`~orchestrator.errors.ExternalError` naming what was being done;
a quota the cloud enforces is named as such.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from orchestrator.adapters.cloud.times import _beijing as beijing
from orchestrator.core import backups as core
from orchestrator.core.backups import CONTAINER, DATABASE, VOLUME, VOLUME_SNAPSHOT, StoredBackup
from orchestrator.core.naming import TAG_PREFIX
from orchestrator.errors import ExternalError, NotFound, RuleError

T = TypeVar("T")

#: Seconds to wait for one backup or restore to finish.
WAIT_SECONDS = 300
#: Swift metadata keys of a backup container (Swift keys cannot hold ``:``).
_META = "govcloud-"
_STATUS = {  # the services' words -> ours
    "COMPLETED": core.COMPLETE,
    "RESTORED": core.COMPLETE,
    "available": core.COMPLETE,
    "FAILED": core.FAILED,
    "DELETE_FAILED": core.FAILED,
    "error": core.FAILED,
    "error_deleting": core.FAILED,
}


@dataclass(frozen=True)
class Source:
    """Something of the project to back up: a database instance, a volume or a container."""

    kind: str  #: DATABASE, VOLUME or CONTAINER
    id: str
    name: str


@dataclass(frozen=True)
class Restored:
    """What a restore made in the target project."""

    kind: str
    id: str
    name: str
    detail: Mapping[str, Any]


class ProjectBackups:
    """Backups of one project through a connection scoped to it; ``admin`` answers what only an
    administrator may ask (which services the cloud runs)."""

    def __init__(
        self, conn: Any, project_id: str, project_name: str, admin: Any, cloud: str, wait_seconds: float = WAIT_SECONDS
    ) -> None:
        self._conn = conn
        self._admin = admin
        self.project_id = project_id
        self.project_name = project_name
        self.cloud = cloud
        self.wait_seconds = wait_seconds

    # --- what there is -----------------------------------------------------------------------

    def volume_kind(self) -> str:
        """:data:`VOLUME` when the cloud runs an enabled ``cinder-backup`` that is up, else
        :data:`VOLUME_SNAPSHOT` (a snapshot stays on the volume's own back end: not a backup that
        survives the loss of that storage, which the run's report says)."""
        services = self._call(lambda: list(self._admin.block_storage.services()), "listing Cinder's services")
        up = [s for s in services if s.binary == "cinder-backup" and s.state == "up" and s.status == "enabled"]
        return VOLUME if up else VOLUME_SNAPSHOT

    def sources(self) -> list[Source]:
        """The project's Trove instances, its volumes and containers that carry our labels (Trove's
        own volume of an instance is backed up with the instance; backup containers are not sources)."""
        found = [Source(DATABASE, i["id"], i["name"]) for i in self._trove_list("/instances", "instances")]
        volumes = self._call(lambda: list(self._conn.block_storage.volumes(details=True)), "listing volumes")
        found += [Source(VOLUME, v.id, v.name or v.id) for v in volumes if (v.metadata or {}).get(f"{TAG_PREFIX}app")]
        for name, meta in self._containers():
            if meta.get("app") and not meta.get(core.BACKUP_LABEL):
                found.append(Source(CONTAINER, name, name))
        return found

    def backups(self) -> list[StoredBackup]:
        """Every backup the project holds, ours and those made by hand, oldest first."""
        found = [self._trove_backup(b) for b in self._trove_list("/backups", "backups")]
        snapshots = self._call(lambda: list(self._conn.block_storage.snapshots(details=True)), "listing snapshots")
        found += [_cinder(VOLUME_SNAPSHOT, s) for s in snapshots]
        backups = self._call(lambda: list(self._conn.block_storage.backups(details=True)), "listing volume backups")
        found += [_cinder(VOLUME, b) for b in backups]
        for name, meta in self._containers():
            if meta.get(core.BACKUP_LABEL) or meta.get("source"):
                found.append(_container_backup(name, meta))
        return sorted(found, key=lambda b: (b.created, b.id))

    def get(self, backup_id: str) -> StoredBackup:
        """The backup ``backup_id`` of this project; :class:`NotFound` when it holds none."""
        for backup in self.backups():
            if backup.id == backup_id:
                return backup
        raise NotFound(f"project {self.project_name} holds no backup {backup_id}")

    # --- taking and deleting -----------------------------------------------------------------

    def take(self, kind: str, source: Source, name: str, labels: Mapping[str, str], at: dt.datetime) -> StoredBackup:
        """Start a backup of ``source``; container copies finish here, the others run on."""
        text = core.description(labels)
        if kind == DATABASE:
            body = {"backup": {"name": name, "instance": source.id, "description": text}}
            made = self._trove("post", "/backups", f"backing up database {source.name}", json=body)["backup"]
            return self._trove_backup(made)
        meta = {f"{TAG_PREFIX}{k}": v for k, v in labels.items()}
        if kind == VOLUME_SNAPSHOT:
            made = self._call(
                lambda: self._conn.block_storage.create_snapshot(
                    volume_id=source.id, name=name, description=text, metadata=meta, force=True
                ),
                f"snapshotting volume {source.name}",
            )
            return _cinder(kind, made)
        if kind == VOLUME:
            made = self._call(
                lambda: self._conn.block_storage.create_backup(
                    volume_id=source.id, name=name, description=text, force=True
                ),
                f"backing up volume {source.name}",
            )
            self._call(
                lambda: self._conn.block_storage.set_backup_metadata(made, **meta), f"labelling volume backup {made.id}"
            )
            return _cinder(kind, made)
        if kind == CONTAINER:
            return self._copy_container(source.id, f"{source.id}--backup-{at:%Y%m%dT%H%M%S}", labels, at)
        raise ValueError(kind)

    def wait(self, backup: StoredBackup) -> StoredBackup:
        """``backup`` once it is complete or failed; still running after the wait is returned as is."""
        deadline = time.monotonic() + self.wait_seconds
        while backup.status == core.RUNNING and time.monotonic() < deadline:
            time.sleep(2)
            backup = self.get(backup.id)
        return backup

    def delete(self, backup: StoredBackup) -> None:
        """Delete ``backup``; gone already is fine."""
        if backup.kind == DATABASE:
            self._trove("delete", f"/backups/{backup.id}", f"deleting database backup {backup.id}", missing_ok=True)
        elif backup.kind == VOLUME_SNAPSHOT:
            self._call(
                lambda: self._conn.block_storage.delete_snapshot(backup.id, ignore_missing=True),
                f"deleting snapshot {backup.id}",
            )
        elif backup.kind == VOLUME:
            self._call(
                lambda: self._conn.block_storage.delete_backup(backup.id, ignore_missing=True),
                f"deleting volume backup {backup.id}",
            )
        else:
            store = self._conn.object_store
            for obj in self._call(lambda: list(store.objects(backup.id)), f"listing backup container {backup.id}"):
                self._call(
                    lambda o=obj: store.delete_object(o, container=backup.id, ignore_missing=True),
                    f"deleting {backup.id}/{obj.name}",
                )
            self._call(
                lambda: store.delete_container(backup.id, ignore_missing=True), f"deleting backup container {backup.id}"
            )

    # --- restoring ---------------------------------------------------------------------------

    def restore(self, backup: StoredBackup, into: ProjectBackups, name: str) -> Restored:
        """A new database instance, volume or container in ``into`` (this project or another) from
        ``backup``; the live resources are left as they are."""
        if backup.kind == CONTAINER:
            return into._copy_objects_from(self, backup.id, name)
        if backup.kind in (VOLUME, VOLUME_SNAPSHOT):
            return self._restore_volume(backup, into, name)
        return self._restore_database(backup, into, name)

    def replace(self, backup: StoredBackup, into: ProjectBackups, live: Source) -> Restored:
        """Write ``backup`` over the live resource ``live`` of ``into`` (the gate has checked the
        office's approval): a container's objects back into it, a volume reverted to its snapshot
        (Cinder reverts only to a volume's latest one) or overwritten by its backup."""
        if backup.kind == CONTAINER:
            return into._copy_objects_from(self, backup.id, live.id)
        storage = self._conn.block_storage
        if backup.kind == VOLUME_SNAPSHOT:
            self._call(
                lambda: storage.revert_volume_to_snapshot(live.id, backup.id),
                f"reverting volume {live.name} to snapshot {backup.id}",
            )
        else:
            self._call(
                lambda: storage.restore_backup(backup.id, volume=live.id),
                f"restoring volume backup {backup.id} over volume {live.name}",
            )
        volume = self._wait_volume(live.id, f"volume {live.name}")
        return Restored(VOLUME, volume.id, live.name, {"size_gb": volume.size, "from": backup.id})

    def archive(self, backup: StoredBackup, into: ProjectBackups, name: str, labels: Mapping[str, str]) -> Restored:
        """A copy of ``backup`` in ``into`` (the provider's archive project) that outlives this
        project, labelled with ``labels``, by the restore paths: a container's objects into a new
        container; a volume made from the snapshot or backup and transferred there (Cinder
        transfers volumes, not snapshots or backups); a Trove backup's object copied into the
        archive's Trove container and registered there. ``Restored.kind`` is what the archive
        holds (``container``, ``volume`` or ``database``: a Trove backup), ``detail`` what
        :meth:`delete_archived` needs."""
        if backup.kind == CONTAINER:
            meta = {f"{_META}{k}": v for k, v in labels.items()} | {
                f"{_META}source": backup.id,
                f"{_META}taken": backup.created.isoformat(),
                f"{_META}status": "complete",
                f"{_META}checksum": backup.checksum or "",
            }
            return into._copy_objects_from(self, backup.id, name, meta)
        if backup.kind in (VOLUME, VOLUME_SNAPSHOT):
            made = self._restore_volume(backup, into, name)
            meta = {f"{TAG_PREFIX}{k}": v for k, v in labels.items()}
            into._call(
                lambda: into._conn.block_storage.set_volume_metadata(made.id, **meta),
                f"labelling archived volume {name}",
            )
            return made
        detail = self._trove("get", f"/backups/{backup.id}", f"reading database backup {backup.id}")["backup"]
        ref, obj = into._import_trove_backup(
            self, detail, detail.get("locationRef") or "", name, core.description(labels)
        )
        return Restored(DATABASE, ref, name, {"from": backup.id, "object": obj, "size_gb": detail.get("size")})

    # --- offsite copies (Art. 30) ---------------------------------------------------------------

    def copy_offsite(
        self, backup: StoredBackup, into: ProjectBackups, name: str, labels: Mapping[str, str]
    ) -> Restored:
        """A copy of ``backup`` in a new container ``name`` of ``into`` (a project of the backup
        site, another cloud), read through this project's connection and written through
        ``into``'s, each object checked against its MD5 on arrival: a container backup's objects;
        a Trove backup's object from Trove's container (with Trove's record of the backup as
        ``trove-backup.json``); a Cinder backup's Swift objects (with its exported record,
        ``backup-export.json``, what ``cinder backup-import`` takes). The container's metadata
        holds ``labels``, the original backup, its kind, source and time, and a ``sha256`` over the
        copied objects' names and MD5s (for a container backup, equal to the backup's own)."""
        if backup.kind == CONTAINER:
            objects = [(backup.id, o) for o in self._object_names(backup.id)]
            extra: dict[str, bytes] = {}
        elif backup.kind == DATABASE:
            detail = self._trove("get", f"/backups/{backup.id}", f"reading database backup {backup.id}")["backup"]
            path = urlsplit(detail.get("locationRef") or "").path.rstrip("/").split("/")
            if len(path) < 2:
                raise ExternalError(
                    f"cloud {self.cloud}: database backup {backup.id} names no object "
                    f"({detail.get('locationRef')!r}): nothing to copy to the backup site"
                )
            objects, extra = [(path[-2], path[-1])], {"trove-backup.json": _json(detail)}
        elif backup.kind == VOLUME:
            found = self._call(
                lambda: self._conn.block_storage.get_backup(backup.id), f"reading volume backup {backup.id}"
            )
            container = found.container or "volumebackups"
            marker = f"backup_{backup.id}"
            objects = [(container, o) for o in self._object_names(container) if marker in o]
            extra = {"backup-export.json": _json(self._export_record(backup.id))}
        else:
            raise ExternalError(
                f"cloud {self.cloud}: a {backup.kind} cannot be copied: {core.NOT_COPYABLE[backup.kind]}"
            )
        meta = {f"{_META}{k}": v for k, v in labels.items()} | {
            f"{_META}offsite-of": backup.id,
            f"{_META}kind": backup.kind,
            f"{_META}source": backup.source,
            f"{_META}taken": backup.created.isoformat(),
            f"{_META}status": "running",
        }
        into._create_container(name, meta)
        size, checksum = into._transfer(self, objects, name)
        for obj, data in extra.items():
            into._put_checked(name, obj, data)
        into._call(
            lambda: into._conn.object_store.set_container_metadata(
                name, **{f"{_META}status": "complete", f"{_META}checksum": checksum}
            ),
            f"sealing container {name}",
        )
        return Restored(CONTAINER, name, name, {"objects": len(objects), "bytes": size, "checksum": checksum})

    def offsite_copies(self) -> list[StoredBackup]:
        """The copies this project (on the backup site) holds, as backups: ``kind``, ``source``,
        ``created`` and labels of the original, ``id`` the copy's container, ``name`` the
        original backup's id. A container without ``govcloud-offsite-of`` is not a copy."""
        return [
            _container_backup(name, meta, kind=meta.get("kind", CONTAINER), name=meta["offsite-of"])
            for name, meta in self._containers()
            if meta.get("offsite-of")
        ]

    def delete_container(self, name: str) -> None:
        """Delete the container ``name`` with its objects; gone already is fine."""
        self.delete(StoredBackup(CONTAINER, name, name, "", core.COMPLETE, dt.datetime.min))

    def _object_names(self, container: str) -> list[str]:
        store = self._conn.object_store
        return [o.name for o in self._call(lambda: list(store.objects(container)), f"listing container {container}")]

    def _transfer(self, source: ProjectBackups, objects: list[tuple[str, str]], name: str) -> tuple[int, str]:
        """The ``objects`` (container, object) of ``source`` read through its connection and written
        into this project's container ``name`` through this one's, each checked on arrival: their
        bytes, and the ``sha256`` over their names and MD5s (:func:`_checksum_line`)."""
        theirs = source._conn.object_store
        digest, size = hashlib.sha256(), 0
        for container, obj in objects:
            data = source._call(
                lambda c=container, o=obj: theirs.download_object(o, container=c), f"reading {container}/{obj}"
            )
            self._put_checked(name, obj, data)
            digest.update(_checksum_line(obj, hashlib.md5(data, usedforsecurity=False).hexdigest()))
            size += len(data)
        return size, f"sha256:{digest.hexdigest()}"

    def _put_checked(self, container: str, name: str, data: bytes) -> None:
        """Write one object; Swift's ETag of it must be the MD5 of ``data`` (nothing lost on the way)."""
        made = self._call(
            lambda: self._conn.object_store.create_object(container, name, data=data), f"writing {container}/{name}"
        )
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        etag = (getattr(made, "etag", None) or md5).strip('"')
        if etag != md5:
            raise ExternalError(f"cloud {self.cloud}: {container}/{name} arrived with MD5 {etag}, sent {md5}")

    def _export_record(self, backup_id: str) -> dict:
        """Cinder's exported record of a volume backup (admin only: ``GET /backups/ID/export_record``)."""
        session = self._admin.session
        endpoint = self._call(
            lambda: self._admin.block_storage.get_endpoint(), "finding the block-storage endpoint"
        ).rstrip("/")
        response = self._call(
            lambda: session.get(f"{endpoint}/backups/{backup_id}/export_record", raise_exc=False),
            f"exporting the record of volume backup {backup_id}",
        )
        if response.status_code >= 400:
            _refused(
                self.cloud, f"exporting the record of volume backup {backup_id}", response.status_code, response.text
            )
        return response.json().get("backup-record", {})

    @contextmanager
    def _room_for_volume(self, size_gb: int) -> Iterator[None]:
        """This project's volume quotas raised by one volume of ``size_gb`` while a volume made
        here for another project (a drill's, the archive's) exists here, then set back: the
        project's quotas equal its manifest's needs exactly, and the transfer takes the volume away."""
        storage = self._admin.block_storage
        quota = self._call(lambda: storage.get_quota_set(self.project_id), f"reading the quotas of {self.project_name}")
        limits = {k: getattr(quota, k, None) for k in ("volumes", "gigabytes")}
        kept = {k: v for k, v in limits.items() if isinstance(v, int) and v >= 0}
        more = {k: v + (1 if k == "volumes" else size_gb) for k, v in kept.items()}
        if more:
            self._call(
                lambda: storage.update_quota_set(self.project_id, **more),
                f"making room for a volume in transit in the quotas of {self.project_name}",
            )
        try:
            yield
        finally:
            if kept:
                self._call(
                    lambda: storage.update_quota_set(self.project_id, **kept),
                    f"setting the quotas of {self.project_name} back",
                )

    def delete_archived(self, kind: str, id: str, detail: Mapping[str, Any]) -> None:
        """Delete what :meth:`archive` made in this (the archive) project; gone already is fine."""
        if kind == VOLUME:
            self._call(
                lambda: self._conn.block_storage.delete_volume(id, ignore_missing=True),
                f"deleting archived volume {id}",
            )
        elif kind == DATABASE:
            self._trove("delete", f"/backups/{id}", f"deleting archived database backup {id}", missing_ok=True)
            container, _, obj = str(detail.get("object") or "").partition("/")
            if obj:  # Trove deletes the object of a backup it took; of one registered from a copy, maybe not
                self._call(
                    lambda: self._conn.object_store.delete_object(obj, container=container, ignore_missing=True),
                    f"deleting the object of archived database backup {id}",
                )
        else:
            self.delete(StoredBackup(CONTAINER, id, id, "", core.COMPLETE, dt.datetime.min))

    def _restore_volume(self, backup: StoredBackup, into: ProjectBackups, name: str) -> Restored:
        if into.project_id == self.project_id:
            return self._volume_from(backup, into, name)
        with self._room_for_volume(max(1, (backup.size or 0) // 2**30)):
            return self._volume_from(backup, into, name)

    def _volume_from(self, backup: StoredBackup, into: ProjectBackups, name: str) -> Restored:
        """A volume made here from ``backup``, handed over to ``into`` when that is another project."""
        storage = self._conn.block_storage
        if backup.kind == VOLUME_SNAPSHOT:
            made = self._call(
                lambda: storage.create_volume(
                    snapshot_id=backup.id, name=name, size=max(1, (backup.size or 0) // 2**30)
                ),
                f"creating a volume from snapshot {backup.id}",
            )
            volume_id = made.id
        else:
            made = self._call(
                lambda: storage.restore_backup(backup.id, name=name), f"restoring volume backup {backup.id}"
            )
            volume_id = made["volume_id"] if isinstance(made, dict) else made.volume_id
        volume = self._wait_volume(volume_id, f"volume {name} from {backup.id}")
        if into.project_id != self.project_id:
            transfer = self._call(
                lambda: storage.create_transfer(volume_id=volume.id, name=name),
                f"offering volume {name} to project {into.project_name}",
            )
            into._call(
                lambda: into._conn.block_storage.accept_transfer(transfer.id, transfer.auth_key),
                f"accepting volume {name} in project {into.project_name}",
            )
        return Restored(VOLUME, volume.id, name, {"size_gb": volume.size, "from": backup.id})

    def _wait_volume(self, volume_id: str, what: str) -> Any:
        deadline = time.monotonic() + self.wait_seconds
        while True:
            volume = self._call(lambda: self._conn.block_storage.get_volume(volume_id), f"reading {what}")
            if volume.status == "available":
                return volume
            if volume.status.startswith("error") or time.monotonic() > deadline:
                raise ExternalError(f"cloud {self.cloud}: {what} is {volume.status}, not available")
            time.sleep(1)

    def _restore_database(self, backup: StoredBackup, into: ProjectBackups, name: str) -> Restored:
        detail = self._trove("get", f"/backups/{backup.id}", f"reading database backup {backup.id}")["backup"]
        location = detail.get("locationRef") or ""
        ref = backup.id
        if into.project_id != self.project_id:
            ref, _ = into._import_trove_backup(self, detail, location, name)
        instance = self._trove_instance_for(detail.get("instance_id"))
        network = into._network_for_restore()
        body = {
            "instance": {
                "name": name,
                "flavorRef": instance["flavor"]["id"],
                "volume": {"size": instance["volume"]["size"]},
                "datastore": {"type": detail["datastore"]["type"], "version": detail["datastore"]["version"]},
                "nics": [{"net-id": network}],
                "restorePoint": {"backupRef": ref},
            }
        }
        made = into._trove("post", "/instances", f"creating database {name} from backup {backup.id}", json=body)
        iid = made["instance"]["id"]
        status = into._wait_trove_instance(iid, name)
        return Restored(
            DATABASE, iid, name, {"from": backup.id, "status": status, "databases": into.database_names(iid)}
        )

    def database_names(self, instance_id: str) -> list[str]:
        """The databases of a Trove instance, as its guest reports them."""
        listed = self._trove("get", f"/instances/{instance_id}/databases", f"listing the databases of {instance_id}")
        return sorted(d["name"] for d in listed.get("databases", []))

    def _import_trove_backup(
        self, source: ProjectBackups, detail: dict, location: str, name: str, description: str = ""
    ) -> tuple[str, str]:
        """Trove restores only a backup of the caller's project whose object its own container holds:
        copy the object across and register it here (``restore_from``); the new backup's id and
        the copied object (``container/object``)."""
        path = urlsplit(location).path.rstrip("/").split("/")
        if len(path) < 2:
            raise ExternalError(
                f"cloud {self.cloud}: database backup {detail['id']} has no object location "
                f"({location!r}): Trove cannot restore it elsewhere"
            )
        container, obj = path[-2], path[-1]
        data = source._call(
            lambda: source._conn.object_store.download_object(obj, container=container),
            f"reading the object of database backup {detail['id']}",
        )
        store = self._conn.object_store
        self._create_container(container)
        self._call(
            lambda: store.create_object(container, obj, data=data),
            f"copying the object of database backup {detail['id']}",
        )
        here = f"{self._conn.object_store.get_endpoint().rstrip('/')}/{container}/{obj}"
        version = self._datastore_version_id(detail["datastore"])
        body = {
            "backup": {
                "name": name,
                "restore_from": {
                    "remote_location": here,
                    "local_datastore_version_id": version,
                    "size": detail.get("size") or 0,
                },
            }
        }
        if description:
            body["backup"]["description"] = description
        made = self._trove("post", "/backups", f"registering database backup {detail['id']}", json=body)["backup"]
        return made["id"], f"{container}/{obj}"

    def _datastore_version_id(self, datastore: dict) -> str:
        listed = self._trove("get", f"/datastores/{datastore['type']}/versions", "listing datastore versions")
        for version in listed.get("versions", []):
            if version["name"] == datastore["version"]:
                return version["id"]
        raise ExternalError(f"cloud {self.cloud}: Trove has no datastore {datastore['type']} {datastore['version']}")

    def _trove_instance_for(self, instance_id: str | None) -> dict:
        if not instance_id:
            raise ExternalError(f"cloud {self.cloud}: the database backup names no instance to take its size from")
        return self._trove("get", f"/instances/{instance_id}", f"reading database instance {instance_id}")["instance"]

    def _network_for_restore(self) -> str:
        """The project's own network (the one the stack made; a drill's scratch project makes one)."""
        nets = self._call(
            lambda: [n for n in self._conn.network.networks(project_id=self.project_id) if not n.is_router_external],
            "listing networks",
        )
        if not nets:
            raise ExternalError(f"cloud {self.cloud}: project {self.project_name} has no network for a database")
        return sorted(nets, key=lambda n: n.name)[0].id

    def _wait_trove_instance(self, iid: str, name: str) -> str:
        deadline = time.monotonic() + self.wait_seconds
        while True:
            status = self._trove("get", f"/instances/{iid}", f"reading database {name}")["instance"]["status"]
            if status in ("ACTIVE", "HEALTHY"):
                return status
            if status == "ERROR" or time.monotonic() > deadline:
                raise ExternalError(f"cloud {self.cloud}: the restored database {name} is {status}")
            time.sleep(2)

    # --- containers --------------------------------------------------------------------------

    def _containers(self) -> list[tuple[str, dict[str, str]]]:
        """Each container with its govcloud metadata (``{"app": ..., "backup": ..., "source": ...}``)."""
        store = self._conn.object_store
        out = []
        for c in self._call(lambda: list(store.containers()), "listing containers"):
            head = self._call(lambda c=c: store.get_container_metadata(c.name), f"reading container {c.name}")
            meta = {
                k.lower()[len(_META) :]: str(v) for k, v in (head.metadata or {}).items() if k.lower().startswith(_META)
            }
            meta["_bytes"] = str(head.bytes_used or 0)
            out.append((c.name, meta))
        return out

    def _create_container(self, name: str, metadata: Mapping[str, str] | None = None) -> None:
        """A container ``name`` with exactly ``metadata`` (by a plain PUT: openstacksdk's
        ``create_container(metadata=...)`` stores the metadata on the Container class, so every
        container created later in the process would carry those labels too)."""
        headers = {"Content-Length": "0"} | {f"X-Container-Meta-{k}": v for k, v in (metadata or {}).items()}
        self._call(
            lambda: self._conn.object_store.put(f"/{_quote(name)}", data=b"", raise_exc=True, headers=headers),
            f"creating container {name}",
        )

    def _copy_container(self, source: str, target: str, labels: Mapping[str, str], at: dt.datetime) -> StoredBackup:
        store = self._conn.object_store
        meta = {f"{_META}{k}": v for k, v in labels.items()} | {
            f"{_META}source": source,
            f"{_META}taken": at.isoformat(),
            f"{_META}status": "running",
        }
        self._create_container(target, meta)
        digest, size = hashlib.sha256(), 0
        for obj in self._call(lambda: list(store.objects(source)), f"listing container {source}"):
            # a server-side copy: the data never leaves Swift
            self._call(
                lambda o=obj: store.put(
                    f"/{target}/{_quote(o.name)}",
                    data=b"",
                    raise_exc=True,
                    headers={"X-Copy-From": f"/{source}/{_quote(o.name)}", "Content-Length": "0"},
                ),
                f"copying {source}/{obj.name}",
            )
            digest.update(_checksum_line(obj.name, obj.etag))
            size += int(obj.content_length or 0)
        done = {
            f"{_META}status": "complete",
            f"{_META}checksum": f"sha256:{digest.hexdigest()}",
            f"{_META}finished": dt.datetime.now().isoformat(timespec="seconds"),
        }
        self._call(lambda: store.set_container_metadata(target, **done), f"sealing backup container {target}")
        return StoredBackup(
            CONTAINER, target, target, source, core.COMPLETE, at, size, f"sha256:{digest.hexdigest()}", dict(labels)
        )

    def _copy_objects_from(
        self, source: ProjectBackups, container: str, name: str, metadata: Mapping[str, str] | None = None
    ) -> Restored:
        """The objects of ``source``'s ``container`` into a new container ``name`` of this project
        (with ``metadata``, set once the objects are there)."""
        self._create_container(name)
        objects = [(container, o) for o in source._object_names(container)]
        size, _ = self._transfer(source, objects, name)
        if metadata:
            store = self._conn.object_store
            self._call(lambda: store.set_container_metadata(name, **metadata), f"labelling container {name}")
        return Restored(CONTAINER, name, name, {"objects": len(objects), "bytes": size, "from": container})

    # --- Trove by REST, errors converted once --------------------------------------------------

    def _trove_list(self, path: str, key: str) -> list[dict]:
        if self._trove_endpoint() is None:
            return []
        return self._trove("get", path, f"listing Trove {key}").get(key, [])

    def _trove_endpoint(self) -> str | None:
        from keystoneauth1 import exceptions as ksa
        from openstack import exceptions

        try:
            return self._conn.session.get_endpoint(service_type="database", interface="public")
        except (ksa.EndpointNotFound, exceptions.EndpointNotFound):
            return None

    def _trove(self, method: str, path: str, doing: str, missing_ok: bool = False, **kwargs: Any) -> dict:
        endpoint = self._trove_endpoint()
        if endpoint is None:
            raise ExternalError(f"cloud {self.cloud} runs no database service (Trove): {doing} is not possible")
        response = self._call(
            lambda: getattr(self._conn.session, method)(f"{endpoint}{path}", raise_exc=False, **kwargs), doing
        )
        if response.status_code == 404 and missing_ok:
            return {}
        if response.status_code >= 400:
            _refused(self.cloud, doing, response.status_code, response.text)
        return response.json() if response.content else {}

    def _trove_backup(self, b: dict) -> StoredBackup:
        size = b.get("size")
        return StoredBackup(
            DATABASE,
            b["id"],
            b.get("name") or b["id"],
            b.get("instance_id") or "",
            _STATUS.get(b.get("status", ""), core.RUNNING),
            _beijing(b.get("created")),
            int(float(size) * 2**30) if size else None,
            None,
            core.labels_from_description(b.get("description")),
        )

    def _call(self, call: Callable[..., T], doing: str) -> T:  # as Cloud._call
        try:
            return call()
        except Exception as exc:  # openstacksdk, keystoneauth and socket errors alike
            text = " ".join(str(exc).split())
            _refused(self.cloud, doing, getattr(exc, "status_code", None) or 0, text)
            raise  # unreachable: _refused raises


def _refused(cloud: str, doing: str, code: int, text: str) -> None:
    """One cloud error as a govcloud error: a quota the cloud enforces is a rule (exit 1), the rest
    an outside system that failed (exit 3)."""
    text = " ".join(text.split())[:400]
    # Cinder answers 413 with "...LimitExceeded: Maximum number of snapshots allowed (10) exceeded";
    # a bare "exceeded" is no sign ("Max retries exceeded" is a connection that failed)
    if code == 413 or "quota" in text.lower() or "LimitExceeded" in text:
        raise RuleError(
            f"cloud {cloud}: {doing}: a quota of the project blocks it ({text}); the headroom for "
            "backups is set in the quota policy (docs/backups.md)",
            rule="backup-quota",
            article="Art. 30",
        )
    raise ExternalError(f"cloud {cloud}: {doing} failed: {code or ''} {text}".replace("  ", " ")[:500])


def _cinder(kind: str, item: Any) -> StoredBackup:
    meta = item.metadata or {}
    labels = {
        k[len(TAG_PREFIX) :]: str(v)
        for k, v in meta.items()
        if k.startswith(TAG_PREFIX) and k[len(TAG_PREFIX) :] in core.LABEL_KEYS
    }
    status = _STATUS.get(item.status or "", core.RUNNING)
    return StoredBackup(
        kind,
        item.id,
        item.name or item.id,
        item.volume_id or "",
        status,
        _beijing(item.created_at),
        int(item.size) * 2**30 if item.size else None,
        None,
        labels,
    )


def _container_backup(
    container: str, meta: dict[str, str], kind: str = CONTAINER, name: str | None = None
) -> StoredBackup:
    status = {"complete": core.COMPLETE, "running": core.RUNNING}.get(meta.get("status", ""), core.FAILED)
    try:
        taken = dt.datetime.fromisoformat(meta.get("taken", ""))
    except ValueError:
        taken = dt.datetime.min
    return StoredBackup(
        kind,
        container,
        name or container,
        meta.get("source", ""),
        status,
        taken,
        int(meta.get("_bytes", 0)),
        meta.get("checksum"),
        {k: v for k, v in meta.items() if k in core.LABEL_KEYS},
    )


def _checksum_line(name: str, md5: str) -> bytes:
    """One object's part of a copy's ``sha256`` checksum (a container backup's and its offsite
    copy's are the same: the test compares them)."""
    return f"{name}\0{md5}\n".encode()


def _json(value: Any) -> bytes:
    import json

    return json.dumps(value, indent=1, sort_keys=True, default=str).encode()


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


def _beijing(value: Any) -> dt.datetime:
    return beijing(value) or dt.datetime.min
