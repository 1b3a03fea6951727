"""The portal in Debian's Chromium (Playwright, no browser download), signed in through the real
Keycloak: a unit submits (a mistake first, shown at its line), the office (in Chinese, then English
by the switch, then Chinese again) accepts, reviews and approves the test environment with its plan,
quota verdict and gate on the page, the provider sees it to provision; after test and trial the unit
requests a change and the office's page shows the manifest and plan differences against what was
approved. Screenshots go to artifacts/portal.
Fails, not skips, without Keycloak or /usr/bin/chromium."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.platform.conftest import keycloak  # noqa: F401

from .conftest import EXAMPLES, variant
from .live import live_portal  # noqa: F401

pytestmark = pytest.mark.cloud
SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "portal"
CHROMIUM = "/usr/bin/chromium"  # Debian's package; Playwright's own downloads are unreachable here


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (scripts/test-deps)")
    return {**browser_type_launch_args, "executable_path": CHROMIUM}


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def sign_in(browser, base: str, username: str, password: str) -> Page:
    """A fresh browser of its own for ``username``, signed in through the platform's login page."""
    page = browser.new_context(viewport={"width": 1100, "height": 700}).new_page()
    page.goto(base + "/")
    expect(page.locator("input[name=username]")).to_be_visible()
    assert "code_challenge=" in page.url  # PKCE
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("[type=submit]")
    page.wait_for_url(re.compile(re.escape(base) + r"/(my|queue|provider)$"))
    return page


def record_provisioned(live, environment: str) -> None:
    """The provider's ``govcloud up`` records provisioning in the ledger (not a portal step)."""
    from orchestrator.adapters.ledger import Ledger
    from orchestrator.core.lifecycle import PROVIDER, Actor
    from orchestrator.services.lifecycle import Lifecycle, beijing_now

    ledger = Ledger.open(live.config.database_url)
    try:
        Lifecycle(ledger).record_provisioned("citizen-portal", environment, Actor("ops", PROVIDER), beijing_now())
    finally:
        ledger.close()


