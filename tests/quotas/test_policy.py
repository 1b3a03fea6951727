"""The policy file: valid example, and every kind of problem named with file, field and line."""

from __future__ import annotations

import pytest

from orchestrator.core import sizing
from orchestrator.core.quota import PolicyInvalid, parse_policy

from .conftest import POLICY

BASE = POLICY.read_text()


def problems(text: str) -> list:
    with pytest.raises(PolicyInvalid) as caught:
        parse_policy(text.encode(), "policy.yaml")
    assert "policy.yaml" in str(caught.value)
    return caught.value.problems


def test_shipped_policy_loads(policy):
    assert policy.capacity.threshold == 0.70
    assert [r.name for r in policy.rules][:3] == ["unit-limits", "environment-share", "test-no-production-data"]
    assert policy.rule("ram-vcpu-ratio").enforcement == "advisory"
    assert policy.rule("max-volume-size").params.max_gb == 2048


def test_unit_entry_overrides_the_default_measure_by_measure():
    text = BASE.replace(
        "    rsj:                    # 人社局: the social-security system runs three environments\n      vcpu: 96\n",
        "    rsj:\n      vcpu: 96\n",
    )
    policy = parse_policy(text.encode(), "p.yaml")
    assert policy.limits.of("rsj").vcpu == 96
    assert policy.limits.of("nobody").vcpu == 32
    partial = parse_policy(BASE.replace("  units:\n", "  units:\n    zwb: {vcpu: 40}\n").encode(), "p.yaml")
    assert partial.limits.of("zwb").vcpu == 40 and partial.limits.of("zwb").ram_gb == 64


def test_unknown_top_level_key_is_refused_with_its_line():
    text = BASE.replace("kind: QuotaPolicy\n", "kind: QuotaPolicy\nsurplus: 1\n")
    [p] = problems(text)
    assert (p.field, p.message, p.line) == ("surplus", "unknown field", 5)


def test_unknown_limit_key_is_refused():
    text = BASE.replace("    public_ips: 2\n", "    public_ips: 2\n    gpus: 1\n", 1)
    [p] = problems(text)
    assert p.field == "limits.default.gpus" and p.message == "unknown field"
    assert text.splitlines()[p.line - 1].strip() == "gpus: 1"


def test_unknown_rule_is_refused_with_its_line():
    text = BASE.replace("rules:\n", "rules:\n  no-such-rule: {enforcement: mandatory}\n")
    [p] = problems(text)
    assert p.rule == "rule-registered" and p.field == "rules.no-such-rule"
    assert text.splitlines()[p.line - 1].strip().startswith("no-such-rule")


def test_unknown_param_is_refused_by_the_rules_own_schema():
    text = BASE.replace("    params: {max_gb: 2048}", "    params: {max_gb: 2048, max_tb: 2}")
    [p] = problems(text)
    assert p.field == "rules.max-volume-size.params.max_tb" and p.message == "unknown field"
    assert "max_tb" in text.splitlines()[p.line - 1]


def test_bad_values_are_refused():
    found = problems(
        BASE.replace("enforcement: advisory", "enforcement: sometimes")
        .replace("threshold: 0.70", "threshold: 1.5")
        .replace("cidrs: [10.20.0.0/16]", "cidrs: [10.20.0.1/16]")
    )
    fields = {p.field for p in found}
    assert {
        "rules.ram-vcpu-ratio.enforcement",
        "capacity.threshold",
        "rules.ssh-from-management.params.cidrs",
    } <= fields


def test_unknown_measure_is_refused():
    [p] = problems(
        BASE.replace("measures: [vcpu, ram_gb, volume_gb, object_gb]", "measures: [vcpu]").replace(
            "  unit-limits:\n    enforcement: mandatory\n",
            "  unit-limits:\n    enforcement: mandatory\n    params: {measures: [gpus]}\n",
        )
    )
    assert p.field == "rules.unit-limits.params.measures[0]" and "gpus" in p.message


