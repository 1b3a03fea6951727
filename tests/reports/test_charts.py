"""Charts: PNG data URIs; English labels when no CJK font is installed (never empty boxes)."""

from __future__ import annotations

import base64
import copy

from orchestrator.adapters import charts
from orchestrator.adapters import render as templates
from orchestrator.services import report as svc


def _png(uri: str) -> bytes:
    prefix = "data:image/png;base64,"
    assert uri.startswith(prefix)
    return base64.b64decode(uri[len(prefix) :])


def test_a_cjk_font_is_installed_for_chinese_labels():
    # CI installs fonts-wqy-microhei; without it charts fall back to English (next test)
    assert charts.cjk_font() in charts.CJK_FAMILIES


def test_a_cjk_font_installed_after_matplotlib_cached_its_font_list_is_found(monkeypatch):
    from matplotlib import font_manager

    assert charts.cjk_font() is not None
    stale = copy.copy(font_manager.fontManager)  # as cached before the CJK font files were installed
    cjk_files = {f.fname for f in stale.ttflist if f.name in charts.CJK_FAMILIES}
    stale.ttflist = [f for f in stale.ttflist if f.fname not in cjk_files]
    monkeypatch.setattr(font_manager, "fontManager", stale)
    charts.cjk_font.cache_clear()
    try:
        assert charts.cjk_font() in charts.CJK_FAMILIES
    finally:
        charts.cjk_font.cache_clear()


def test_charts_are_png():
    text = templates.messages("zh")
    for uri in (
        charts.capacity([("compute vcpu", 75.0)], 0.7, text),
        charts.allocation([("rsj", 75.0, 75.0, 80.0)], text),
        charts.compliance(4, 4, 0, text),
    ):
        data = _png(uri)
        assert data.startswith(b"\x89PNG") and len(data) > 2000


def test_without_a_cjk_font_charts_are_labelled_in_english(ledger, policy, cloud, monkeypatch):
    monkeypatch.setattr(charts, "cjk_font", lambda: None)
    used = []
    monkeypatch.setattr(
        charts, "compliance", lambda met, missed, open_, text: used.append(text) or "data:image/png;base64,"
    )
    report = svc.monthly(ledger, "2026-04", policy, cloud=cloud)
    html = svc.render(report, "html", "zh")
    assert used[0]["chart.compliance"] == "Deadline compliance"
    assert templates.messages("zh")["chart.font_note"] in html
    assert "本机未安装中文字体" not in svc.render(report, "html", "en")
