"""Backups (Art. 16, 22, 30, 44): which are due, which we own, which retention removes, and when a
restore may replace live data. Pure: times are naive Beijing time, the clock of the ledger.

The manifest's ``spec.backup.schedule`` is a five-field cron expression read on Beijing wall-clock
time (croniter). Holidays do not pause it: ``0 2 * * 1-5`` means Monday to Friday by the calendar,
in a Spring Festival week too, and a make-up working Saturday is not a backup day; Art. 30 owes the
backup whatever the office calendar says. China keeps no daylight-saving time, so every scheduled
minute exists exactly once.

A backup is *ours* when it carries the labels ``govcloud:app``, ``govcloud:env`` and
``govcloud:backup`` of this application and environment (Trove takes no tags: its backups carry
them in their description). A backup made by hand without them is never deleted.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from orchestrator.core.naming import TAG_PREFIX
from orchestrator.errors import RuleError

#: The kinds of backup, by what they copy.
DATABASE = "database"  #: a Trove instance backup
VOLUME = "volume"  #: a Cinder volume backup (the cloud runs cinder-backup)
VOLUME_SNAPSHOT = "volume-snapshot"  #: a Cinder snapshot, where the cloud has no backup service
CONTAINER = "container"  #: an object-storage container copied to a backup container
KINDS = (DATABASE, VOLUME, VOLUME_SNAPSHOT, CONTAINER)

#: Statuses as govcloud names them, whatever the service calls them.
COMPLETE, RUNNING, FAILED = "complete", "running", "failed"

#: The label that marks a backup as taken by govcloud, and why: on a schedule, or the final one
#: kept at termination (Art. 16), which retention never deletes.
BACKUP_LABEL = "backup"
SCHEDULED, FINAL = "scheduled", "final"
LABEL_KEYS = ("unit", "app", "env", BACKUP_LABEL)


@dataclasses.dataclass(frozen=True)
class StoredBackup:
    """One backup as the cloud shows it."""

    kind: str
    id: str
    name: str
    source: str  #: the id of the instance, volume or container it copies
    status: str  #: :data:`COMPLETE`, :data:`RUNNING` or :data:`FAILED`
    created: dt.datetime
    size: int | None = None  #: bytes, where the service tells
    checksum: str | None = None  #: where the service gives one
    labels: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"created": self.created.isoformat(), "labels": dict(self.labels)}


# --- schedule -----------------------------------------------------------------------------------


def schedule_problem(expression: str) -> str | None:
    """Why ``expression`` is not a schedule govcloud runs, or ``None``: five cron fields (minute,
    hour, day of month, month, day of week), no seconds or years, no ``@`` shortcuts."""
    from croniter import croniter  # 40 ms to import: only where a schedule is read

    fields = expression.split()
    if len(fields) != 5:
        return f"{expression!r} has {len(fields)} fields; a schedule has five (minute hour day month weekday)"
    if not croniter.is_valid(expression):
        return f"{expression!r} is not a valid cron expression"
    return None


def check_schedule(expression: str) -> None:
    """:class:`RuleError` when ``expression`` is not a schedule (:func:`schedule_problem`)."""
    problem = schedule_problem(expression)
    if problem:
        raise RuleError(f"spec.backup.schedule: {problem}", rule="backup-schedule", article="Art. 30")


@functools.lru_cache(maxsize=4096)
def last_slot(expression: str, at: dt.datetime) -> dt.datetime:
    """The latest scheduled minute at or before ``at`` (Beijing time). Cached: a run decides every
    environment at one time, and most manifests share a few schedules (croniter takes ~0.8 ms)."""
    from croniter import croniter

    return croniter(expression, at.replace(second=0, microsecond=0) + dt.timedelta(seconds=1)).get_prev(dt.datetime)


@dataclasses.dataclass(frozen=True)
class Due:
    """Whether one environment's backup is due at a time, and which scheduled slot it serves."""

    application: str
    environment: str
    due: bool
    slot: dt.datetime  #: the latest scheduled minute at or before the time asked
    last: dt.datetime | None  #: when the last backup of the environment started


