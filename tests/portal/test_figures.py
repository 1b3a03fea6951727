"""The pages and endpoints beyond one application's steps: Chinese by default and English by the
switch; test environments about to expire; the cloud's capacity (Art. 31); the monthly report and
the yearly assessment (Art. 30, 45), a unit's own only; an application's notices and their delivery."""

from __future__ import annotations

import datetime as dt

from orchestrator.adapters.ledger import Ledger
from orchestrator.adapters.outbox import Outbox, utcnow
from orchestrator.core import notices as nt
from orchestrator.core.lifecycle import EGOV, PROVIDER, UNIT, Actor
from orchestrator.services.lifecycle import Lifecycle, beijing_now

from .conftest import EXAMPLES, recorded, upload
from .test_pages import sign_in

SOCIAL = EXAMPLES / "social-security.yaml"
RSJ, OFFICE, OPS = Actor("zhaogang", UNIT, "rsj"), Actor("zhang", EGOV, "egov"), Actor("ops", PROVIDER)


def test_chinese_by_default_english_by_the_switch(dev_app):
    sign_in(dev_app, "zhang", "egov-office", "egov", lang="zh")
    dev_app.cookies.delete("govcloud_lang")  # no choice made: Chinese
    page = dev_app.get("/queue")
    assert '<html lang="zh-CN">' in page.text and "<h1>市电子政务办待办</h1>" in page.text
    assert "没有待办事项" in page.text and "Queue" not in page.text
    switched = dev_app.get("/lang/en", params={"next": "/queue"})
    assert switched.url.path == "/queue" and '<html lang="en">' in switched.text
    assert "<h1>E-gov office queue</h1>" in switched.text and "待办" not in switched.text.split("<main>")[1]
    back = dev_app.get("/lang/zh", params={"next": "/queue"})
    assert "<h1>市电子政务办待办</h1>" in back.text


