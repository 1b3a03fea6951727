"""Names and tags of everything a stack creates: pure functions, one place.

- Stack ``<unit>.<app>.<env>``; Keystone project and authentication-platform client id
  ``<unit>-<app>-<env>``; Keystone groups of a unit ``<unit>-admins`` and ``<unit>-operators``.
- Resources are named ``<app>-<part>...``; the instances of a server group are numbered from 1
  (``citizen-portal-web-1``).
- Security-group rules are named by what they are, not by their place in the group's list
  (``citizen-portal-web-ingress-tcp-443-0.0.0.0_0``): see :func:`security_rule_names`.
- Tags (Neutron and Keystone ``tags``, lists of strings) are ``govcloud:<key>=<value>``; metadata
  (Nova, Cinder) is a mapping ``{"govcloud:<key>": value}``; Swift metadata becomes HTTP headers,
  where ``:`` is not allowed, so containers carry ``govcloud-<key>``.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from orchestrator.core.ids import SLUG_PATTERN
from orchestrator.core.manifest import Application, Environment, Rule, SecurityGroup, Server

TAG_KEYS: tuple[str, ...] = ("unit", "app", "env", "digest")
TAG_PREFIX = "govcloud:"


_SLUG = SLUG_PATTERN.strip("^$")
#: What :func:`stack_name` makes, for names that come from outside (a command's argument).
STACK_NAME = re.compile(rf"{_SLUG}\.{_SLUG}\.(?:{'|'.join(e.value for e in Environment)})")


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


#: What a CIDR's characters become in a Pulumi name, which is ``[A-Za-z_.][A-Za-z0-9_.-]*`` for
#: ``pulumi state rename`` (and older engines): ``/`` and ``:`` (``::`` splits a URN) are not in it.
_CIDR_IN_NAME = str.maketrans({"/": "_", ":": "."})


def rule_slug(rule: Rule) -> str:
    """What a rule is, as a name: direction, protocol, port or range, and the remote CIDR
    (canonical, ``/`` as ``_`` and ``:`` as ``.``, so it shows the address family) or ``sg-<group>``.

    ``ingress-tcp-443-0.0.0.0_0``, ``ingress-tcp-8000-8080-sg-web``, ``egress-any-2001.db8.._32``.
    Two rules of a group have the same slug exactly when they are the same rule for Neutron.
    """
    direction, _, protocol, low, high, cidr, group = rule.identity
    ports = [] if low is None else [str(low)] if low == high else [str(low), str(high)]
    remote = f"sg-{group}" if group else str(cidr).translate(_CIDR_IN_NAME)
    return "-".join([direction, protocol, *ports, remote])


@dataclass(frozen=True)
class RuleName:
    """A security-group rule's logical name, and the one it had when rules were numbered."""

    name: str
    old: str | None
    """``<app>-<group>-rule-<n>`` (its position, from 1), the alias that lets a stack deployed
    with numbered rules keep them; ``None`` where that is another rule's new name."""


def security_rule_names(app: str, groups: Sequence[SecurityGroup]) -> dict[str, list[RuleName]]:
    """Each group's rule names, in rule order: ``<app>-<group>-<rule_slug>``.

    Inserting or removing a rule leaves the others' names alone. A name is unique in the stack:
    a group's rules differ (validation refuses a duplicate), and where two groups' names would
    meet (``web`` with a rule to group ``x-egress-any-sg-y``, and a group
    ``web-ingress-tcp-443-sg-x``) both get ``-<8 hex digits>`` of the group and the rule.
    """
    named = [
        (g.name, n, rule, resource_name(app, g.name, rule_slug(rule)))
        for g in groups
        for n, rule in enumerate(g.rules, start=1)
    ]
    clashes = {name for name, count in Counter(entry[3] for entry in named).items() if count > 1}
    names = [f"{name}-{_short_hash(group, rule)}" if name in clashes else name for group, _, rule, name in named]
    taken = set(names)
    out: dict[str, list[RuleName]] = {g.name: [] for g in groups}
    for (group, n, _, _), name in zip(named, names, strict=True):
        old = resource_name(app, group, "rule", n)
        out[group].append(RuleName(name, None if old in taken else old))
    return out


def _short_hash(group: str, rule: Rule) -> str:
    return hashlib.sha256(repr((group, rule.identity)).encode()).hexdigest()[:8]


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
        if sep and key.startswith(TAG_PREFIX) and key[len(TAG_PREFIX) :] in TAG_KEYS:
            found[key[len(TAG_PREFIX) :]] = rest
    return found
