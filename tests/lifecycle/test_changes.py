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
    assert (t["vcpu"], t["ram_gb"], t["servers"], t["database_instances"]) == (2 * 2 + 4 * 8 + 8, 2 * 4 + 4 * 16 + 16, 6, 1)
    # app data+logs 4 x 300, database 300, archive 1000
    assert (t["volume_gb"], t["object_gb"]) == (4 * 300 + 300 + 1000, 2000)


def test_same_manifest_has_no_change():
    app = load_manifest(BASE)
    assert classify(app, app) == []


@pytest.mark.parametrize(
    "replacements,path,reason",
    [
        ([("mlpsLevel: 3", "mlpsLevel: 2")], "spec.mlpsLevel", "MLPS level 3 -> 2"),
        ([("engine: mysql", "engine: postgresql")], "environments.production.resources.databases.benefits.engine",
         "database engine mysql -> postgresql"),
        ([("ports: 8080\n            remoteGroup: gateway", "ports: 8080\n            remoteCidr: 0.0.0.0/0")],
         "environments.production.resources.securityGroups.app", "new ingress from 0.0.0.0/0 tcp/8080-8080"),
        ([("          - name: logs\n            sizeGb: 100\n            type: encrypted\n", ""),
          ("              - name: logs\n                sizeGb: 20\n", "")],
         "environments.production.resources.servers.app.volumes.logs", "data volume servers.app.volumes.logs removed"),
        ([("        sizeGb: 2000", "        sizeGb: 3001")], "environments.production.resources.object_gb",
         "object_gb 2000 -> 3001 (+50%, over 50%)"),
        ([("        flavor: g.8c16g\n        image: debian-12\n        count: 4", "        flavor: g.8c16g\n        image: debian-12\n        count: 8")],
         "environments.production.resources.servers", "servers 6 -> 10 (+66%, over 50%)"),
    ],
)
def test_major_changes(tmp_path, replacements, path, reason):
    changes = _classify(tmp_path, *replacements)
    assert is_major(changes)
    assert any(c.kind == "major" and c.path == path and c.reason == reason for c in changes), changes


def test_a_new_environment_is_major(tmp_path):
    changes = _classify(tmp_path, ("  environments:\n    test: {}", "  environments:\n    test: {}\n    trial: {}"),
                        source="permit-prototype")
    assert [(c.kind, c.path) for c in changes if c.kind == "major"] == [("major", "environments.trial")]


def test_removing_a_database_is_major(tmp_path):
    text = BASE.read_text(encoding="utf-8")
    start, end = text.index("    databases:\n      - name: benefits"), text.index("    volumes:\n      - name: archive")
    test_db = text.index("        databases:\n          - name: benefits")
    test_end = text.index("        volumes:\n          - name: archive")
    changes = _classify(tmp_path, (text[test_db:test_end], ""), (text[start:end], ""))
    assert any(c.kind == "major" and c.reason == "database benefits removed" for c in changes)


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
