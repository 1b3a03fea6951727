"""Cloud drift: where a live environment's cloud no longer matches the state of its approved
digest (a rule opened by hand, a server resized from the dashboard). Pure.

A :class:`Finding` is one differing property of one resource of one stack (``before``: what the
state of the approved digest holds, ``after``: what the cloud has). Its :attr:`Finding.fingerprint`
names the difference itself, so the same drift found by many runs is reported once.
:func:`reconcile` compares one run's findings with those on record and the policy's ignore rules
(:class:`IgnoreRule`, in the quota policy's ``drift.ignore``) and says what is new, still there,
hidden by a rule in force, and resolved. :func:`due` says which environments a run checks.
Remediation is never decided here: the approved digest is applied again (``govcloud up``).
"""

from __future__ import annotations

import builtins
import datetime as dt
import fnmatch
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

OPEN, IGNORED, RESOLVED = "open", "ignored", "resolved"  #: a recorded finding's status
#: A check of an environment is due again this long after its last successful one (the tick runs often).
INTERVAL = dt.timedelta(days=1)


@dataclass(frozen=True)
class Finding:
    """One property of one resource of ``stack`` that differs between the state and the cloud.

    ``resource`` is the logical name (``permit-prototype-web``), ``property`` the output's name
    (``flavorName``, or ``rules`` for a rule the stack does not hold in a group it does)."""

    stack: str
    resource: str
    type: str
    property: str
    before: Any
    after: Any

    @builtins.property  # the field ``property`` above shadows the builtin in this class body
    def fingerprint(self) -> str:
        """sha256 of (stack, resource, property, before, after): the same difference, the same print."""
        key = "\x1f".join((self.stack, self.resource, self.property, _canonical(self.before), _canonical(self.after)))
        return hashlib.sha256(key.encode()).hexdigest()

    def as_dict(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "resource": self.resource,
            "type": self.type,
            "property": self.property,
            "before": self.before,
            "after": self.after,
            "fingerprint": self.fingerprint,
        }


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def differences(
    stack: str,
    resource: str,
    type_: str,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    ignored: Iterable[str] = (),
    inputs: Iterable[str] | None = None,
) -> list[Finding]:
    """The properties of one resource whose values differ between ``before`` (state) and ``after``
    (cloud): only those in ``inputs`` when given (what the program sets; the rest the cloud
    computes), ``ignored`` left out. Absent, null and empty are the same value (a refresh reads
    ``[]`` where the state holds nothing)."""
    skip = set(ignored)
    keys = set(before) | set(after) if inputs is None else set(inputs)
    return [
        Finding(stack, resource, type_, key, before.get(key), after.get(key))
        for key in sorted(keys)
        if key not in skip and not key.startswith("__") and _value(before.get(key)) != _value(after.get(key))
    ]


def _value(value: Any) -> Any:
    return None if value in (None, "", [], {}) else value


@dataclass(frozen=True)
class IgnoreRule:
    """A known, accepted difference: which findings it hides, who owns it, why, until when.

    ``resource`` and ``property`` are shell patterns (``*-web``, ``*``); ``environment`` None
    means every environment. The rule hides its findings until the day before ``expires``: from
    that day on they are reported again."""

    application: str
    resource: str
    owner: str
    reason: str
    expires: dt.date
    property: str = "*"
    environment: str | None = None

    def in_force(self, today: dt.date) -> bool:
        return today < self.expires

    def hides(self, finding: Finding, application: str, environment: str, today: dt.date) -> bool:
        return (
            self.in_force(today)
            and self.application == application
            and self.environment in (None, environment)
            and fnmatch.fnmatchcase(finding.resource, self.resource)
            and fnmatch.fnmatchcase(finding.property, self.property)
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "application": self.application,
            "environment": self.environment,
            "resource": self.resource,
            "property": self.property,
            "owner": self.owner,
            "reason": self.reason,
            "expires": self.expires.isoformat(),
        }


@dataclass(frozen=True)
class Recorded:
    """A finding on record: its status and when it was first seen (the ledger's row, as data)."""

    finding: Finding
    status: str
    first_seen: dt.datetime


@dataclass
class Reconciled:
    """What one run of one stack means against the record."""

    new: list[Finding] = field(default_factory=list)  #: to report: not on record, or hidden or resolved before
    still: list[Finding] = field(default_factory=list)  #: open already: reported before, not again
    ignored: list[tuple[Finding, IgnoreRule]] = field(default_factory=list)  #: hidden by a rule in force
    resolved: list[Finding] = field(default_factory=list)  #: on record, open or ignored, and gone from the cloud

    def as_dict(self) -> dict[str, Any]:
        return {
            "new": [f.as_dict() for f in self.new],
            "still": [f.as_dict() for f in self.still],
            "ignored": [{**f.as_dict(), "rule": r.as_dict()} for f, r in self.ignored],
            "resolved": [f.as_dict() for f in self.resolved],
        }


