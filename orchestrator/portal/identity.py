"""Who acts in a request: a bearer token verified exactly as the CLI verifies ID tokens, a session
the portal signed after verifying the platform's ID token, or (``--dev-insecure-local-auth`` only)
an actor chosen by hand. Nothing else is believed."""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from fastapi import Request

from orchestrator.adapters.oidc import AuthenticationFailed, actor_from_token
from orchestrator.core.lifecycle import Actor
from orchestrator.portal.config import PortalConfig


def api_actor(request: Request) -> Actor:
    """The actor of an API request: ``Authorization: Bearer <token>`` (``X-Govcloud-Role`` picks one
    role of a token that grants several); under the development flag, ``X-Govcloud-As``,
    ``X-Govcloud-Role`` and ``X-Govcloud-Unit`` as ``--as/--role/--unit``."""
    config: PortalConfig = request.app.state.config
    headers = request.headers
    if config.dev_local:
        return Actor(
            name=headers.get("x-govcloud-as", ""),
            role=headers.get("x-govcloud-role", ""),
            unit=headers.get("x-govcloud-unit") or None,
            source="local",
        )
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationFailed("no bearer token: send Authorization: Bearer <the platform's token>")
    return actor_from_token(token, config.oidc, headers.get("x-govcloud-role") or None)


def session_actor(request: Request) -> Actor | None:
    """The actor the portal put in the (signed) session at sign-in, if any."""
    data = request.session.get("actor")
    return Actor(**data) if isinstance(data, dict) else None


def sign_in(request: Request, actor: Actor, id_token: str | None = None) -> None:
    request.session.clear()
    request.session["actor"] = {"name": actor.name, "role": actor.role, "unit": actor.unit, "source": actor.source}
    if id_token:
        request.session["id_token"] = id_token  # the hint that ends the platform's session at logout
    csrf_token(request)


def login_actor(config: PortalConfig, id_token: str, role: str | None = None) -> Actor:
    """The actor of the ID token the login brought back, verified as the CLI verifies one (issued
    to the portal's client)."""
    return actor_from_token(id_token, config.login_oidc, role)


def csrf_token(request: Request) -> str:
    """The session's anti-forgery token, made on first use; every form carries it."""
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


def csrf_ok(request: Request, form: Any) -> bool:
    sent, held = form.get("csrf") or "", request.session.get("csrf") or ""
    return bool(held) and hmac.compare_digest(str(sent), held)
