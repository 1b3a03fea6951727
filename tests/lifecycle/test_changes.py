"""Change classification (Art. 15): the major and the minor cases."""

from __future__ import annotations

import pytest

from orchestrator.core.changes import classify, is_major
from orchestrator.core.sizing import totals
from orchestrator.core.validation import load_manifest

from .conftest import EXAMPLES, NEW_SELF_TEST, variant

BASE = EXAMPLES / "social-security.yaml"


def _classify(tmp_path, *replacements, source="social-security"):
    old = load_manifest(EXAMPLES / f"{source}.yaml")
    new = load_manifest(variant(tmp_path, "new", *replacements, source=source))
    return classify(old, new)


def test_totals_the_classifier_compares():
    prod = load_manifest(BASE).environments["production"].resources
    t = totals(prod).as_dict()
    # gateway 2 x 2c4g, app 4 x 8c16g, database 8c16g
    assert (t["vcpu"], t["ram_gb"], t["servers"], t["database_instances"]) == (
        2 * 2 + 4 * 8 + 8,
        2 * 4 + 4 * 16 + 16,
        6,
        1,
    )
    # app data+logs 4 x 300, database 300, archive 1000
    assert (t["volume_gb"], t["object_gb"]) == (4 * 300 + 300 + 1000, 2000)


def test_same_manifest_has_no_change():
    app = load_manifest(BASE)
    assert classify(app, app) == []


@pytest.mark.parametrize(
    "replacements,path,what",
    [
        ([("mlpsLevel: 3", "mlpsLevel: 2")], "spec.mlpsLevel", "MLPS level 3 -> 2"),
        (
            [("engine: mysql", "engine: postgresql")],
            "environments.production.resources.databases.benefits.engine",
            "database benefits engine mysql -> postgresql",
        ),
        (
            [("ports: 8080\n            remoteGroup: gateway", "ports: 8080\n            remoteCidr: 0.0.0.0/0")],
            "environments.production.resources.securityGroups.app.rules",
            "ingress rule added in group app: tcp port 8080 from 0.0.0.0/0",
        ),
        (
            [
                ("          - name: logs\n            sizeGb: 100\n            type: encrypted\n", ""),
                ("              - name: logs\n                sizeGb: 20\n", ""),
            ],
            "environments.production.resources.servers.app.volumes.logs",
            "data volume servers.app.volumes.logs removed (100 GB)",
        ),
        (
            [("        sizeGb: 2000", "        sizeGb: 3001")],
            "environments.production.resources.object_gb",
            "object_gb 2000 -> 3001 (+50%)",
        ),
        (
            [
                (
                    "        flavor: g.8c16g\n        image: debian-12\n        count: 4",
                    "        flavor: g.8c16g\n        image: debian-12\n        count: 8",
                )
            ],
            "environments.production.resources.servers",
            "servers 6 -> 10 (+66%)",
        ),
    ],
)
def test_major_changes(tmp_path, replacements, path, what):
    changes = _classify(tmp_path, *replacements)
    assert is_major(changes)
    [found] = [c for c in changes if c.path == path and c.what == what]
    assert found.kind == "major" and "major (Art. 15" in found.reason, found


def test_a_new_environment_is_major(tmp_path):
    changes = _classify(
        tmp_path,
        ("  environments:\n    test: {}", "  environments:\n    test: {}\n    trial: {}"),
        source="permit-prototype",
    )
    assert [(c.kind, c.path) for c in changes if c.kind == "major"] == [("major", "environments.trial")]


def test_removing_a_database_is_major(tmp_path):
    text = BASE.read_text(encoding="utf-8")
    start, end = text.index("    databases:\n      - name: benefits"), text.index("    volumes:\n      - name: archive")
    test_db = text.index("        databases:\n          - name: benefits")
    test_end = text.index("        volumes:\n          - name: archive")
    changes = _classify(tmp_path, (text[test_db:test_end], ""), (text[start:end], ""))
    assert any(
        c.kind == "major" and c.what == "database benefits removed" and "removes its data" in c.reason for c in changes
    ), changes


@pytest.mark.parametrize(
    "replacements",
    [
        [("retentionDays: 180", "retentionDays: 90")],
        [("count: 4", "count: 5")],  # 6 -> 7 servers: +16%
        [("        sizeGb: 2000", "        sizeGb: 3000")],  # exactly +50% is not more than 50%
        [NEW_SELF_TEST],
        [("image: debian-12\n        count: 2", "image: debian-13\n        count: 2")],
    ],
)
def test_minor_changes(tmp_path, replacements):
    changes = _classify(tmp_path, *replacements)
    assert changes and not is_major(changes), changes


def test_an_added_rule_is_named_by_group_protocol_ports_and_remote_and_says_why_it_is_minor(tmp_path):
    """``changes`` once said only "environments.test: environments.test changed" for this."""
    anchor = "      - name: app\n        rules:\n"
    rule = "          - protocol: tcp\n            ports: 9100-9102\n            remoteCidr: 10.20.0.0/16\n"
    changes = _classify(tmp_path, (anchor, anchor + rule))
    ours = [c for c in changes if c.path.endswith(".securityGroups.app.rules")]
    assert {c.path.split(".")[1] for c in ours} == {"test", "trial", "production"}  # the base applies to each
    for c in ours:
        assert c.kind == "minor" and c.what == "ingress rule added in group app: tcp ports 9100-9102 from 10.20.0.0/16"
        assert c.reason.startswith("minor: ingress from 10.20.0.0/16 only, not from anywhere")
        assert c.detail == {
            "op": "added",
            "group": "app",
            "direction": "ingress",
            "protocol": "tcp",
            "ports": [9100, 9102],
            "remote": "10.20.0.0/16",
        }
    assert all(c.path.endswith(".rules") for c in changes), changes  # nothing vaguer besides


def test_every_finding_names_what_changed_and_why_it_has_its_class(tmp_path):
    changes = _classify(
        tmp_path,
        ("retentionDays: 180", "retentionDays: 90"),
        ("count: 4", "count: 5"),
        NEW_SELF_TEST,
        ("image: debian-12\n        count: 2", "image: debian-13\n        count: 2"),
    )
    whats = {c.what for c in changes}
    assert {
        "spec.backup.retentionDays 180 -> 90",
        "servers.app.count 4 -> 5",
        "servers.gateway.image debian-12 -> debian-13",
        f"spec.materials.selfTestReport.sha256 {NEW_SELF_TEST[0]} -> {NEW_SELF_TEST[1]}",
    } <= whats, whats
    assert "servers 6 -> 7" in whats
    for c in changes:
        assert c.kind == "minor" and c.what and c.reason.startswith("minor") and "Art. 15" in c.reason, c
        assert c.as_dict()["detail"] == c.detail
