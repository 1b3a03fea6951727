"""What the portal needs to start, from the settings and the environment; refused with one
sentence when it could not serve safely."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass

from orchestrator.errors import UsageError
from orchestrator.settings import OidcSettings, Settings

CLIENT_ID_ENV = "GOVCLOUD_PORTAL_CLIENT_ID"
CLIENT_SECRET_ENV = "GOVCLOUD_PORTAL_CLIENT_SECRET"  # noqa: S105 (the variable's name, not a secret)
SESSION_KEY_ENV = "GOVCLOUD_PORTAL_SESSION_KEY"
DEV_FLAG = "--dev-insecure-local-auth"


@dataclass(frozen=True)
class PortalConfig:
    """``dev_local``: ``auth: local``, the actor chosen on a form (development only). Otherwise the
    browser signs in through ``client_id`` of the platform and the API takes bearer tokens."""

    settings: Settings
    session_key: str
    dev_local: bool = False
    client_id: str = "govcloud-portal"
    client_secret: str | None = None
    database_url: str | None = None
    secure_cookies: bool = True  #: the session cookie only over TLS

    @property
    def oidc(self) -> OidcSettings:
        assert self.settings.oidc is not None  # narrowing: checked at start-up
        return self.settings.oidc

    @property
    def login_oidc(self) -> OidcSettings:
        """The verifier's settings for the ID tokens the browser login brings (issued to the portal)."""
        return self.oidc.model_copy(update={"audience": self.client_id})


def load_config(settings: Settings, dev_local: bool, environ: dict[str, str] | None = None) -> PortalConfig:
    """The portal's configuration, or :class:`UsageError` naming what is missing."""
    env = os.environ if environ is None else environ
    key = env.get(SESSION_KEY_ENV, "")
    if settings.auth == "local":
        if not dev_local:
            raise UsageError(
                f"{settings.source}: 'auth: local' trusts whoever says who they are; the portal serves it only "
                f"for development, started with {DEV_FLAG}. In production set 'auth: oidc' (docs/portal.md)"
            )
        return PortalConfig(settings, key or secrets.token_urlsafe(32), dev_local=True, secure_cookies=False)
    if dev_local:
        raise UsageError(f"{DEV_FLAG} is for 'auth: local'; {settings.source} says 'auth: oidc'")
    if settings.oidc is None:
        raise UsageError(f"{settings.source}: 'auth: oidc' needs the oidc section (issuer, audience, roleMap)")
    if len(key) < 32:
        raise UsageError(
            f"set {SESSION_KEY_ENV} to a random secret of at least 32 characters (the session cookie's "
            "signing key, the same in every worker)"
        )
    secret = env.get(CLIENT_SECRET_ENV)
    if not secret:
        raise UsageError(
            f"set {CLIENT_SECRET_ENV}: the secret of the portal's client in the platform "
            f"({env.get(CLIENT_ID_ENV, 'govcloud-portal')})"
        )
    return PortalConfig(
        settings,
        key,
        client_id=env.get(CLIENT_ID_ENV, "govcloud-portal"),
        client_secret=secret,
        secure_cookies=env.get("GOVCLOUD_PORTAL_INSECURE_HTTP") != "1",
    )
