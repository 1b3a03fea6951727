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
        self.settings = Settings(
            auth="oidc", oidc=OidcSettings(issuer=issuer, audience=AUDIENCE, role_map=ROLE_MAP)
        )

    def token(self, roles=("govcloud-egov",), *, key=None, kid=None, **overrides) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer, "aud": AUDIENCE, "sub": "u-1", "iat": now, "exp": now + 300,
            "preferred_username": "wang.egov", "govcloud_roles": list(roles), "unit": "zwb",
        } | overrides
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers={"kid": kid or self.kid})


@pytest.fixture(scope="session")
def platform():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key())) | {"kid": "k1", "use": "sig", "alg": "RS256"}
    documents: dict[str, dict] = {"/jwks": {"keys": [jwk]}}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = documents.get(self.path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps(body or {}).encode())

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    issuer = f"http://127.0.0.1:{server.server_port}"
    documents["/.well-known/openid-configuration"] = {"issuer": issuer, "jwks_uri": issuer + "/jwks"}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Platform(issuer, key)
    server.shutdown()