def test_unit_office_and_provider_in_the_browser(browser, live_portal, keycloak, tmp_path):  # noqa: F811
    base, password = live_portal.url, keycloak["KEYCLOAK_TEST_PASSWORD"]

    unit = sign_in(browser, base, "zwb-admin", password)
    expect(unit.locator("html")).to_have_attribute("lang", "zh-CN")  # Chinese unless the reader switches
    expect(unit.locator("header .who")).to_have_text("zwb-admin (单位, zwb)")
    cookie = next(c for c in unit.context.cookies() if c["name"] == "govcloud_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    broken = variant(tmp_path, "citizen-portal", ("count: 1", "count: 0"), source="citizen-portal")
    unit.set_input_files("input[name=manifest]", str(broken))
    unit.click("button[value=submit]")
    problem = unit.locator("ul.problems li").first
    expect(problem).to_contain_text(re.compile(r"第 \d+ 行, .*count"))
    shot(unit, "1-unit-submit-mistake")
    unit.set_input_files("input[name=manifest]", str(EXAMPLES / "citizen-portal.yaml"))
    unit.click("button[value=submit]")
    expect(unit.locator("strong.state")).to_have_text("已申请")
    expect(unit.locator("section.decision")).to_have_count(0)  # the unit decides nothing here
    shot(unit, "2-unit-submitted")

    office = sign_in(browser, base, "egov-reviewer", password)
    expect(office.locator("h1")).to_have_text("市电子政务办待办")
    row = office.locator("table.queue tr", has_text="citizen-portal")
    expect(row.locator(".due[data-deadline=accept-or-reject]")).to_contain_text("受理或退回")
    expect(row.locator(".badge")).to_contain_text("个工作日")
    shot(office, "3-office-queue")
    office.click("header .lang a:has-text('English')")
    expect(office.locator("h1")).to_have_text("E-gov office queue")
    expect(office.locator("html")).to_have_attribute("lang", "en")
    expect(row.locator(".badge")).to_contain_text("working day")
    shot(office, "3-office-queue-en")
    office.click("header .lang a:has-text('中文')")
    expect(office.locator("h1")).to_have_text("市电子政务办待办")
    row.locator("a").click()
    office.click("button[value=accept]")
    expect(office.locator("strong.state")).to_have_text("已受理")
    office.fill("form.step input[name=opinion]", "complete; resources reasonable")
    office.click("button[value=review]")
    expect(office.locator("strong.state")).to_have_text("已审核")
    plan = office.locator("section.decision .plan[data-env=test]")
    expect(plan.locator("table.totals")).to_be_visible()
    expect(plan.locator(".quota")).to_contain_text("配额校验")
    expect(plan.locator(".gate[data-passed=yes]")).to_contain_text("批准后 govcloud up 将记录：provisioned")
    shot(office, "4-office-decision-test")
    office.click("button[value=approve][data-env=test]")
    expect(office.locator("ol.history strong[data-event=approved]")).to_have_count(1)
    expect(office.locator("ol.history")).to_contain_text("egov-reviewer")
    expect(office.locator("button[value=approve][data-env=test]")).to_have_count(0)  # approved once: not again
    shot(office, "5-office-approved-test")

    provider = sign_in(browser, base, "provider-operator", password)
    row = provider.locator("table.provisioning tr", has_text="citizen-portal")
    expect(row.locator("td[data-env=test]")).to_have_count(1)
    expect(row.locator(".due[data-deadline=test-ready]")).to_be_visible()
    shot(provider, "6-provider-provisioning-queue")

    record_provisioned(live_portal, "test")
    office.reload()
    office.fill("form.step input[name=evidence]", "test report 7")
    office.click("button[value=test-passed]")
    office.click("button[value=approve][data-env=trial]")
    expect(office.locator("ol.history strong[data-event=approved]")).to_have_count(2)
    record_provisioned(live_portal, "trial")

    # a bigger gateway is a major change here (Art. 15): it comes with a new self-test report
    bigger = variant(
        tmp_path,
        "bigger",
        ("flavor: g.2c4g", "flavor: g.4c8g"),
        ("9a8b7c6d5e4f30211f2e3d4c5b6a79881122334455667788990011aabbccddee", "e" * 64),
        source="citizen-portal",
    )
    unit.reload()
    expect(unit.locator("strong.state")).to_have_text("试运行")
    unit.set_input_files("input[name=manifest]", str(bigger))
    unit.click("button[value=preview]")
    expect(unit.locator(".preview strong.kind")).to_have_attribute("data-kind", "major")
    unit.set_input_files("input[name=manifest]", str(bigger))
    unit.click("button[value=request]")
    expect(unit.locator("strong.state")).to_have_text("变更申请中")

    office.reload()
    decision = office.locator("section.decision")
    expect(decision).to_contain_text("对比上次批准的清单")
    expect(decision.locator("pre.diff .del", has_text="flavor: g.2c4g")).to_have_count(1)
    expect(decision.locator("pre.diff .add", has_text="flavor: g.4c8g")).to_have_count(1)
    changed = decision.locator(".plan[data-env=trial] table.resource-diff tr.chg", has_text="flavorName")
    expect(changed.first).to_contain_text("g.2c4g → g.4c8g")
    shot(office, "7-office-change-decision")
    office.click("header .lang a:has-text('English')")
    expect(office.locator("section.decision")).to_contain_text("Against the manifest last approved")
    shot(office, "7-office-change-decision-en")

    office.click("header nav a[href='/reports']")
    report = office.frame_locator("iframe.report")
    expect(report.locator("h1")).to_contain_text("Government cloud monthly operations report")
    expect(report.locator("body")).to_contain_text("citizen-portal")
    expect(office.locator("table.assessment")).to_contain_text("zwb")
    shot(office, "8-office-reports-en")

    provider.goto(base + "/expiring?days=366")
    expect(provider.locator("table.expiring tr", has_text="citizen-portal")).to_have_count(1)
    shot(provider, "9-provider-expiring")

    provider.click("header form button")  # sign out
    provider.wait_for_url(re.compile(r"/realms/|/login"))
    provider.goto(base + "/provider")
    expect(provider.locator("input[name=username]")).to_be_visible()  # signed out of the platform too
