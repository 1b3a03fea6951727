"""Security groups and their rules, exactly as the manifest declares them (while the system is
suspended under Art. 37, without the ingress rules from public addresses).

A group keeps Neutron's default egress rules (IPv4 and IPv6 to anywhere) unless it declares egress
rules of its own; then the defaults are deleted and the declared egress is the whole egress.

Rules are named by what they are (``citizen-portal-web-ingress-tcp-443-0.0.0.0_0``,
:func:`orchestrator.core.naming.security_rule_names`), so inserting or removing one leaves the
others alone. Stacks deployed when rules were numbered (``<app>-<group>-rule-<n>``) keep theirs
through an alias to that old name under the same parent: with the rules unchanged, each new name
finds the very rule it had. Where rules were also moved in the same change, an alias finds the
rule that used to stand at that place, and Pulumi replaces it by the new one: what numbered
names did anyway. No two rules claim one alias (each position is one rule's), and an old name that
is now another rule's name is not an alias.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi_openstack import networking

from orchestrator.core.manifest import Rule, SecurityGroup
from orchestrator.core.naming import security_rule_names
from orchestrator.core.sizing import keeps_default_egress
from stacks.components.scope import OneAtATime, Scope


def rule_args(rule: Rule) -> dict[str, Any]:
    """The Neutron fields of a manifest rule (``remote_group_id`` is set by the caller)."""
    args: dict[str, Any] = {"direction": rule.direction, "ethertype": rule.ethertype}
    if rule.protocol != "any":
        args["protocol"] = rule.protocol
    if rule.ports:
        args["port_range_min"] = rule.ports.min
        args["port_range_max"] = rule.ports.max
    if rule.remote_cidr:
        args["remote_ip_prefix"] = rule.remote_cidr
    if rule.description:
        args["description"] = rule.description
    return args


class SecurityGroups(pulumi.ComponentResource):
    """One ``SecGroup`` per manifest group, its rules parented to it."""

    groups: dict[str, networking.SecGroup]
    """By manifest group name."""
    rules: list[networking.SecGroupRule]

    def __init__(
        self,
        name: str,
        scope: Scope,
        groups: list[SecurityGroup],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("govcloud:security:SecurityGroups", name, None, opts)
        groups_in_turn = OneAtATime()
        self.groups = {
            group.name: groups_in_turn.add(
                networking.SecGroup(
                    scope.name(group.name),
                    name=scope.name(group.name),
                    description=group.description or f"{group.name} of {scope.app}",
                    delete_default_rules=not keeps_default_egress(group),
                    tags=scope.tags,
                    opts=groups_in_turn.options(parent=self),
                )
            )
            for group in groups
        }
        # Rules after every group (a group's creation adds its default egress rules).
        rules_in_turn = OneAtATime(list(self.groups.values()))
        self.rules = []
        names = security_rule_names(scope.app, groups)
        for group in groups:
            owner = self.groups[group.name]
            for rule, named in zip(group.rules, names[group.name], strict=True):
                if scope.suspended and rule.is_public_ingress:
                    continue  # Art. 37: a suspended system is not reachable from outside
                remote: dict[str, Any] = (
                    {"remote_group_id": self.groups[rule.remote_group].id} if rule.remote_group else {}
                )
                aliases = [pulumi.Alias(name=named.old)] if named.old else None
                self.rules.append(
                    rules_in_turn.add(
                        networking.SecGroupRule(
                            named.name,
                            security_group_id=owner.id,
                            **rule_args(rule),
                            **remote,
                            # A rule is replaced only when its description changes (what it
                            # does is its name) or its group is replaced; Neutron refuses a
                            # second rule that does the same, so the old one must go first.
                            opts=rules_in_turn.options(parent=owner, aliases=aliases, delete_before_replace=True),
                        )
                    )
                )
        self.register_outputs({"group_ids": {n: g.id for n, g in self.groups.items()}})
