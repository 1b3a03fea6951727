"""Delivery channels: e-mail over SMTP and chat robots over HTTPS, each sending one digest.

Every send returns an :class:`Outcome`, never raises for the other side's answer:

- ``sent``;
- ``retry``: worth trying again (HTTP 429 and 5xx, SMTP 4xx, a robot's "too fast" code, a
  connection that failed or timed out), with the wait the other side asked for, if any;
- ``failed``: trying again will not help (another HTTP 4xx, SMTP 5xx, a robot's other error
  codes, a secret or address that is not configured).

Robot formats and signatures as the platforms document them:

- WeCom group robot: ``{"msgtype": "markdown"}``; the key is in the address; answers ``errcode``.
- DingTalk custom robot (signed): ``&timestamp=<ms>&sign=<base64(HMAC-SHA256(secret, "<ms>\\n<secret>"))>``
  on the address; ``{"msgtype": "markdown"}``; errcode 130101 means too fast (blocked 10 minutes).
- Feishu robot: ``{"msg_type": "text"}``, with ``timestamp`` and ``sign`` =
  ``base64(HMAC-SHA256(key="<s>\\n<secret>", msg=""))`` when a secret is set; answers ``code``.
- Generic webhook: the notices as JSON, ``X-Govcloud-Timestamp`` and ``X-Govcloud-Signature:
  sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>``, and ``Idempotency-Key`` (the message id).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import smtplib
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from orchestrator.adapters.noticetexts import Digest
from orchestrator.core import notices as nt
from orchestrator.errors import GovcloudError
from orchestrator.settings_notices import EmailSettings, RobotSettings

#: Robot answer codes that mean "too fast": retry after the platform's block.
RATE_CODES = {"wecom": {45009}, "dingtalk": {130101}, "feishu": {9499, 11232}}
#: Bytes of text each robot takes (WeCom: 4,096 of markdown; DingTalk: 20,000; Feishu: a 20 KB body).
SIZE_LIMITS = {"wecom": 4096, "dingtalk": 20000, "feishu": 18000}
TIMEOUT = 15


@dataclass(frozen=True)
class Outcome:
    status: str  #: sent, retry, failed
    code: int | None = None
    error: str | None = None
    retry_after: float | None = None  #: seconds the other side asked us to wait


@dataclass(frozen=True)
class Envelope:
    """What a channel sends: the digest, its stable id, and the notices (as data, for webhooks)."""

    id: str
    recipient: str
    digest: Digest
    notices: list[nt.Queued]


class Mailer:
    """E-mail through the configured SMTP server; one connection for a whole run, opened on the
    first message and opened again after a connection failed."""

    def __init__(self, settings: EmailSettings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def send(self, address: str, envelope: Envelope) -> Outcome:
        """One multipart (text + HTML) message to ``address``."""
        s = self.settings
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = s.sender, address, envelope.digest.subject
        msg["Date"] = formatdate(localtime=True)
        msg["Message-ID"] = f"<{envelope.id}@govcloud>"  # the same on a resend: mail clients can tell
        msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies
        msg["X-Govcloud-Notices"] = str(len(envelope.notices))
        msg.set_content(envelope.digest.text)
        msg.add_alternative(envelope.digest.html, subtype="html")
        try:
            self._connected().send_message(msg, to_addrs=[address])  # never addresses parsed from headers
        except GovcloudError as exc:
            return Outcome("failed", error=str(exc))
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            return _smtp(code, text)
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code == 421:
                self.close()  # the server closes the session: the next message connects anew
            return _smtp(exc.smtp_code, exc.smtp_error)
        except (OSError, smtplib.SMTPException) as exc:  # refused, timed out, TLS failed, dropped
            self.close()
            return Outcome("retry", error=f"SMTP {s.host}:{s.port}: {exc.__class__.__name__}: {exc}")
        return Outcome("sent", code=250)

    def _connected(self) -> smtplib.SMTP:
        if self._smtp is not None:
            return self._smtp
        s = self.settings
        password = s.password()
        context = ssl.create_default_context(cafile=s.ca_file)
        if s.security == "tls":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout_seconds, context=context)
        else:
            smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds)
        try:
            if s.security == "starttls":
                smtp.starttls(context=context)
            if s.username:
                smtp.login(s.username, password or "")
        except BaseException:
            _quietly_close(smtp)
            raise
        self._smtp = smtp
        return smtp

    def close(self) -> None:
        if self._smtp is not None:
            smtp, self._smtp = self._smtp, None
            _quietly_close(smtp)


def _quietly_close(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()


def _smtp(code: int, text: bytes | str) -> Outcome:
    text = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    return Outcome("retry" if 400 <= code < 500 else "failed", code=code, error=f"SMTP {code} {text}"[:500])


def send_robot(robot: RobotSettings, envelope: Envelope, now: float | None = None) -> Outcome:
    """One message to a robot or webhook."""
    now = time.time() if now is None else now
    try:
        url, secret = robot.address(), robot.secret()
    except (GovcloudError, ValueError) as exc:
        return Outcome("failed", error=str(exc))
    body, headers = _format(robot.type, envelope, secret, now)
    if robot.type == "dingtalk" and secret:
        url += ("&" if "?" in url else "?") + urllib.parse.urlencode(dingtalk_sign(secret, now))
    return _post(robot.type, url, body, headers)


def dingtalk_sign(secret: str, now: float) -> dict[str, str]:
    stamp = str(int(now * 1000))
    digest = hmac.new(secret.encode(), f"{stamp}\n{secret}".encode(), hashlib.sha256).digest()
    return {"timestamp": stamp, "sign": base64.b64encode(digest).decode()}


def feishu_sign(secret: str, now: float) -> dict[str, str]:
    stamp = str(int(now))
    digest = hmac.new(f"{stamp}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return {"timestamp": stamp, "sign": base64.b64encode(digest).decode()}


def webhook_signature(secret: str, stamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def _format(kind: str, envelope: Envelope, secret: str | None, now: float) -> tuple[bytes, dict[str, str]]:
    digest, headers = envelope.digest, {"Content-Type": "application/json; charset=utf-8"}
    if kind == "wecom":
        data: dict[str, Any] = {"msgtype": "markdown", "markdown": {"content": _cut(digest.markdown, kind)}}
    elif kind == "dingtalk":
        data = {"msgtype": "markdown", "markdown": {"title": digest.subject, "text": _cut(digest.markdown, kind)}}
    elif kind == "feishu":
        data = {"msg_type": "text", "content": {"text": _cut(digest.text, kind)}}
        if secret:
            data |= feishu_sign(secret, now)
    else:
        data = {
            "id": envelope.id,
            "recipient": envelope.recipient,
            "subject": digest.subject,
            "text": digest.text,
            "notices": [_data(q) for q in envelope.notices],
        }
    body = json.dumps(data, ensure_ascii=False, default=str).encode()
    if kind == "webhook":
        stamp = str(int(now))
        headers |= {"X-Govcloud-Timestamp": stamp, "Idempotency-Key": envelope.id}
        if secret:
            headers["X-Govcloud-Signature"] = webhook_signature(secret, stamp, body)
    return body, headers


def _data(q: nt.Queued) -> dict[str, Any]:
    """A notice as a webhook receives it (JSON: no markup to escape)."""
    data = q.as_dict()
    for key in ("id", "status", "attempts", "next_attempt", "sent_at", "last_error"):
        del data[key]
    return data


def _cut(text: str, kind: str) -> str:
    """``text`` within the robot's size, cut at a line, saying how many lines were left out (the
    whole digest is in ``govcloud notify status``)."""
    limit = SIZE_LIMITS[kind]
    if len(text.encode()) <= limit:
        return text
    kept = text.encode()[: limit - 80].decode(errors="ignore").rsplit("\n", 1)[0]
    left = text.count("\n") - kept.count("\n")
    return f"{kept}\n\n… ({left} more lines: govcloud notify status)"


def _post(kind: str, url: str, body: bytes, headers: dict[str, str]) -> Outcome:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 (check_url: https)
    host = urllib.parse.urlsplit(url).netloc  # never the path or query: they hold the robot's key
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310 (as above)
            status, text = response.status, response.read(65536).decode(errors="replace")
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read(4096).decode(errors="replace")
        wait = _seconds(exc.headers.get("Retry-After"))
        kind_of = "retry" if status == 429 or status >= 500 else "failed"
        return Outcome(kind_of, code=status, error=f"{kind} {host}: HTTP {status} {text[:200]}", retry_after=wait)
    except (OSError, urllib.error.URLError) as exc:
        return Outcome("retry", error=f"{kind} {host}: {exc.__class__.__name__}: {getattr(exc, 'reason', exc)}")
    if kind == "webhook":
        return Outcome("sent", code=status)
    try:
        answer = json.loads(text)
        code = int(answer.get("errcode", answer.get("code", answer.get("StatusCode", 0))))
    except (ValueError, TypeError, AttributeError):
        return Outcome("failed", code=status, error=f"{kind} {host}: not a robot answer: {text[:200]}")
    if code == 0:
        return Outcome("sent", code=status)
    message = answer.get("errmsg") or answer.get("msg") or ""
    if code in RATE_CODES.get(kind, ()):
        return Outcome("retry", code=code, error=f"{kind} {host}: too fast ({code} {message})")
    return Outcome("failed", code=code, error=f"{kind} {host}: error {code} {message}"[:500])


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
