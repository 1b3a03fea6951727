"""Stack config -> manifest -> the environment's resources.

Config keys (namespace ``govcloud``): ``manifest`` (path, relative to the repository root or
absolute), ``environment``, ``digest`` (the approved digest), ``externalNetwork`` (name of the
cloud's external network), ``keyPair`` (optional Nova key pair name), ``authRealm`` (the
authentication platform's realm), ``authTestRealm`` (optional, default ``<authRealm>-test``),
``authPlatform`` (optional, default ``keycloak``), ``providerOpsGroup`` (optional, default
``govcloud-provider-ops``), ``releaseData`` (optional: a JSON list of the logical names of
data-bearing resources this run may delete, replace or rebuild, written by ``govcloud up`` from an
approved data loss; every other volume, database, container and stateful server is protected),
``suspended`` (optional, ``true`` while the ledger holds a suspension of Art. 37: every server's
power state is ``shutoff`` and ingress rules from public addresses are left out).
Cloud credentials come from ``clouds.yaml`` / ``OS_CLOUD``, the
platform's from its own config namespace (``keycloak:*``), never from the manifest. The projects'
quota headroom comes from the quota policy (``GOVCLOUD_QUOTA_POLICY``, default
``quotas/policy.yaml``), so ``pulumi up`` by hand and ``govcloud up`` set the same quotas.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import pulumi

from orchestrator.core import naming, sizing
from orchestrator.core.access import DEFAULT_PROVIDER_OPS_GROUP
from orchestrator.core.manifest import Application, Environment
from orchestrator.core.validation import load_manifest
from orchestrator.errors import GovcloudError
from stacks.components import auth
from stacks.components.app import Environment as EnvironmentComponent
from stacks.components.settings import StackSettings

#: The Pulumi project directory (where ``Pulumi.yaml`` lives); relative manifest paths start here.
PROJECT_DIR = Path(__file__).resolve().parents[1]


def policy_headroom() -> sizing.Headroom:
    """The quota policy's headroom (``GOVCLOUD_QUOTA_POLICY``, default ``quotas/policy.yaml``);
    :class:`~orchestrator.core.quota.policyfile.PolicyInvalid` when the policy is not valid."""
    return _headroom(os.environ.get("GOVCLOUD_QUOTA_POLICY") or str(PROJECT_DIR / "quotas" / "policy.yaml"))


@functools.cache
def _headroom(path: str) -> sizing.Headroom:
    from orchestrator.core.quota.policyfile import load_policy

    return load_policy(path).headroom.sizing()


@dataclass(frozen=True)
class StackConfig:
    """The ``govcloud:*`` stack config."""

    manifest: str
    environment: str
    digest: str
    settings: StackSettings

    @classmethod
    def read(cls) -> StackConfig:
        config = pulumi.Config("govcloud")
        try:
            headroom = policy_headroom()
        except GovcloudError as exc:
            raise pulumi.RunError(f"{exc}; nothing was changed") from None
        return cls(
            manifest=config.require("manifest"),
            environment=config.require("environment"),
            digest=config.require("digest"),
            settings=StackSettings(
                external_network=config.require("externalNetwork"),
                key_pair=config.get("keyPair") or None,
                auth=auth.AuthSettings(
                    realm=config.require("authRealm"),
                    test_realm=config.get("authTestRealm") or None,
                    platform=config.get("authPlatform") or auth.DEFAULT_PLATFORM,
                ),
                provider_ops_group=config.get("providerOpsGroup") or DEFAULT_PROVIDER_OPS_GROUP,
                release_data=release_data(config.get("releaseData")),
                headroom=headroom,
                suspended=config.get("suspended") == "true",
            ),
        )


def release_data(value: str | None) -> frozenset[str]:
    """``govcloud:releaseData`` (a JSON list of names) as a set; raises :class:`pulumi.RunError`."""
    import json

    if not value:
        return frozenset()
    try:
        names = json.loads(value)
    except ValueError:
        names = None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise pulumi.RunError("govcloud:releaseData must be a JSON list of resource names; nothing was changed")
    return frozenset(names)


def approved_environment(config: StackConfig) -> tuple[Application, Environment]:
    """Load the manifest and check it is the approved one; raises :class:`pulumi.RunError`."""
    path = Path(config.manifest)
    if not path.is_absolute():
        path = PROJECT_DIR / path
    try:
        app = load_manifest(path)
    except GovcloudError as exc:
        problems = getattr(exc, "problems", [])
        raise pulumi.RunError("; ".join([str(exc), *map(str, problems)])) from None
    if app.digest != config.digest:
        raise pulumi.RunError(
            f"{config.manifest}: digest {app.digest} differs from the approved digest "
            f"{config.digest} (config govcloud:digest); nothing was changed. Get the new "
            "digest approved, then set it with `pulumi config set govcloud:digest <digest>`"
        )
    try:
        env = Environment(config.environment)
    except ValueError:
        raise pulumi.RunError(
            f"govcloud:environment {config.environment!r} is not one of test, trial, production"
        ) from None
    if env not in app.environments:
        raise pulumi.RunError(f"{config.manifest}: environment {env} is not declared in the manifest")
    return app, env


def deploy(app: Application, env: Environment, settings: StackSettings) -> EnvironmentComponent:
    """Build the environment's resources and export the stack outputs (no secret in plain text).

    Raises :class:`pulumi.RunError`, before registering anything, when the authentication
    platform cannot register the manifest's ``spec.auth.protocol``.
    """
    platform = auth.platform(settings.auth.platform, app.auth.protocol, app.source)
    component = EnvironmentComponent(
        naming.project_name(app.unit, app.id, env), app=app, env=env, settings=settings, platform=platform
    )
    pulumi.export("projectId", component.project_id)
    pulumi.export("serverAddresses", component.server_addresses)
    pulumi.export("publicAddresses", component.public_addresses)
    pulumi.export("databaseHosts", component.database_hosts)
    pulumi.export("containers", component.container_names)
    pulumi.export("authIssuer", component.auth_issuer)
    pulumi.export("authClientId", component.auth_client_id)
    pulumi.export("databaseCredentials", pulumi.Output.secret(component.database_credentials))
    return component


def preload() -> None:
    """Load the provider SDK modules (lazy by default) and the templates before a fork."""
    import pulumi_keycloak
    import pulumi_openstack
    import pulumi_random  # noqa: F401 (imported to be loaded before the fork)

    from orchestrator.adapters.templates import _environment

    for module in ("blockstorage", "compute", "database", "identity", "networking", "objectstorage"):
        getattr(pulumi_openstack, module)._utilities  # noqa: B018 (the first attribute read loads the module)
    pulumi_keycloak.openid._utilities  # noqa: B018  (introspection attributes like __dict__ do not)
    auth.platform(auth.DEFAULT_PLATFORM, "oidc")
    _environment().get_template("cloud-init/user-data.yaml.j2")
    policy_headroom()  # the quota policy's parser and rules, and the headroom itself


def main() -> None:
    """The Pulumi program: refuse credentials that ignore the project scope, read config,
    refuse a digest that was not approved, deploy."""
    from orchestrator.adapters.cloud.credentials import check_scoped

    if problem := check_scoped(os.environ, pulumi.Config("openstack").get("cloud")):
        raise pulumi.RunError(f"{problem}; nothing was changed")
    config = StackConfig.read()
    app, env = approved_environment(config)
    deploy(app, env, config.settings)
