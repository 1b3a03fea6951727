"""Lifecycle commands under ``auth: oidc``: the token names the actor; refusals write nothing."""

from __future__ import annotations

import json

import pytest

from tests.auth.conftest import AUDIENCE, oidc_cli
from tests.conftest import EXAMPLES

MANIFEST = str(EXAMPLES / "social-security.yaml")


@pytest.fixture
def run(platform, tmp_path, monkeypatch):
    return oidc_cli(tmp_path, monkeypatch, platform.issuer, AUDIENCE, jwks_uri=f"{platform.issuer}/jwks")


def history(run):
    result = run("app", "history", "social-security", "-o", "json")
    return json.loads(result.stdout) if result.exit_code == 0 else []


def test_steps_record_the_token_actor_and_how_it_was_known(run, platform):
    unit = platform.token(["govcloud-unit"], unit="rsj", preferred_username="zhaogang")
    assert run("app", "submit", MANIFEST, "--at", "2026-02-12T10:00", token=unit).exit_code == 0
    office = platform.token(["govcloud-egov"], unit="egov", preferred_username="zhang")
    assert run("app", "accept", "social-security", "--at", "2026-02-13T10:00", token=office).exit_code == 0
    events = history(run)
    assert [(e["actor"], e["actor_role"], e["actor_source"]) for e in events] == [
        ("zhaogang", "unit", "oidc"),
        ("zhang", "egov-office", "oidc"),
    ]


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p.token(["govcloud-unit"], unit="rsj"), "role"),
        (lambda p: p.token(["govcloud-egov"], aud="other"), "wrong audience"),
        (lambda p: p.token(["govcloud-egov"], exp=1, iat=0), "expired"),
    ],
    ids=["unit-tries-office-action", "wrong-audience", "expired"],
)
def test_refused_tokens_write_nothing(run, platform, make, message):
    unit = platform.token(["govcloud-unit"], unit="rsj")
    assert run("app", "submit", MANIFEST, "--at", "2026-02-12T10:00", token=unit).exit_code == 0
    result = run("app", "accept", "social-security", "--at", "2026-02-13T10:00", token=make(platform))
    assert result.exit_code == 1
    assert message in result.stderr and "Traceback" not in result.output
    assert [e["type"] for e in history(run)] == ["submitted"]


def test_as_and_role_are_refused_under_oidc(run):
    result = run("app", "submit", MANIFEST, "--as", "me", "--role", "unit", "--unit", "rsj")
    assert result.exit_code == 2 and "auth: local" in result.stderr
    assert history(run) == []