def reconcile(
    found: Iterable[Finding],
    recorded: Iterable[Recorded],
    rules: Iterable[IgnoreRule],
    application: str,
    environment: str,
    today: dt.date,
) -> Reconciled:
    """Compare one run's findings of one stack with its findings on record (any status) and the
    ignore rules, judged on ``today``. A finding hidden by a rule is ``ignored``; once the rule
    expires it is ``new`` again (reported once more); one gone from the cloud is ``resolved``."""
    rules = list(rules)
    known = {r.finding.fingerprint: r for r in recorded}
    result = Reconciled()
    seen: set[str] = set()
    for finding in found:
        if finding.fingerprint in seen:
            continue
        seen.add(finding.fingerprint)
        rule = next((r for r in rules if r.hides(finding, application, environment, today)), None)
        prior = known.get(finding.fingerprint)
        if rule is not None:
            result.ignored.append((finding, rule))
        elif prior is not None and prior.status == OPEN:
            result.still.append(finding)
        else:
            result.new.append(finding)
    result.resolved = [r.finding for fp, r in known.items() if fp not in seen and r.status in (OPEN, IGNORED)]
    return result


def due(
    live: Iterable[tuple[str, str, str]],
    failed: Iterable[tuple[str, str]],
    last_checked: Mapping[str, dt.datetime],
    now: dt.datetime,
    interval: dt.timedelta | None = INTERVAL,
) -> list[tuple[str, str, str]]:
    """Which live environments ``(application, environment, stack)`` a run checks: not those whose
    last engine run failed (``failed``: (application, environment); their state is not the
    approved digest's), nor, with an ``interval``, those checked successfully less than
    ``interval`` before ``now`` (``last_checked`` by stack). ``interval`` None: every one."""
    broken = set(failed)
    return [
        (app, env, stack)
        for app, env, stack in live
        if (app, env) not in broken
        and (interval is None or stack not in last_checked or now - last_checked[stack] >= interval)
    ]


#: Neutron's default egress of a new group (kept unless ``deleteDefaultRules``): not drift.
_DEFAULT_EGRESS = {("egress", "IPv4"), ("egress", "IPv6")}
_RULE_FIELDS = ("direction", "ethertype", "protocol", "portRangeMin", "portRangeMax", "remoteIpPrefix", "remoteGroupId")


def _is_default_egress(rule: Mapping[str, Any]) -> bool:
    return (rule.get("direction"), rule.get("ethertype")) in _DEFAULT_EGRESS and all(
        rule.get(k) is None for k in _RULE_FIELDS[2:]
    )


def rule_text(rule: Mapping[str, Any]) -> str:
    """``ingress tcp 22-22 from 0.0.0.0/0 (IPv4)``: a rule as people read it."""
    ports = f" {rule.get('portRangeMin')}-{rule.get('portRangeMax')}" if rule.get("portRangeMin") is not None else ""
    remote = rule.get("remoteIpPrefix") or (f"group {rule['remoteGroupId']}" if rule.get("remoteGroupId") else "any")
    return f"{rule.get('direction')} {rule.get('protocol') or 'any'}{ports} from {remote} ({rule.get('ethertype')})"


def unmanaged_rules(
    groups: Mapping[str, tuple[str, bool]], managed: Iterable[str], cloud: Mapping[str, list[dict[str, Any]]]
) -> list[tuple[str, dict[str, Any]]]:
    """Rules in the stack's security groups that the stack does not hold: opened behind its back.

    ``groups``: logical name -> (group id, whether it keeps Neutron's default egress);
    ``managed``: the rule ids the state holds; ``cloud``: the rules of each group id as the cloud
    lists them. Returns (group logical name, rule) for each stranger, default egress excepted."""
    held = set(managed)
    return [
        (name, rule)
        for name, (group_id, keeps_default) in sorted(groups.items())
        for rule in cloud.get(group_id, [])
        if rule["id"] not in held and not (keeps_default and _is_default_egress(rule))
    ]


def rule_finding(stack: str, group: str, rule: Mapping[str, Any]) -> Finding:
    """A rule the stack does not hold, as a finding on its group: ``rules`` absent -> the rule."""
    return Finding(stack, group, "openstack:networking/secGroup:SecGroup", "rules", None, rule_text(rule))
