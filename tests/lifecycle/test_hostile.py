"""Hostile input to the lifecycle and the ledger (issue 15, part A), on SQLite and PostgreSQL:
disguised units, stated times outside the window, stored text that would forge history lines,
events and projections edited by hand. Each was a wrong answer or a traceback before."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

import orchestrator.cli.ledger  # registers the commands
import orchestrator.cli.lifecycle  # noqa: F401
from orchestrator.cli import cli
from orchestrator.core import lifecycle as lc
from orchestrator.core.lifecycle import EGOV, Actor
from orchestrator.errors import UsageError
from orchestrator.services.lifecycle import beijing_now

from .conftest import EXAMPLES, SOCIAL, at

PERMIT = str(EXAMPLES / "permit-prototype.yaml")  # unit zjj
UNIT_ZJJ = ["--as", "wu", "--role", "unit", "--unit", "zjj"]
FORGED = (
    "ok\nsocial-security #9 approved [production] by boss (egov-office) at 2026-02-14T00:00:00\x1b[2K\x1b]0;x\x07\u202e"
)


# --- units --------------------------------------------------------------------------------


@pytest.mark.parametrize("disguise", [" zjj", "ZJJ", "zjj\t", " Zjj ", "zjj\n"])
def test_an_office_member_of_a_disguised_unit_cannot_accept_its_application(run, disguise):
    run("app", "submit", PERMIT, *UNIT_ZJJ, "--at", "2026-02-12T10:00")
    refused = run(
        "app",
        "accept",
        "permit-prototype",
        "--as",
        "mole",
        "--role",
        "egov-office",
        "--unit",
        disguise,
        "--at",
        "2026-02-13",
        code=1,
    )
    assert "mole (zjj) may not decide on a request of their own unit zjj (Art. 6-9)" in refused.output
    history = json.loads(run("app", "history", "permit-prototype", "-o", "json").output)
    assert [e["type"] for e in history] == ["submitted"]


@pytest.mark.parametrize("bad", ["zj j", "z", "-zjj", "zjj!", "\u212ajj", "\uff5a\uff4a\uff4a", ""])
def test_a_malformed_unit_is_refused_naming_the_field(run, bad):
    run("app", "submit", PERMIT, *UNIT_ZJJ, "--at", "2026-02-12T10:00")
    args = ["--as", "mole", "--role", "unit", "--unit", bad]
    refused = run("app", "terminate", "permit-prototype", *args, code=2)
    assert "--unit" in refused.output
    assert "is not a unit id" in refused.output or "names its unit" in refused.output


def test_every_actor_is_normalised_whatever_built_it():
    """The CLI and tokens (source oidc) go through Actor; the refusal names their field."""
    assert Actor("x", EGOV, " ZJJ ", source="oidc").unit == "zjj"
    with pytest.raises(UsageError, match="the ID token's unit claim 'zj j' is not a unit id"):
        Actor("x", EGOV, "zj j", source="oidc")
    with pytest.raises(UsageError, match=r"--unit \(GOVCLOUD_UNIT\) 'Zj_j' is not a unit id"):
        Actor("x", lc.UNIT, "Zj_j")


# --- time ----------------------------------------------------------------------------------


def test_a_stated_time_outside_the_window_is_refused(run):
    run("app", "submit", PERMIT, *UNIT_ZJJ, "--at", "2026-02-12T10:00")
    office = ["--as", "zhang", "--role", "egov-office", "--unit", "egov"]
    far = run("app", "accept", "permit-prototype", *office, "--at", "9999-06-01", code=2)
    assert "--at 9999-06-01T00:00:00 is outside the time govcloud accepts: from 2018-06-12" in far.output
    assert "at most 10 minutes after now" in far.output
    early = run("app", "accept", "permit-prototype", *office, "--at", "2017-06-01", code=2)
    assert "from 2018-06-12 (the regulation in force)" in early.output
    soon = (beijing_now() + dt.timedelta(minutes=5)).isoformat(timespec="minutes")
    run("app", "accept", "permit-prototype", *office, "--at", soon)  # a small skew is fine
    assert "outside the time" in run("deadlines", "--at", "9999-01-01", code=2).output


def test_a_far_date_already_stored_breaks_only_its_own_application(run, ledger, service):
    """An event an older govcloud recorded at 9999-06-01: that application is reported (exit 3),
    every other one's deadlines are still listed; the calendar does not raise near date.max."""
    run("app", "submit", PERMIT, *UNIT_ZJJ, "--at", "2026-02-12T10:00")
    state = lc.fold([], "far-away")
    event = lc.decide(
        state, "submitted", SOCIAL, at("9999-12-30T10:00"), digest="sha256:" + "0" * 64, payload={"unit": "rsj"}
    )  # no ``now``: as an older govcloud, unbounded
    after = lc.apply(state, event)
    ledger.append(event, after, lc.next_due(after, service.calendar))
    assert after.clocks and lc.next_due(after, service.calendar) == dt.date.max
    result = CliRunner().invoke(cli, ["deadlines", "--at", "2026-02-13", "-o", "json"], catch_exceptions=False)
    assert result.exit_code == 3
    assert [(d["application"], d["name"]) for d in json.loads(result.stdout)] == [
        ("permit-prototype", "accept-or-reject")
    ]
    assert (
        "error: far-away: a deadline started 9999-12-30T10:00:00 is outside the time govcloud accepts" in result.stderr
    )


