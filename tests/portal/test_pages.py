"""The pages on the development portal: sign-in by form (shown in red), CSRF on every post,
stored text escaped, the steps offered decided by the core's role rules."""

from __future__ import annotations

import re

from .conftest import EXAMPLES, recorded, upload, variant


def csrf(page) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


def sign_in(client, name, role, unit="", lang="en"):
    """Sign in on the development form; the pages then in ``lang`` (the language switch's cookie)."""
    client.cookies.set("govcloud_lang", lang)
    token = csrf(client.get("/login"))
    return client.post("/login", data={"csrf": token, "name": name, "role": role, "unit": unit})


def test_development_sign_in_is_marked_and_needs_csrf(dev_app):
    page = dev_app.get("/login")
    assert 'class="dev"' in page.text and "--dev-insecure-local-auth" in page.text
    forged = dev_app.post("/login", data={"name": "mallory", "role": "egov-office", "unit": "egov"})
    assert forged.status_code == 403 and "anti-forgery" in forged.text
    assert dev_app.get("/queue", follow_redirects=False).headers["location"] == "/login"
    assert sign_in(dev_app, "zhang", "egov-office", "egov").url.path == "/queue"


def test_unit_submits_office_decides_provider_sees_it(dev_app, tmp_path):
    sign_in(dev_app, "zhaogang", "unit", "rsj")
    broken = variant(tmp_path, "broken", ("retentionDays: 180", "retentionDays: -1"))
    mine = dev_app.get("/my")
    shown = dev_app.post("/submit", data={"csrf": csrf(mine)}, files=upload(broken))
    assert shown.status_code == 422 and re.search(r"line \d+, <code>[^<]*retentionDays", shown.text)
    done = dev_app.post("/submit", data={"csrf": csrf(mine)}, files=upload(EXAMPLES / "social-security.yaml"))
    assert done.url.path == "/applications/social-security" and "submitted" in done.text
    assert "Your steps" not in done.text  # the unit decides nothing on its own application

    sign_in(dev_app, "zhang", "egov-office", "egov")
    queue = dev_app.get("/queue")
    assert "social-security" in queue.text and "accept-or-reject" in queue.text and "working day" in queue.text
    app = dev_app.get("/applications/social-security")
    assert {"accept", "reject"} <= set(re.findall(r'name="do" value="([a-z-]+)"', app.text))
    version = re.search(r'name="version" value="(\d+)"', app.text).group(1)
    forged = dev_app.post("/applications/social-security/step/accept", data={"version": version})
    assert forged.status_code == 403
    token = csrf(app)
    dev_app.post("/applications/social-security/step/accept", data={"csrf": token, "version": version})
    reviewed = dev_app.post(
        "/applications/social-security/step/review", data={"csrf": token, "opinion": "<script>alert(1)</script> fine"}
    )
    assert "&lt;script&gt;alert(1)&lt;/script&gt; fine" in reviewed.text and "<script>alert" not in reviewed.text
    stale = dev_app.post(
        "/applications/social-security/step/approve", data={"csrf": token, "version": version, "environment": "test"}
    )
    assert stale.status_code == 412
    approved = dev_app.post("/applications/social-security/step/approve", data={"csrf": token, "environment": "test"})
    assert "approved" in approved.text

    sign_in(dev_app, "ops", "provider")
    provider = dev_app.get("/provider")
    rows = re.findall(
        r'<tr><td><a href="/applications/([^"]+)">[^<]+</a></td><td>rsj</td><td data-env="(\w+)">', provider.text
    )
    assert rows == [("social-security", "test")] and "test-ready" in provider.text


def test_a_unit_sees_no_other_units_work(dev_app):
    sign_in(dev_app, "zhaogang", "unit", "rsj")
    dev_app.post("/submit", data={"csrf": csrf(dev_app.get("/my"))}, files=upload(EXAMPLES / "social-security.yaml"))
    sign_in(dev_app, "liming", "unit", "zwb")
    assert "social-security" not in dev_app.get("/queue").text
    assert "social-security" not in dev_app.get("/provider").text
    assert dev_app.get("/applications/social-security").status_code == 404
    assert "social-security" not in dev_app.get("/my").text


