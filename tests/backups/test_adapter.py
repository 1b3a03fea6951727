"""The project adapter's container copy over a stub object store that answers with openstacksdk's
own resources: what it copies, how, and the evidence it computes; the offsite copy between two
stores, refused when an object arrives other than it was sent (Swift's ETag is its MD5)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from types import SimpleNamespace

import pytest
from openstack.object_store.v1.obj import Object

from orchestrator.adapters.cloud.backups import ProjectBackups, Source
from orchestrator.core import backups as core
from orchestrator.errors import RuleError

OBJECTS = {"a.txt": b"alpha\n", "dir/b c.bin": b"\x00" * 300}


class Store:
    def __init__(self, objects: dict[str, bytes] | None = None, garble: bool = False) -> None:
        self.containers_made: dict[str, dict] = {}
        self.copies: list[tuple[str, dict]] = []
        self.sealed: dict = {}
        self.held: dict[str, dict[str, bytes]] = {"files--backup-1": dict(objects or {})}
        self.garble = garble  #: the store writes something other than it was sent

    def download_object(self, name: str, container: str) -> bytes:
        return self.held[container][name]

    def create_object(self, container: str, name: str, data: bytes):
        kept = data[::-1] if self.garble else data
        self.held.setdefault(container, {})[name] = kept
        return Object.existing(name=name, container=container, etag=hashlib.md5(kept).hexdigest())

    def objects(self, container: str):
        return [
            Object.existing(
                name=k, bytes=len(v), hash=hashlib.md5(v).hexdigest(), container=container
            )  # md5: Swift's ETag
            for k, v in OBJECTS.items()
        ]

    def create_container(self, name: str, metadata: dict | None = None):
        self.containers_made[name] = metadata or {}

    def put(self, url: str, data: bytes, raise_exc: bool, headers: dict):
        prefix = "X-Container-Meta-"
        if url.count("/") == 1:  # a container, made with exactly its metadata
            self.containers_made[url[1:]] = {k[len(prefix) :]: v for k, v in headers.items() if k.startswith(prefix)}
        else:
            self.copies.append((url, headers))

    def set_container_metadata(self, name: str, **meta):
        self.sealed = meta


def test_a_container_is_copied_server_side_with_its_evidence():
    store = Store()
    project = ProjectBackups(SimpleNamespace(object_store=store), "p-1", "rsj-a-test", admin=None, cloud="local")
    at = dt.datetime(2026, 3, 13, 1, 5)
    labels = core.labels("rsj", "a", "test")
    backup = project.take(core.CONTAINER, Source(core.CONTAINER, "files", "files"), "n", labels, at)
    assert backup.id == "files--backup-20260313T010500" and backup.status == core.COMPLETE
    made = store.containers_made[backup.id]
    assert made["govcloud-app"] == "a" and made["govcloud-backup"] == "scheduled"
    assert made["govcloud-source"] == "files" and made["govcloud-status"] == "running"
    assert store.copies == [
        ("/files--backup-20260313T010500/a.txt", {"X-Copy-From": "/files/a.txt", "Content-Length": "0"}),
        (
            "/files--backup-20260313T010500/dir%2Fb%20c.bin",
            {"X-Copy-From": "/files/dir%2Fb%20c.bin", "Content-Length": "0"},
        ),
    ]
    expected = hashlib.sha256(
        "".join(
            f"{k}\0{hashlib.md5(v).hexdigest()}\n"  # md5: Swift's ETag
            for k, v in OBJECTS.items()
        ).encode()
    ).hexdigest()
    assert backup.checksum == f"sha256:{expected}" and backup.size == 306
    assert store.sealed["govcloud-status"] == "complete" and store.sealed["govcloud-checksum"] == backup.checksum


class Quotas:
    """Cinder's quota sets of the admin connection, and the refusal of a volume over them."""

    def __init__(self, volumes: int, gigabytes: int) -> None:
        self.set = {"volumes": volumes, "gigabytes": gigabytes}
        self.updates: list[dict] = []

    def get_quota_set(self, project_id: str):
        return SimpleNamespace(**self.set)

    def update_quota_set(self, project_id: str, **values):
        self.updates.append(values)
        self.set.update(values)


