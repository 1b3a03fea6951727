"""Manifest v1 (``apiVersion: govcloud/v1``, ``kind: Application``) as Pydantic models.

The YAML file has a base ``spec.resources`` and per-environment ``spec.environments.<env>``
overrides; :mod:`orchestrator.core.validation` merges them and produces an
:class:`Application` whose ``environments`` hold the effective resources of each environment.
Field names are camelCase in YAML (``sizeGb``, ``remoteCidr``) and snake_case in Python.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, StringConstraints, field_validator
from pydantic.alias_generators import to_camel

from orchestrator.core.ids import SLUG_PATTERN
from orchestrator.core.ids import Environment as Environment  # re-exported: the manifest's vocabulary

API_VERSION = "govcloud/v1"
KIND = "Application"

#: Lowercase slug used inside every identifier (stack, project, resource names).
Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN)]
#: A name unique within its kind in one environment (servers, volumes, groups...).
Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,40}$")]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
#: Numbers and switches as YAML writes them: ``true`` is not 1, ``"20"`` is not 20, ``yes`` is a
#: string (YAML 1.2), not true.
Int = Annotated[int, Strict()]
Bool = Annotated[bool, Strict()]

MAX_VOLUME_GB = 16384
MAX_COUNT = 100


class Model(BaseModel):
    """Base: camelCase aliases, unknown keys refused, immutable after validation."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


class Contact(Model):
    name: str = Field(min_length=1)
    role: Literal["owner", "technical", "security", "operations"] = "technical"
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+$")
    phone: str | None = None


class Unit(Model):
    id: Slug
    name: str = Field(min_length=1)


class Metadata(Model):
    id: Slug
    name: str = Field(min_length=1, description="display name; Chinese allowed")
    unit: Unit
    contacts: list[Contact] = Field(min_length=1)
    description: str | None = None


class Material(Model):
    """A reference to a submitted document, pinned by its sha256."""

    path: str = Field(min_length=1)
    sha256: Sha256
    issued: str | None = None


class Materials(Model):
    construction_plan: Material | None = None
    self_test_report: Material | None = None
    third_party_test_report: Material | None = None
    mlps_filing_certificate: Material | None = None


class PortRange(Model):
    min: Int = Field(ge=1, le=65535)
    max: Int = Field(ge=1, le=65535)

    @classmethod
    def parse(cls, value: object) -> PortRange | None:
        """``443``, ``"8000-8080"`` or ``{min, max}``; ``None`` means all ports."""
        if value is None or isinstance(value, (dict, PortRange)):
            return value  # type: ignore[return-value]  # a dict: pydantic validates it into a PortRange
        if isinstance(value, bool):
            raise ValueError("ports must be a number or a range 'LOW-HIGH'")
        if isinstance(value, int):
            return cls(min=value, max=value)
        if isinstance(value, str):
            low, sep, high = value.partition("-")
            if low.strip().isdigit() and (not sep or high.strip().isdigit()):
                return cls(min=int(low), max=int(high or low))
        raise ValueError("ports must be a number or a range 'LOW-HIGH'")


class Rule(Model):
    """One security-group rule. Exactly one of ``remote_cidr`` and ``remote_group``."""

    direction: Literal["ingress", "egress"] = "ingress"
    protocol: Literal["tcp", "udp", "icmp", "any"] = "tcp"
    ports: PortRange | None = None
    remote_cidr: str | None = None
    remote_group: Name | None = None
    description: str | None = None

    _ports = field_validator("ports", mode="before")(lambda cls, v: PortRange.parse(v))

    @field_validator("remote_cidr")
    @classmethod
    def _cidr(cls, value: str | None) -> str | None:
        if value is not None:
            ipaddress.ip_network(value, strict=True)
        return value

    @property
    def is_open_to_world(self) -> bool:
        return self.remote_cidr in ("0.0.0.0/0", "::/0")

    @property
    def is_public_ingress(self) -> bool:
        """Ingress from addresses outside private networks (a suspension withdraws it, Art. 37)."""
        return (
            self.direction == "ingress"
            and self.remote_cidr is not None
            and not ipaddress.ip_network(self.remote_cidr).is_private
        )

    @property
    def ethertype(self) -> str:
        if self.remote_cidr and ":" in self.remote_cidr:
            return "IPv6"
        return "IPv4"

    @property
    def identity(self) -> tuple[str, str, str, int | None, int | None, str | None, str | None]:
        """What Neutron compares to call two rules of a group the same (the description is not
        part of it): direction, ethertype, protocol, port range, remote CIDR (canonical form,
        ``2001:DB8:0::/32`` is ``2001:db8::/32``) and remote group."""
        cidr = ipaddress.ip_network(self.remote_cidr).with_prefixlen if self.remote_cidr else None
        ports = (self.ports.min, self.ports.max) if self.ports else (None, None)
        return (self.direction, self.ethertype, self.protocol, *ports, cidr, self.remote_group)


class SecurityGroup(Model):
    name: Name
    description: str | None = None
    rules: list[Rule] = []