def test_the_switch_goes_back_to_this_site_only(dev_app):
    for hostile in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        answer = dev_app.get("/lang/en", params={"next": hostile}, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == "/", hostile
    assert dev_app.get("/lang/fr", follow_redirects=False).status_code == 404


def test_error_pages_speak_the_readers_language(dev_app):
    sign_in(dev_app, "liming", "unit", "zwb", lang="zh")
    missing = dev_app.get("/applications/no-such-app")
    assert missing.status_code == 404 and "<h1>未找到</h1>" in missing.text


def provisioned_test(database_url) -> None:
    recorded(database_url, until="test")


def test_test_environments_about_to_expire(oidc_app, tokens, database_url):
    provisioned_test(database_url)
    status = oidc_app.get("/api/v1/applications/social-security", headers=tokens.office).json()
    expires = dt.datetime.fromisoformat(status["test_expires"])
    left = (expires - beijing_now()).days + 1
    found = oidc_app.get(f"/api/v1/expiring?days={left}", headers=tokens.provider).json()
    assert [(i["application"], i["expires"], i["expired"], i["warned"]) for i in found] == [
        ("social-security", status["test_expires"], False, False)
    ]
    assert oidc_app.get(f"/api/v1/expiring?days={left - 2}", headers=tokens.office).json() == []
    assert len(oidc_app.get(f"/api/v1/expiring?days={left}", headers=tokens.rsj).json()) == 1
    assert oidc_app.get(f"/api/v1/expiring?days={left}", headers=tokens.zwb).json() == []  # not its own
    assert oidc_app.get("/api/v1/expiring?days=-1", headers=tokens.office).status_code == 400


def test_expiring_page(dev_app, database_url):
    provisioned_test(database_url)
    sign_in(dev_app, "ops", "provider", lang="zh")
    assert "没有即将到期的测试环境" in dev_app.get("/expiring?days=0").text
    page = dev_app.get("/expiring?days=366")
    assert '<a href="/applications/social-security">' in page.text and "即将到期的测试环境（第十三条）" in page.text


def test_capacity_is_the_provider_and_the_office_s(oidc_app, tokens, dev_app, monkeypatch):
    monkeypatch.delenv("OS_CLOUD", raising=False)
    refused = oidc_app.get("/api/v1/capacity", headers=tokens.rsj)
    assert refused.status_code == 403 and refused.json()["rule"] == "role" and refused.json()["article"] == "Art. 31"
    unknown = oidc_app.get("/api/v1/capacity", headers=tokens.provider)
    assert unknown.status_code == 503 and "OS_CLOUD" in unknown.json()["detail"]
    sign_in(dev_app, "zhaogang", "unit", "rsj", lang="zh")
    assert dev_app.get("/capacity").status_code == 403
    sign_in(dev_app, "ops", "provider", lang="zh")
    page = dev_app.get("/capacity")
    assert page.status_code == 200 and "未能读取云平台容量" in page.text and "OS_CLOUD" in page.text


def test_reports_a_unit_reads_its_own(oidc_app, tokens, database_url):
    provisioned_test(database_url)
    oidc_app.post("/api/v1/applications", headers=tokens.zwb, files=upload(EXAMPLES / "citizen-portal.yaml"))
    now = beijing_now()
    month = f"{now.year:04d}-{now.month:02d}"
    every = oidc_app.get(f"/api/v1/reports/monthly?month={month}", headers=tokens.office)
    assert every.status_code == 200, every.text
    assert sorted(u["unit"] for u in every.json()["units"]) == ["rsj", "zwb"]
    own = oidc_app.get(f"/api/v1/reports/monthly?month={month}&unit=zwb", headers=tokens.rsj).json()
    assert [u["unit"] for u in own["units"]] == ["rsj"]  # whatever it asks
    one = oidc_app.get(f"/api/v1/reports/monthly?month={month}&unit=ZWB", headers=tokens.office).json()
    assert [u["unit"] for u in one["units"]] == ["zwb"]
    yearly = oidc_app.get(f"/api/v1/reports/assessment?year={now.year}", headers=tokens.zwb).json()
    assert [u["unit"] for u in yearly["units"]] == ["zwb"]
    assert oidc_app.get("/api/v1/reports/monthly?month=2026-13", headers=tokens.office).status_code == 400
    assert oidc_app.get("/api/v1/reports/monthly?month=x", headers=tokens.office).status_code == 400
    assert oidc_app.get("/api/v1/reports/monthly?month=9999-12", headers=tokens.office).status_code == 400
    # an offset beyond the database's integer is refused as a bad request, not a server error
    far = oidc_app.get("/api/v1/applications?offset=99999999999999999999999", headers=tokens.office)
    assert far.status_code == 400 and "query.offset" in far.json()["detail"]


def test_report_pages_in_both_languages(dev_app, database_url):
    provisioned_test(database_url)
    sign_in(dev_app, "zhang", "egov-office", "egov", lang="zh")
    now = beijing_now()
    month = f"{now.year:04d}-{now.month:02d}"
    page = dev_app.get("/reports")
    assert f'src="/reports/monthly?month={month}"' in page.text and "政务云年度考核指标" in page.text
    assert "<td>rsj</td>" in page.text
    report = dev_app.get(f"/reports/monthly?month={month}")
    assert report.status_code == 200 and "政务云运行月报" in report.text and "social-security" in report.text
    dev_app.cookies.set("govcloud_lang", "en")
    assert "Government cloud monthly operations report" in dev_app.get(f"/reports/monthly?month={month}").text
    for bad in ("year=99999999999999999999999", "year=9999", "month=9999-12"):
        refused = dev_app.get(f"/reports?{bad}" if "year" in bad else f"/reports/monthly?{bad}")
        assert refused.status_code == 400, bad


def test_an_applications_notices_and_their_delivery(oidc_app, tokens, database_url, dev_app):
    ledger = Ledger.open(database_url)
    directory = nt.Directory(office=("email:office@egov.example", "robot:office"), contacts=False)
    Lifecycle(ledger, directory=directory).submit(SOCIAL, RSJ, beijing_now())
    outbox = Outbox(ledger.engine)
    claimed = {q.recipient: q for q in outbox.claim("run-1", utcnow(), dt.timedelta(minutes=5))}
    email = claimed["email:office@egov.example"]
    outbox.start([email.id], "run-1", "m-1", "email", utcnow())
    outbox.finish([email.id], "run-1", "m-1", "failed", utcnow(), code=550, error="550 <b>no such mailbox</b>")
    robot = claimed["robot:office"]
    outbox.start([robot.id], "run-1", "m-2", "robot", utcnow())
    outbox.finish([robot.id], "run-1", "m-2", "sent", utcnow(), code=200)
    ledger.close()

    shown = oidc_app.get("/api/v1/applications/social-security/notices", headers=tokens.rsj)
    assert shown.status_code == 200, shown.text
    states = {n["recipient"]: (n["kind"], n["status"], n["attempts"], n["last_error"]) for n in shown.json()}
    assert states == {
        "email:office@egov.example": ("request", "failed", 1, "550 <b>no such mailbox</b>"),
        "robot:office": ("request", "sent", 1, None),
    }
    assert oidc_app.get("/api/v1/applications/social-security/notices", headers=tokens.zwb).status_code == 404
    assert oidc_app.get("/api/v1/applications/no-such/notices", headers=tokens.office).status_code == 404

    sign_in(dev_app, "zhaogang", "unit", "rsj", lang="zh")
    page = dev_app.get("/applications/social-security").text
    notices = page[page.index('<table class="notices">') :]
    assert "新申请或变更" in notices and "发送失败" in notices and "已送达" in notices
    assert "550 &lt;b&gt;no such mailbox&lt;/b&gt;" in notices and "<b>no such" not in notices