class Volumes:
    def __init__(self, quotas: Quotas, used_gb: int) -> None:
        self.quotas, self.used_gb, self.transfers = quotas, used_gb, []

    def create_volume(self, snapshot_id: str, name: str, size: int):
        if self.used_gb + size > self.quotas.set["gigabytes"]:
            raise RuntimeError("VolumeSizeExceedsAvailableQuota: Requested volume exceeds allowed gigabytes quota")
        return SimpleNamespace(id="v-new", size=size)

    def get_volume(self, volume_id: str):
        return SimpleNamespace(id=volume_id, size=200, status="available")

    def create_transfer(self, volume_id: str, name: str):
        self.transfers.append(volume_id)
        return SimpleNamespace(id="t-1", auth_key="k")

    def accept_transfer(self, transfer_id: str, auth_key: str):
        return None


def test_a_volume_for_another_project_gets_room_in_the_full_source_project_then_the_quota_is_set_back():
    quotas = Quotas(volumes=4, gigabytes=3200)
    source = ProjectBackups(
        SimpleNamespace(block_storage=Volumes(quotas, used_gb=3200)),
        "p-trial",
        "rsj-a-trial",
        admin=SimpleNamespace(block_storage=quotas),
        cloud="local",
        wait_seconds=0,
    )
    scratch = ProjectBackups(
        SimpleNamespace(block_storage=Volumes(quotas, 0)), "p-drill", "a-drill", admin=None, cloud="local"
    )
    snapshot = core.StoredBackup(
        core.VOLUME_SNAPSHOT, "s-1", "s", "v-data", core.COMPLETE, dt.datetime(2026, 3, 13, 1, 5), 200 * 2**30
    )
    made = source.restore(snapshot, scratch, "drill-volume")
    assert made.id == "v-new" and source._conn.block_storage.transfers == ["v-new"]
    assert quotas.updates == [{"volumes": 5, "gigabytes": 3400}, {"volumes": 4, "gigabytes": 3200}]
    # restored beside the live data in its own project: the project's quota stands, and says so
    with pytest.raises(RuleError) as refused:
        source.restore(snapshot, source, "beside")
    assert refused.value.rule == "backup-quota" and "VolumeSizeExceedsAvailableQuota" in str(refused.value)
    assert len(quotas.updates) == 2


def test_an_offsite_copy_reads_here_writes_there_and_checks_each_object_on_arrival():
    from orchestrator.errors import ExternalError

    here = ProjectBackups(SimpleNamespace(object_store=Store(OBJECTS)), "p-1", "rsj-a-test", admin=None, cloud="local")
    site_store = Store()
    site = ProjectBackups(SimpleNamespace(object_store=site_store), "p-s", "offsite-rsj-a", admin=None, cloud="site")
    backup = core.StoredBackup(
        core.CONTAINER, "files--backup-1", "files--backup-1", "files", core.COMPLETE, dt.datetime(2026, 3, 13, 1, 5)
    )
    labels = core.labels("rsj", "a", "test")
    made = here.copy_offsite(backup, site, "test--container--files--backup-1", labels)
    assert site_store.held["test--container--files--backup-1"] == OBJECTS
    meta = site_store.containers_made["test--container--files--backup-1"]
    assert (meta["govcloud-app"], meta["govcloud-offsite-of"], meta["govcloud-kind"]) == ("a", backup.id, "container")
    expected = hashlib.sha256(
        "".join(f"{k}\0{hashlib.md5(v).hexdigest()}\n" for k, v in OBJECTS.items()).encode()
    ).hexdigest()
    assert made.detail == {"objects": 2, "bytes": 306, "checksum": f"sha256:{expected}"}
    assert site_store.sealed == {"govcloud-status": "complete", "govcloud-checksum": f"sha256:{expected}"}
    # an object that arrives other than it was sent fails the copy, which is never sealed complete
    garbled = Store(garble=True)
    bad = ProjectBackups(SimpleNamespace(object_store=garbled), "p-s", "offsite-rsj-a", admin=None, cloud="site")
    with pytest.raises(ExternalError) as failed:
        here.copy_offsite(backup, bad, "test--container--files--backup-1", labels)
    assert "arrived with MD5" in str(failed.value) and garbled.sealed == {}
    # a snapshot cannot be copied: no API reads it
    snapshot = dataclasses.replace(backup, kind=core.VOLUME_SNAPSHOT)
    with pytest.raises(ExternalError, match="no API that reads its data"):
        here.copy_offsite(snapshot, site, "x", labels)
