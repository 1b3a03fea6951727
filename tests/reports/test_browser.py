"""The HTML report in headless Chromium (Debian's ``chromium``): it renders, with its three charts,
without console errors. Chromium missing is a failure, never a skip: CI installs it."""

from __future__ import annotations

import pytest

from orchestrator.services import report as svc

from .browser import chromium, open_page
from .conftest import ARTIFACTS


@pytest.fixture(scope="module")
def browser() -> str:
    executable = chromium()
    if executable is None:
        pytest.fail("Chromium is not installed: apt-get install -y chromium (or set GOVCLOUD_CHROMIUM)", pytrace=False)
    return executable


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_html_report_renders_with_its_charts(ledger, policy, cloud, browser, tmp_path, lang):
    report = svc.monthly(ledger, "2026-04", policy, cloud=cloud)
    path = svc.write(svc.render(report, "html", lang), tmp_path, f"report.{lang}.html")
    page = open_page(path, browser)
    assert page.errors == []
    assert (
        page.title == {"zh": "政务云运行月报 2026-04", "en": "Government cloud monthly operations report 2026-04"}[lang]
    )
    charts = {i["id"]: i for i in page.images}
    assert set(charts) == {"chart-capacity", "chart-allocation", "chart-compliance"}
    assert all(c["complete"] and c["width"] > 200 and c["height"] > 100 for c in charts.values()), charts
    # the numbers of the charts are also in tables
    expected = {
        "zh": ["72 / 96 (75%)", "75 / 100 vCPU", "达标率"],
        "en": ["72 / 96 (75%)", "75 / 100 vCPU", "Share met"],
    }
    assert all(text in page.text for text in expected[lang])
    assert page.screenshot.startswith(b"\x89PNG") and len(page.screenshot) > 50_000
    if lang == "zh":
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "report-monthly-zh.png").write_bytes(page.screenshot)


def test_the_browser_check_sees_console_errors_and_broken_images(browser, tmp_path):
    page = tmp_path / "broken.html"
    page.write_text(
        "<!DOCTYPE html><html><head><title>broken</title></head><body>"
        '<img id="gone" src="missing.png"><script>console.error("boom")</script></body></html>'
    )
    found = open_page(page, browser)
    assert any("boom" in e for e in found.errors), found.errors
    assert any("missing.png" in e or "ERR_FILE_NOT_FOUND" in e for e in found.errors), found.errors
    assert found.images == [{"id": "gone", "complete": True, "width": 0, "height": 0}]