class DataVolume(Model):
    name: Name
    size_gb: Int = Field(gt=0, le=MAX_VOLUME_GB)
    type: str | None = None


class UserDataFile(Model):
    """One file cloud-init writes (``write_files``). ``path`` is absolute and normalised (rule
    ``user-data-path-absolute``) and outside ``/etc/govcloud/`` (``user-data-reserved-path``)."""

    path: str = Field(min_length=1)
    content: str = ""
    permissions: Annotated[str, StringConstraints(pattern=r"^0?[0-7]{3}$")] | None = None
    owner: Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_-]{0,31}(:[a-z_][a-z0-9_-]{0,31})?$")] | None = (
        None
    )
    encoding: (
        Literal["text/plain", "b64", "base64", "gz", "gzip", "gz+b64", "gz+base64", "gzip+b64", "gzip+base64"] | None
    ) = None


class UserData(Model):
    """The application's own cloud-init extras, added after the base hardening."""

    packages: list[str] = []
    runcmd: list[str] = []
    files: list[UserDataFile] = []


class Server(Model):
    name: Name
    flavor: str = Field(min_length=1)
    image: str = Field(min_length=1)
    count: Int = Field(default=1, ge=1, le=MAX_COUNT)
    volumes: list[DataVolume] = []
    security_groups: list[Name] = []
    user_data: UserData = UserData()
    public_ip: Bool = False
    stateless: Bool = False
    """Its root disks hold nothing to keep: an image change may rebuild them, a lower count
    may delete instances (their data volumes stay protected). Default: the root disks are data."""


class DatabaseUser(Model):
    name: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
    databases: list[str] = []


class Database(Model):
    name: Name
    engine: Literal["mysql", "postgresql", "mariadb"]
    version: str = Field(min_length=1)
    flavor: str = Field(min_length=1)
    size_gb: Int = Field(gt=0, le=MAX_VOLUME_GB)
    databases: list[Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]] = Field(min_length=1)
    users: list[DatabaseUser] = []
    volume_type: str | None = None


class Volume(Model):
    """A block volume not tied to a server's data disks; ``attach_to`` names a server."""

    name: Name
    size_gb: Int = Field(gt=0, le=MAX_VOLUME_GB)
    type: str | None = None
    attach_to: Name | None = None


class Container(Model):
    """An object-storage (Swift) container; ``size_gb`` becomes its quota."""

    name: Name
    size_gb: Int = Field(gt=0, le=MAX_VOLUME_GB)
    access: Literal["private", "public-read"] = "private"


class Resources(Model):
    servers: list[Server] = []
    databases: list[Database] = []
    volumes: list[Volume] = []
    containers: list[Container] = []
    security_groups: list[SecurityGroup] = []


class AuthRole(Model):
    name: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,63}$")]
    description: str | None = None


class Auth(Model):
    """Unified authentication platform registration (Art. 20)."""

    protocol: Literal["oidc", "saml", "cas"] = "oidc"
    redirect_uris: list[Annotated[str, StringConstraints(min_length=1)]] = Field(
        min_length=1, description="exact URIs: rule redirect-uri-exact"
    )
    roles: list[AuthRole] = Field(min_length=1)


class CatalogueEntry(Model):
    """An information-resource catalogue entry the system publishes (Art. 26-27)."""

    id: Annotated[str, StringConstraints(min_length=1)]
    name: str = Field(min_length=1)
    sharing: Literal["unconditional", "conditional", "none"] = "unconditional"
    update_frequency: Literal["realtime", "daily", "weekly", "monthly", "yearly"] = "daily"
    reason: str | None = Field(default=None, description="why it is not shared unconditionally")


class DataSharing(Model):
    catalogue: list[CatalogueEntry] = []


class Backup(Model):
    """Data-level backups (Art. 22, 30)."""

    enabled: Bool = True
    schedule: str = Field(default="0 2 * * *", description="cron expression")
    retention_days: Int = Field(default=30, ge=1, le=3650)
    offsite: Bool = False


class EnvironmentSpec(Model):
    """One environment's effective resources after the overrides are applied."""

    resources: Resources = Resources()
    production_data: Bool = False


class Spec(Model):
    mlps_level: Int = Field(ge=1, le=5)
    materials: Materials = Materials()
    auth: Auth
    data_sharing: DataSharing = DataSharing()
    backup: Backup = Backup()
    resources: Resources = Resources()
    environments: dict[Environment, dict[Any, Any] | None] = Field(min_length=1)


class ManifestDocument(Model):
    """The YAML document as written (overrides not yet applied)."""

    api_version: Literal["govcloud/v1"]
    kind: Literal["Application"]
    metadata: Metadata
    spec: Spec


class Application(Model):
    """A valid manifest with each declared environment's effective resources."""

    metadata: Metadata
    mlps_level: int
    materials: Materials
    auth: Auth
    data_sharing: DataSharing
    backup: Backup
    environments: dict[Environment, EnvironmentSpec]
    digest: str
    source: str

    @property
    def id(self) -> str:
        return self.metadata.id

    @property
    def unit(self) -> str:
        return self.metadata.unit.id
