"""Who is acting: from a verified ID token (``auth: oidc``) or, in development, --as/--role."""

from __future__ import annotations

import os
from pathlib import Path

from orchestrator import files
from orchestrator.core.lifecycle import Actor
from orchestrator.errors import UsageError
from orchestrator.settings import Settings, current_settings

TOKEN_ENV = "GOVCLOUD_ID_TOKEN"  # noqa: S105 (the variable's name, not a token)


def resolve_actor(
    name: str | None = None,
    role: str | None = None,
    unit: str | None = None,
    token_file: Path | None = None,
    settings: Settings | None = None,
) -> Actor:
    """The actor of a lifecycle command; the ledger records ``actor.source`` beside it."""
    settings = settings or current_settings()
    token = (
        files.read_text(token_file, limit=files.MAX_TOKEN_BYTES, what="ID token")
        if token_file
        else os.environ.get(TOKEN_ENV)
    )
    if settings.auth == "local" and not token:
        return Actor(
            name=name or os.environ.get("GOVCLOUD_ACTOR", ""),
            role=role or os.environ.get("GOVCLOUD_ROLE", ""),
            unit=unit or os.environ.get("GOVCLOUD_UNIT") or None,
            source="local",
        )
    if settings.oidc is None:
        raise UsageError(
            f"{settings.source}: no unified-authentication platform configured: set oidc.issuer, "
            "oidc.audience and oidc.roleMap, or 'auth: local' for development"
        )
    if settings.auth == "oidc" and (name or unit):
        raise UsageError("--as and --unit are honoured only with 'auth: local'; the ID token names the actor")
    if not token:
        raise UsageError(f"no ID token: set {TOKEN_ENV} or pass --id-token-file (auth: oidc)")
    from orchestrator.adapters.oidc import actor_from_token

    return actor_from_token(token, settings.oidc, role)
