"""A few campaign inputs through the real console entry point, as separate processes: the exit code
and the one message survive the fast exit (``cli.leave``), and no process outlives its bound."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given

from orchestrator.core.yamlsource import load
from tests.campaign.conftest import examples
from tests.campaign.hostile import dump, mutated
from tests.conftest import EXAMPLES, ROOT

ENTRY = "import sys; sys.argv[0] = 'govcloud'; from orchestrator.cli import main; main()"
POLICY = load((ROOT / "quotas" / "policy.yaml").read_bytes())
MANIFEST = str(EXAMPLES / "social-security.yaml")


def govcloud(*args: str, **env: str) -> subprocess.CompletedProcess:
    base = {"PATH": "/usr/bin:/bin", "GOVCLOUD_CONFIG": str(ROOT / "govcloud.yaml"), "HOME": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", ENTRY, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=base | env,
        check=False,
    )


def refused(done: subprocess.CompletedProcess, code: int, prefix: str) -> None:
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr and done.stderr.startswith(prefix), done.stderr


@examples(3)
@given(mutated(POLICY, safe_keys=True))
def test_mutated_policies_in_a_process(tmp_path_factory, case):
    path = tmp_path_factory.mktemp("policy") / "policy.yaml"
    path.write_bytes(dump(case[0]))
    done = govcloud("quota", "check", MANIFEST, "--policy", str(path))
    assert done.returncode in (0, 1, 2) and "Traceback" not in done.stderr
    if done.returncode == 2:
        refused(done, 2, f"error: invalid quota policy: {path}:")
        assert len(done.stderr.splitlines()) == 1


@pytest.mark.parametrize(
    "case",
    ["calendar", "database", "settings"],
)
def test_configuration_refusals_in_a_process(tmp_path, case):
    if case == "calendar":
        (tmp_path / "c.yaml").write_text("2027:\n  holidays: [2026-01-01]\n")
        refused(
            govcloud("calendar", "add", "2027-01-04", "3", GOVCLOUD_CALENDAR_FILE=str(tmp_path / "c.yaml")),
            2,
            f"error: invalid calendar override file: {tmp_path / 'c.yaml'}:line 2: 2027.holidays[0]:",
        )
    elif case == "database":
        refused(
            govcloud(
                "app", "submit", MANIFEST, "--as=z", "--role=unit", "--unit=rsj", GOVCLOUD_DATABASE_URL="sqlite://"
            ),
            2,
            "error: GOVCLOUD_DATABASE_URL names an in-memory SQLite database",
        )
    else:
        config = tmp_path / "govcloud.yaml"
        config.write_text(
            "auth: oidc\noidc:\n  issuer: https://sso.example.org\n  audience: a\n"
            "  roleMap: {r: unit}\n  algorithms: [HS256, RS256]\n"
        )
        refused(
            govcloud(
                "app",
                "accept",
                "social-security",
                GOVCLOUD_CONFIG=str(config),
                GOVCLOUD_DATABASE_URL=f"sqlite:///{tmp_path / 'l.db'}",
            ),
            2,
            f"error: invalid configuration: {config}:line 6: oidc.algorithms[0]:",
        )
