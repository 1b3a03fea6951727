"""The ``govcloud`` lifecycle commands: a walk-through, JSON output and exit codes."""

from __future__ import annotations

import json

import pytest

import orchestrator.cli.lifecycle  # noqa: F401  (registers the commands)
from orchestrator.cli import cli

from .conftest import EXAMPLES, OPS, at, variant

MANIFEST = str(EXAMPLES / "social-security.yaml")
UNIT = ["--as", "zhaogang", "--role", "unit", "--unit", "rsj"]
OFFICE = ["--as", "zhang", "--role", "egov-office", "--unit", "egov"]
PROVIDER = ["--as", "ops", "--role", "provider"]


def test_walk_through_to_production(run):
    steps = [
        ("app", "submit", MANIFEST, *UNIT, "--at", "2026-02-12T10:00"),
        ("app", "accept", "social-security", *OFFICE, "--at", "2026-02-24T09:00"),
        ("app", "review", "social-security", "--opinion", "complete", *OFFICE, "--at", "2026-02-26T09:00"),
        ("app", "approve", "social-security", "--env", "test", *OFFICE, "--at", "2026-02-26T10:00"),
        ("app", "record-provisioned", "social-security", "--env", "test", *PROVIDER, "--at", "2026-02-27T10:00"),
        ("app", "approve", "social-security", "--env", "trial", *OFFICE, "--at", "2026-03-10T10:00"),
        ("app", "record-provisioned", "social-security", "--env", "trial", *PROVIDER, "--at", "2026-03-11T10:00"),
        ("app", "approve", "social-security", "--env", "production", *OFFICE, "--at", "2026-04-10T10:00"),
        ("app", "record-provisioned", "social-security", "--env", "production", *PROVIDER, "--at", "2026-04-13T10:00"),
    ]
    for step in steps:
        assert "social-security #" in run(*step).output
    status = json.loads(run("app", "status", "social-security", "--at", "2026-04-14", "--output", "json").output)
    assert status["state"] == "production"
    assert {d["name"]: d["status"] for d in status["deadlines"]}["trial-minimum"] == "met"
    history = json.loads(run("app", "history", "social-security", "-o", "json").output)
    assert [e["type"] for e in history][:3] == ["submitted", "accepted", "reviewed"]
    assert "manifest" not in history[0]["payload"]
    overview = json.loads(run("app", "status", "-o", "json").output)
    assert [(a["application"], a["state"]) for a in overview] == [("social-security", "production")]


def test_exit_codes_and_messages(run, monkeypatch):
    denied = run("app", "accept", "social-security", *OFFICE, code=2)  # not found
    assert "no ledger entries" in denied.output
    run("app", "submit", MANIFEST, *UNIT, "--at", "2026-02-12T10:00")
    wrong = run("app", "review", "social-security", "--opinion", "x", *OFFICE, "--at", "2026-02-13", code=1)
    assert "not allowed in state submitted" in wrong.output and "(Art. 12)" in wrong.output
    role = run("app", "accept", "social-security", *UNIT, "--at", "2026-02-13", code=1)
    assert "(Art. 6-9)" in role.output
    assert "--as NAME --role ROLE" in run("app", "accept", "social-security", code=2).output
    assert "--at must be" in run("app", "accept", "social-security", *OFFICE, "--at", "soon", code=2).output
    assert "unknown" in run("app", "accept", "social-security", "--as", "x", "--role", "mayor", code=2).output
    monkeypatch.setenv("GOVCLOUD_ACTOR", "zhang")
    monkeypatch.setenv("GOVCLOUD_ROLE", "egov-office")
    monkeypatch.setenv("GOVCLOUD_UNIT", "egov")
    accepted = json.loads(
        run("app", "accept", "social-security", "--at", "2026-02-13T09:00+08:00", "-o", "json").output
    )
    assert (accepted["actor"], accepted["at"]) == ("zhang", "2026-02-13T09:00:00")
    late = json.loads(run("deadlines", "--overdue", "--at", "2026-03-01", "-o", "json").output)
    assert [(d["name"], d["due"]) for d in late] == [("review", "2026-02-24")]
    assert run("deadlines", "--at", "2026-02-14").output.count("review") == 1


def test_changes_command(run, tmp_path):
    new = variant(tmp_path, "new", ("engine: mysql", "engine: postgresql"))
    payload = json.loads(run("changes", MANIFEST, str(new), "-o", "json").output)
    assert payload["kind"] == "major"
    out = run("changes", MANIFEST, str(new)).output
    assert (
        "major  environments.test.resources.databases.benefits.engine: database benefits engine mysql -> postgresql\n"
        "       why: a database engine change is major (Art. 15)\n"
    ) in out
    assert json.loads(run("changes", MANIFEST, MANIFEST, "-o", "json").output) == {"kind": "none", "changes": []}
    renamed = variant(tmp_path, "renamed", ("      - name: archive\n", "      - name: records\n"))
    out = run("changes", MANIFEST, str(renamed)).output
    for env in ("test", "trial", "production"):
        assert (
            f"major  environments.{env}.resources.social-security-archive: destroys data: volume "
            "social-security-archive (delete: no longer in the manifest"
        ) in out
    assert out.endswith("change: major\n")


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (
            ("image: debian-12", "image: debian-13"),
            "environments.trial.resources.social-security-app-2: destroys data: server root disk social-security-app-2 "
            "(rebuild: imageName debian-12 -> debian-13",
        ),
        (
            ('version: "8.0"', 'version: "8.4"'),
            "environments.production.resources.social-security-benefits: destroys data: database instance "
            "social-security-benefits (replace: datastore.version 8.0 -> 8.4",
        ),
        (
            ("    containers:\n      - name: scans\n", "    containers:\n      - name: images\n"),
            "environments.trial.resources.social-security-scans: destroys data: "
            "container social-security-scans (delete:",
        ),
        (
            ("          - name: app\n            count: 2", "          - name: app\n            count: 1"),
            "environments.trial.resources.social-security-app-2-logs: destroys data: "
            "volume social-security-app-2-logs (delete:",
        ),
    ],
    ids=["server-root-disk", "database-instance", "container", "lower-count"],
)
def test_changes_names_each_kind_of_data_loss(run, tmp_path, edit, named):
    new = variant(tmp_path, "new", edit)
    out = run("changes", MANIFEST, str(new)).output
    assert f"major  {named}" in out, out
    steps = [
        c
        for c in json.loads(run("changes", MANIFEST, str(new), "-o", "json").output)["changes"]
        if c["reason"].startswith("destroys data")
    ]
    assert steps and all(c["kind"] == "major" for c in steps)


