"""govcloud's own configuration: ``govcloud.yaml`` (or the file in ``GOVCLOUD_CONFIG``).

How operators are known (below), the notices (``notices``), the shared state (``state``) and
where backups go beyond an environment's project (``backups``: ``archiveProject``, ``site``;
docs/backups.md)::

    auth: oidc                      # or "local" (development: --as/--role are trusted)
    oidc:
      issuer: https://sso.changsha.gov.cn/realms/government
      audience: govcloud-cli
      roleClaim: govcloud_roles     # a string or a list of strings in the ID token
      roleMap: {govcloud-egov: egov-office, govcloud-provider: provider, govcloud-unit: unit}
      unitClaim: unit               # the unit of a "unit" actor
      # jwksUri: https://...        # default: the issuer's OpenID discovery
      # algorithms: [RS256, ES256]  # asymmetric only: HS* and none are refused

Validated when loaded (docs/auth.md, "Operators' ID tokens"): unknown keys, wrong types, an issuer
or ``jwksUri`` that is not https (http only to a loopback address) and HS*/none algorithms are
refused, every problem with the file, line and field, exit 2.

Without any file, ``auth`` is ``oidc`` with no issuer: every lifecycle command then says how to
configure one. The repository ships a ``govcloud.yaml`` with ``auth: local`` for development.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, StrictStr
from pydantic.alias_generators import to_camel

from orchestrator import files
from orchestrator.errors import ConfigInvalid
from orchestrator.settings_notices import NoticeSettings
from orchestrator.settings_state import StateSettings
from orchestrator.urls import secure_url

CONFIG_FILE = "govcloud.yaml"

#: Signature algorithms an ID token may use: the platform's public keys verify them. HS* (a shared
#: secret, which a public JWKS cannot carry and every client would hold) and ``none`` are refused.
Algorithm = Literal["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]


def _some(value: list | dict) -> list | dict:
    if not value:
        raise ValueError("must not be empty")
    return value


SecureUrl = Annotated[StrictStr, AfterValidator(secure_url)]
Claim = Annotated[StrictStr, Field(min_length=1)]


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class OidcSettings(_Model):
    """Where ID tokens come from and how their claims map to govcloud actors."""

    issuer: SecureUrl
    audience: Claim
    jwks_uri: SecureUrl | None = None
    name_claim: Claim = "preferred_username"
    role_claim: Claim = "govcloud_roles"
    role_map: Annotated[dict[StrictStr, Literal["unit", "egov-office", "provider"]], AfterValidator(_some)]
    unit_claim: Claim = "unit"
    algorithms: Annotated[list[Algorithm], AfterValidator(_some)] = ["RS256", "ES256"]
    leeway_seconds: Annotated[StrictInt, Field(ge=0, le=300)] = 30


class BackupSettings(_Model):
    """Where backups go beyond an environment's own project (docs/backups.md)."""

    #: the provider's project that keeps the final backups of terminated applications (Art. 16)
    archive_project: Annotated[StrictStr, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")] = "govcloud-archive"
    #: the backup site: a cloud of clouds.yaml that receives the copies of ``offsite: true``
    site: Annotated[StrictStr, Field(min_length=1, max_length=200)] | None = None


class Settings(_Model):
    auth: Literal["local", "oidc"] = "oidc"
    oidc: OidcSettings | None = None
    notices: NoticeSettings | None = None  #: docs/notices.md
    state: StateSettings | None = None  #: docs/operations.md, "A team's shared state"
    backups: BackupSettings = BackupSettings()  #: docs/backups.md
    source: str = Field(default="(defaults)", exclude=True)


class SettingsInvalid(ConfigInvalid):
    """govcloud's own configuration file is not valid (exit 2)."""

    what = "configuration"


def load_settings(path: str | Path | None = None) -> Settings:
    """Settings from ``path``, ``GOVCLOUD_CONFIG``, or ``./govcloud.yaml``; defaults without a file.

    Every problem of the file is named at once, with its line, field path and rule."""
    from orchestrator.core.yamlsource import ParseFailed, Problem, line_of, parse, plain, schema_problems

    named = path or os.environ.get("GOVCLOUD_CONFIG")
    candidate = Path(named or CONFIG_FILE)
    if not named and not candidate.exists() and not candidate.is_symlink():
        return Settings()
    try:
        root = parse(files.read_bytes(candidate, what="configuration file"))
        data = plain(root)
    except ParseFailed as failed:
        raise SettingsInvalid(str(candidate), [failed.problem]) from None
    settings, problems = schema_problems(Settings, {k: v for k, v in data.items() if k != "source"}, root)
    if "source" in data:  # a field of ours (where the settings came from), not of the file
        problems.insert(0, Problem(line_of(root, ("source",)), "source", "schema.extra_forbidden", "unknown field"))
    if problems:
        raise SettingsInvalid(str(candidate), problems)
    return settings.model_copy(update={"source": str(candidate)})


@functools.cache
def current_settings() -> Settings:
    return load_settings()
