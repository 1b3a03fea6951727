"""Database access (docs/operations.md): each Trove instance reachable from its application's own
network only, set after ``up`` and checked on request (:mod:`orchestrator.core.dbaccess`)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from orchestrator.core import dbaccess, naming
from orchestrator.core.manifest import Application, Environment
from orchestrator.errors import ExternalError

if TYPE_CHECKING:
    from orchestrator.adapters.cloud import Cloud

#: How long Trove may take to rewrite an instance's security group after the access changed.
SETTLE_SECONDS = 60.0


def check(app: Application, env: Environment, cloud: Cloud) -> dict[str, Any]:
    """The databases' access as the manifest allows it vs as the cloud has it."""
    project = naming.project_name(app.unit, app.id, env)
    wanted = dbaccess.expected(app, env)
    found = cloud.database_access(project) if wanted else []
    problems = dbaccess.differences(wanted, found)
    return {"project": project, "expected": [a.as_dict() for a in wanted], "differences": problems, "ok": not problems}


def restrict(app: Application, env: Environment, cloud: Cloud, settle: float = SETTLE_SECONDS) -> dict[str, Any]:
    """Set Trove's access of every database of ``env`` that lets in more than the manifest
    allows, then wait until the cloud shows it; :class:`ExternalError` when it does not."""
    project = naming.project_name(app.unit, app.id, env)
    wanted = dbaccess.expected(app, env)
    if not wanted:
        return check(app, env, cloud)
    found = {o.instance: o for o in cloud.database_access(project)}
    for access in wanted:
        seen = found.get(access.instance)
        if seen is not None and dbaccess.differences([access], [seen]):
            cloud.set_database_access(project, seen.id, list(access.cidrs))
    deadline = time.monotonic() + settle
    while not (result := check(app, env, cloud))["ok"] and time.monotonic() < deadline:
        time.sleep(2)
    if not result["ok"]:
        raise ExternalError(
            f"database access of {project} not as the manifest allows after {settle:.0f} s: "
            + "; ".join(result["differences"])
        )
    return result
