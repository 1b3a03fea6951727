"""The final backup of a termination (Art. 16): the backups the unit names when it confirms its data
is backed up, checked against the ledger's backup record and (where the cloud is configured) the
cloud; read back by retention, which spares them, and by reclamation, which archives them. Apart
from :mod:`orchestrator.services.backup` because the lifecycle's confirm-backup step uses it."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from orchestrator.core import backups as core
from orchestrator.core import lifecycle as lc
from orchestrator.core import naming
from orchestrator.errors import NotFound, RuleError


def confirmed_final(events: Iterable[lc.Event]) -> list[dict]:
    """The final backups named by the application's latest backup confirmation (Art. 16)."""
    latest = None
    for event in events:
        if event.type == lc.BACKUP_CONFIRMED:
            latest = event
    return list(latest.payload.get("backups", [])) if latest else []


def check_final(log: Any, ledger: Any, application: str, backup_ids: Iterable[str], cloud: Any) -> list[dict]:
    """The backups ``backup_ids`` as the unit names them at termination (Art. 16), each checked:
    in the ledger's record, of ``application``, complete and not deleted
    (:func:`orchestrator.core.backups.final_backup`), and, when a cloud is configured (``cloud``),
    still held complete by its environment's project. :class:`RuleError` naming the rule otherwise."""
    out = []
    for backup_id in dict.fromkeys(backup_ids):
        taken = core.final_backup(application, backup_id, log.of_backup(backup_id))
        named = {
            "id": taken.backup_id,
            "kind": taken.kind,
            "environment": taken.environment,
            "source": taken.source,
            "size": taken.size,
            "taken": taken.at.isoformat(),
        }
        if cloud is not None:
            project = naming.project_name(ledger.get_state(application).unit, application, taken.environment)
            try:
                stored = cloud.backups(project).get(backup_id)
            except NotFound:
                raise RuleError(
                    f"backup {backup_id} of {application} is no longer in the cloud (project {project})",
                    rule="final-backup-exists",
                    article="Art. 16",
                ) from None
            if stored.status != core.COMPLETE:
                raise RuleError(
                    f"backup {backup_id} of {application} is {stored.status} in the cloud, not complete",
                    rule="final-backup-complete",
                    article="Art. 16",
                )
            named["verified_in_cloud"] = True
        out.append(named)
    return out


def configured_cloud() -> Any:
    """The cloud named by ``OS_CLOUD`` (connected on first use), or None when none is named."""
    from orchestrator.adapters.cloud import Cloud

    name = os.environ.get("OS_CLOUD")
    return Cloud.lazy(name) if name else None
