"""govcloud's own configuration: ``govcloud.yaml`` (or the file in ``GOVCLOUD_CONFIG``).

Only how operators are known lives here for now::

    auth: oidc                      # or "local" (development: --as/--role are trusted)
    oidc:
      issuer: https://sso.changsha.gov.cn/realms/government
      audience: govcloud-cli
      roleClaim: govcloud_roles     # a string or a list of strings in the ID token
      roleMap: {govcloud-egov: egov-office, govcloud-provider: provider, govcloud-unit: unit}
      unitClaim: unit               # the unit of a "unit" actor

Without any file, ``auth`` is ``oidc`` with no issuer: every lifecycle command then says how to
configure one. The repository ships a ``govcloud.yaml`` with ``auth: local`` for development.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from orchestrator import files
from orchestrator.errors import UsageError
from orchestrator.settings_notices import NoticeSettings

CONFIG_FILE = "govcloud.yaml"


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class OidcSettings(_Model):
    """Where ID tokens come from and how their claims map to govcloud actors."""

    issuer: str = Field(pattern=r"^https?://")
    audience: str
    jwks_uri: str | None = None
    name_claim: str = "preferred_username"
    role_claim: str = "govcloud_roles"
    role_map: dict[str, Literal["unit", "egov-office", "provider"]]
    unit_claim: str = "unit"
    algorithms: list[str] = ["RS256", "ES256"]
    leeway_seconds: int = Field(default=30, ge=0, le=300)


class Settings(_Model):
    auth: Literal["local", "oidc"] = "oidc"
    oidc: OidcSettings | None = None
    notices: NoticeSettings | None = None  #: docs/notices.md
    source: str = Field(default="(defaults)", exclude=True)


def load_settings(path: str | Path | None = None) -> Settings:
    """Settings from ``path``, ``GOVCLOUD_CONFIG``, or ``./govcloud.yaml``; defaults without a file."""
    from orchestrator.core.yamlsource import ParseFailed, dotted, line_of, parse, plain

    named = path or os.environ.get("GOVCLOUD_CONFIG")
    candidate = Path(named or CONFIG_FILE)
    if not named and not candidate.exists() and not candidate.is_symlink():
        return Settings()
    try:
        root = parse(files.read_bytes(candidate, what="configuration file"))
        settings = Settings.model_validate(plain(root) | {"source": str(candidate)})
    except ParseFailed as failed:
        raise UsageError(f"{candidate}: {failed.problem}") from failed
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = dotted(tuple(first["loc"]))
        raise UsageError(
            f"{candidate}: line {line_of(root, tuple(first['loc']))}: {field}: {first['msg']}"
        ) from exc
    return settings


@functools.cache
def current_settings() -> Settings:
    return load_settings()