def due(application: str, environment: str, expression: str, at: dt.datetime, last: dt.datetime | None) -> Due:
    """Due when no backup has started since the latest scheduled minute at or before ``at``: a
    missed slot (the scheduler was down) is made up once at the next run, never several times."""
    slot = last_slot(expression, at)
    return Due(application, environment, last is None or last < slot, slot, last)


# --- ownership and retention --------------------------------------------------------------------


def labels(unit: str, app: str, env: str, why: str = SCHEDULED) -> dict[str, str]:
    """The labels of a backup govcloud takes: ``{"unit": ..., "app": ..., "env": ..., "backup": why}``."""
    return {"unit": unit, "app": app, "env": env, BACKUP_LABEL: why}


def description(label_set: Mapping[str, str]) -> str:
    """Labels as the text of a description (for Trove, which takes no tags)."""
    return " ".join(f"{TAG_PREFIX}{k}={label_set[k]}" for k in LABEL_KEYS if k in label_set)


def labels_from_description(text: str | None) -> dict[str, str]:
    """``"govcloud:app=a govcloud:env=test ..."`` -> ``{"app": "a", "env": "test", ...}``."""
    found = {}
    for word in (text or "").split():
        key, sep, value = word.partition("=")
        if sep and key.startswith(TAG_PREFIX) and key[len(TAG_PREFIX) :] in LABEL_KEYS:
            found[key[len(TAG_PREFIX) :]] = value
    return found


def owned(backup: StoredBackup, app: str, env: str) -> bool:
    """Taken by govcloud for ``app``'s ``env``: all three labels there and matching."""
    return (
        backup.labels.get("app") == app
        and backup.labels.get("env") == env
        and backup.labels.get(BACKUP_LABEL) in (SCHEDULED, FINAL)
    )


def expired(
    backups: Iterable[StoredBackup], app: str, env: str, retention_days: int, at: dt.datetime
) -> list[StoredBackup]:
    """The backups retention removes at ``at``: ours, scheduled (never the final one), started more
    than ``retention_days`` whole days before ``at`` (one exactly that old is kept), and never the
    newest complete backup of a source, so a source whose backups stopped keeps its last good one."""
    cutoff = at - dt.timedelta(days=retention_days)
    mine = [b for b in backups if owned(b, app, env) and b.labels.get(BACKUP_LABEL) == SCHEDULED]
    newest: dict[tuple[str, str], StoredBackup] = {}
    for b in mine:
        key = (b.kind, b.source)
        if b.status == COMPLETE and (key not in newest or b.created > newest[key].created):
            newest[key] = b
    keep = {b.id for b in newest.values()}
    return sorted(
        (b for b in mine if b.created < cutoff and b.id not in keep and b.status != RUNNING), key=lambda b: b.created
    )


def latest(backups: Sequence[StoredBackup], kind: str | None = None) -> list[StoredBackup]:
    """The newest complete backup of each source (of ``kind`` when given), oldest source first."""
    newest: dict[tuple[str, str], StoredBackup] = {}
    for b in backups:
        if b.status == COMPLETE and (kind is None or b.kind == kind):
            key = (b.kind, b.source)
            if key not in newest or b.created > newest[key].created:
                newest[key] = b
    return sorted(newest.values(), key=lambda b: (b.kind, b.source))


# --- restore ------------------------------------------------------------------------------------


