"""The unified authentication platform as the CLI sees it: verifying operators' ID tokens.

A token is accepted only if its signature verifies against a key of the issuer's JWKS (found
through OpenID discovery unless ``jwksUri`` is configured; https only, or http to loopback), with
that key's own algorithm, and its issuer, audience and expiry are right. The actor's role comes
from the configured claim through ``roleMap``; claims of the wrong type refuse the token.
"""

from __future__ import annotations

import functools
from typing import Any

from orchestrator.core.lifecycle import UNIT, Actor
from orchestrator.errors import ExternalError, GovcloudError
from orchestrator.settings import OidcSettings
from orchestrator.urls import secure_url


class AuthenticationFailed(GovcloudError):
    """An ID token was refused; nothing is recorded."""

    exit_code = 1


def actor_from_token(token: str, settings: OidcSettings, role: str | None = None) -> Actor:
    """The actor a valid ID token names; ``role`` picks one when the token maps to several."""
    import jwt

    token = token.strip()
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise AuthenticationFailed(f"ID token is malformed: {exc}") from exc
    key = _signing_key(settings, header.get("kid"))
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=settings.algorithms,
            audience=settings.audience,
            issuer=settings.issuer,
            leeway=settings.leeway_seconds,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise AuthenticationFailed("ID token has expired: sign in to the platform again") from exc
    except jwt.InvalidAudienceError as exc:
        raise AuthenticationFailed(f"ID token is not for {settings.audience!r} (wrong audience)") from exc
    except jwt.InvalidIssuerError as exc:
        raise AuthenticationFailed(f"ID token was not issued by {settings.issuer} (wrong issuer)") from exc
    except jwt.InvalidSignatureError as exc:
        raise AuthenticationFailed("ID token signature does not verify") from exc
    except jwt.PyJWTError as exc:
        raise AuthenticationFailed(f"ID token refused: {exc}") from exc
    return _actor(claims, settings, role)


def _actor(claims: dict[str, Any], settings: OidcSettings, wanted: str | None) -> Actor:
    values = claims.get(settings.role_claim) or []
    values = [values] if isinstance(values, str) else values
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise AuthenticationFailed(
            f"ID token refused: claim {settings.role_claim!r} must be a string or a list of strings"
        )
    roles = sorted({settings.role_map[v] for v in values if v in settings.role_map})
    if wanted:
        if wanted not in roles:
            raise AuthenticationFailed(
                f"the ID token does not grant role {wanted!r} (it grants: {', '.join(roles) or 'none'})"
            )
        roles = [wanted]
    if len(roles) != 1:
        raise AuthenticationFailed(
            f"the ID token grants {'no govcloud role' if not roles else 'several roles: ' + ', '.join(roles)}"
            f" (claim {settings.role_claim!r}); "
            f"{'pick one with --role' if roles else 'ask the platform administrators'}"
        )
    unit, name = claims.get(settings.unit_claim), claims.get(settings.name_claim) or claims["sub"]
    for claim, value in ((settings.unit_claim, unit), (settings.name_claim, name)):
        if value is not None and not isinstance(value, str):
            raise AuthenticationFailed(f"ID token refused: claim {claim!r} must be a string")
    if roles[0] == UNIT and not unit:
        raise AuthenticationFailed(f"a unit's ID token must carry its unit in claim {settings.unit_claim!r}")
    return Actor(name=name, role=roles[0], unit=unit or None, source="oidc")


def _signing_key(settings: OidcSettings, kid: Any) -> Any:
    """The platform's key for ``kid``. A key set that cannot be fetched or is not a JSON Web Key Set
    is the platform's failure (exit 3); a ``kid`` it does not publish is the token's (exit 1)."""
    import jwt

    client = _jwks_client(settings.jwks_uri or _discovered_jwks_uri(settings.issuer))
    try:
        found = _match(client.get_signing_keys(), kid)  # cached for the client's lifespan
        if found is None:  # the platform may have rotated its keys: fetch once more
            found = _match(client.get_signing_keys(refresh=True), kid)
    except (jwt.PyJWKClientError, jwt.PyJWKSetError, ValueError) as exc:  # ValueError: the body is not JSON
        reason = "the answer is not JSON" if isinstance(exc, ValueError) else str(exc)
        raise ExternalError(f"cannot use the platform's keys at {client.uri}: {reason}"[:300]) from exc
    if found is None:
        raise AuthenticationFailed(f"ID token signed with a key the platform does not publish (kid {str(kid)[:64]!r})")
    return found  # a PyJWK: decode verifies with its own algorithm and refuses a token naming another


def _match(keys: list, kid: Any) -> Any:
    return next((k for k in keys if k.key_id == kid), None) if kid else keys[0]


@functools.cache
def _jwks_client(uri: str) -> Any:
    import jwt

    return jwt.PyJWKClient(uri, cache_keys=True, lifespan=300, timeout=10)


@functools.cache
def _discovered_jwks_uri(issuer: str) -> str:
    """The ``jwks_uri`` of the issuer's OpenID configuration; https (or loopback http) only."""
    import json
    import urllib.request

    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (issuer checked by secure_url)
            document = json.load(response)
    except (OSError, ValueError) as exc:
        raise ExternalError(f"cannot read the platform's OpenID configuration at {url}: {exc}") from exc
    jwks_uri = document.get("jwks_uri") if isinstance(document, dict) else None
    try:
        return secure_url(jwks_uri) if isinstance(jwks_uri, str) else secure_url("")
    except ValueError as exc:
        raise ExternalError(f"the platform's OpenID configuration at {url} names no usable jwks_uri: {exc}") from exc
