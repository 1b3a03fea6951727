"""Hostile tokens, key sets and configurations: each is a clean refusal, never a traceback, and
none lets a token through. Configuration problems exit 2, the platform's failures 3, a token's
content 1 ("ID token refused: ...")."""

from __future__ import annotations

import base64
import json

import jwt
import pytest

from orchestrator.adapters.oidc import AuthenticationFailed
from orchestrator.errors import ExternalError
from orchestrator.services.identity import resolve_actor
from orchestrator.settings import OidcSettings, Settings, SettingsInvalid, load_settings
from tests.auth.conftest import AUDIENCE, ROLE_MAP, oidc_cli
from tests.conftest import EXAMPLES


def settings_with(platform, **oidc) -> Settings:
    return Settings(
        auth="oidc", oidc=OidcSettings(issuer=platform.issuer, audience=AUDIENCE, role_map=ROLE_MAP, **oidc)
    )


def present(settings: Settings, token: str, monkeypatch):
    monkeypatch.setenv("GOVCLOUD_ID_TOKEN", token)
    return resolve_actor(settings=settings)


# --- token content -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "claims, claim",
    [
        ({"govcloud_roles": 5}, "govcloud_roles"),
        ({"govcloud_roles": True}, "govcloud_roles"),
        ({"govcloud_roles": {"govcloud-egov": True}}, "govcloud_roles"),
        ({"govcloud_roles": [["govcloud-egov"]]}, "govcloud_roles"),
        ({"govcloud_roles": [{"govcloud-egov": 1}]}, "govcloud_roles"),
        ({"govcloud_roles": ["govcloud-unit"], "unit": {"id": "rsj"}}, "unit"),
        ({"govcloud_roles": ["govcloud-unit"], "unit": ["rsj"]}, "unit"),
        ({"preferred_username": 12345}, "preferred_username"),
    ],
    ids=["int-roles", "bool-roles", "dict-roles", "nested-list", "dict-in-list", "dict-unit", "list-unit", "int-name"],
)
def test_a_claim_of_the_wrong_type_refuses_the_token(platform, monkeypatch, claims, claim):
    token = platform.token(**claims)
    with pytest.raises(AuthenticationFailed, match=rf"ID token refused: claim '{claim}' must be") as refused:
        present(platform.settings, token, monkeypatch)
    assert refused.value.exit_code == 1


def _unsigned(header: dict, claims: dict, signature: bytes = b"x") -> str:
    part = lambda data: base64.urlsafe_b64encode(data).rstrip(b"=").decode()  # noqa: E731
    return ".".join([part(json.dumps(header).encode()), part(json.dumps(claims).encode()), part(signature)])


def test_a_token_whose_algorithm_does_not_fit_the_key_is_refused(platform, monkeypatch):
    """ES256 is allowed by default; a token claiming it under the platform's RSA key is refused."""
    claims = jwt.decode(platform.token(), options={"verify_signature": False})
    token = _unsigned({"alg": "ES256", "kid": "k1", "typ": "JWT"}, claims, b"\x00" * 64)
    with pytest.raises(AuthenticationFailed, match="ID token"):
        present(platform.settings, token, monkeypatch)


def test_an_hs256_token_keyed_with_the_public_key_is_refused(platform, monkeypatch):
    """The classic confusion: HMAC keyed with the published RSA key. HS* is not configurable."""
    from cryptography.hazmat.primitives import serialization

    public = platform.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    claims = jwt.decode(platform.token(), options={"verify_signature": False})
    import hashlib
    import hmac

    header = {"alg": "HS256", "kid": "k1", "typ": "JWT"}
    unsigned = _unsigned(header, claims).rsplit(".", 1)[0]
    signature = hmac.new(public, unsigned.encode(), hashlib.sha256).digest()
    token = unsigned + "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()
    with pytest.raises(AuthenticationFailed, match="ID token refused"):
        present(platform.settings, token, monkeypatch)


# --- the platform's key set ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, reason",
    [
        (("text/html", b"<html><body>Sign in</body></html>"), "not JSON"),
        (("application/json", b"[1, 2]"), "did not return a JSON object"),
        (("application/json", b'{"keys": "none"}'), "cannot use the platform's keys"),
        (("application/json", b'{"keys": []}'), "cannot use the platform's keys"),
        (("application/json", b'{"keys": [{"kty": "RSA"}]}'), "cannot use the platform's keys"),
    ],
    ids=["html", "json-list", "keys-string", "no-keys", "broken-key"],
)
def test_a_key_set_that_is_not_one_is_the_platforms_failure(platform, monkeypatch, body, reason):
    path = f"/jwks-{abs(hash(body))}"
    platform.documents[path] = body
    settings = settings_with(platform, jwks_uri=platform.issuer + path)
    with pytest.raises(ExternalError, match=reason) as failed:
        present(settings, platform.token(), monkeypatch)
    assert failed.value.exit_code == 3 and platform.issuer + path in str(failed.value)


