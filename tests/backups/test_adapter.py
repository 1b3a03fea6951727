"""The project adapter's container copy over a stub object store that answers with openstacksdk's
own resources: what it copies, how, and the evidence it computes."""

from __future__ import annotations

import datetime as dt
import hashlib
from types import SimpleNamespace

from openstack.object_store.v1.obj import Object

from orchestrator.adapters.cloud.backups import ProjectBackups, Source
from orchestrator.core import backups as core

OBJECTS = {"a.txt": b"alpha\n", "dir/b c.bin": b"\x00" * 300}


class Store:
    def __init__(self) -> None:
        self.containers_made: dict[str, dict] = {}
        self.copies: list[tuple[str, dict]] = []
        self.sealed: dict = {}

    def objects(self, container: str):
        return [Object.existing(name=k, bytes=len(v), hash=hashlib.md5(v).hexdigest(), container=container)  # md5: Swift's ETag
                for k, v in OBJECTS.items()]

    def create_container(self, name: str, metadata: dict | None = None):
        self.containers_made[name] = metadata or {}

    def put(self, url: str, data: bytes, raise_exc: bool, headers: dict):
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
        ("/files--backup-20260313T010500/dir%2Fb%20c.bin", {"X-Copy-From": "/files/dir%2Fb%20c.bin",
                                                             "Content-Length": "0"}),
    ]
    expected = hashlib.sha256("".join(f"{k}\0{hashlib.md5(v).hexdigest()}\n"  # md5: Swift's ETag
                                      for k, v in OBJECTS.items()).encode()).hexdigest()
    assert backup.checksum == f"sha256:{expected}" and backup.size == 306
    assert store.sealed["govcloud-status"] == "complete" and store.sealed["govcloud-checksum"] == backup.checksum