def restore_gate(
    backup: StoredBackup,
    app: str,
    target_env: str,
    *,
    replace: bool,
    live: str | None,
    approved: frozenset[str],
    production_data: bool,
) -> None:
    """The rules of a restore of ``backup`` into ``target_env``; :class:`RuleError` when one says no.

    A restore makes new resources beside the live ones. It replaces live data (``replace``: the
    live resource named ``live``) only when the office approved that data loss in the ledger
    (Art. 15: the unit confirms, the office approves; ``approved`` holds the resource names).
    Production data goes only into production or an environment that declares
    ``productionData: true`` (``production_data``)."""
    source_env = backup.labels.get("env")
    if backup.labels.get("app") != app:
        raise RuleError(
            f"backup {backup.id} does not belong to {app} (its labels name "
            f"{backup.labels.get('app') or 'no application'})",
            rule="backup-owner",
            article="Art. 30",
        )
    if backup.status != COMPLETE:
        raise RuleError(
            f"backup {backup.id} is {backup.status}, not complete: it cannot be restored",
            rule="backup-complete",
            article="Art. 30",
        )
    if source_env == "production" and target_env != "production" and not production_data:
        raise RuleError(
            f"backup {backup.id} holds production data and {target_env} does not declare productionData: true",
            rule="restore-production-data",
            article="Art. 22",
        )
    if not replace:
        return
    if source_env != target_env:
        raise RuleError(
            f"--replace: backup {backup.id} is of {source_env}, not {target_env}; a backup replaces only "
            "its own environment's data (restore it beside instead)",
            rule="restore-replace",
            article="Art. 15",
        )
    if backup.kind == DATABASE:
        raise RuleError(
            "--replace: Trove restores a backup only into a new database instance; restore beside "
            "the live one (without --replace) and switch the application over",
            rule="restore-replace",
            article="Art. 30",
        )
    if not live:
        raise RuleError(
            f"--replace: {target_env} of {app} has no live {backup.kind} {backup.source} to replace",
            rule="restore-replace",
            article="Art. 15",
        )
    if live not in approved:
        raise RuleError(
            f"--replace would overwrite the live data of {live} in {target_env}: the unit confirms "
            "that data loss and the e-gov office approves it first (govcloud data-loss confirm / "
            "approve)",
            rule="restore-replace-approved",
            article="Art. 15",
        )


def check_restored(backup: StoredBackup, restored: Mapping[str, object]) -> str | None:
    """What is wrong with a restore of ``backup`` a drill made (``restored``: what the adapter
    reports), or ``None``: a container holds the backup's bytes, a volume has the backup's size,
    a database instance runs and lists databases."""
    if backup.kind == CONTAINER:
        if restored.get("bytes") != backup.size:
            return f"container {backup.id}: restored {restored.get('bytes')} bytes, the backup holds {backup.size}"
    elif backup.kind in (VOLUME, VOLUME_SNAPSHOT):
        size = restored.get("size_gb")
        if backup.size is not None and (not isinstance(size, int) or size * 2**30 < backup.size):
            return f"volume from {backup.id}: {size} GB, smaller than the backup ({backup.size} bytes)"
    elif not restored.get("databases"):
        return f"database from {backup.id}: the restored instance lists no database"
    return None


# --- the ledger's record ------------------------------------------------------------------------

#: What a row of the backup record says happened.
TAKEN, DELETED, RESTORED, MISSED, DRILL = "taken", "deleted", "restored", "missed", "drill"
ARCHIVED = "archived"  #: a final backup copied into the provider's archive project at reclamation (Art. 16)
#: ``offsite: true`` (Art. 30): a backup copied to the backup site, a site copy deleted by retention
#: or reclamation, a backup whose kind cannot be copied there (:data:`NOT_COPYABLE`)
OFFSITE_COPIED, OFFSITE_DELETED, OFFSITE_SKIPPED = "offsite-copied", "offsite-deleted", "offsite-skipped"
ACTIONS = (TAKEN, DELETED, RESTORED, MISSED, DRILL, ARCHIVED, OFFSITE_COPIED, OFFSITE_DELETED, OFFSITE_SKIPPED)


@dataclasses.dataclass(frozen=True)
class Entry:
    """One row of the ledger's backup record: evidence of a backup taken (id, kind, size, checksum,
    start, end), a deletion by retention, a restore, a backup that failed or could not be taken
    (``missed``), or a restore drill (Art. 44)."""

    application: str
    environment: str
    action: str
    kind: str
    backup_id: str
    at: dt.datetime  #: when govcloud did it (Beijing)
    actor: str
    source: str = ""
    name: str = ""
    size: int | None = None
    checksum: str | None = None
    started: dt.datetime | None = None
    finished: dt.datetime | None = None
    detail: Mapping[str, object] = dataclasses.field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self) | {"detail": dict(self.detail)}
        for key in ("at", "started", "finished"):
            out[key] = out[key].isoformat() if out[key] else None
        return out


# --- the final backup of a termination (Art. 16) --------------------------------------------------


