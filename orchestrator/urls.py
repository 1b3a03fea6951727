"""Which URLs govcloud fetches keys, discovery documents or robot messages from."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


def secure_url(value: str) -> str:
    """``value`` if it is an ``https://`` URL with a host, or ``http://`` to a loopback address (the
    local Keycloak of the tests); else ValueError. Keys and discovery are fetched only from such."""
    try:
        url = urlsplit(value)
        host = url.hostname
    except ValueError as exc:
        raise ValueError(f"not a URL: {exc}") from exc
    if url.scheme == "https" and host:
        return value
    if url.scheme == "http" and host and _loopback(host):
        return value
    raise ValueError("must be an https:// URL (http:// only to a loopback address, for local tests)")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
