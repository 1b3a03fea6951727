"""A ``clouds.yaml`` entry as ``OS_*`` variables, for the Pulumi OpenStack provider.

With ``OS_CLOUD`` set (or ``openstack:cloud``), the Terraform OpenStack provider that
pulumi-openstack bridges takes the whole authentication from ``clouds.yaml``, project included,
and ignores a provider's ``tenantId``/``tenantName``: the provider each stack scopes to its
environment's project would put every server, network and volume in the admin's own project.
With explicit ``OS_*`` variables it honours the scope. govcloud therefore hands the engine the
same credentials as variables, with ``OS_CLOUD`` emptied, and ``govcloud openrc`` prints them for
a provider who runs ``pulumi`` by hand.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from orchestrator.errors import UsageError

#: clouds.yaml ``auth`` key -> the variable the provider reads.
AUTH_VARIABLES = {
    "auth_url": "OS_AUTH_URL",
    "username": "OS_USERNAME",
    "user_id": "OS_USER_ID",
    "password": "OS_PASSWORD",
    "user_domain_name": "OS_USER_DOMAIN_NAME",
    "user_domain_id": "OS_USER_DOMAIN_ID",
    "project_name": "OS_PROJECT_NAME",
    "project_id": "OS_PROJECT_ID",
    "project_domain_name": "OS_PROJECT_DOMAIN_NAME",
    "project_domain_id": "OS_PROJECT_DOMAIN_ID",
}
#: Authentication types that can be re-scoped to another project (a user's password can).
RESCOPABLE = ("password", "v3password")


def openrc(cloud: str | None = None, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables for cloud ``cloud`` (default ``OS_CLOUD``); empty when neither names one.

    ``OS_CLOUD`` comes back as an empty string: the engine's environment is ours plus these, and
    an empty value is what makes the provider read the other variables. The provider records it
    as its ``cloud`` input, so by hand it is exported empty too (not unset): then ``pulumi up``
    and ``govcloud up`` of the same stack see the same provider and change nothing. Raises
    :class:`UsageError` naming ``clouds.yaml`` and the cloud when the entry is missing or cannot
    be scoped to the environments' projects.
    """
    environ = os.environ if environ is None else environ
    name = cloud or environ.get("OS_CLOUD")
    if not name:
        return {}
    import openstack.config
    import openstack.exceptions

    try:
        region = openstack.config.OpenStackConfig().get_one(cloud=name)
    except openstack.exceptions.ConfigException as exc:
        raise UsageError(f"clouds.yaml: {exc}") from None
    auth_type = region.config.get("auth_type") or "password"
    if auth_type not in RESCOPABLE:
        raise UsageError(
            f"clouds.yaml: cloud {name!r} uses auth_type {auth_type}; the stacks scope a provider to "
            f"each environment's project, which needs a user's password ({', '.join(RESCOPABLE)}), "
            "not a project-bound credential"
        )
    env = {"OS_CLOUD": ""}
    env |= {var: str(region.auth[key]) for key, var in AUTH_VARIABLES.items() if region.auth.get(key)}
    if region.region_name:
        env["OS_REGION_NAME"] = region.region_name
    if interface := region.config.get("interface"):
        env["OS_INTERFACE"] = interface
    if cacert := region.config.get("cacert"):
        env["OS_CACERT"] = cacert
    if region.config.get("verify") is False:
        env["OS_INSECURE"] = "true"
    return env


def check_scoped(environ: Mapping[str, str], cloud_config: str | None) -> str | None:
    """Why the OpenStack provider would ignore a project scope here, or ``None`` when it would not."""
    if environ.get("OS_CLOUD") or cloud_config:
        source = "openstack:cloud" if cloud_config else "OS_CLOUD"
        return (
            f"{source} is set: the OpenStack provider then takes the project from clouds.yaml and ignores "
            "each environment's project scope, so everything would land in the admin's project. "
            'Export the credentials as OS_* variables instead: eval "$(govcloud openrc)" '
            "(docs/operations.md); govcloud up does this itself"
        )
    return None