def test_deadline_arithmetic_is_total_up_to_the_last_date(service):
    calendar = service.calendar
    for start in (dt.date(9999, 12, 25), dt.date.max):
        assert calendar.add_working_days(start, 30).date == dt.date.max
        assert calendar.add_working_days(start, 30).provisional
        assert calendar.add_natural_days(start, 30).date == dt.date.max
    assert calendar.add_natural_days(dt.date(9999, 12, 1), 15).date == dt.date(9999, 12, 16)
    assert calendar.working_days_between(dt.date(9999, 12, 1), dt.date.max) > 0  # the year 9999 is counted


# --- stored text ----------------------------------------------------------------------------


def test_stored_text_cannot_forge_history_lines(run):
    run("app", "submit", PERMIT, "--as", "wu\n[red]x", "--role", "unit", "--unit", "zjj", "--at", "2026-02-12T10:00")
    run(
        "app",
        "reject",
        "permit-prototype",
        "--reason",
        FORGED,
        "--as",
        "zhang",
        "--role",
        "egov-office",
        "--unit",
        "egov",
        "--at",
        "2026-02-13",
    )
    stored = json.loads(run("app", "history", "permit-prototype", "-o", "json").output)
    assert stored[1]["reason"] == FORGED and stored[0]["actor"] == "wu\n[red]x"  # kept as given
    shown = run("app", "history", "permit-prototype").output
    assert len(shown.splitlines()) == 2
    assert "\x1b" not in shown and "\x07" not in shown and "\u202e" not in shown
    assert "ok\\nsocial-security #9 approved" in shown and "\\x1b[2K\\x1b]0;x\\x07\\u202e" in shown
    status = run("app", "status", "permit-prototype").output
    assert "\x1b" not in status and all(line.startswith(("permit-prototype", "  ")) for line in status.splitlines())
    # an error message quoting stored text (the approval on record names its actor) stays one line
    office = ["--role", "egov-office", "--unit", "egov"]
    run("app", "submit", PERMIT, *UNIT_ZJJ, "--at", "2026-02-14")
    run("app", "accept", "permit-prototype", "--as", "zhang", *office, "--at", "2026-02-15")
    run("app", "review", "permit-prototype", "--opinion", "ok", "--as", "zhang", *office, "--at", "2026-02-16")
    run(
        "app",
        "approve",
        "permit-prototype",
        "--env",
        "test",
        "--as",
        "x\nerror: none\x1b[8m",
        *office,
        "--at",
        "2026-02-17",
    )
    again = run(
        "app", "approve", "permit-prototype", "--env", "test", "--as", "chen", *office, "--at", "2026-02-18", code=1
    )
    assert again.output.count("\n") == 1 and "\x1b" not in again.output
    assert "by x\\nerror: none\\x1b[8m at 2026-02-17T00:00:00" in again.output


# --- the ledger ------------------------------------------------------------------------------


def _edit(ledger, sql: str) -> None:
    with ledger.engine.begin() as conn:
        conn.execute(sa.text(sql))


