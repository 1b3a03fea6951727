"""``govcloud backup``: refusals before any cloud is reached, with their exit codes."""

from __future__ import annotations

from orchestrator.cli import register_commands
from tests.lifecycle.conftest import run  # noqa: F401 (fixture)

register_commands()

OPS = ("--as", "ops", "--role", "provider")


def test_backup_run_and_restore_are_for_the_provider(run, live):  # noqa: F811
    refused = run("backup", "run", "--as", "zhaogang", "--role", "unit", "--unit", "rsj", "--cloud", "nowhere", code=1)
    assert "backup run is for role provider, not unit" in refused.stderr
    refused = run(
        "backup",
        "restore",
        "social-security",
        "--env",
        "trial",
        "--from",
        "x",
        "--as",
        "zhang",
        "--role",
        "egov-office",
        "--cloud",
        "nowhere",
        code=1,
    )
    assert "backup restore is for role provider" in refused.stderr
    refused = run("backup", "drill", "social-security", "--as", "zhang", "--role", "egov-office", code=1)
    assert "backup drill is for role provider" in refused.stderr


def test_usage_errors_exit_2(run, live):  # noqa: F811
    assert "Missing option '--env'" in run("backup", "restore", "social-security", "--from", "x", *OPS, code=2).stderr
    assert "--at must be YYYY-MM-DD" in run("backup", "run", *OPS, "--at", "tomorrow", code=2).stderr
    assert "'staging' is not one of" in run("backup", "run", "--env", "staging", *OPS, code=2).stderr


def test_a_run_stated_in_the_future_is_refused_before_the_cloud(run, live):  # noqa: F811
    refused = run("backup", "run", *OPS, "--at", "2099-01-01T02:00", "--cloud", "nowhere", code=2)
    assert "--at 2099-01-01T02:00:00 is outside the time govcloud accepts" in refused.stderr


def test_an_environment_that_is_not_live_is_refused(run, live):  # noqa: F811
    refused = run(
        "backup",
        "run",
        "social-security",
        "--env",
        "production",
        *OPS,
        "--at",
        "2026-03-13T01:05",
        "--cloud",
        "nowhere",
        code=1,
    )
    assert "production of social-security is not live or has backups disabled" in refused.stderr


def test_backup_list_of_an_application_not_in_the_ledger(run, live):  # noqa: F811
    refused = run(
        "backup", "list", "no-such-app", "--as", "zhang", "--role", "egov-office", "--cloud", "nowhere", code=2
    )
    assert "application no-such-app has no ledger entries" in refused.stderr
    refused = run("backup", "list", "social-security", "--as", "wu", "--role", "unit", "--unit", "zjj", code=1)
    assert "may not read social-security" in refused.stderr


def test_a_drill_names_an_application_or_asks_for_those_due(run, live):  # noqa: F811
    for args in (
        ("backup", "drill"),
        ("backup", "drill", "social-security", "--due"),
        ("backup", "drill", "--due", "--env", "trial"),
    ):
        assert "name an APPLICATION (and optionally --env), or --due" in run(*args, *OPS, code=2).stderr


def test_confirm_backup_naming_an_unknown_backup_is_refused_with_its_rule(run, live):  # noqa: F811
    unit = ("--as", "zhaogang", "--role", "unit", "--unit", "rsj")
    run("app", "terminate", "social-security", *unit, "--at", "2026-06-01T09:00")
    refused = run(
        "app",
        "confirm-backup",
        "social-security",
        "--evidence",
        "tape 12",
        "--backup",
        "nope",
        *unit,
        "--at",
        "2026-06-02T09:00",
        code=1,
    )
    assert "backup nope is not in the ledger's backup record" in refused.stderr
    assert "final-backup-recorded" in refused.stderr and "Art. 16" in refused.stderr


def test_the_listing_prints_each_kept_archive_copy_with_its_project_and_period(capsys):
    from orchestrator.cli.backup import _print_listing

    _print_listing(
        {
            "application": "social-security",
            "environments": [],
            "archive": [
                {
                    "backup": "snap-1",
                    "kind": "volume-snapshot",
                    "environment": "trial",
                    "archive_kind": "volume",
                    "archive_id": "vol-9",
                    "project": "govcloud-archive",
                    "until": "2027-06-08T10:00:00",
                }
            ],
        }
    )
    assert capsys.readouterr().out == (
        "social-security trial final backup snap-1 (volume-snapshot): volume vol-9 in project govcloud-archive "
        "until 2027-06-08T10:00 (Art. 16)\n"
    )
