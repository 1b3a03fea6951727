"""A token's unit claim is a unit id like any other, and its ``preferred_username`` is stored as
given and shown escaped (issue 15: disguised units, history forging)."""

from __future__ import annotations

import json

import pytest

from tests.auth.conftest import AUDIENCE, oidc_cli
from tests.conftest import EXAMPLES

MANIFEST = str(EXAMPLES / "social-security.yaml")  # unit rsj


@pytest.fixture
def run(platform, tmp_path, monkeypatch):
    return oidc_cli(tmp_path, monkeypatch, platform.issuer, AUDIENCE, jwks_uri=f"{platform.issuer}/jwks")


def _submitted(run, platform) -> None:
    unit = platform.token(["govcloud-unit"], unit="rsj", preferred_username="zhaogang\nsocial-security #2 accepted")
    assert run("app", "submit", MANIFEST, "--at", "2026-02-12T10:00", token=unit).exit_code == 0


@pytest.mark.parametrize("claim", ["RSJ", " rsj", "rsj "])
def test_an_office_token_of_a_disguised_unit_cannot_decide_for_it(run, platform, claim):
    _submitted(run, platform)
    office = platform.token(["govcloud-egov"], unit=claim, preferred_username="mole")
    result = run("app", "accept", "social-security", "--at", "2026-02-13T10:00", token=office)
    assert result.exit_code == 1 and "mole (rsj) may not decide on a request of their own unit rsj" in result.stderr


def test_a_malformed_unit_claim_is_refused_naming_the_claim(run, platform):
    _submitted(run, platform)
    office = platform.token(["govcloud-egov"], unit="r s j", preferred_username="mole")
    result = run("app", "accept", "social-security", "--at", "2026-02-13T10:00", token=office)
    assert result.exit_code == 2 and "the ID token's unit claim 'r s j' is not a unit id" in result.stderr


def test_a_username_with_a_newline_is_kept_and_shown_on_one_line(run, platform):
    _submitted(run, platform)
    events = json.loads(run("app", "history", "social-security", "-o", "json").stdout)
    assert events[0]["actor"] == "zhaogang\nsocial-security #2 accepted"
    shown = run("app", "history", "social-security").stdout
    assert shown.splitlines() == [
        "social-security #1 submitted by zhaogang\\nsocial-security #2 accepted (unit) at 2026-02-12T10:00:00"
    ]