def test_expire_removes_the_test_environment_through_the_reclaimer(run, monkeypatch, tmp_path):
    from orchestrator.adapters.ledger import Ledger
    from orchestrator.services import reclaim
    from orchestrator.services.lifecycle import Lifecycle
    from tests.reclaim.fakes import FakeCloud, FakeStacks, reclaimer

    permit = str(EXAMPLES / "permit-prototype.yaml")
    unit = ["--as", "wu", "--role", "unit", "--unit", "zjj"]
    run("app", "submit", permit, *unit, "--at", "2026-06-01T09:00")
    run("app", "accept", "permit-prototype", *OFFICE, "--at", "2026-06-01T10:00")
    run("app", "review", "permit-prototype", "--opinion", "ok", *OFFICE, "--at", "2026-06-01T11:00")
    run("app", "approve", "permit-prototype", "--env", "test", *OFFICE, "--at", "2026-06-01T12:00")
    run("app", "record-provisioned", "permit-prototype", "--env", "test", *PROVIDER, "--at", "2026-06-02T09:00")
    # no engine anywhere: the dry run does not need one; a run fails the removal with one sentence, exit 3
    monkeypatch.setenv("GOVCLOUD_ENGINE_DIR", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    dry = json.loads(run("expire", "--dry-run", *PROVIDER, "--at", "2026-06-20", "-o", "json").output)
    assert [(a["action"], a["done"]) for a in dry["actions"]] == [("destroy", False)]
    missing = run("expire", *PROVIDER, "--at", "2026-06-20", code=3)
    assert "the Pulumi CLI (pulumi) was not found" in missing.output and "scripts/install-pulumi" in missing.output
    assert "Traceback" not in missing.output
    assert missing.output.strip().splitlines()[0].startswith("FAILED destroy permit-prototype test")
    assert json.loads(run("app", "status", "permit-prototype", "-o", "json").output)["provisioned"].keys() == {"test"}

    cloud, stacks = FakeCloud(), FakeStacks("zjj.permit-prototype.test")
    cloud.add_project("test", unit="zjj", app="permit-prototype")

    def fake_reclaimer(actor, name):
        ledger = Ledger.open()
        return reclaimer(Lifecycle(ledger), ledger, actor, cloud, stacks)

    monkeypatch.setattr(reclaim, "open_reclaimer", fake_reclaimer)
    done = run("expire", *PROVIDER, "--at", "2026-06-20")
    assert "done   destroy permit-prototype test (expires 2026-06-17T09:00:00)  (project 1)" in done.output
    assert cloud.deleted_projects == ["zjj-permit-prototype-test"]
    history = json.loads(run("app", "history", "permit-prototype", "-o", "json").output)
    assert [e["type"] for e in history][-1] == "test-expired"


def test_every_lifecycle_command_takes_at_and_output():
    app = cli.commands["app"]
    commands = [*app.commands.values(), *(cli.commands[n] for n in ("deadlines", "changes", "expire"))]
    assert len(commands) == 24
    for command in commands:
        names = {p.name for p in command.params}
        assert {"at", "output"} <= names, command.name
        assert "Art." in (command.help or "") or command.name in ("history", "status"), command.name


def test_status_and_history_show_a_reapplication(run, database_url):
    from orchestrator.adapters.ledger import Ledger
    from orchestrator.core.validation import load_manifest
    from orchestrator.services.lifecycle import Lifecycle

    for step in [
        ("app", "submit", MANIFEST, *UNIT, "--at", "2026-02-12T10:00"),
        ("app", "accept", "social-security", *OFFICE, "--at", "2026-02-24T09:00"),
        ("app", "review", "social-security", "--opinion", "complete", *OFFICE, "--at", "2026-02-26T09:00"),
        ("app", "approve", "social-security", "--env", "test", *OFFICE, "--at", "2026-02-26T10:00"),
        ("app", "record-provisioned", "social-security", "--env", "test", *PROVIDER, "--at", "2026-02-27T10:00"),
    ]:
        run(*step)
    ledger = Ledger.open(database_url)
    Lifecycle(ledger).record_deployment(
        "social-security",
        "test",
        OPS,
        at("2026-03-02T09:00"),
        load_manifest(MANIFEST).digest,
        reason="program changed: stacks/program.py",
        payload={"program": "sha256:" + "ab" * 32},
    )
    ledger.close()
    status = run("app", "status", "social-security", "--at", "2026-03-03").output
    assert "; last reapplied at 2026-03-02T09:00:00 with program sha256:abababababab" in status
    last = run("app", "history", "social-security").output.strip().splitlines()[-1]
    assert last == (
        "social-security #6 reapplied [test] by ops (provider) at 2026-03-02T09:00:00 "
        "with program sha256:abababababab: program changed: stacks/program.py"
    )
