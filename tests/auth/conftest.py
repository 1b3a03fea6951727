"""A unified-authentication platform on loopback: a signing key pair and its JWKS over HTTP."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from orchestrator.settings import OidcSettings, Settings

AUDIENCE = "govcloud-cli"
ROLE_MAP = {"govcloud-egov": "egov-office", "govcloud-provider": "provider", "govcloud-unit": "unit"}


class Platform:
    def __init__(self, issuer: str, key, kid: str = "k1") -> None:
        self.issuer, self.key, self.kid = issuer, key, kid
        self.settings = Settings(auth="oidc", oidc=OidcSettings(issuer=issuer, audience=AUDIENCE, role_map=ROLE_MAP))

    def token(self, roles=("govcloud-egov",), *, key=None, kid=None, **overrides) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": AUDIENCE,
            "sub": "u-1",
            "iat": now,
            "exp": now + 300,
            "preferred_username": "wang.egov",
            "govcloud_roles": list(roles),
            "unit": "zwb",
        } | overrides
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers={"kid": kid or self.kid})


@pytest.fixture(scope="session")
def platform():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key())) | {"kid": "k1", "use": "sig", "alg": "RS256"}
    documents: dict[str, dict | tuple[str, bytes]] = {"/jwks": {"keys": [jwk]}}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = documents.get(self.path)
            kind, raw = body if isinstance(body, tuple) else ("application/json", json.dumps(body or {}).encode())
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", kind)
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    issuer = f"http://127.0.0.1:{server.server_port}"
    documents["/.well-known/openid-configuration"] = {"issuer": issuer, "jwks_uri": issuer + "/jwks"}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    platform = Platform(issuer, key)
    platform.documents = documents  # a test may serve more: a dict as JSON, or (content type, bytes)
    yield platform
    server.shutdown()


def oidc_cli(tmp_path, monkeypatch, issuer: str, audience: str, jwks_uri: str | None = None):
    """The CLI under ``auth: oidc`` (the platform ``issuer``, a fresh ledger, no local actor);
    returns ``invoke(*args, token=None)``, which presents ``token`` as ``GOVCLOUD_ID_TOKEN``."""
    from click.testing import CliRunner

    from orchestrator.cli import cli, register_commands
    from orchestrator.settings import current_settings

    config = tmp_path / "govcloud.yaml"
    config.write_text(
        f"auth: oidc\noidc:\n  issuer: {issuer}\n  audience: {audience}\n"
        + (f"  jwksUri: {jwks_uri}\n" if jwks_uri else "")
        + "  roleMap: {govcloud-egov: egov-office, govcloud-provider: provider, govcloud-unit: unit}\n"
    )
    monkeypatch.setenv("GOVCLOUD_CONFIG", str(config))
    monkeypatch.setenv("GOVCLOUD_DATABASE_URL", f"sqlite:///{tmp_path / 'ledger.db'}")
    for name in ("GOVCLOUD_ACTOR", "GOVCLOUD_ROLE", "GOVCLOUD_UNIT"):
        monkeypatch.delenv(name, raising=False)
    current_settings.cache_clear()
    register_commands()
    runner = CliRunner()

    def invoke(*args: str, token: str | None = None):
        env = {"GOVCLOUD_ID_TOKEN": token} if token else {}
        return runner.invoke(cli, list(args), env=env, catch_exceptions=False)

    return invoke