def test_a_change_is_classified_before_it_is_requested(dev_app, database_url, tmp_path):
    recorded(database_url)
    sign_in(dev_app, "zhaogang", "unit", "rsj")
    page = dev_app.get("/applications/social-security")
    token, version = csrf(page), re.search(r'name="version" value="(\d+)"', page.text).group(1)
    minor = variant(tmp_path, "minor", ("retentionDays: 180", "retentionDays: 90"))
    form = {"csrf": token, "version": version}
    shown = dev_app.post("/applications/social-security/change", data=form | {"do": "preview"}, files=upload(minor))
    assert (
        '<strong class="kind" data-kind="minor">minor</strong>' in shown.text
        and "<code>spec.backup.retentionDays</code>" in shown.text
        and "180 -&gt; 90" in shown.text
    )
    assert "change-requested" not in shown.text  # nothing recorded by the preview
    done = dev_app.post("/applications/social-security/change", data=form | {"do": "request"}, files=upload(minor))
    assert (
        done.url.path == "/applications/social-security"
        and 'data-state="change-requested">change requested' in done.text
    )


def test_a_quorum_is_counted_on_the_page_and_not_offered_twice(dev_app, database_url, tmp_path, monkeypatch):
    from orchestrator.adapters.ledger import Ledger
    from orchestrator.core.lifecycle import EGOV, UNIT, Actor
    from orchestrator.services.lifecycle import Lifecycle, beijing_now
    from tests.lifecycle.conftest import ROOT

    policy = tmp_path / "policy.yaml"
    policy.write_text(
        (ROOT / "quotas" / "policy.yaml").read_text(encoding="utf-8") + "\nquorum:\n  termination: 2\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("GOVCLOUD_QUOTA_POLICY", str(policy))
    ledger = Ledger.open(database_url)
    service, now, unit = Lifecycle(ledger), beijing_now, Actor("zhaogang", UNIT, "rsj")
    service.submit(EXAMPLES / "social-security.yaml", unit, now())
    service.accept("social-security", Actor("chen", EGOV, "egov"), now())
    service.review("social-security", "ok", Actor("chen", EGOV, "egov"), now())
    service.terminate("social-security", unit, now(), reason="replaced")
    service.confirm_backup("social-security", "archive B-7", unit, now())
    ledger.close()

    sign_in(dev_app, "zhang", "egov-office", "egov")
    page = dev_app.get("/applications/social-security")
    assert "approve-termination" in re.findall(r'/step/([a-z-]+)"', page.text)
    voted = dev_app.post("/applications/social-security/step/approve-termination", data={"csrf": csrf(page)})
    assert re.search(r"termination approval: 1 of 2 approvals \(zhang at [0-9T:.-]+\)", voted.text)
    assert 'data-state="backup-confirmed">' in voted.text
    assert "approve-termination" not in re.findall(r'/step/([a-z-]+)"', voted.text)  # not offered to zhang again
    sign_in(dev_app, "li", "egov-office", "egov")
    page = dev_app.get("/applications/social-security")
    done = dev_app.post("/applications/social-security/step/approve-termination", data={"csrf": csrf(page)})
    assert 'data-state="termination-approved">' in done.text and "approvals (" not in done.text


def test_the_unit_names_its_final_backup_on_the_confirm_backup_form(dev_app, database_url):
    """Art. 16: the form's optional backup ids go through the same service call as the CLI's --backup."""
    from orchestrator.adapters.ledger import Ledger
    from orchestrator.core.lifecycle import EGOV, UNIT, Actor
    from orchestrator.services.lifecycle import Lifecycle, beijing_now

    ledger = Ledger.open(database_url)
    service, unit, office = Lifecycle(ledger), Actor("zhaogang", UNIT, "rsj"), Actor("chen", EGOV, "egov")
    service.submit(EXAMPLES / "social-security.yaml", unit, beijing_now())
    service.accept("social-security", office, beijing_now())
    service.review("social-security", "ok", office, beijing_now())
    service.terminate("social-security", unit, beijing_now(), reason="replaced")
    ledger.close()

    sign_in(dev_app, "zhaogang", "unit", "rsj")
    page = dev_app.get("/applications/social-security")
    form = re.search(r'<form[^>]*step/confirm-backup".*?</form>', page.text, re.S).group(0)
    assert re.search(r'<input name="backups" >', form) and re.search(r'<input name="evidence" required>', form)
    refused = dev_app.post(
        "/applications/social-security/step/confirm-backup",
        data={"csrf": csrf(page), "evidence": "tape 12", "backups": "no-such-backup, <b>x</b>"},
    )
    assert refused.status_code == 409 and "final-backup-recorded" in refused.text and "Art. 16" in refused.text
    assert "<b>x</b>" not in refused.text
    done = dev_app.post(
        "/applications/social-security/step/confirm-backup",
        data={"csrf": csrf(page), "evidence": "tape 12", "backups": ""},
    )
    assert 'data-state="backup-confirmed">' in done.text
