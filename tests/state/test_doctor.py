"""``govcloud doctor``: one sentence per check, the exit code says whether a first up can go ahead."""

from __future__ import annotations

import datetime as dt
import json
from types import SimpleNamespace

import pytest

from orchestrator.adapters import engine
from orchestrator.adapters.ledger import Ledger
from orchestrator.errors import ExternalError

S3 = "s3://govcloud-state?endpoint=https://s3.example.gov.cn&s3ForcePathStyle=true"


@pytest.fixture
def backend(monkeypatch, tmp_path):
    """An engine whose backend answers with two stacks (nothing is run)."""
    state = {"backend": S3, "stacks": ["rsj.social-security.test", "zwb.citizen-portal.trial"], "decrypts": True}
    monkeypatch.setenv("GOVCLOUD_DATABASE_URL", f"sqlite:///{tmp_path / 'ledger.db'}")
    monkeypatch.setattr(
        engine,
        "locate",
        lambda *a, **k: SimpleNamespace(
            env={"PULUMI_BACKEND_URL": state["backend"], "PULUMI_CONFIG_PASSPHRASE_FILE": "/etc/govcloud/pass"}
        ),
    )
    monkeypatch.setattr(engine, "list_stacks", lambda located: list(state["stacks"]))
    monkeypatch.setattr(engine, "check_writable", lambda located: None)

    def decrypts(stack, located):
        if not state["decrypts"]:
            raise ExternalError(f"the secrets of stack {stack} cannot be decrypted: incorrect passphrase")

    monkeypatch.setattr(engine, "check_decrypts", decrypts)
    return state


def checks(run_cli, *args: str) -> tuple[int, dict[str, dict]]:
    result = run_cli("doctor", "--output", "json", *args)
    return result.exit_code, {c["check"]: c for c in json.loads(result.stdout)}


def test_a_shared_backend_with_a_ledger_of_one_machine_is_a_problem_named_in_one_sentence(run_cli, backend) -> None:
    code, found = checks(run_cli)
    assert code == 3
    assert found["backend"]["ok"] and "2 stack(s)" in found["backend"]["message"]
    assert "?endpoint" not in found["backend"]["message"]
    assert found["passphrase"]["ok"] and "rsj.social-security.test" in found["passphrase"]["message"]
    assert not found["ledger"]["ok"] and "GOVCLOUD_DATABASE_URL=postgresql://" in found["ledger"]["message"]
    assert "leases" not in found


def test_a_wrong_passphrase_and_a_held_stack_are_reported(run_cli, backend, monkeypatch, tmp_path) -> None:
    backend["backend"], backend["decrypts"] = "file:///srv/state", False  # one machine: a SQLite ledger is right
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'ledger.db'}")
    ledger.acquire(
        "stack:zwb.citizen-portal.trial", "ops@runner-2 pid 7 since 2026-12-05 08:00:00 UTC a1", dt.timedelta(hours=1)
    )
    code, found = checks(run_cli, "--stack", "zwb.citizen-portal.trial")
    assert code == 3
    assert not found["passphrase"]["ok"] and "incorrect passphrase" in found["passphrase"]["message"]
    assert found["ledger"]["ok"]
    assert "zwb.citizen-portal.trial by ops@runner-2 pid 7" in found["leases"]["message"]


def test_without_an_engine_the_later_checks_are_not_guessed(run_cli, monkeypatch) -> None:
    def missing(*a, **k):
        raise ExternalError(
            "the Pulumi CLI (pulumi) was not found in /x/bin or on PATH; install it with scripts/install-pulumi"
        )

    monkeypatch.setattr(engine, "locate", missing)
    code, found = checks(run_cli)
    assert code == 3 and list(found) == ["configuration", "engine"] and "install-pulumi" in found["engine"]["message"]