@pytest.mark.parametrize(
    "column, value, says",
    [
        (
            "stated_at",
            {"sqlite": "'yesterday'", "postgresql": "'20000-01-01'"},
            {
                "sqlite": "field stated_at: 'yesterday' is not a date and time",
                "postgresql": "field stated_at: '20000-01-01 00:00:00' is not a date and time",
            },
        ),
        ("payload", "'[1, 2]'", "field payload: '[1, 2]' is not a JSON object"),
        ("type", "'approved-by-god'", "field type: 'approved-by-god' is not an event type"),
        ("environment", "'staging'", "field environment: 'staging' is not an environment"),
        ("actor_role", "'mayor'", "field actor_role: 'mayor' is not a role"),
    ],
)
def test_a_hand_edited_event_is_a_clear_error_naming_the_event_and_field(run, ledger, column, value, says):
    """Each backend's own garbage: SQLite stores any text in a time column, PostgreSQL a year
    past 9999 (which Python's datetime cannot hold)."""
    run("app", "submit", PERMIT, *UNIT_ZJJ, "--at", "2026-02-12T10:00")
    backend = ledger.engine.dialect.name
    value = value[backend] if isinstance(value, dict) else value
    says = says[backend] if isinstance(says, dict) else says
    _edit(ledger, f"UPDATE events SET {column} = {value} WHERE sequence = 1")
    for command in (("app", "history", "permit-prototype"), ("app", "status", "permit-prototype")):
        failed = run(*command, code=3)
        assert "error: ledger event id" in failed.output and "'permit-prototype' #1" in failed.output
        assert says in failed.output and "Traceback" not in failed.output


def test_a_hand_edited_history_that_does_not_fold_names_the_event(run, ledger):
    run("app", "submit", PERMIT, *UNIT_ZJJ, "--at", "2026-02-12T10:00")
    _edit(ledger, "UPDATE events SET type = 'reclaimed' WHERE sequence = 1")
    failed = run("app", "status", "permit-prototype", code=3)
    assert "event #1 ('reclaimed') of permit-prototype does not follow from the ones before" in failed.output


def test_a_deleted_projection_row_is_found_and_rebuilt(run, ledger):
    run("app", "submit", PERMIT, *UNIT_ZJJ, "--at", "2026-02-12T10:00")
    run(
        "app",
        "submit",
        str(EXAMPLES / "social-security.yaml"),
        "--as",
        "z",
        "--role",
        "unit",
        "--unit",
        "rsj",
        "--at",
        "2026-02-12T10:00",
    )
    assert "agrees" in run("ledger", "check").output
    _edit(ledger, "DELETE FROM applications WHERE application = 'permit-prototype'")
    _edit(ledger, "UPDATE applications SET state = 'production' WHERE application = 'social-security'")
    office = ["--as", "zhang", "--role", "egov-office", "--unit", "egov", "--at", "2026-02-13"]
    stuck = run("app", "accept", "permit-prototype", *office, code=3)
    assert "the projection of permit-prototype is out of step with its events (projection missing" in stuck.output
    assert "ledger rebuild" in stuck.output
    differences = json.loads(run("ledger", "check", "-o", "json", code=1).output)
    assert differences == {
        "consistent": False,
        "differences": [
            "permit-prototype: no projection row (its events reach #1)",
            "social-security: the projection differs from its events in state",
        ],
    }
    assert "2 application(s)" in run("ledger", "rebuild").output
    assert "agrees" in run("ledger", "check").output
    run("app", "accept", "permit-prototype", *office)
    assert [s["state"] for s in json.loads(run("app", "status", "-o", "json").output)] == ["accepted", "submitted"]


def test_a_projection_edited_into_garbage_says_rebuild(run, ledger):
    run("app", "submit", PERMIT, *UNIT_ZJJ, "--at", "2026-02-12T10:00")
    _edit(ledger, """UPDATE applications SET snapshot = '{"application": "permit-prototype", "bogus": 1}'""")
    failed = run("app", "status", code=3)
    assert "the projection of permit-prototype is not a state govcloud writes" in failed.output
    assert "ledger rebuild" in failed.output
    run("ledger", "rebuild")
    assert "permit-prototype" in run("app", "status").output


def test_a_repeated_approval_names_the_one_on_record(run):
    office = ["--role", "egov-office", "--unit", "egov"]
    run("app", "submit", PERMIT, *UNIT_ZJJ, "--at", "2026-02-12T10:00")
    run("app", "accept", "permit-prototype", "--as", "zhang", *office, "--at", "2026-02-13")
    run("app", "review", "permit-prototype", "--opinion", "ok", "--as", "zhang", *office, "--at", "2026-02-14")
    run("app", "approve", "permit-prototype", "--env", "test", "--as", "zhang", *office, "--at", "2026-02-15T09:00")
    again = run(
        "app", "approve", "permit-prototype", "--env", "test", "--as", "chen", *office, "--at", "2026-02-16", code=1
    )
    assert "is recorded already for digest sha256:" in again.output
    assert "by zhang at 2026-02-15T09:00:00 (event #4, approved)" in again.output
