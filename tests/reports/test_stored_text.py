"""Stored text in reports: a display name that would add lines, table cells, escape sequences or
HTML is shown escaped in Markdown and HTML (issue 15: history forging)."""

from __future__ import annotations

import dataclasses

from orchestrator.services import report as svc

HOSTILE = "门户\n| forged | row |\x1b[31m<script>alert(1)</script>\u202e"


def _hostile(ledger, policy, cloud):
    report = svc.monthly(ledger, "2026-04", policy, cloud=cloud)
    units = []
    for unit in report.units:
        apps = tuple(dataclasses.replace(a, name=HOSTILE) for a in unit.applications)
        units.append(dataclasses.replace(unit, applications=apps))
    assert any(u.applications for u in units)
    return dataclasses.replace(report, units=tuple(units))


def test_markdown_shows_stored_text_on_one_line_in_one_cell(ledger, policy, cloud):
    md = svc.render(_hostile(ledger, policy, cloud), "md", "en")
    rows = [line for line in md.splitlines() if "门户" in line]
    assert rows and all(line.startswith("| ") and line.count(" | ") == 11 for line in rows), rows[:2]
    assert "\x1b" not in md and "\u202e" not in md and "forged | row" not in md
    assert "门户\\n\\| forged \\| row \\|\\x1b[31m<script>" in rows[0]


def test_html_escapes_stored_text(ledger, policy, cloud):
    html = svc.render(_hostile(ledger, policy, cloud), "html", "en")
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "\x1b" not in html and "\u202e" not in html
