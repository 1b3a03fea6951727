"""Real servers on 127.0.0.1 for delivery tests: an SMTP server (aiosmtpd, STARTTLS and AUTH
required) and an HTTP receiver that verifies each robot's signature the way the platform does and
answers as a test scripts it (200, 429, 500, a robot error code, or a slow answer)."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import email
import email.policy
import hashlib
import hmac
import json
import socket
import threading
import time
import urllib.parse
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

USER, PASSWORD = "govcloud", "s3cret-for-tests"
SECRETS = {"dingtalk": "SECdingtalk-test-secret", "feishu": "feishu-test-secret", "webhook": "webhook-test-secret"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (its own CA), and its key."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp.crt", directory / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: email.message.EmailMessage
    tls: bool
    login: str | None


class SmtpServer:
    """aiosmtpd with STARTTLS required and AUTH (PLAIN/LOGIN) required after it."""

    def __init__(self, directory: Path, implicit_tls: bool = False) -> None:
        import ssl

        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        self.cert, key = certificate(directory)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, key)
        self.messages: list[Received] = []
        self.refuse: set[str] = set()  #: recipients answered 550
        self.port = free_port()
        server = self

        class Handler:
            async def handle_RCPT(self, smtp, session, envelope, address, options):
                if address in server.refuse:
                    return "550 5.1.1 no such mailbox"
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, smtp, session, envelope):
                message = email.message_from_bytes(envelope.content, policy=email.policy.default)
                login = session.auth_data.login.decode() if session.auth_data else None
                server.messages.append(
                    Received(
                        envelope.mail_from,
                        list(envelope.rcpt_tos),
                        message,
                        implicit_tls or session.ssl is not None,
                        login,
                    )
                )
                return "250 Message accepted"

        def authenticate(smtp, session, envelope, mechanism, data):
            ok = data.login == USER.encode() and data.password == PASSWORD.encode()
            return AuthResult(success=ok, handled=False, auth_data=data if ok else None)

        # implicit TLS: the socket speaks only TLS (aiosmtpd does not know it, hence auth_require_tls off)
        tls = (
            {"ssl_context": context, "auth_require_tls": False}
            if implicit_tls
            else {"tls_context": context, "require_starttls": True}
        )
        self.controller = Controller(
            Handler(), hostname="127.0.0.1", port=self.port, auth_required=True, authenticator=authenticate, **tls
        )
        self.controller.start()

    def settings(self, **extra) -> dict:
        return {
            "host": "127.0.0.1",
            "port": self.port,
            "security": "starttls",
            "username": USER,
            "passwordEnv": "GOVCLOUD_TEST_SMTP_PASSWORD",
            "from": "govcloud@egov.example.gov.cn",
            "caFile": str(self.cert),
            "perMinute": 1000,
            "timeoutSeconds": 10,
        } | extra

    def stop(self) -> None:
        self.controller.stop()


@dataclass
class Request:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    verified: bool
    answer: int

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """An HTTP server whose paths are robots: ``/wecom/<key>``, ``/dingtalk/<token>``, ``/feishu/<hook>``,
    ``/webhook/<name>``. ``script(path, answers)`` queues answers: an HTTP status, ``("code", n)``
    for a robot error code under HTTP 200, ``("slow", seconds)`` to answer 200 after a while."""

    requests: list[Request] = field(default_factory=list)  #: answered
    arrived: list[tuple[str, bytes]] = field(default_factory=list)  #: (path, body) as each came in
    answers: dict[str, deque] = field(default_factory=lambda: defaultdict(deque))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                url = urllib.parse.urlsplit(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                query = dict(urllib.parse.parse_qsl(url.query))
                kind = url.path.split("/")[1]
                verified = verify(kind, query, dict(self.headers), body)
                with receiver.lock:
                    receiver.arrived.append((url.path, body))
                    queue = receiver.answers[url.path]
                    answer = queue.popleft() if queue else 200
                if isinstance(answer, tuple) and answer[0] == "slow":
                    time.sleep(answer[1])
                    answer = 200
                if isinstance(answer, tuple) and answer[0] == "hang":  # until the client is gone
                    self.connection.settimeout(answer[1])
                    with contextlib.suppress(OSError):
                        self.connection.recv(1)
                    return
                status, code = (200, answer[1]) if isinstance(answer, tuple) else (answer, 0)
                if not verified:  # what the platforms answer to a bad signature
                    status, code = (200, 310000) if kind in ("dingtalk", "feishu") else (401, 0)
                with receiver.lock:
                    receiver.requests.append(Request(url.path, query, dict(self.headers), body, verified, status))
                payload = {"feishu": {"code": code, "msg": "ok" if not code else "error"}}.get(
                    kind, {"errcode": code, "errmsg": "ok" if not code else "error"}
                )
                data = json.dumps(payload).encode()
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", "1")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def script(self, path: str, *answers) -> None:
        with self.lock:
            self.answers[path].extend(answers)

    def at(self, path: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def verify(kind: str, query: dict, headers: dict, body: bytes) -> bool:
    """Each platform's check of a signed request (a 1-hour window, as DingTalk and Feishu allow)."""
    now = time.time()
    if kind == "dingtalk":
        stamp, sign = query.get("timestamp", ""), query.get("sign", "")
        secret = SECRETS["dingtalk"]
        want = base64.b64encode(hmac.new(secret.encode(), f"{stamp}\n{secret}".encode(), hashlib.sha256).digest())
        return stamp.isdigit() and abs(now - int(stamp) / 1000) < 3600 and hmac.compare_digest(sign.encode(), want)
    if kind == "feishu":
        data = json.loads(body)
        stamp, secret = str(data.get("timestamp", "")), SECRETS["feishu"]
        want = base64.b64encode(hmac.new(f"{stamp}\n{secret}".encode(), b"", hashlib.sha256).digest()).decode()
        return stamp.isdigit() and abs(now - int(stamp)) < 3600 and hmac.compare_digest(str(data.get("sign", "")), want)
    if kind == "webhook":
        stamp = headers.get("X-Govcloud-Timestamp", "")
        want = (
            "sha256=" + hmac.new(SECRETS["webhook"].encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        )
        return (
            stamp.isdigit()
            and abs(now - int(stamp)) < 300
            and hmac.compare_digest(headers.get("X-Govcloud-Signature", ""), want)
        )
    return kind == "wecom"  # the key in the address is the check


def robots(receiver: Receiver) -> dict:
    """The notices.robots settings of one robot of each type at ``receiver`` (addresses and secrets by env)."""
    return {
        "wecom": {"type": "wecom", "urlEnv": "GOVCLOUD_TEST_WECOM"},
        "ding": {"type": "dingtalk", "urlEnv": "GOVCLOUD_TEST_DINGTALK", "secretEnv": "GOVCLOUD_TEST_DINGTALK_SECRET"},
        "feishu": {"type": "feishu", "urlEnv": "GOVCLOUD_TEST_FEISHU", "secretEnv": "GOVCLOUD_TEST_FEISHU_SECRET"},
        "hook": {
            "type": "webhook",
            "url": f"{receiver.base}/webhook/audit",
            "secretEnv": "GOVCLOUD_TEST_WEBHOOK_SECRET",
        },
    }


def environment(receiver: Receiver) -> dict[str, str]:
    """The environment variables the settings of :func:`robots` and the SMTP server name."""
    return {
        "GOVCLOUD_TEST_WECOM": f"{receiver.base}/wecom/send?key=wecom-key-1",
        "GOVCLOUD_TEST_DINGTALK": f"{receiver.base}/dingtalk/send?access_token=ding-token-1",
        "GOVCLOUD_TEST_DINGTALK_SECRET": SECRETS["dingtalk"],
        "GOVCLOUD_TEST_FEISHU": f"{receiver.base}/feishu/hook-1",
        "GOVCLOUD_TEST_FEISHU_SECRET": SECRETS["feishu"],
        "GOVCLOUD_TEST_WEBHOOK_SECRET": SECRETS["webhook"],
        "GOVCLOUD_TEST_SMTP_PASSWORD": PASSWORD,
    }
