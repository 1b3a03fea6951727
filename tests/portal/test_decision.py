"""Every decision page shows what is decided: the manifest against the one last approved (classified
as ``govcloud changes`` classifies it, and as text), each environment's offline plan with its
resource difference, the quota verdict and the gate. Reading it writes nothing."""

from __future__ import annotations

import re

from orchestrator.adapters.ledger import Ledger
from orchestrator.core.lifecycle import EGOV, PROVIDER, UNIT, Actor
from orchestrator.services.lifecycle import beijing_now

from .conftest import EXAMPLES, recorded, upload, variant
from .test_pages import sign_in

SOCIAL = EXAMPLES / "social-security.yaml"
RSJ, OFFICE, OPS = Actor("zhaogang", UNIT, "rsj"), Actor("zhang", EGOV, "egov"), Actor("ops", PROVIDER)


def in_trial_with_a_change(database_url, tmp_path) -> str:
    """social-security running test and trial, then a change of the gateway's flavor requested; its first digest."""
    bigger = variant(tmp_path, "bigger", ("flavor: g.2c4g", "flavor: g.4c8g"))
    return recorded(database_url, then=lambda service: service.change("social-security", bigger, RSJ, beijing_now()))


def test_a_change_shows_both_differences_verdict_and_gate(oidc_app, tokens, database_url, tmp_path):
    first = in_trial_with_a_change(database_url, tmp_path)
    before = oidc_app.get("/api/v1/applications/social-security/history", headers=tokens.office).json()
    answer = oidc_app.get("/api/v1/applications/social-security/decision", headers=tokens.office)
    assert answer.status_code == 200, answer.text
    d = answer.json()
    assert d["base"]["digest"] == first and d["base"]["event"] == "approved" and not d["same"]
    assert any("gateway" in c["path"] or "gateway" in c["what"] for c in d["changes"]), d["changes"]
    flavors = {(line[0], line.split()[-1]) for line in d["diff"] if "flavor: g." in line and line[0] in "+-"}
    assert flavors == {("-", "g.2c4g"), ("+", "g.4c8g")}
    assert [e["env"] for e in d["environments"]] == ["test", "trial"]  # the change goes to both
    for env in d["environments"]:
        changed = {(r["type"], r["name"]): r["properties"] for r in env["resources"]["changed"]}
        flavors = [
            p
            for (kind, name), props in changed.items()
            if kind == "openstack:compute/instance:Instance"
            for p in props
            if p["path"] == "flavorName"
        ]
        assert flavors and {(p["before"], p["after"]) for p in flavors} == {("g.2c4g", "g.4c8g")}
        assert all(p["path"] != "tags" or "sha256" not in str(p) for props in changed.values() for p in props)
        assert env["totals"]["servers"] >= 1 and "violations" in env["quota"]
        assert env["gate"]["passed"] is False and env["gate"]["rule"]  # a change approved first, then up
    assert oidc_app.get("/api/v1/applications/social-security/history", headers=tokens.office).json() == before

    # the unit reads its own, another unit does not see it
    assert oidc_app.get("/api/v1/applications/social-security/decision", headers=tokens.rsj).status_code == 200
    hidden = oidc_app.get("/api/v1/applications/social-security/decision", headers=tokens.zwb)
    assert hidden.status_code == 404 and hidden.headers["content-type"] == "application/problem+json"


def test_the_approval_page_shows_the_plan_the_verdict_and_the_gate_before_the_button(dev_app, database_url):
    sign_in(dev_app, "zhaogang", "unit", "rsj", lang="zh")
    dev_app.post(
        "/submit",
        data={"csrf": re.search(r'name="csrf" value="([^"]+)"', dev_app.get("/my").text).group(1)},
        files=upload(SOCIAL),
    )
    page = dev_app.get("/applications/social-security")
    assert "本次决定的内容" not in page.text  # the unit decides nothing here
    sign_in(dev_app, "zhang", "egov-office", "egov", lang="zh")
    page = dev_app.get("/applications/social-security")
    assert "本次决定的内容" in page.text  # its place; what it holds comes after the page
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    dev_app.post("/applications/social-security/step/accept", data={"csrf": token})
    page = dev_app.post("/applications/social-security/step/review", data={"csrf": token, "opinion": "ok"})
    # the plans come after the page, in its place before the buttons (htmx), or on a page of their own
    placeholder = '<section class="decision" hx-get="/applications/social-security/decision" hx-trigger="load"'
    assert placeholder in page.text and page.text.index(placeholder) < page.text.index('value="approve"')
    fragment = dev_app.get("/applications/social-security/decision", headers={"HX-Request": "true"}).text
    assert fragment.startswith('<section class="decision" id="decision">') and "<html" not in fragment
    whole = dev_app.get("/applications/social-security/decision").text
    assert "<html" in whole and fragment in whole
    plan = fragment[fragment.index('<div class="plan" data-env="test">') :]
    assert (
        "尚无批准过的清单" in fragment and "测试环境的离线计划" in plan and re.search(r'<td class="n">\d+</td>', plan)
    )  # the totals
    assert "符合配额策略" in plan  # the quota verdict
    assert 'data-passed="yes"' in plan and "批准后 govcloud up 将记录：provisioned" in plan  # the gate
    sign_in(dev_app, "liming", "unit", "zwb")
    assert dev_app.get("/applications/social-security/decision", headers={"HX-Request": "true"}).status_code == 404


def test_a_manifest_on_record_that_no_longer_validates_is_said_not_raised(dev_app, database_url):
    import sqlalchemy as sa

    recorded(database_url, until="test")
    ledger = Ledger.open(database_url)
    with ledger.engine.begin() as conn:  # a manifest the rules of an older govcloud allowed
        conn.execute(
            sa.text("UPDATE events SET payload = :p WHERE type = 'submitted'"),
            {"p": '{"manifest": {"apiVersion": "govcloud/v1"}, "unit": "rsj"}'},
        )
    ledger.close()
    sign_in(dev_app, "zhang", "egov-office", "egov", lang="en")
    page = dev_app.get("/applications/social-security/decision", headers={"HX-Request": "true"})
    assert page.status_code == 200 and "No plan could be made" in page.text


def test_a_manifest_already_approved_says_so(oidc_app, tokens, database_url):
    recorded(database_url, until="test")
    d = oidc_app.get("/api/v1/applications/social-security/decision", headers=tokens.office).json()
    assert d["same"] and d["changes"] == [] and d["diff"] == [] and d["kind"] == "none"
    assert [e["env"] for e in d["environments"]] == ["trial"]  # the approval the office may take next
