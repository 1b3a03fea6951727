"""An in-memory twin of :class:`orchestrator.adapters.cloud.backups.ProjectBackups` that refuses what
the real services refuse: a snapshot beyond the project's quota, a revert to a snapshot that is
not the volume's latest, a restore of a backup that is not complete, an offsite copy of a
snapshot (no API reads its data) or of a backup that is not complete."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools

from orchestrator.adapters.cloud.backups import Restored, Source, _refused
from orchestrator.core import backups as core
from orchestrator.core.backups import StoredBackup
from orchestrator.errors import ExternalError, NotFound

_ids = itertools.count(1)


class FakeProject:
    def __init__(
        self, name: str, sources: list[Source], *, backup_service: bool = False, snapshot_quota: int = 10
    ) -> None:
        self.project_name = self.project_id = name
        self._sources = sources
        self.held: list[StoredBackup] = []
        self.made: list[Restored] = []
        self.backup_service = backup_service
        self.snapshot_quota = snapshot_quota
        self.down = False
        self.restore_detail: dict = {}  #: what a restore reports, over the faithful default
        self.copies: list[StoredBackup] = []  #: on a backup site: the offsite copies (as the adapter lists them)

    def volume_kind(self) -> str:
        return core.VOLUME if self.backup_service else core.VOLUME_SNAPSHOT

    def sources(self) -> list[Source]:
        self._answer()
        return list(self._sources)

    def backups(self) -> list[StoredBackup]:
        self._answer()
        return sorted(self.held, key=lambda b: (b.created, b.id))

    def take(self, kind, source, name, labels, at: dt.datetime) -> StoredBackup:
        self._answer()
        if kind == core.VOLUME_SNAPSHOT and sum(b.kind == kind for b in self.held) >= self.snapshot_quota:
            _refused(
                "fake",
                f"snapshotting volume {source.name}",
                413,
                f"SnapshotLimitExceeded: Maximum number of snapshots allowed ({self.snapshot_quota}) exceeded",
            )
        backup = StoredBackup(
            kind,
            f"{kind}-{next(_ids)}",
            name,
            source.id,
            core.COMPLETE,
            at,
            2**30,
            "sha256:x" if kind == core.CONTAINER else None,
            dict(labels),
        )
        self.held.append(backup)
        return backup

    def wait(self, backup: StoredBackup) -> StoredBackup:
        return backup

    def delete(self, backup: StoredBackup) -> None:
        self.held = [b for b in self.held if b.id != backup.id]

    def restore(self, backup: StoredBackup, into: FakeProject, name: str) -> Restored:
        if backup.status != core.COMPLETE:
            raise ExternalError(f"backup {backup.id} is {backup.status}")
        detail = {"from": backup.id, "bytes": backup.size, "size_gb": 1, "databases": ["benefits"]}
        made = Restored(backup.kind, f"new-{next(_ids)}", name, detail | self.restore_detail)
        into.made.append(made)
        return made

    def replace(self, backup: StoredBackup, into: FakeProject, live: Source) -> Restored:
        latest = max((b for b in self.held if b.source == live.id and b.kind == backup.kind), key=lambda b: b.created)
        if backup.kind == core.VOLUME_SNAPSHOT and latest.id != backup.id:
            raise ExternalError(
                "cloud fake: reverting volume failed: 400 Volume can only be reverted to its latest snapshot"
            )
        made = Restored(backup.kind, live.id, live.name, {"from": backup.id, "over": True})
        into.made.append(made)
        return made

    def get(self, backup_id: str) -> StoredBackup:
        self._answer()
        for backup in self.held:
            if backup.id == backup_id:
                return backup
        raise NotFound(f"project {self.project_name} holds no backup {backup_id}")

    def archive(self, backup: StoredBackup, into: FakeProject, name: str, labels) -> Restored:
        """As the adapter: a volume (from a snapshot or backup), a container or a Trove backup in ``into``."""
        self._answer()
        kind = core.VOLUME if backup.kind in (core.VOLUME, core.VOLUME_SNAPSHOT) else backup.kind
        made = Restored(kind, f"archived-{next(_ids)}", name, {"from": backup.id, "labels": dict(labels)})
        into.made.append(made)
        return made

    def delete_archived(self, kind: str, id: str, detail) -> None:
        self._answer()
        self.made = [m for m in self.made if m.id != id]

    def copy_offsite(self, backup: StoredBackup, into: FakeProject, name: str, labels) -> Restored:
        """As the adapter: a labelled container on the site with the backup's bytes."""
        self._answer()
        into._answer()
        if backup.kind in core.NOT_COPYABLE:
            raise ExternalError(f"cloud fake: a {backup.kind} cannot be copied: {core.NOT_COPYABLE[backup.kind]}")
        if backup.status != core.COMPLETE or backup.id not in {b.id for b in self.held}:
            raise ExternalError(f"cloud fake: reading backup {backup.id} failed: 404 Not Found")
        copy = StoredBackup(
            backup.kind,
            name,
            backup.id,
            backup.source,
            core.COMPLETE,
            backup.created,
            backup.size,
            "sha256:c",
            dict(labels),
        )
        into.copies.append(copy)
        return Restored(core.CONTAINER, name, name, {"objects": 1, "bytes": backup.size, "checksum": "sha256:c"})

    def offsite_copies(self) -> list[StoredBackup]:
        self._answer()
        return list(self.copies)

    def delete_container(self, name: str) -> None:
        self._answer()
        self.copies = [c for c in self.copies if c.id != name]

    def hand_made(self, source: Source, created: dt.datetime) -> StoredBackup:
        backup = StoredBackup(core.VOLUME_SNAPSHOT, f"hand-{next(_ids)}", "by hand", source.id, core.COMPLETE, created)
        self.held.append(backup)
        return backup

    def _answer(self) -> None:
        if self.down:
            raise ExternalError("cloud fake: Connection refused")


@dataclasses.dataclass
class FakeCloud:
    projects: dict[str, FakeProject]
    removed: list[str] = dataclasses.field(default_factory=list)
    stays: bool = False  #: the scratch project survives its removal
    name: str = "fake"
    down: bool = False  #: the cloud does not answer (a backup site)

    def backups(self, project: str) -> FakeProject:
        return self.projects[project]

    def scratch_project(self, name: str) -> FakeProject:
        self.projects[name] = FakeProject(name, [])
        return self.projects[name]

    def archive_project(self, name: str) -> FakeProject:
        return self.projects.setdefault(name, FakeProject(name, []))

    def offsite_project(self, name: str, application: str) -> FakeProject:
        if self.down:
            raise ExternalError(f"cloud {self.name} is unreachable: Connection refused")
        return self.projects.setdefault(name, FakeProject(name, []))

    def find_project(self, name: str) -> FakeProject | None:
        if self.down:
            raise ExternalError(f"cloud {self.name} is unreachable: Connection refused")
        return self.projects.get(name)

    def remove_project(self, name: str) -> bool:
        if not self.stays:
            self.projects.pop(name, None)
            self.removed.append(name)
        return name not in self.projects