def final_backup(application: str, backup_id: str, record: Sequence[Entry]) -> Entry:
    """The ledger's evidence that ``backup_id`` may be named as ``application``'s final backup at
    termination (``record``: every row of the backup record with that id, of any application): it
    was taken (complete) for this application and not deleted since. :class:`RuleError` naming the
    rule otherwise. Another application's backup is not named (a unit must not learn of it)."""
    if not record:
        raise RuleError(
            f"backup {backup_id} is not in the ledger's backup record: name a backup govcloud took "
            f"(govcloud backup list {application})",
            rule="final-backup-recorded",
            article="Art. 16",
        )
    mine = [e for e in record if e.application == application]
    if not mine:
        raise RuleError(
            f"backup {backup_id} is not a backup of {application}", rule="final-backup-owner", article="Art. 16"
        )
    taken = next((e for e in mine if e.action == TAKEN), None)
    if taken is None:
        raise RuleError(
            f"backup {backup_id} of {application} never completed (the record has it "
            f"{', '.join(sorted({e.action for e in mine}))}): a final backup must be complete",
            rule="final-backup-complete",
            article="Art. 16",
        )
    deleted = next((e for e in mine if e.action == DELETED), None)
    if deleted is not None:
        raise RuleError(
            f"backup {backup_id} of {application} was deleted on {deleted.at:%Y-%m-%d %H:%M} "
            f"({deleted.detail.get('reason', 'deleted')}): name a backup that still exists",
            rule="final-backup-exists",
            article="Art. 16",
        )
    return taken


def archive_until(archived_at: dt.datetime, days: int) -> dt.datetime:
    """The end of a final backup's archive period: ``days`` whole days after it was archived."""
    return archived_at + dt.timedelta(days=days)


def archive_kept(record: Iterable[Entry]) -> list[Entry]:
    """The ``archived`` rows whose archive copy has no ``deleted`` row yet, in record order."""
    rows = list(record)
    gone = {e.backup_id for e in rows if e.action == DELETED and e.detail.get("archive_id")}
    return [e for e in rows if e.action == ARCHIVED and e.backup_id not in gone]


def archive_expired(record: Iterable[Entry], at: dt.datetime) -> list[Entry]:
    """The kept archive copies whose period ended before ``at`` (one ending exactly at ``at`` is
    kept), oldest first."""
    return sorted(
        (e for e in archive_kept(record) if dt.datetime.fromisoformat(str(e.detail["until"])) < at),
        key=lambda e: e.at,
    )


# --- offsite copies (Art. 30) --------------------------------------------------------------------

#: The kinds no service lets us read, so none can be copied to the backup site, and why.
NOT_COPYABLE = {
    VOLUME_SNAPSHOT: "a Cinder snapshot stays on the volume's own storage and Cinder has no API that reads "
    "its data (the cloud runs no cinder-backup, whose Swift objects could be copied)",
}


def offsite_project(unit: str, app: str) -> str:
    """``offsite-rsj-social-security``: the project on the backup site holding an application's
    copies (every environment's; the copies carry the environment in their labels)."""
    return f"offsite-{unit}-{app}"[:64]


def offsite_copy_name(env: str, backup: StoredBackup) -> str:
    """The container on the site that holds the copy of ``backup`` of ``env``."""
    return f"{env}--{backup.kind}--{backup.id}"[:255]


def check_site(site: str | None, app: str) -> str:
    """The backup site named in ``govcloud.yaml`` for ``app``'s ``offsite: true``; :class:`RuleError`
    when there is none."""
    if not site:
        raise RuleError(
            f"{app} declares spec.backup.offsite: true but govcloud.yaml names no backup site "
            "(backups.site: a cloud of clouds.yaml): its backups stay in its own cloud until one is named",
            rule="backup-offsite-site",
            article="Art. 30",
        )
    return site


def offsite_kept(record: Iterable[Entry]) -> list[Entry]:
    """The ``offsite-copied`` rows whose copy has no ``offsite-deleted`` row since, in record order."""
    rows = list(record)
    gone = {(e.backup_id, e.detail.get("copy")) for e in rows if e.action == OFFSITE_DELETED}
    return [e for e in rows if e.action == OFFSITE_COPIED and (e.backup_id, e.detail.get("copy")) not in gone]
