"""Delivery against real servers on 127.0.0.1: SMTP (STARTTLS + AUTH) and robots that check signatures."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from orchestrator.adapters.ledger import Ledger
from orchestrator.core import notices as nt
from orchestrator.services.notices import Notices
from orchestrator.settings_notices import NoticeSettings

from . import servers

NOW = dt.datetime(2026, 2, 25, 1, 0)  # UTC
EVIL = "见附件 <script>alert(1)</script> *bold* [link](http://x) \u202egnp.exe\r\nBcc: victim@example.com"


@pytest.fixture(scope="module")
def smtp(tmp_path_factory):
    server = servers.SmtpServer(tmp_path_factory.mktemp("smtp"))
    yield server
    server.stop()


@pytest.fixture
def ledger(tmp_path):
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'ledger.db'}")
    yield ledger
    ledger.close()


def make(ledger, smtp, receiver, language="zh", **extra) -> Notices:
    settings = NoticeSettings.model_validate(
        {
            "language": language,
            "email": smtp.settings(),
            "robots": servers.robots(receiver),
            "backoffSeconds": 0.01,
            **extra,
        }
    )
    sleeps: list[float] = []
    notices = Notices(ledger, settings, sleep=sleeps.append)
    notices.sleeps = sleeps
    return notices


def decision(app: str, reason: str = "ok", topic: str = "rejected") -> nt.Notice:
    return nt.Notice(
        "decision",
        app,
        "rsj",
        dt.date(2026, 2, 24),
        ("unit",),
        topic=topic,
        payload={"event": topic, "at": "2026-02-24T09:00:00", "actor": "zhang", "reason": reason},
    )


def queue(notices: Notices, *pairs: tuple[nt.Notice, str]) -> None:
    assert notices.outbox.enqueue([nt.Addressed(n, r) for n, r in pairs]) == len(pairs)


def test_email_one_digest_per_recipient_over_starttls_with_auth(ledger, smtp, receiver):
    smtp.messages.clear()
    notices = make(ledger, smtp, receiver)
    a, b = "email:zhaogang@rsj.example.gov.cn", "email:office@egov.example.gov.cn"
    queue(
        notices,
        (decision("social-security", EVIL), a),
        (decision("citizen-portal"), a),
        (decision("permit", topic="accepted"), b),
    )
    report = notices.deliver(NOW)
    assert (report.count("sent"), report.failed) == (2, 0)
    assert sorted(r.recipients[0] for r in smtp.messages) == [
        "office@egov.example.gov.cn",
        "zhaogang@rsj.example.gov.cn",
    ]
    got = next(r for r in smtp.messages if r.recipients == ["zhaogang@rsj.example.gov.cn"])
    assert got.tls and got.login == servers.USER and got.sender == "govcloud@egov.example.gov.cn"
    m = got.message
    assert m["Subject"] == "[政务云] 2 条通知" and m["Auto-Submitted"] == "auto-generated"
    assert m["X-Govcloud-Notices"] == "2" and m["Bcc"] is None  # the stored CR LF made no header
    assert m["Message-ID"] == f"<{report.messages[0].id}@govcloud>"
    text = m.get_body(("plain",)).get_content()
    html = m.get_body(("html",)).get_content()
    assert "1. [决定] 2026-02-24 09:00 zhang 退回：social-security" in text and "2. [决定]" in text
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "\u202e" not in text + html and "\r" not in text  # no reordering, no control characters
    assert "Bcc: victim@example.com" in text  # kept as text, on the same line
    assert notices.outbox.counts() == {"pending": 0, "sending": 0, "sent": 3, "failed": 0}
    assert notices.deliver(NOW).messages == []  # nothing left: sent once


def test_email_refusals(ledger, smtp, receiver, monkeypatch):
    smtp.messages.clear()
    smtp.refuse.add("gone@rsj.example.gov.cn")
    notices = make(ledger, smtp, receiver, language="en")
    queue(notices, (decision("a"), "email:gone@rsj.example.gov.cn"), (decision("b"), "email:ok@rsj.example.gov.cn"))
    report = notices.deliver(NOW)
    outcomes = {m.recipient: (m.outcome, m.code, m.attempts) for m in report.messages}
    assert outcomes == {
        "email:gone@rsj.example.gov.cn": ("failed", 550, 1),
        "email:ok@rsj.example.gov.cn": ("sent", 250, 1),
    }
    assert smtp.messages[0].message["Subject"] == "[govcloud] 1 notice"
    # a wrong password is refused for good (535), never retried into a lockout
    monkeypatch.setenv("GOVCLOUD_TEST_SMTP_PASSWORD", "wrong")
    queue(notices, (decision("c"), "email:ok@rsj.example.gov.cn"))
    (message,) = notices.deliver(NOW).messages
    assert (message.outcome, message.code, message.attempts) == ("failed", 535, 1)
    monkeypatch.delenv("GOVCLOUD_TEST_SMTP_PASSWORD")
    queue(notices, (decision("d"), "email:ok@rsj.example.gov.cn"))
    (message,) = notices.deliver(NOW).messages
    assert message.outcome == "failed" and "GOVCLOUD_TEST_SMTP_PASSWORD is not set" in message.error


def test_each_robot_receives_a_signed_digest(ledger, smtp, receiver):
    notices = make(ledger, smtp, receiver)
    for robot in ("wecom", "ding", "feishu", "hook"):
        queue(notices, (decision("social-security", EVIL), f"robot:{robot}"), (decision("permit"), f"robot:{robot}"))
    report = notices.deliver(NOW)
    assert (report.count("sent"), report.failed) == (4, 0)
    assert all(r.verified for r in receiver.requests) and len(receiver.requests) == 4
    (wecom,) = receiver.at("/wecom/send")
    content = wecom.json["markdown"]["content"]
    assert wecom.json["msgtype"] == "markdown" and wecom.query == {"key": "wecom-key-1"}
    assert r"\<script\>alert(1)\</script\> \*bold\* \[link\](http://x)" in content
    assert "\u202e" not in content and "\r" not in content
    (ding,) = receiver.at("/dingtalk/send")
    assert ding.json["markdown"]["title"] == "[政务云] 2 条通知" and "\\*bold\\*" in ding.json["markdown"]["text"]
    assert {"access_token", "timestamp", "sign"} == set(ding.query)
    (feishu,) = receiver.at("/feishu/hook-1")
    assert feishu.json["msg_type"] == "text" and "<script>alert(1)</script>" in feishu.json["content"]["text"]
    (hook,) = receiver.at("/webhook/audit")
    body = hook.json
    assert hook.headers["Idempotency-Key"] == body["id"] == report.messages[-1].id
    assert [n["application"] for n in body["notices"]] == ["social-security", "permit"]
    assert body["notices"][0]["payload"]["reason"] == EVIL  # JSON carries the text as stored


def test_a_bad_signature_is_refused_and_recorded(ledger, smtp, receiver, monkeypatch):
    monkeypatch.setenv("GOVCLOUD_TEST_DINGTALK_SECRET", "SECwrong")
    monkeypatch.setenv("GOVCLOUD_TEST_WEBHOOK_SECRET", "wrong")
    notices = make(ledger, smtp, receiver)
    queue(notices, (decision("a"), "robot:ding"), (decision("a"), "robot:hook"))
    outcomes = {m.recipient: (m.outcome, m.code) for m in notices.deliver(NOW).messages}
    assert outcomes == {"robot:ding": ("failed", 310000), "robot:hook": ("failed", 401)}
    assert [r.verified for r in receiver.requests] == [False, False]


def test_429_and_5xx_are_retried_other_4xx_fail(ledger, smtp, receiver):
    notices = make(ledger, smtp, receiver, retries=2)
    receiver.script("/wecom/send", 429, 200)
    receiver.script("/feishu/hook-1", 500, 502, 503)
    receiver.script("/webhook/audit", 400)
    queue(notices, (decision("a"), "robot:wecom"), (decision("a"), "robot:feishu"), (decision("a"), "robot:hook"))
    report = notices.deliver(NOW)
    outcomes = {m.recipient: (m.outcome, m.code, m.attempts) for m in report.messages}
    assert outcomes == {
        "robot:wecom": ("sent", 200, 2),
        "robot:feishu": ("retry", 503, 3),
        "robot:hook": ("failed", 400, 1),
    }
    assert notices.sleeps == [1.0, 0.01, 0.02]  # Retry-After: 1 of the 429, then the backoff
    (feishu,) = notices.outbox.listing("pending")
    assert feishu.attempts == 3 and feishu.next_attempt > NOW and "HTTP 503" in feishu.last_error
    history = notices.outbox.attempts(feishu.id)
    assert [(a["outcome"], a["code"]) for a in history] == [("retry", 500), ("retry", 502), ("retry", 503)]
    assert notices.deliver(NOW).messages == []  # not before its next attempt
    later = notices.deliver(feishu.next_attempt)
    assert [(m.recipient, m.outcome) for m in later.messages] == [("robot:feishu", "sent")]
    assert notices.outbox.counts() == {"pending": 0, "sending": 0, "sent": 2, "failed": 1}


def test_attempts_run_out(ledger, smtp, receiver):
    notices = make(ledger, smtp, receiver, retries=0, maxAttempts=2)
    receiver.script("/feishu/hook-1", 500, 500)
    queue(notices, (decision("a"), "robot:feishu"))
    first = notices.deliver(NOW).messages[0]
    (pending,) = notices.outbox.listing("pending")
    second = notices.deliver(pending.next_attempt).messages[0]
    assert (first.outcome, second.outcome) == ("retry", "retry")
    (failed,) = notices.outbox.listing("failed")
    assert failed.attempts == 2 and notices.deliver(NOW + dt.timedelta(days=1)).messages == []


def test_dingtalk_limits(ledger, smtp, receiver):
    """20 messages a minute per robot, counted in the outbox across runs and processes; a robot
    that says "too fast" (130101) blocks for 10 minutes, and nothing is sent to it before."""
    notices = make(ledger, smtp, receiver)
    before = NOW - dt.timedelta(seconds=30)
    queue(notices, *((decision(f"old-{i}"), "robot:ding") for i in range(20)))
    for q in notices.outbox.claim("old", before, dt.timedelta(minutes=5)):  # 20 messages of earlier runs
        notices.outbox.start([q.id], "old", f"m{q.id}", "robot:ding", before)
        notices.outbox.finish([q.id], "old", f"m{q.id}", "sent", before)
    queue(notices, (decision("a"), "robot:ding"))
    (deferred,) = notices.deliver(NOW).messages
    assert deferred.outcome == "deferred" and "20 messages a minute" in deferred.error
    assert receiver.requests == []
    (pending,) = notices.outbox.listing("pending")
    assert pending.attempts == 0 and pending.next_attempt is not None
    receiver.script("/dingtalk/send", ("code", 130101))
    (blocked,) = notices.deliver(NOW + dt.timedelta(minutes=2)).messages
    assert (blocked.outcome, blocked.code, blocked.attempts) == ("retry", 130101, 1)  # not retried into the block
    (pending,) = notices.outbox.listing("pending")
    assert pending.next_attempt >= NOW + dt.timedelta(minutes=12)
    assert notices.deliver(NOW + dt.timedelta(minutes=11)).messages == []
    (sent,) = notices.deliver(pending.next_attempt).messages
    assert sent.outcome == "sent"


def test_a_robot_setting_a_limit_below_the_platform(ledger, smtp, receiver):
    robots = servers.robots(receiver)
    robots["feishu"]["perMinute"] = 1
    notices = make(ledger, smtp, receiver)
    notices.settings = notices.settings.model_copy(
        update={"robots": NoticeSettings.model_validate({"robots": robots}).robots}
    )
    queue(notices, (decision("a"), "robot:feishu"))
    assert notices.deliver(NOW).messages[0].outcome == "sent"
    queue(notices, (decision("b"), "robot:feishu"))
    assert notices.deliver(NOW + dt.timedelta(seconds=10)).messages[0].outcome == "deferred"
    assert notices.deliver(NOW + dt.timedelta(seconds=75)).messages[0].outcome == "sent"
    receiver.script("/feishu/hook-1", 500)  # a retry is a message too: none left this minute
    queue(notices, (decision("c"), "robot:feishu"))
    (message,) = notices.deliver(NOW + dt.timedelta(seconds=150)).messages
    assert (message.outcome, message.attempts, message.code) == ("retry", 1, 500)
    assert notices.outbox.messages_since("robot:feishu", NOW + dt.timedelta(seconds=140)) == 1


def test_dry_run_sends_and_claims_nothing(ledger, smtp, receiver):
    notices = make(ledger, smtp, receiver)
    queue(notices, (decision("a"), "robot:wecom"), (decision("b"), "robot:wecom"), (decision("a"), "robot:nowhere"))
    report = notices.deliver(NOW, dry_run=True)
    assert [(m.recipient, len(m.notices), m.outcome) for m in report.messages] == [
        ("robot:wecom", 2, "would-send"),
        ("robot:nowhere", 1, "would-send"),
    ]
    assert receiver.requests == [] and notices.outbox.counts()["pending"] == 3
    report = notices.deliver(NOW)
    assert {m.recipient: m.outcome for m in report.messages} == {"robot:wecom": "sent", "robot:nowhere": "failed"}
    assert "robot nowhere is not configured" in report.messages[1].error


def test_settings_refuse_secrets_in_the_file_and_unknown_keys():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="holds its access token: give urlEnv or urlFile"):
        NoticeSettings.model_validate(
            {"robots": {"x": {"type": "wecom", "url": "https://qyapi.weixin.qq.com/x?key=k"}}}
        )
    with pytest.raises(ValidationError, match="signs its messages"):
        NoticeSettings.model_validate({"robots": {"x": {"type": "dingtalk", "urlEnv": "X"}}})
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        NoticeSettings.model_validate({"email": {"host": "h", "from": "a@b", "password": "inline"}})
    with pytest.raises(ValidationError, match=r"robots not configured under notices.robots: robot:nobody"):
        NoticeSettings.model_validate({"office": ["robot:nobody"]})
    with pytest.raises(ValidationError, match="https://"):
        NoticeSettings.model_validate(
            {"robots": {"x": {"type": "webhook", "url": "http://example.com/", "secretEnv": "S"}}}
        )
    assert json.dumps(NoticeSettings().model_dump())  # defaults serialise


def test_a_digest_too_long_for_a_robot_is_cut_and_says_so(ledger, smtp, receiver):
    notices = make(ledger, smtp, receiver)
    queue(notices, *((decision(f"application-{i:03d}", "为什么" * 20), "robot:wecom") for i in range(200)))
    (message,) = notices.deliver(NOW).messages
    (wecom,) = receiver.at("/wecom/send")
    content = wecom.json["markdown"]["content"]
    assert message.outcome == "sent" and len(content.encode()) <= 4096
    assert content.endswith("more lines: govcloud notify status)") and "application-000" in content
    assert notices.outbox.counts()["sent"] == 200


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # the socket is TLS-only
def test_email_over_implicit_tls_checks_the_certificate(ledger, receiver, tmp_path):
    server = servers.SmtpServer(tmp_path, implicit_tls=True)
    try:
        notices = make(ledger, server, receiver, email=server.settings(security="tls"))
        queue(notices, (decision("a"), "email:x@rsj.example.gov.cn"))
        assert notices.deliver(NOW).messages[0].outcome == "sent"
        assert server.messages[0].tls and server.messages[0].login == servers.USER
        # a certificate the configured CA did not sign is refused (and retried later, not sent in clear)
        other = tmp_path / "other"
        other.mkdir()
        untrusted = servers.certificate(other)[0]
        notices = make(ledger, server, receiver, email=server.settings(security="tls", caFile=str(untrusted)))
        queue(notices, (decision("b"), "email:x@rsj.example.gov.cn"))
        (message,) = notices.deliver(NOW).messages
        assert message.outcome == "retry" and "CERTIFICATE_VERIFY_FAILED" in message.error
        assert len(server.messages) == 1
    finally:
        server.stop()


def test_a_bad_notices_section_names_file_line_and_field(tmp_path):
    from orchestrator.errors import GovcloudError
    from orchestrator.settings import load_settings

    path = tmp_path / "govcloud.yaml"
    path.write_text("auth: local\nnotices:\n  robots:\n    office: {type: dingtalk, urlEnv: X}\n", encoding="utf-8")
    with pytest.raises(GovcloudError) as bad:
        load_settings(path)
    assert bad.value.exit_code == 2
    assert str(path) in str(bad.value) and "notices.robots.office" in str(bad.value)
    assert "signs its messages: give secretEnv or secretFile" in str(bad.value)
