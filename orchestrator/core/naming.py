"""Names and tags of everything a stack creates: pure functions, one place.

- Stack ``<unit>.<app>.<env>``; Keystone project and authentication-platform client id
  ``<unit>-<app>-<env>``; Keystone groups of a unit ``<unit>-admins`` and ``<unit>-operators``.
- Resources are named ``<app>-<part>...``; the instances of a server group are numbered from 1
  (``citizen-portal-web-1``).
- Tags (Neutron and Keystone ``tags``, lists of strings) are ``govcloud:<key>=<value>``; metadata
  (Nova, Cinder) is a mapping ``{"govcloud:<key>": value}``; Swift metadata becomes HTTP headers,
  where ``:`` is not allowed, so containers carry ``govcloud-<key>``.
"""

from __future__ import annotations

from orchestrator.core.manifest import Application, Environment, Server

TAG_KEYS: tuple[str, ...] = ("unit", "app", "env", "digest")
TAG_PREFIX = "govcloud:"


def stack_name(unit: str, app: str, env: Environment | str) -> str:
    """``zwb.citizen-portal.test``"""
    return f"{unit}.{app}.{env}"


def project_name(unit: str, app: str, env: Environment | str) -> str:
    """``zwb-citizen-portal-test``: the environment's Keystone project."""
    return f"{unit}-{app}-{env}"


def client_id(unit: str, app: str, env: Environment | str) -> str:
    """``zwb-citizen-portal-test``: the environment's client in the authentication platform."""
    return project_name(unit, app, env)


def client_prefix(unit: str, app: str) -> str:
    """``zwb-citizen-portal-``: what every client id of the application starts with."""
    return f"{unit}-{app}-"


def client_ids(unit: str, app: str) -> set[str]:
    """The client ids an application can have, one per environment (what reclamation removes)."""
    return {client_id(unit, app, env) for env in Environment}


def unit_group(unit: str, kind: str) -> str:
    """``unit_group("zwb", "admins")`` -> ``zwb-admins``: a unit's Keystone group."""
    return f"{unit}-{kind}"


def resource_name(app: str, *parts: str | int) -> str:
    """``resource_name("citizen-portal", "web", 1)`` -> ``citizen-portal-web-1``."""
    return "-".join([app, *(str(p) for p in parts)])


def instance_names(app: str, server: Server) -> list[str]:
    """The names of a server group's instances, numbered from 1."""
    return [resource_name(app, server.name, i) for i in range(1, server.count + 1)]


def labels(app: Application, env: Environment | str) -> dict[str, str]:
    """The four identifying values every resource carries, by short key."""
    return {"unit": app.unit, "app": app.id, "env": str(env), "digest": app.digest}


def metadata(app: Application, env: Environment | str) -> dict[str, str]:
    """Nova and Cinder metadata: ``{"govcloud:unit": "zwb", ...}``."""
    return {TAG_PREFIX + k: v for k, v in labels(app, env).items()}


def tags(app: Application, env: Environment | str) -> list[str]:
    """Neutron and Keystone tags: ``["govcloud:unit=zwb", ...]``."""
    return [f"{TAG_PREFIX}{k}={v}" for k, v in labels(app, env).items()]


def header_metadata(app: Application, env: Environment | str) -> dict[str, str]:
    """Swift container metadata (sent as ``X-Container-Meta-*`` headers): ``govcloud-unit``..."""
    return {f"govcloud-{k}": v for k, v in labels(app, env).items()}


def parse_tags(values: list[str]) -> dict[str, str]:
    """The govcloud labels found in a tag list: ``["govcloud:unit=zwb"]`` -> ``{"unit": "zwb"}``."""
    found: dict[str, str] = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if sep and key.startswith(TAG_PREFIX) and key[len(TAG_PREFIX):] in TAG_KEYS:
            found[key[len(TAG_PREFIX):]] = rest
    return found
