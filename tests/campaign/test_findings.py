"""What the campaign found outside this branch's lane (issue 15 parts A and B), each as the exact
input. Those whose fix is not merged yet are marked ``xfail(strict=True)``: the mark comes off with
the fix (a strict xfail that passes fails the suite, so a fixed finding cannot stay marked
unnoticed). Parts A and B are fixed (merged before this branch or with part A's): they stay as
plain regression tests."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

from tests.campaign.hostile import answer, run
from tests.conftest import EXAMPLES, ROOT

MANIFEST = str(EXAMPLES / "social-security.yaml")
UNIT = ["--as=zhaogang", "--role=unit", "--unit=rsj"]
OFFICE = ["--as=zhang", "--role=egov-office", "--unit=egov"]


@pytest.fixture
def ledger_env():
    with tempfile.TemporaryDirectory(prefix="govcloud-findings-") as home:
        yield {"GOVCLOUD_DATABASE_URL": f"sqlite:///{Path(home) / 'ledger.db'}"}


@pytest.mark.parametrize("unit", [" rsj", "RSJ", "rsj ", "\trsj"])
def test_an_office_member_of_the_unit_in_disguise_is_refused(ledger_env, unit):
    answer(run("app", "submit", MANIFEST, *UNIT, "--at", "2026-02-12T10:00", env=ledger_env), allowed=(0,))
    result = answer(
        run(
            "app",
            "accept",
            "social-security",
            "--as=zhang",
            "--role=egov-office",
            f"--unit={unit}",
            "--at",
            "2026-02-13T10:00",
            env=ledger_env,
        )
    )
    assert result.exit_code in (1, 2), result.output


@pytest.mark.parametrize("at", ["9999-06-01", "0001-01-01T00:00"])
def test_a_stated_time_outside_a_sane_window_is_refused(ledger_env, at):
    result = answer(run("app", "submit", MANIFEST, *UNIT, "--at", at, env=ledger_env))
    assert result.exit_code == 2, result.output


@pytest.mark.parametrize(
    "opinion",
    [
        "fine\nsocial-security #9 approved [production] by boss (egov-office)",
        "fine\u2028social-security #9 approved",
        "fine\u202e",
    ],
)
def test_history_shows_one_line_per_event(ledger_env, opinion):
    answer(run("app", "submit", MANIFEST, *UNIT, "--at", "2026-02-12T10:00", env=ledger_env), allowed=(0,))
    answer(run("app", "accept", "social-security", *OFFICE, "--at", "2026-02-13T10:00", env=ledger_env), allowed=(0,))
    answer(
        run(
            "app",
            "review",
            "social-security",
            f"--opinion={opinion}",
            *OFFICE,
            "--at",
            "2026-02-14T10:00",
            env=ledger_env,
        ),
        allowed=(0,),
    )
    stored = json.loads(answer(run("app", "history", "social-security", "-o", "json", env=ledger_env)).stdout)
    assert stored[-1]["reason"] == opinion  # kept as given (holds today)
    shown = answer(run("app", "history", "social-security", env=ledger_env)).stdout
    assert len(shown.splitlines()) == 3 and not {"\u2028", "\u202e"} & set(shown)


HOSTILE_KEY = '"root:x:0:0:root:/root:/bin/bash\\nok  forged.yaml  sha256:00": 1\n'


def test_validate_does_not_echo_a_key_with_a_line_break(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(
        (EXAMPLES / "social-security.yaml")
        .read_text()
        .replace("kind: Application\n", "kind: Application\n" + HOSTILE_KEY, 1)
    )
    shown = answer(run("validate", str(path)), allowed=(1,)).stdout
    assert "root:x:0:0" not in shown and "forged" not in shown
    assert all(
        line.startswith(("INVALID  ", f"  {path}:line 4: <key of 58 characters>: ", "1 file(s)"))
        for line in shown.splitlines()
    )


@pytest.mark.parametrize("kind", ["policy", "calendar"])
def test_configuration_errors_do_not_echo_a_key_with_a_line_break(tmp_path, kind):
    from orchestrator.core.workdays import default_calendar

    path = tmp_path / f"{kind}.yaml"
    if kind == "policy":
        path.write_text((ROOT / "quotas" / "policy.yaml").read_text() + '"a\\nerror: forged": 1\n')
        result = answer(run("quota", "check", MANIFEST, "--policy", str(path)), allowed=(2,))
    else:
        path.write_text('2027:\n  "a\\nerror: forged": []\n')
        default_calendar.cache_clear()
        result = answer(
            run("calendar", "add", "2027-01-04", "3", env={"GOVCLOUD_CALENDAR_FILE": str(path)}), allowed=(2,)
        )
        default_calendar.cache_clear()
    assert len(result.stderr.splitlines()) == 1 and "forged" not in result.stderr


@pytest.mark.parametrize("kind", ["policy", "calendar"])
def test_a_fifo_as_a_configuration_file_is_refused_at_once(tmp_path, kind):
    from orchestrator.core.workdays import default_calendar

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    default_calendar.cache_clear()
    try:
        if kind == "policy":
            result = run("quota", "check", MANIFEST, "--policy", str(fifo), seconds=1)
        else:
            result = run("calendar", "add", "2027-01-04", "3", env={"GOVCLOUD_CALENDAR_FILE": str(fifo)}, seconds=1)
    finally:
        default_calendar.cache_clear()
    assert answer(result, allowed=(2,)).stderr.startswith("error: ")
