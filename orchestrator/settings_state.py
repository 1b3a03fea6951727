"""The ``state`` section of ``govcloud.yaml``: where the stacks' Pulumi state lives, shared by a team.

::

    state:
      # the cloud's own object storage through its S3 API (Swift s3api, Ceph RGW)
      backend: s3://govcloud-state?endpoint=https://s3.cloud.changsha.gov.cn&s3ForcePathStyle=true&region=RegionOne
      passphraseFile: /etc/govcloud/state-passphrase     # encrypts the stacks' secrets; 0600, outside any checkout
      credentialsFile: /etc/govcloud/s3-credentials      # AWS-style credentials file (openstack ec2 credentials)
      profile: govcloud                                  # its section; default "default"

Without it, the state is the file backend ``.govcloud/state`` of this checkout: one engineer, one
machine. ``PULUMI_BACKEND_URL`` and ``PULUMI_CONFIG_PASSPHRASE(_FILE)`` in the environment win over
the file, so plain ``pulumi`` and govcloud agree when both are set (docs/operations.md).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Annotated
from urllib.parse import parse_qsl, urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictStr
from pydantic.alias_generators import to_camel

from orchestrator.errors import UsageError
from orchestrator.urls import secure_url

#: Query parameters of an ``s3://`` backend URL that gocloud.dev's S3 opener understands.
S3_PARAMETERS = frozenset(
    {
        "endpoint",
        "region",
        "s3ForcePathStyle",
        "profile",
        "awssdk",
        "disableSSL",
        "use_path_style",
        "dualstack",
        "fips",
        "accelerate",
    }
)


def backend_url(value: str) -> str:
    """``value`` if it is a ``file://`` URL with an absolute path or an ``s3://BUCKET`` URL whose
    endpoint (when given) is https, or http to a loopback address; else ValueError."""
    try:
        url = urlsplit(value)
    except ValueError as exc:
        raise ValueError(f"not a URL: {exc}") from exc
    if url.scheme == "file":
        if url.netloc or not url.path.startswith("/"):
            raise ValueError("a file backend must be file:// followed by an absolute path")
        return value
    if url.scheme != "s3":
        raise ValueError("must be an s3:// URL (the cloud's object storage) or a file:// URL")
    if not url.netloc or url.path not in ("", "/"):
        raise ValueError("must name one bucket: s3://BUCKET?endpoint=...")
    query = dict(parse_qsl(url.query, keep_blank_values=True, strict_parsing=False))
    unknown = sorted(set(query) - S3_PARAMETERS)
    if unknown:
        raise ValueError(f"unknown S3 parameter(s) {', '.join(unknown)} (known: {', '.join(sorted(S3_PARAMETERS))})")
    if "endpoint" in query:
        secure_url(query["endpoint"])
    return value


def _absolute(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError("must be an absolute path")
    return value


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class StateSettings(_Model):
    """Where the stacks' state is kept and what unlocks it."""

    backend: Annotated[StrictStr, AfterValidator(backend_url)]
    passphrase_file: Annotated[StrictStr, AfterValidator(_absolute)] | None = None
    credentials_file: Annotated[StrictStr, AfterValidator(_absolute)] | None = None
    profile: Annotated[StrictStr, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")] | None = None

    def engine_env(self) -> dict[str, str]:
        """The variables the Pulumi CLI reads for this backend."""
        env = {"PULUMI_BACKEND_URL": self.backend}
        if self.passphrase_file:
            env["PULUMI_CONFIG_PASSPHRASE_FILE"] = self.passphrase_file
        if self.credentials_file:
            env["AWS_SHARED_CREDENTIALS_FILE"] = self.credentials_file
        if self.profile:
            env["AWS_PROFILE"] = self.profile
        return env


def check_passphrase_file(path: str | os.PathLike) -> None:
    """Refuse a passphrase file that anyone could learn it from: missing, not a regular file,
    readable by group or others, or inside a version-controlled checkout (it would be one
    ``git add`` away from the repository). :class:`UsageError` naming the file and the rule."""
    target = Path(path)
    try:
        info = target.stat()
    except OSError as exc:
        raise UsageError(
            f"{target}: the state passphrase file cannot be read ({exc.strerror}) [rule passphrase-file]"
        ) from None
    if not stat.S_ISREG(info.st_mode):
        raise UsageError(f"{target}: the state passphrase file is not a regular file [rule passphrase-file]")
    if info.st_mode & 0o077:
        raise UsageError(
            f"{target}: the state passphrase file is readable by others (mode "
            f"{stat.S_IMODE(info.st_mode):04o}); chmod 600 it [rule passphrase-private]"
        )
    for parent in target.resolve().parents:
        if (parent / ".git").exists():
            raise UsageError(
                f"{target}: the state passphrase file is inside the checkout {parent}; keep it "
                "outside any repository (e.g. /etc/govcloud) [rule passphrase-outside-repository]"
            )
