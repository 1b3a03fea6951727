"""``govcloud deadlines --overdue`` shows reclamations past their 3 working days (Art. 16)."""

from __future__ import annotations

import json

from .fakes import environment


def test_overdue_reclamation_is_listed_until_reclaimed(run_cli, monkeypatch, ledger, reclaimer, cloud):
    monkeypatch.setenv("GOVCLOUD_DATABASE_URL", str(ledger.engine.url))

    def overdue(when: str) -> list[dict]:
        result = run_cli("deadlines", "--overdue", "--at", when, "-o", "json")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    def reclamations(when: str) -> list[dict]:
        return [d for d in overdue(when) if d["name"] == "reclamation"]

    assert reclamations("2026-06-10") == []  # due Wed 10 Jun: not yet late
    [late] = reclamations("2026-06-11")
    assert (late["application"], late["name"], late["due"], late["status"]) == (
        "social-security",
        "reclamation",
        "2026-06-10",
        "missed",
    )
    cloud.add_project("test", items=environment("test"))
    assert reclaimer(when="2026-06-11T10:00").run("social-security").reclaimed
    assert overdue("2026-06-12") == []  # reclaimed: every clock of the application stopped
