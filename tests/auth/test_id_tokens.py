"""Operators are known by ID tokens the platform signed: each bad token is refused clearly."""

from __future__ import annotations

import time

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from orchestrator.adapters.oidc import AuthenticationFailed
from orchestrator.errors import UsageError
from orchestrator.services.identity import resolve_actor
from orchestrator.settings import Settings, load_settings


def actor(platform, token, role=None, tmp_path=None):
    return resolve_actor(role=role, settings=platform.settings, token_file=_write(tmp_path, token))


def _write(tmp_path, token):
    path = tmp_path / "token"
    path.write_text(token + "\n")
    return path


def test_valid_token_names_the_actor(platform, tmp_path):
    who = actor(platform, platform.token(), tmp_path=tmp_path)
    assert (who.name, who.role, who.source) == ("wang.egov", "egov-office", "oidc")


def test_unit_token_carries_its_unit(platform, tmp_path):
    who = actor(platform, platform.token(["govcloud-unit"], unit="sjj"), tmp_path=tmp_path)
    assert (who.role, who.unit) == ("unit", "sjj")


def test_token_from_the_environment(platform, monkeypatch):
    monkeypatch.setenv("GOVCLOUD_ID_TOKEN", platform.token(["govcloud-provider"]))
    assert resolve_actor(settings=platform.settings).role == "provider"


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p.token(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200), "expired"),
        (lambda p: p.token(aud="another-app"), "wrong audience"),
        (lambda p: p.token(iss="https://evil.example"), "wrong issuer"),
        (
            lambda p: p.token(key=rsa.generate_private_key(public_exponent=65537, key_size=2048)),
            "signature does not verify",
        ),
        (lambda p: p.token(kid="k-unknown"), "key the platform does not publish"),
        (lambda p: p.token(roles=["someone-else"]), "no govcloud role"),
        (lambda p: p.token(roles=["govcloud-unit"], unit=None), "must carry its unit"),
        (lambda p: "not.a.jwt", "malformed"),
    ],
    ids=["expired", "audience", "issuer", "signature", "unknown-kid", "no-role", "unit-without-unit", "garbage"],
)
def test_bad_tokens_are_refused(platform, tmp_path, make, message):
    with pytest.raises(AuthenticationFailed, match=message) as refused:
        actor(platform, make(platform), tmp_path=tmp_path)
    assert refused.value.exit_code == 1


def test_several_roles_need_a_choice(platform, tmp_path):
    token = platform.token(["govcloud-egov", "govcloud-provider"])
    with pytest.raises(AuthenticationFailed, match="several roles"):
        actor(platform, token, tmp_path=tmp_path)
    assert actor(platform, token, role="provider", tmp_path=tmp_path).role == "provider"
    with pytest.raises(AuthenticationFailed, match="does not grant role 'unit'"):
        actor(platform, token, role="unit", tmp_path=tmp_path)


def test_as_is_refused_under_oidc(platform):
    with pytest.raises(UsageError, match="only with 'auth: local'"):
        resolve_actor(name="me", role="egov-office", settings=platform.settings)


def test_missing_token_under_oidc(platform, monkeypatch):
    monkeypatch.delenv("GOVCLOUD_ID_TOKEN", raising=False)
    with pytest.raises(UsageError, match="GOVCLOUD_ID_TOKEN"):
        resolve_actor(settings=platform.settings)


def test_local_mode_trusts_as_and_role(monkeypatch):
    monkeypatch.delenv("GOVCLOUD_ID_TOKEN", raising=False)
    who = resolve_actor(name="li", role="unit", unit="zwb", settings=Settings(auth="local"))
    assert (who.name, who.role, who.unit, who.source) == ("li", "unit", "zwb", "local")


def test_no_platform_configured_says_how(monkeypatch):
    monkeypatch.delenv("GOVCLOUD_ID_TOKEN", raising=False)
    with pytest.raises(UsageError, match="auth: local' for development"):
        resolve_actor(settings=Settings())


def test_settings_file_errors_name_file_line_and_field(tmp_path):
    path = tmp_path / "govcloud.yaml"
    path.write_text("auth: oidc\noidc:\n  issuer: sso.example\n  audience: x\n  roleMap: {}\n")
    with pytest.raises(UsageError, match=r"govcloud.yaml:line 3: oidc.issuer"):
        load_settings(path)
    path.write_text("auth: ldap\n")
    with pytest.raises(UsageError, match="line 1: auth"):
        load_settings(path)
