"""The portal in Debian's Chromium (Playwright, no browser download), signed in through the real
Keycloak: a unit submits (a mistake first, shown at its line), the office accepts, reviews and
approves the test environment, the provider sees it to provision. Screenshots go to artifacts/portal.
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


def test_unit_office_and_provider_in_the_browser(browser, live_portal, keycloak, tmp_path):  # noqa: F811
    base, password = live_portal.url, keycloak["KEYCLOAK_TEST_PASSWORD"]

    unit = sign_in(browser, base, "zwb-admin", password)
    expect(unit.locator("header .who")).to_have_text("zwb-admin (unit, zwb)")
    cookie = next(c for c in unit.context.cookies() if c["name"] == "govcloud_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    broken = variant(tmp_path, "citizen-portal", ("count: 1", "count: 0"), source="citizen-portal")
    unit.set_input_files("input[name=manifest]", str(broken))
    unit.click("button:has-text('Submit')")
    problem = unit.locator("ul.problems li").first
    expect(problem).to_contain_text(re.compile(r"line \d+, .*count"))
    shot(unit, "1-unit-submit-mistake")
    unit.set_input_files("input[name=manifest]", str(EXAMPLES / "citizen-portal.yaml"))
    unit.click("button:has-text('Submit')")
    expect(unit.locator("strong.state")).to_have_text("submitted")
    expect(unit.locator("text=Your steps")).to_have_count(0)
    shot(unit, "2-unit-submitted")

    office = sign_in(browser, base, "egov-reviewer", password)
    row = office.locator("table.queue tr", has_text="citizen-portal")
    expect(row).to_contain_text("accept-or-reject due")
    expect(row.locator(".badge")).to_contain_text("working day")
    shot(office, "3-office-queue")
    row.locator("a").click()
    office.click("button[value=accept]")
    expect(office.locator("strong.state")).to_have_text("accepted")
    office.fill("form.step input[name=opinion]", "complete; resources reasonable")
    office.click("button[value=review]")
    expect(office.locator("strong.state")).to_have_text("reviewed")
    office.click("button[value=approve]:has-text('approve test')")
    expect(office.locator("ol.history")).to_contain_text("approved [test] by egov-reviewer")
    expect(office.locator("button[value=approve]")).to_have_count(0)  # approved once: not offered again
    shot(office, "4-office-approved-test")

    provider = sign_in(browser, base, "provider-operator", password)
    row = provider.locator("table.provisioning tr", has_text="citizen-portal")
    expect(row).to_contain_text("test")
    expect(row).to_contain_text("test-ready due")
    shot(provider, "5-provider-provisioning-queue")

    provider.click("button:has-text('Sign out')")
    provider.wait_for_url(re.compile(r"/realms/|/login"))
    provider.goto(base + "/provider")
    expect(provider.locator("input[name=username]")).to_be_visible()  # signed out of the platform too
