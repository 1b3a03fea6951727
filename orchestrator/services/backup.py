"""The backup service (Art. 16, 22, 30): scheduled backups with retention, listing and restores.

Composes the core's decisions (:mod:`orchestrator.core.backups`) with the ledger (the lifecycle's
live environments and manifests; the backup record of :mod:`orchestrator.adapters.backuplog`) and
the cloud (:mod:`orchestrator.adapters.cloud.backups`). Each environment is decided at the run's
one stated time; an environment that fails is recorded as ``missed`` and the run goes on.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from orchestrator.core import backups as core
from orchestrator.core import lifecycle as lc
from orchestrator.core import naming
from orchestrator.core.backups import VOLUME, Entry, StoredBackup
from orchestrator.core.manifest import Backup as BackupPolicy
from orchestrator.errors import ExternalError, GovcloudError, NotFound, RuleError
from orchestrator.services.finalbackup import confirmed_final


class _Unset:
    """No value given: read ``govcloud.yaml`` when first needed."""


_UNSET = _Unset()


class Clouds(Protocol):
    def backups(self, project: str) -> Any: ...
    def scratch_project(self, name: str) -> Any: ...
    def remove_project(self, name: str) -> bool: ...
    def archive_project(self, name: str) -> Any: ...
    def offsite_project(self, name: str, application: str) -> Any: ...
    def find_project(self, name: str) -> Any: ...


@dataclasses.dataclass(frozen=True)
class Live:
    """One live environment of an application, with its backup policy."""

    application: str
    unit: str
    environment: str
    policy: BackupPolicy
    production_data: bool = False

    @property
    def project(self) -> str:
        return naming.project_name(self.unit, self.application, self.environment)


@dataclasses.dataclass
class EnvironmentRun:
    """What one run did in one environment."""

    application: str
    environment: str
    due: bool
    slot: dt.datetime | None
    taken: list[StoredBackup] = dataclasses.field(default_factory=list)
    deleted: list[StoredBackup] = dataclasses.field(default_factory=list)
    missed: list[str] = dataclasses.field(default_factory=list)
    volume_kind: str | None = None
    refused: bool = False  #: a rule said no: a quota of the project blocked a backup, or no backup site
    offsite: list[dict] = dataclasses.field(default_factory=list)  #: copies made, skipped, deleted at the site
    archive: str | None = None  #: the archive project, for the deletion of a final backup's copy

    def as_dict(self) -> dict:
        return {
            "application": self.application,
            "environment": self.environment,
            "due": self.due,
            "slot": self.slot.isoformat() if self.slot else None,
            "volume_kind": self.volume_kind,
            "taken": [b.as_dict() for b in self.taken],
            "deleted": [b.as_dict() for b in self.deleted],
            "missed": self.missed,
            "offsite": self.offsite,
            "archive": self.archive,
        }


def live_environments(
    ledger: Any, applications: Iterable[str] | None = None, environment: str | None = None
) -> list[Live]:
    """The live environments (provisioned, not reclaimed) with backups enabled in the manifest on record."""
    if applications is None:
        states = [s for s in ledger.states() if s.provisioned]
    else:
        states = [ledger.get_state(a) for a in applications]
    names = [s.application for s in states]
    policies = ledger.manifest_part(names, "spec", "backup")
    declared_envs = ledger.manifest_part(names, "spec", "environments")
    out = []
    for state in states:
        policy = BackupPolicy.model_validate(policies.get(state.application) or {})
        if not policy.enabled:
            continue
        environments = declared_envs.get(state.application) or {}
        for env in sorted(state.provisioned):
            if environment and env != environment:
                continue
            declared = environments.get(env) or {}
            out.append(Live(state.application, state.unit, env, policy, bool(declared.get("productionData"))))
    return out


def due(lives: Iterable[Live], last_taken: dict[tuple[str, str], dt.datetime], at: dt.datetime) -> list[core.Due]:
    """The due decision of each live environment at ``at`` (pure: the benchmark's measure)."""
    return [
        core.due(x.application, x.environment, x.policy.schedule, at, last_taken.get((x.application, x.environment)))
        for x in lives
    ]


class BackupService:
    """Backups of the applications of one ledger on one cloud, by one actor."""

    def __init__(
        self,
        ledger: Any,
        log: Any,
        cloud: Clouds,
        actor: lc.Actor,
        clock: Callable[[], dt.datetime] | None = None,
        *,
        site: str | _Unset | None = _UNSET,
        connect: Callable[[str], Clouds] | None = None,
    ) -> None:
        """``site``: the backup site of ``offsite: true`` (default: ``govcloud.yaml`` ``backups.site``);
        ``connect``: a cloud of clouds.yaml by name, connected on first use (default :meth:`Cloud.lazy`)."""
        self.ledger, self.log, self.cloud, self.actor = ledger, log, cloud, actor
        self.clock = clock or _now  #: this machine's Beijing time: a stated time may not run ahead of it
        self._site_name = site
        self._connect = connect
        self._site: Clouds | None = None

    @property
    def site(self) -> str | None:
        """The backup site's cloud (``govcloud.yaml`` ``backups.site``), or ``None``."""
        if isinstance(self._site_name, _Unset):
            from orchestrator.settings import current_settings

            self._site_name = current_settings().backups.site
        return self._site_name

    def site_cloud(self, application: str) -> Clouds:
        """The backup site, connected on first use; :func:`core.check_site` names the missing
        setting and ``application`` when ``govcloud.yaml`` names none."""
        if self._site is None:
            name = core.check_site(self.site, application)
            if self._connect is None:
                from orchestrator.adapters.cloud import Cloud

                self._connect = Cloud.lazy
            self._site = self._connect(name)
        return self._site

    # --- run ---------------------------------------------------------------------------------

    def run(
        self, at: dt.datetime, application: str | None = None, environment: str | None = None, force: bool = False
    ) -> list[EnvironmentRun]:
        """Take the backups due at ``at`` (every live environment with ``force``), then delete what
        retention removes; everything done or missed is recorded in the ledger."""
        self._provider("backup run")
        lc.check_stated(at, self.clock())  # a run stated in the future would expire backups early
        lives = live_environments(self.ledger, [application] if application else None, environment)
        if application and environment and not lives:
            raise RuleError(
                f"{environment} of {application} is not live or has backups disabled",
                rule="backup-live",
                article="Art. 30",
            )
        decisions = due(lives, self.log.last_taken([x.application for x in lives]), at)
        runs = [self._run_one(live, d.due or force, d.slot, at) for live, d in zip(lives, decisions, strict=True)]
        if environment is None:
            runs += self.expire_archive(at, application)
        return runs

    def _run_one(self, live: Live, is_due: bool, slot: dt.datetime, at: dt.datetime) -> EnvironmentRun:
        result = EnvironmentRun(live.application, live.environment, is_due, slot)
        entries: list[Entry] = []
        try:
            project = self.cloud.backups(live.project)
            if is_due:
                self._take(project, live, at, result, entries)
            held = self._retain(project, live, at, result, entries)
            if live.policy.offsite:
                self._offsite(held, project, live, at, result, entries)
        except GovcloudError as exc:
            result.missed.append(str(exc))
            result.refused = result.refused or getattr(exc, "rule", "") == "backup-quota"
            entries.append(self._entry(live, core.MISSED, "", "", at, detail={"error": str(exc)[:1000]}))
        self.log.record(entries)
        return result

    def _take(self, project: Any, live: Live, at: dt.datetime, result: EnvironmentRun, entries: list[Entry]) -> None:
        labels = core.labels(live.unit, live.application, live.environment)
        sources = project.sources()
        if any(s.kind == VOLUME for s in sources):
            result.volume_kind = project.volume_kind()
        for source in sources:
            kind = result.volume_kind if source.kind == VOLUME else source.kind
            name = f"{source.name}--{at:%Y%m%dT%H%M}"
            started = _now()
            try:
                backup = project.wait(project.take(kind, source, name, labels, at))
            except GovcloudError as exc:
                result.missed.append(f"{kind} of {source.name}: {exc}")
                result.refused = result.refused or getattr(exc, "rule", "") == "backup-quota"
                entries.append(
                    self._entry(
                        live, core.MISSED, kind, "", at, source=source.id, name=name, detail={"error": str(exc)[:1000]}
                    )
                )
                continue
            if backup.status != core.COMPLETE:
                result.missed.append(f"{kind} {backup.id} of {source.name} is {backup.status}")
                entries.append(
                    self._entry(
                        live,
                        core.MISSED,
                        kind,
                        backup.id,
                        at,
                        source=source.id,
                        name=name,
                        detail={"status": backup.status},
                    )
                )
                continue
            result.taken.append(backup)
            entries.append(
                self._entry(
                    live,
                    core.TAKEN,
                    kind,
                    backup.id,
                    at,
                    source=source.id,
                    name=backup.name,
                    size=backup.size,
                    checksum=backup.checksum,
                    started=started,
                    finished=_now(),
                    detail={"slot": result.slot.isoformat() if result.slot else None},
                )
            )

    def _retain(
        self, project: Any, live: Live, at: dt.datetime, result: EnvironmentRun, entries: list[Entry]
    ) -> list[StoredBackup]:
        """Delete what retention removes; the backups the project still holds."""
        held = project.backups()
        for backup, why in self._expired(held, live, at, lambda b: b.id):
            project.delete(backup)
            held = [b for b in held if b.id != backup.id]
            result.deleted.append(backup)
            entries.append(
                self._entry(
                    live,
                    core.DELETED,
                    backup.kind,
                    backup.id,
                    at,
                    source=backup.source,
                    name=backup.name,
                    size=backup.size,
                    detail=why,
                )
            )
        return held

    def _expired(
        self, stored: list[StoredBackup], live: Live, at: dt.datetime, original: Callable[[StoredBackup], str]
    ) -> Iterator[tuple[StoredBackup, dict[str, str]]]:
        """What retention removes of ``stored`` (:func:`core.expired`: ours only, never the newest of
        a source), each with why; never what is, or copies (``original``), a final backup named at
        termination: reclamation archives it (Art. 16)."""
        final = {b["id"] for b in confirmed_final(self.ledger.events(live.application))}
        days = live.policy.retention_days
        for backup in core.expired(stored, live.application, live.environment, days, at):
            if original(backup) not in final:
                yield backup, {"reason": f"older than retentionDays {days}", "created": backup.created.isoformat()}

    def _offsite(
        self,
        held: list[StoredBackup],
        project: Any,
        live: Live,
        at: dt.datetime,
        result: EnvironmentRun,
        entries: list[Entry],
    ) -> None:
        """``offsite: true`` (Art. 30): copy each backup of the environment that has no copy on the
        backup site yet (this run's, and those an earlier run failed to copy) into the
        application's project there, then delete the site copies retention removes. Nothing
        pending: the site is not asked. A failure is ``missed`` with the site; the next run tries again."""
        pending = list(
            dict.fromkeys(
                [*self.log.offsite_pending(live.application, live.environment), *(b.id for b in result.taken)]
            )
        )
        todo = [b for b in held if b.id in pending and b.status == core.COMPLETE]
        project_name = core.offsite_project(live.unit, live.application)
        where: dict[str, Any] = {"offsite": True, "site": self.site, "project": project_name}
        for backup in [b for b in todo if b.kind in core.NOT_COPYABLE]:
            reason = core.NOT_COPYABLE[backup.kind]
            result.offsite.append(
                {"action": core.OFFSITE_SKIPPED, "kind": backup.kind, "id": backup.id, "reason": reason}
            )
            entries.append(
                self._entry(
                    live,
                    core.OFFSITE_SKIPPED,
                    backup.kind,
                    backup.id,
                    at,
                    source=backup.source,
                    detail=where | {"reason": reason},
                )
            )
        todo = [b for b in todo if b.kind not in core.NOT_COPYABLE]
        if not todo:
            return
        try:
            there = self.site_cloud(live.application).offsite_project(project_name, live.application)
        except GovcloudError as exc:
            self._offsite_missed(live, at, result, entries, where, exc)
            return
        for backup in todo:
            name = core.offsite_copy_name(live.environment, backup)
            started = _now()
            try:
                made = project.copy_offsite(
                    backup, there, name, core.labels(live.unit, live.application, live.environment)
                )
            except GovcloudError as exc:
                self._offsite_missed(live, at, result, entries, where, exc, backup)
                continue
            result.offsite.append(
                {"action": core.OFFSITE_COPIED, "kind": backup.kind, "id": backup.id, "copy": made.id}
            )
            entries.append(
                self._entry(
                    live,
                    core.OFFSITE_COPIED,
                    backup.kind,
                    backup.id,
                    at,
                    source=backup.source,
                    name=made.name,
                    size=made.detail.get("bytes"),
                    checksum=made.detail.get("checksum"),
                    started=started,
                    finished=_now(),
                    detail=where | {"copy": made.id, "objects": made.detail.get("objects")},
                )
            )
        try:
            self._retain_offsite(there, live, at, result, entries, where)
        except GovcloudError as exc:
            self._offsite_missed(live, at, result, entries, where, exc)

    def _retain_offsite(
        self, there: Any, live: Live, at: dt.datetime, result: EnvironmentRun, entries: list[Entry], where: dict
    ) -> None:
        """Retention at the site, by the same rule as at home; the copy of a final backup (Art. 16) is kept."""
        for copy, why in self._expired(there.offsite_copies(), live, at, lambda c: c.name):
            there.delete_container(copy.id)
            result.offsite.append({"action": core.OFFSITE_DELETED, "kind": copy.kind, "id": copy.name, "copy": copy.id})
            entries.append(
                self._entry(
                    live,
                    core.OFFSITE_DELETED,
                    copy.kind,
                    copy.name,
                    at,
                    source=copy.source,
                    name=copy.id,
                    size=copy.size,
                    detail=where | {"copy": copy.id} | why,
                )
            )

    def _offsite_missed(
        self,
        live: Live,
        at: dt.datetime,
        result: EnvironmentRun,
        entries: list[Entry],
        where: dict,
        exc: GovcloudError,
        backup: StoredBackup | None = None,
    ) -> None:
        what = f"offsite copy of {backup.kind} {backup.id}" if backup else "offsite copies"
        result.missed.append(f"{what} to backup site {where['site'] or '(none)'}: {exc}")
        result.refused = result.refused or isinstance(exc, RuleError)
        entries.append(
            self._entry(
                live,
                core.MISSED,
                backup.kind if backup else None,
                backup.id if backup else "",
                at,
                source=backup.source if backup else "",
                detail=where | {"error": str(exc)[:1000]} | ({"rule": exc.rule} if isinstance(exc, RuleError) else {}),
            )
        )

    # --- list and restore --------------------------------------------------------------------

    def listing(self, application: str) -> dict:
        """Every backup in each live environment's project (ours and made by hand), the final
        backups kept in the provider's archive (Art. 16) and the record."""
        state = self.ledger.get_state(application)
        if not lc.may_read(state, self.actor):
            raise RuleError(
                f"{self.actor.name} of unit {self.actor.unit} may not read {application}",
                rule="unit-scope",
                article="Art. 6-9",
            )
        environments = []
        for live in live_environments(self.ledger, [application]):
            backups = self.cloud.backups(live.project).backups()
            environments.append(
                {
                    "environment": live.environment,
                    "project": live.project,
                    "backups": [b.as_dict() | {"ours": core.owned(b, application, live.environment)} for b in backups],
                }
            )
        record = self.log.entries(application)
        return {
            "application": application,
            "environments": environments,
            "offsite": [_offsite(e) for e in core.offsite_kept(record)],
            "archive": [_archived(e) for e in core.archive_kept(self.log.archive_record(application))],
            "record": [e.as_dict() for e in record],
        }

    def restore(
        self,
        application: str,
        environment: str,
        backup_id: str,
        at: dt.datetime,
        replace: bool = False,
        into_project: str | None = None,
    ) -> dict:
        """Restore ``backup_id`` into ``environment``'s project (or ``into_project``, a scratch
        project of a drill) beside the live resources; with ``replace`` over the live one, when the
        office approved that data loss in the ledger."""
        self._provider("backup restore")
        lc.check_stated(at, self.clock())
        state = self.ledger.get_state(application)
        lives = {x.environment: x for x in live_environments(self.ledger, [application])}
        target = lives.get(environment)
        if target is None:
            raise RuleError(
                f"{environment} of {application} is not live: there is nothing to restore into",
                rule="backup-live",
                article="Art. 30",
            )
        backup, source = self._find(lives.values(), backup_id)
        into = self.cloud.backups(into_project or target.project)
        live_source = next((s for s in into.sources() if s.id == backup.source or s.name == backup.source), None)
        digest = state.provisioned.get(environment, "")
        core.restore_gate(
            backup,
            application,
            environment,
            replace=replace,
            live=live_source.name if live_source else None,
            approved=lc.approved_data_loss(state, environment, digest),
            production_data=target.production_data,
        )
        name = f"{application}-restore-{at:%Y%m%dT%H%M%S}"
        try:
            made = source.replace(backup, into, live_source) if replace else source.restore(backup, into, name)
        except GovcloudError as exc:
            self.log.record(
                [
                    self._entry(
                        target,
                        core.MISSED,
                        backup.kind,
                        backup.id,
                        at,
                        source=backup.source,
                        detail={"restore": True, "error": str(exc)[:1000]},
                    )
                ]
            )
            raise
        detail = {"into": into.project_name, "made": made.id, "name": made.name, "replace": replace, **made.detail}
        if replace:
            detail["approval"] = state.data_loss.get(environment, {}).get("approved_by")
        self.log.record(
            [
                self._entry(
                    target,
                    core.RESTORED,
                    backup.kind,
                    backup.id,
                    at,
                    source=backup.source,
                    name=made.name,
                    detail=detail,
                )
            ]
        )
        return {"application": application, "environment": environment, "backup": backup.as_dict(), **detail}

    def drill(self, application: str, at: dt.datetime, environment: str | None = None) -> dict:
        """A restore drill (Art. 44): the latest complete backup of each source of each live
        environment restored into one scratch project, each checked (:func:`core.check_restored`),
        the scratch project removed, and the drill recorded with its findings."""
        self._provider("backup drill")
        lc.check_stated(at, self.clock())
        lives = live_environments(self.ledger, [application], environment)
        if not lives:
            raise RuleError(
                f"{application} has no live environment with backups enabled to drill",
                rule="backup-live",
                article="Art. 44",
            )
        scratch_name = f"{application}-drill-{at:%Y%m%d%H%M%S}"[:64]
        checks: list[dict] = []
        entries: list[Entry] = []
        scratch = self.cloud.scratch_project(scratch_name)
        try:
            for live in lives:
                project = self.cloud.backups(live.project)
                mine = [b for b in project.backups() if core.owned(b, application, live.environment)]
                latest = core.latest(mine)
                if not latest:
                    checks.append(
                        {"environment": live.environment, "ok": False, "problem": "no complete backup to restore"}
                    )
                for backup in latest:
                    check: dict[str, Any] = {
                        "environment": live.environment,
                        "kind": backup.kind,
                        "backup": backup.id,
                        "created": backup.created.isoformat(),
                    }
                    try:
                        made = project.restore(backup, scratch, f"drill-{backup.kind}-{len(checks)}")
                        problem = core.check_restored(backup, made.detail)
                        check |= {"restored": dict(made.detail)}
                    except GovcloudError as exc:
                        problem = str(exc)
                    checks.append(check | {"ok": problem is None, "problem": problem})
        finally:
            removed = self.cloud.remove_project(scratch_name)
        report = {
            "application": application,
            "scratch_project": scratch_name,
            "scratch_removed": removed,
            "ok": removed and bool(checks) and all(c["ok"] for c in checks),
            "checks": checks,
        }
        for live in lives:
            mine = [c for c in checks if c["environment"] == live.environment]
            entries.append(
                self._entry(
                    live,
                    core.DRILL,
                    "-",
                    "-",
                    at,
                    detail={
                        "scratch_project": scratch_name,
                        "scratch_removed": removed,
                        "checks": mine,
                        "ok": removed and bool(mine) and all(c["ok"] for c in mine),
                    },
                )
            )
        self.log.record(entries)
        return report

    # --- the final backup of a termination (Art. 16) -------------------------------------------

    def archive_final(
        self, application: str, at: dt.datetime, days: int, archive: str, dry_run: bool = False
    ) -> list[dict]:
        """Copy the final backups the unit named at termination (``app confirm-backup --backup``)
        into the provider's project ``archive`` (created if missing) before reclamation deletes
        the environments, each kept ``days`` days; recorded as ``archived`` with where it went
        and until when. One archived already is not copied again; ``dry_run`` copies nothing and
        records nothing. Raises when one cannot be archived: reclamation must then stop."""
        self._provider("archiving the final backup")
        state = self.ledger.get_state(application)
        done = {e.backup_id: e for e in self.log.archive_record(application) if e.action == core.ARCHIVED}
        out = []
        for named in confirmed_final(self.ledger.events(application)):
            env, backup_id = named["environment"], named["id"]
            if backup_id in done:
                out.append(_archived(done[backup_id]) | {"already": True})
                continue
            until = core.archive_until(at, days)
            plan = {
                "backup": backup_id,
                "kind": named.get("kind"),
                "environment": env,
                "project": archive,
                "until": until.isoformat(),
            }
            if dry_run:
                out.append(plan)
                continue
            project = self.cloud.backups(naming.project_name(state.unit, application, env))
            try:
                backup = project.get(backup_id)
            except NotFound:
                raise RuleError(
                    f"the final backup {backup_id} of {application} ({env}) is no longer in project "
                    f"{project.project_name}: nothing is reclaimed until it is found (the unit named "
                    "it at termination)",
                    rule="final-backup-exists",
                    article="Art. 16",
                ) from None
            labels = core.labels(state.unit, application, env, core.FINAL)
            made = project.archive(
                backup,
                self.cloud.archive_project(archive),
                f"{state.unit}-{application}-{env}-final-{backup.kind}-{at:%Y%m%dT%H%M%S}"[:255],
                labels,
            )
            entry = self._entry(
                Live(application, state.unit, env, BackupPolicy()),
                core.ARCHIVED,
                backup.kind,
                backup.id,
                at,
                source=backup.source,
                name=made.name,
                size=backup.size,
                checksum=backup.checksum,
                detail={
                    "project": archive,
                    "cloud": getattr(self.cloud, "name", None),
                    "archive_kind": made.kind,
                    "archive_id": made.id,
                    "until": until.isoformat(),
                    "days": days,
                    **{k: v for k, v in made.detail.items() if k == "object"},
                },
            )
            self.log.record([entry])
            out.append(_archived(entry))
        return out

    def expire_archive(self, at: dt.datetime, application: str | None = None) -> list[EnvironmentRun]:
        """Delete the archive copies of final backups whose period ended before ``at`` (recorded
        ``deleted``); the cloud is asked only when one is due."""
        runs = []
        for entry in core.archive_expired(self.log.archive_record(application), at):
            detail = entry.detail
            run = EnvironmentRun(entry.application, entry.environment, False, None, archive=str(detail["project"]))
            try:
                self.cloud.backups(str(detail["project"])).delete_archived(
                    str(detail["archive_kind"]), str(detail["archive_id"]), detail
                )
            except GovcloudError as exc:
                run.missed.append(f"archived final backup {entry.backup_id}: {exc}")
                self.log.record(
                    [
                        dataclasses.replace(
                            entry,
                            action=core.MISSED,
                            at=at,
                            actor=self.actor.name,
                            detail={"archive_id": detail["archive_id"], "error": str(exc)[:1000]},
                        )
                    ]
                )
            else:
                gone = StoredBackup(
                    str(detail["archive_kind"]),
                    str(detail["archive_id"]),
                    entry.name,
                    entry.backup_id,
                    core.COMPLETE,
                    entry.at,
                    entry.size,
                )
                run.deleted.append(gone)
                self.log.record(
                    [
                        dataclasses.replace(
                            entry,
                            action=core.DELETED,
                            at=at,
                            actor=self.actor.name,
                            detail={
                                "archive_id": detail["archive_id"],
                                "project": detail["project"],
                                "created": entry.at.isoformat(),
                                "reason": f"the final backup's archive period ended {detail['until']} "
                                f"(final_backup_retention_days {detail.get('days')})",
                            },
                        )
                    ]
                )
            runs.append(run)
        return runs

    def remove_offsite(self, application: str, at: dt.datetime, dry_run: bool = False) -> dict:
        """Reclamation (Art. 16): the application's project on the backup site removed with every
        copy in it, each recorded ``offsite-deleted``; the final backup is kept by the archive
        project, not at the site. ``dry_run``: what would go, nothing done or recorded. The site
        is not asked when the record holds no copy and ``govcloud.yaml`` names no site."""
        self._provider("removing the offsite copies")
        state = self.ledger.get_state(application)
        project_name = core.offsite_project(state.unit, application)
        kept = core.offsite_kept(self.log.entries(application))
        out: dict[str, Any] = {"site": self.site, "project": project_name, "copies": [], "removed": False}
        if self.site is None and not kept:
            return out
        site = self.site_cloud(application)
        if site.find_project(project_name) is None:
            return out
        copies = site.backups(project_name).offsite_copies()
        out["copies"] = [{"environment": c.labels.get("env", "-"), "kind": c.kind, "copy": c.id} for c in copies]
        if dry_run:
            return out
        out["removed"] = site.remove_project(project_name)
        if not out["removed"]:
            raise ExternalError(f"cloud {self.site}: project {project_name} is still there after its removal")
        self.log.record(
            [
                Entry(
                    application=application,
                    environment=c.labels.get("env", "-"),
                    action=core.OFFSITE_DELETED,
                    kind=c.kind,
                    backup_id=c.name,
                    at=at,
                    actor=self.actor.name,
                    source=c.source,
                    name=c.id,
                    size=c.size,
                    detail={
                        "site": self.site,
                        "project": project_name,
                        "copy": c.id,
                        "created": c.created.isoformat(),
                        "reason": "reclamation (Art. 16): the site project removed",
                    },
                )
                for c in copies
            ]
        )
        return out

    def drills_due(self, at: dt.datetime) -> list[str]:
        """The applications whose drill is due at ``at`` (Art. 44, quarterly): a live environment
        with backups enabled and no passed drill since the quarter began."""
        from orchestrator.core.report import quarter_start

        since, due_apps = quarter_start(at), []
        lives = live_environments(self.ledger)
        for application in sorted({x.application for x in lives}):
            passed = {
                e.environment
                for e in self.log.entries(application)
                if e.action == core.DRILL and since <= e.at <= at and e.detail.get("ok")
            }
            if any(x.environment not in passed for x in lives if x.application == application):
                due_apps.append(application)
        return due_apps

    def _find(self, lives: Iterable[Live], backup_id: str) -> tuple[StoredBackup, Any]:
        for live in lives:
            project = self.cloud.backups(live.project)
            for backup in project.backups():
                if backup.id == backup_id:
                    return backup, project
        raise NotFound(f"no live environment's project holds a backup {backup_id} (govcloud backup list)")

    # --- helpers -----------------------------------------------------------------------------

    def _provider(self, what: str) -> None:
        if self.actor.role != lc.PROVIDER:
            raise RuleError(f"{what} is for role provider, not {self.actor.role}", rule="role", article="Art. 30")

    def _entry(
        self, live: Live, action: str, kind: str | None, backup_id: str, at: dt.datetime, **fields: Any
    ) -> Entry:
        return Entry(
            application=live.application,
            environment=live.environment,
            action=action,
            kind=kind or "-",
            backup_id=backup_id or "-",
            at=at,
            actor=self.actor.name,
            **fields,
        )


def _offsite(entry: Entry) -> dict:
    """A copy on the backup site, from its ``offsite-copied`` row."""
    return {
        "backup": entry.backup_id,
        "kind": entry.kind,
        "environment": entry.environment,
        "taken": entry.at.isoformat(),
        "bytes": entry.size,
        "checksum": entry.checksum,
        **{k: entry.detail.get(k) for k in ("site", "project", "copy")},
    }


def _archived(entry: Entry) -> dict:
    return {"backup": entry.backup_id, "kind": entry.kind, "environment": entry.environment, **entry.detail}


def _now() -> dt.datetime:
    from orchestrator.services.lifecycle import beijing_now

    return beijing_now()


def open_service(actor: lc.Actor, cloud_name: str | None) -> BackupService:
    """The service over the configured ledger and cloud (connected on first use), for the CLI."""
    from orchestrator.adapters.backuplog import BackupLog
    from orchestrator.adapters.cloud import Cloud
    from orchestrator.adapters.ledger import Ledger

    ledger = Ledger.open()
    return BackupService(ledger, BackupLog(ledger.engine), Cloud.lazy(cloud_name), actor)