@pytest.mark.parametrize(
    "document, reason",
    [
        ({"issuer": "x", "jwks_uri": "file:///etc/passwd"}, "must be an https:// URL"),
        ({"issuer": "x", "jwks_uri": "http://sso.example.org/certs"}, "must be an https:// URL"),
        ({"issuer": "x", "jwks_uri": 7}, "no usable jwks_uri"),
        ({"issuer": "x"}, "no usable jwks_uri"),
        (("application/json", b'["jwks_uri"]'), "no usable jwks_uri"),
        (("text/html", b"<html></html>"), "cannot read the platform's OpenID configuration"),
    ],
    ids=["file", "plain-http", "not-a-string", "missing", "json-list", "html"],
)
def test_discovery_that_names_no_safe_key_set_is_refused(platform, monkeypatch, document, reason):
    base = f"/realm-{abs(hash(str(document)))}"
    platform.documents[base + "/.well-known/openid-configuration"] = document
    settings = Settings(
        auth="oidc", oidc=OidcSettings(issuer=platform.issuer + base, audience=AUDIENCE, role_map=ROLE_MAP)
    )
    with pytest.raises(ExternalError, match=reason) as failed:
        present(settings, platform.token(), monkeypatch)
    assert failed.value.exit_code == 3


def test_the_key_set_answering_html_is_one_line_through_the_cli(platform, tmp_path, monkeypatch):
    platform.documents["/html-jwks"] = ("text/html", b"<!doctype html><title>proxy login</title>")
    run = oidc_cli(tmp_path, monkeypatch, platform.issuer, AUDIENCE, jwks_uri=platform.issuer + "/html-jwks")
    result = run(
        "app", "submit", str(EXAMPLES / "social-security.yaml"), token=platform.token(["govcloud-unit"], unit="rsj")
    )
    assert result.exit_code == 3 and "Traceback" not in result.output
    assert (
        result.stderr.strip()
        == f"error: cannot use the platform's keys at {platform.issuer}/html-jwks: the answer is not JSON"
    )


# --- the configuration ---------------------------------------------------------------------------

BASE = (
    "auth: oidc\noidc:\n  issuer: https://sso.example.org/realms/gov\n  audience: govcloud-cli\n"
    "  roleMap: {govcloud-egov: egov-office}\n"
)


@pytest.mark.parametrize(
    "extra, field, words",
    [
        ("  algorithms: [HS256, RS256]\n", "oidc.algorithms[0]", "'HS256'"),
        ("  algorithms: [none]\n", "oidc.algorithms[0]", "'none'"),
        ("  algorithms: [HS512]\n", "oidc.algorithms[0]", "'HS512'"),
        ("  algorithms: []\n", "oidc.algorithms", "must not be empty"),
        ("  jwksUri: file:///etc/govcloud/jwks.json\n", "oidc.jwksUri", "https://"),
        ("  jwksUri: http://sso.example.org/certs\n", "oidc.jwksUri", "loopback"),
        ("  jwksUri: ftp://sso.example.org/certs\n", "oidc.jwksUri", "https://"),
        ("  jwksUri: 'https://'\n", "oidc.jwksUri", "https://"),
        ("  jwksUri: 'http://[::1'\n", "oidc.jwksUri", "not a URL"),
        ("  leewaySeconds: '30'\n", "oidc.leewaySeconds", "valid integer"),
        ("  leewaySeconds: true\n", "oidc.leewaySeconds", "valid integer"),
        ("  roleClaim: ''\n", "oidc.roleClaim", "at least 1 character"),
        ("  roleClaim: 5\n", "oidc.roleClaim", "valid string"),
        ("  surplus: 1\n", "oidc.surplus", "unknown field"),
    ],
    ids=[
        "hs256-mixed",
        "none",
        "hs512",
        "empty",
        "file-jwks",
        "http-remote",
        "ftp",
        "no-host",
        "bad-url",
        "string-leeway",
        "bool-leeway",
        "empty-claim",
        "int-claim",
        "unknown-key",
    ],
)
def test_unsafe_or_wrong_configuration_is_refused_at_load_time(run_cli, tmp_path, monkeypatch, extra, field, words):
    from orchestrator.settings import current_settings

    path = tmp_path / "govcloud.yaml"
    path.write_text(BASE + extra)
    with pytest.raises(SettingsInvalid) as caught:
        load_settings(path)
    [problem] = caught.value.problems
    assert problem.field == field and words in problem.message and problem.line == 6
    monkeypatch.setenv("GOVCLOUD_CONFIG", str(path))
    current_settings.cache_clear()
    result = run_cli("app", "accept", "social-security")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.stderr.startswith(f"error: invalid configuration: {path}:line 6: {field}:")


@pytest.mark.parametrize(
    "issuer, allowed",
    [
        ("https://sso.example.org/realms/gov", True),
        ("http://127.0.0.1:8180/realms/government", True),  # the local Keycloak of tests/platform
        ("http://localhost:8180/realms/government", True),
        ("http://[::1]:8180/realms/government", True),
        ("http://sso.example.org/realms/gov", False),
        ("http://10.0.0.5/realms/gov", False),
        ("file:///realms/gov", False),
        ("sso.example.org", False),
    ],
)
def test_issuer_is_https_or_loopback_http(tmp_path, issuer, allowed):
    path = tmp_path / "govcloud.yaml"
    path.write_text(BASE.replace("https://sso.example.org/realms/gov", issuer))
    if allowed:
        assert load_settings(path).oidc.issuer == issuer
    else:
        with pytest.raises(SettingsInvalid, match=r"oidc.issuer: must be an https:// URL"):
            load_settings(path)


def test_every_problem_of_the_settings_file_is_named_at_once(tmp_path):
    path = tmp_path / "govcloud.yaml"
    path.write_text("auth: oidc\nsource: me\noidc:\n  issuer: http://sso.example.org\n  audience: 5\n  roleMap: {}\n")
    with pytest.raises(SettingsInvalid) as caught:
        load_settings(path)
    assert [p.field for p in caught.value.problems] == ["source", "oidc.issuer", "oidc.audience", "oidc.roleMap"]