@pytest.mark.parametrize(
    "old, new, field, words",
    [
        (
            "measures: [vcpu, ram_gb, volume_gb, object_gb]",
            "measures: [vcpu, gpus]",
            "rules.environment-share.params.measures[1]",
            "'gpus'",
        ),
        (
            "shares: {test: 0.5, trial: 1.0}",
            "shares: {test: -0.5, trial: 1.0}",
            "rules.environment-share.params.shares.test",
            "greater than or equal to 0",
        ),
        (
            "shares: {test: 0.5, trial: 1.0}",
            "shares: {test: 0.5, trial: 1.5}",
            "rules.environment-share.params.shares.trial",
            "less than or equal to 1",
        ),
        (
            "shares: {test: 0.5, trial: 1.0}",
            "shares: {test: 0.5, production: 1.0}",
            "rules.environment-share.params.shares",
            "test and trial only",
        ),
        (
            "params: {min: 1, max: 4}",
            "params: {min: 9, max: 4}",
            "rules.ram-vcpu-ratio.params",
            "min (9) is above max (4)",
        ),
        ("    vcpu: 32\n", "    vcpu: true\n", "limits.default.vcpu", "valid integer"),
        ("    vcpu: 32\n", "    vcpu: '32'\n", "limits.default.vcpu", "valid integer"),
        ("threshold: 0.70", 'threshold: "0.7"', "capacity.threshold", "valid number"),
        ("ports: [1433,", "ports: [99999, 1433,", "rules.database-ports-closed.params.ports[0]", "65535"),
        ("params: {max_gb: 2048}", "params: {max_gb: 2048.5}", "rules.max-volume-size.params.max_gb", "valid integer"),
        ("cidrs: [10.20.0.0/16]", "cidrs: []", "rules.ssh-from-management.params.cidrs", "at least one value"),
        ("cidrs: [10.20.0.0/16]", "cidrs: [1020]", "rules.ssh-from-management.params.cidrs[0]", "valid string"),
        (
            "types: [encrypted]",
            "types: [[encrypted]]",
            "rules.level3-encrypted-volumes.params.types[0]",
            "valid string",
        ),
    ],
    ids=[
        "unknown-measure",
        "negative-share",
        "share-above-1",
        "production-share",
        "min-above-max",
        "bool-count",
        "string-count",
        "string-threshold",
        "port-range",
        "float-size",
        "empty-cidrs",
        "int-cidr",
        "nested-type",
    ],
)
def test_wrong_values_are_refused_at_load_time(old, new, field, words):
    """Each was accepted before and read as a number, ignored, or crashed ``quota check`` later."""
    assert old in BASE
    [p] = problems(BASE.replace(old, new, 1))
    assert p.field == field and words in p.message and p.line is not None


def test_yaml_syntax_error_names_the_line():
    [p] = problems("apiVersion: govcloud/v1\nkind: [\n")
    assert p.rule == "yaml-syntax" and p.line is not None


def test_missing_file_is_a_problem(tmp_path):
    from orchestrator.core.quota import load_policy

    with pytest.raises(PolicyInvalid) as caught:
        load_policy(tmp_path / "none.yaml")
    assert caught.value.problems[0].rule == "file-readable"


def test_headroom_is_read_and_checked_like_every_section(policy):
    assert (
        policy.headroom.snapshot_share,
        policy.headroom.snapshots_per_volume,
        policy.headroom.security_group_rules,
    ) == (1.0, 1, 4)
    text = BASE.replace("  snapshots_per_volume: 1\n", "  snapshots_per_volume: -1\n  spare_servers: 2\n")
    found = {p.field: p for p in problems(text)}
    assert set(found) == {"headroom.snapshots_per_volume", "headroom.spare_servers"}
    assert found["headroom.spare_servers"].message == "unknown field"
    assert text.splitlines()[found["headroom.snapshots_per_volume"].line - 1].strip() == "snapshots_per_volume: -1"
    start, end = BASE.index("headroom:\n"), BASE.index("# Per-unit ceilings")
    absent = parse_policy((BASE[:start] + BASE[end:]).encode(), "p.yaml").headroom.sizing()
    assert absent == sizing.Headroom(0.0, 0, 0)  # no section: quotas exactly at the needs


