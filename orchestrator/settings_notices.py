"""The ``notices`` section of ``govcloud.yaml``: who hears what, and the channels to reach them.

::

    notices:
      language: zh                       # zh or en
      office: [robot:office, email:office@egov.example.gov.cn]
      provider: [robot:ops]
      units: {rsj: [robot:rsj, email:it@rsj.example.gov.cn]}
      contacts: true                     # also e-mail the manifest's contacts about their application
      email:
        host: smtp.example.gov.cn
        port: 587
        security: starttls               # none, starttls or tls
        username: govcloud
        passwordEnv: GOVCLOUD_SMTP_PASSWORD   # or passwordFile: /etc/govcloud/smtp-password
        from: govcloud@example.gov.cn
      robots:
        office: {type: wecom, urlEnv: GOVCLOUD_WECOM_OFFICE}
        ops: {type: dingtalk, urlEnv: GOVCLOUD_DINGTALK_OPS, secretEnv: GOVCLOUD_DINGTALK_OPS_SECRET}
        rsj: {type: feishu, urlFile: /etc/govcloud/feishu-rsj.url, secretFile: /etc/govcloud/feishu-rsj.secret}
        audit: {type: webhook, url: https://audit.example.gov.cn/govcloud, secretEnv: GOVCLOUD_AUDIT_SECRET}

Secrets (the SMTP password, a robot's address that carries its access token, signing secrets)
are never written here: only the environment variable or the file that holds them. They are read
when a message is sent, so a missing one fails that channel's delivery, not every command.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, model_validator
from pydantic.alias_generators import to_camel

from orchestrator.errors import ExternalError
from orchestrator.urls import secure_url

if TYPE_CHECKING:
    from orchestrator.core.notices import Directory

Recipient = Annotated[StrictStr, Field(pattern=r"^(email:[^@\s:]+@[^@\s]+|robot:[a-z0-9][a-z0-9-]{0,62})$")]
EnvName = Annotated[StrictStr, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
PerMinute = Annotated[StrictInt, Field(ge=1, le=10000)]

#: What each robot platform allows (messages a minute per robot) and how long it blocks after.
ROBOT_LIMITS: dict[str, tuple[int, int]] = {
    "wecom": (20, 60),
    "dingtalk": (20, 600),
    "feishu": (100, 60),
    "webhook": (60, 60),
}


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


def read_secret(env: str | None, file: str | None, what: str) -> str | None:
    """The value of environment variable ``env`` or the content of ``file`` (stripped); None when neither is set.
    :class:`ExternalError` when the one named is missing or empty."""
    if env:
        value = os.environ.get(env, "").strip()
        if not value:
            raise ExternalError(f"{what}: environment variable {env} is not set")
        return value
    if file:
        try:
            value = Path(file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ExternalError(f"{what}: cannot read {file}: {exc.strerror or exc}") from exc
        if not value:
            raise ExternalError(f"{what}: {file} is empty")
        return value
    return None


def _one_at_most(model: BaseModel, *names: str) -> None:
    given = [n for n in names if getattr(model, n) is not None]
    if len(given) > 1:
        raise ValueError(f"give one of {', '.join(map(to_camel, names))}, not several")


class EmailSettings(_Model):
    """The SMTP server notices are sent through."""

    host: StrictStr = Field(min_length=1)
    port: Annotated[StrictInt, Field(ge=1, le=65535)] = 587
    security: Literal["none", "starttls", "tls"] = "starttls"
    username: StrictStr | None = None
    password_env: EnvName | None = None
    password_file: StrictStr | None = None
    sender: StrictStr = Field(alias="from", pattern=r"^[^@\s]+@[^@\s]+$")
    ca_file: StrictStr | None = None  #: the CA that signed the server's certificate, if not a public one
    per_minute: PerMinute = 60
    timeout_seconds: Annotated[StrictInt, Field(ge=1, le=300)] = 30

    @model_validator(mode="after")
    def _password(self) -> EmailSettings:
        _one_at_most(self, "password_env", "password_file")
        if (self.password_env or self.password_file) and not self.username:
            raise ValueError("a password needs a username")
        return self

    def password(self) -> str | None:
        return read_secret(self.password_env, self.password_file, "notices.email password")


class RobotSettings(_Model):
    """One chat robot or webhook. Robot addresses carry their access token: only ``urlEnv`` or
    ``urlFile``; a generic webhook may give its ``url`` here."""

    type: Literal["wecom", "dingtalk", "feishu", "webhook"]
    url: StrictStr | None = None
    url_env: EnvName | None = None
    url_file: StrictStr | None = None
    secret_env: EnvName | None = None
    secret_file: StrictStr | None = None
    per_minute: PerMinute | None = None  #: default: the platform's limit (DingTalk 20, Feishu 100)

    @model_validator(mode="after")
    def _sources(self) -> RobotSettings:
        _one_at_most(self, "url", "url_env", "url_file")
        _one_at_most(self, "secret_env", "secret_file")
        if self.url is not None and self.type != "webhook":
            raise ValueError(f"a {self.type} robot's address holds its access token: give urlEnv or urlFile")
        if self.url is None and self.url_env is None and self.url_file is None:
            raise ValueError("give the robot's address: urlEnv or urlFile (url for a webhook)")
        if self.type in ("dingtalk", "webhook") and not (self.secret_env or self.secret_file):
            raise ValueError(f"a {self.type} robot signs its messages: give secretEnv or secretFile")
        if self.url is not None:
            check_url(self.url)
        return self

    @property
    def limit(self) -> tuple[int, int]:
        """(messages a minute, seconds blocked when the platform says too fast)."""
        per_minute, block = ROBOT_LIMITS[self.type]
        if self.per_minute:  # a robot platform's own limit is never raised
            per_minute = self.per_minute if self.type == "webhook" else min(self.per_minute, per_minute)
        return per_minute, block

    def address(self) -> str:
        return check_url(self.url or read_secret(self.url_env, self.url_file, f"robot {self.type} address") or "")

    def secret(self) -> str | None:
        return read_secret(self.secret_env, self.secret_file, f"robot {self.type} secret")


def check_url(value: str) -> str:
    """``value`` if it is https, or http to a loopback address (local tests); else ValueError."""
    try:
        return secure_url(value)
    except ValueError:
        raise ValueError("a robot address must be an https:// URL (http:// only to a loopback address)") from None


class NoticeSettings(_Model):
    """Who hears what (:class:`orchestrator.core.notices.Directory`) and how (e-mail, robots)."""

    language: Literal["zh", "en"] = "zh"
    office: list[Recipient] = []
    provider: list[Recipient] = []
    units: dict[Annotated[StrictStr, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")], list[Recipient]] = {}
    contacts: StrictBool = True
    email: EmailSettings | None = None
    robots: dict[Annotated[StrictStr, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")], RobotSettings] = {}
    claim_seconds: Annotated[StrictInt, Field(ge=5, le=3600)] = 300  #: a run's hold on the notices it sends
    retries: Annotated[StrictInt, Field(ge=0, le=5)] = 2  #: in-run retries of a 429 or 5xx
    backoff_seconds: Annotated[float, Field(ge=0, le=60)] = 1.0
    max_attempts: Annotated[StrictInt, Field(ge=1, le=50)] = 8  #: then the notice is failed for good

    def directory(self) -> Directory:
        from orchestrator.core.notices import Directory

        return Directory(
            tuple(self.office), tuple(self.provider), {u: tuple(r) for u, r in self.units.items()}, self.contacts
        )

    @model_validator(mode="after")
    def _known_robots(self) -> NoticeSettings:
        named = [r for rs in (self.office, self.provider, *self.units.values()) for r in rs]
        unknown = sorted({r for r in named if r.startswith("robot:") and r[6:] not in self.robots})
        if unknown:
            raise ValueError(f"recipients name robots not configured under notices.robots: {', '.join(unknown)}")
        if any(r.startswith("email:") for r in named) and self.email is None:
            raise ValueError("e-mail recipients need notices.email (the SMTP server)")
        return self