def test_quorum_is_one_approver_unless_the_policy_asks_for_more(policy):
    assert policy.quorum.of() == {"production": 1, "major-change": 1, "termination": 1}
    asked = parse_policy((BASE + "quorum:\n  production: 2\n  major-change: 3\n").encode(), "p.yaml")
    assert asked.quorum.of() == {"production": 2, "major-change": 3, "termination": 1}
    text = BASE + "quorum:\n  production: 0\n  termination: true\n  trial: 2\n  major_change: 10\n"
    found = {p.field: p for p in problems(text)}
    assert set(found) == {"quorum.production", "quorum.termination", "quorum.trial", "quorum.major_change"}
    assert found["quorum.trial"].message == found["quorum.major_change"].message == "unknown field"  # major-change
    assert text.splitlines()[found["quorum.production"].line - 1] == "  production: 0"


DRIFT = """
drift:
  ignore:
    - application: citizen-portal
      environment: production
      resource: '*-web'
      property: rules
      owner: ops-li
      reason: emergency rule for incident 42
      expires: 2027-01-31
"""


def test_drift_ignore_rules_are_read_with_owner_reason_and_expiry():
    import datetime as dt

    [rule] = parse_policy((BASE + DRIFT).encode(), "p.yaml").drift_ignore
    assert (rule.application, rule.environment, rule.resource, rule.property, rule.owner) == (
        "citizen-portal",
        "production",
        "*-web",
        "rules",
        "ops-li",
    )
    assert rule.expires == dt.date(2027, 1, 31) and rule.in_force(dt.date(2027, 1, 30))
    assert not rule.in_force(dt.date(2027, 1, 31))  # the expiry day hides nothing
    assert parse_policy(BASE.encode(), "p.yaml").drift_ignore == ()


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("      owner: ops-li\n", "", "drift.ignore[0].owner"),
        ("      reason: emergency rule for incident 42\n", "      reason: '  '\n", "drift.ignore[0].reason"),
        ("      expires: 2027-01-31\n", "      expires: someday\n", "drift.ignore[0].expires"),
        ("      expires: 2027-01-31\n", "", "drift.ignore[0].expires"),
        ("      environment: production\n", "      environment: staging\n", "drift.ignore[0].environment"),
        ("      property: rules\n", "      property: rules\n      silence: forever\n", "drift.ignore[0].silence"),
    ],
)
def test_a_drift_ignore_rule_without_owner_reason_or_expiry_is_refused(old, new, field):
    text = BASE + DRIFT.replace(old, new)
    found = {p.field: p for p in problems(text)}
    assert field in found, found
    if field.endswith("silence"):
        assert found[field].message == "unknown field"


def test_the_final_backups_archive_period_is_read_and_bounded(policy):
    assert policy.backups.final_backup_retention_days == 365
    start, end = BASE.index("backups:\n"), BASE.index("# Per-unit ceilings")
    absent = parse_policy((BASE[:start] + BASE[end:]).encode(), "p.yaml")
    assert absent.backups.final_backup_retention_days == 365  # the default without the section
    text = BASE.replace("  final_backup_retention_days: 365\n", "  final_backup_retention_days: 0\n  keep: 2\n")
    found = {p.field: p for p in problems(text)}
    assert set(found) == {"backups.final_backup_retention_days", "backups.keep"}
    assert (
        text.splitlines()[found["backups.final_backup_retention_days"].line - 1].strip()
        == "final_backup_retention_days: 0"
    )
