"""Validation collects every problem with its line, follows overrides, and never crashes."""

from __future__ import annotations

import json

import pytest

from orchestrator.core.manifest import Environment
from orchestrator.core.validation import validate_bytes, validate_file
from tests.conftest import EXAMPLES, INVALID

FIVE_MISTAKES = """\
apiVersion: govcloud/v1
kind: Application
metadata:
  id: five-mistakes
  name: 五处错误
  unit: {id: zwb, name: 政务服务局}
  contacts: [{name: 李明}]
spec:
  mlpsLevel: 4
  materials:
    constructionPlan: {path: plan.pdf, sha256: 3b7e1f0c2a9d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccdd0}
    selfTestReport: {path: test.pdf, sha256: 9a8b7c6d5e4f30211f2e3d4c5b6a79881122334455667788990011aabbccddee}
  auth: {redirectUris: ["https://x.gov.cn/cb"], roles: [{name: user}]}
  dataSharing: {catalogue: [{id: C1, name: 审批记录, sharing: none}]}
  resources:
    securityGroups:
      - name: web
        rules:
          - {protocol: tcp, ports: 443-80, remoteCidr: 0.0.0.0/0}
          - {protocol: tcp, ports: 22, remoteCidr: 10.0.0.300/8}
    servers:
      - name: web
        flavor: g.2c4g
        image: debian-12
        count: 0
        securityGroups: [web, missing]
  environments:
    test: {}
"""


def lines_and_rules(report):
    return {(p.line, p.rule) for p in report.problems}


def test_five_mistakes_are_all_reported_with_lines():
    report = validate_bytes(FIVE_MISTAKES.encode(), "five.yaml")
    assert lines_and_rules(report) == {
        (9, "mlps-level-allowed"),
        (14, "catalogue-sharing-reason"),
        (19, "port-range"),
        (20, "schema.value_error"),
        (25, "schema.greater_than_equal"),
    }
    assert {p.field for p in report.problems} == {
        "spec.mlpsLevel",
        "spec.dataSharing.catalogue[0].reason",
        "spec.resources.securityGroups[0].rules[0].ports",
        "spec.resources.securityGroups[0].rules[1].remoteCidr",
        "spec.resources.servers[0].count",
    }
    mlps = next(p for p in report.problems if p.rule == "mlps-level-allowed")
    assert mlps.article == "Art. 4" and mlps.line == 9


def test_semantic_problems_stand_alone_once_schema_errors_are_fixed():
    fixed = FIVE_MISTAKES.replace("count: 0", "count: 1").replace("10.0.0.300/8", "10.0.0.0/8")
    report = validate_bytes(fixed.encode(), "five.yaml")
    assert lines_and_rules(report) == {
        (9, "mlps-level-allowed"),
        (14, "catalogue-sharing-reason"),
        (19, "port-range"),
        (26, "security-group-exists"),
    }


def test_override_problem_points_at_the_override_line():
    text = (
        FIVE_MISTAKES.replace("mlpsLevel: 4", "mlpsLevel: 2")
        .replace("sharing: none", "sharing: unconditional")
        .replace("443-80", "443")
        .replace("10.0.0.300/8", "10.0.0.0/8")
        .replace("count: 0", "count: 1")
        .replace("[web, missing]", "[web]")
    )
    text = text.replace(
        "    test: {}\n",
        "    test:\n      resources:\n        servers:\n          - name: web\n            count: -1\n",
    )
    report = validate_bytes(text.encode(), "override.yaml")
    assert [(p.line, p.field, p.rule) for p in report.problems] == [
        (32, "spec.environments.test.resources.servers[0].count", "schema.greater_than_equal")
    ]


def test_overrides_patch_named_items_and_keep_the_rest():
    app = validate_file(EXAMPLES / "social-security.yaml").application
    test, prod = app.environments[Environment.TEST], app.environments[Environment.PRODUCTION]
    app_test = next(s for s in test.resources.servers if s.name == "app")
    app_prod = next(s for s in prod.resources.servers if s.name == "app")
    assert (app_test.count, app_test.flavor) == (1, "g.4c8g")
    assert (app_prod.count, app_prod.flavor) == (4, "g.8c16g")
    assert app_test.image == app_prod.image == "debian-12"
    assert [v.size_gb for v in app_test.volumes] == [50, 20]
    assert [v.type for v in app_test.volumes] == ["encrypted", "encrypted"], "unpatched keys stay"
    assert prod.production_data and not test.production_data


@pytest.mark.parametrize(
    "content, rule",
    [
        (b"", "yaml-document"),
        (b"# only a comment\n", "yaml-document"),
        (b"- a\n- b\n", "yaml-document"),
        (b"just a string", "yaml-document"),
        (b"apiVersion: govcloud/v1\nkind:\n\t- Application\n", "yaml-syntax"),
        (b"apiVersion: govcloud/v1\napiVersion: govcloud/v1\n", "duplicate-key"),
        (b"\x7fELF\x02\x01\x01\x00\x00\x00binary", "yaml-syntax"),
        (b"\xff\xfe\xfa junk", "yaml-syntax"),
        (b"a: [1, 2\n", "yaml-syntax"),
        (b"a: &x [1]\nb: *y\n", "yaml-syntax"),
        (b"metadata: 5\n", "schema.missing"),
        (b"a: " + b"x" * (2 * 1024 * 1024), "file-size"),
    ],
    ids=[
        "empty",
        "comment-only",
        "list",
        "scalar",
        "tabs",
        "duplicate-keys",
        "binary",
        "not-utf8",
        "unclosed",
        "unknown-alias",
        "wrong-type",
        "too-big",
    ],
)
def test_malformed_input_is_a_problem_not_a_crash(content, rule):
    report = validate_bytes(content, "bad.yaml")
    assert not report.valid
    assert rule in {p.rule for p in report.problems}


def test_alias_bomb_is_refused():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    report = validate_bytes("\n".join(lines).encode(), "bomb.yaml")
    assert [p.rule for p in report.problems] == ["file-size"]


def test_validate_cli_reports_every_problem_and_exits_1(run_cli, tmp_path):
    bad = tmp_path / "five.yaml"
    bad.write_text(FIVE_MISTAKES, encoding="utf-8")
    result = run_cli("validate", str(bad), "--output", "json")
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    [entry] = payload["files"]
    assert entry["path"] == str(bad) and entry["valid"] is False and entry["digest"].startswith("sha256:")
    assert len(entry["errors"]) == 5
    assert set(entry["errors"][0]) == {"line", "field", "rule", "message", "article"}


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"[1, 2]",
        b"a:\n\tb: 1\n",
        b"a: 1\na: 2\n",
        b"\x00\x01\x02\x03" * 1000,
        b"\x89PNG\r\n\x1a\n" + bytes(range(256)),
    ],
    ids=["empty", "list", "tabs", "duplicate", "nul-junk", "png-junk"],
)
def test_validate_cli_never_prints_a_traceback(run_cli, tmp_path, content):
    path = tmp_path / "junk.yaml"
    path.write_bytes(content)
    result = run_cli("validate", str(path))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "INVALID" in result.stdout


def test_validate_cli_handles_a_10mb_file(run_cli, tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_bytes(b"key: " + b"v" * (10 * 1024 * 1024) + b"\n")
    result = run_cli("validate", str(path))
    assert result.exit_code == 1 and "file-size" in result.stdout


def test_validate_directories_recursively(run_cli):
    result = run_cli("validate", str(EXAMPLES.parent), "--output", "json")
    paths = [f["path"] for f in json.loads(result.stdout)["files"]]
    assert any("/invalid/" in p for p in paths) and any("/manifests/" in p for p in paths)
    assert result.exit_code == 1


def test_missing_path_is_a_usage_error(run_cli, tmp_path):
    result = run_cli("validate", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 2 and "no such file" in result.stderr


@pytest.mark.parametrize(
    ("path", "refused"),
    [
        ("/etc/govcloud/oidc.env", True),
        ("/etc//govcloud/labels", True),
        ("/etc/govcloud", True),
        ("/etc/app/../govcloud/x", True),
        ("/etc/govcloud-app/config", False),
        ("/etc/nginx/site.conf", False),
    ],
)
def test_user_data_stays_out_of_govclouds_own_directory(path: str, refused: bool) -> None:
    raw = (
        (INVALID / "user-data-reserved-path.yaml")
        .read_bytes()
        .replace(b"path: /etc/govcloud/oidc.env", b"path: " + path.encode())
    )
    report = validate_bytes(raw, "x.yaml")
    assert ("user-data-reserved-path" in {p.rule for p in report.problems}) is refused


def test_a_rule_repeated_in_its_group_is_refused_but_the_same_rule_elsewhere_is_not():
    base = (
        FIVE_MISTAKES.replace("mlpsLevel: 4", "mlpsLevel: 2")
        .replace("sharing: none", "sharing: unconditional")
        .replace("443-80", "443")
        .replace("10.0.0.300/8", "10.0.0.0/8")
        .replace("count: 0", "count: 1")
        .replace("[web, missing]", "[web]")
    )
    rules = "          - {protocol: tcp, ports: 22, remoteCidr: 10.0.0.0/8}\n"
    fine = [
        "          - {direction: egress, protocol: tcp, ports: 443, remoteCidr: 0.0.0.0/0}\n",
        "          - {protocol: tcp, ports: 443, remoteCidr: '::/0'}\n",
        "          - {protocol: udp, ports: 443, remoteCidr: 0.0.0.0/0}\n",
        "          - {protocol: tcp, ports: 443-444, remoteCidr: 0.0.0.0/0}\n",
        "          - {protocol: tcp, ports: 443, remoteGroup: web}\n",
    ]
    assert validate_bytes(base.replace(rules, rules + "".join(fine)).encode(), "fine.yaml").valid
    twice = base.replace(
        rules, rules + "          - {protocol: tcp, ports: 443, remoteCidr: 0.0.0.0/0, description: again}\n"
    )
    [problem] = validate_bytes(twice.encode(), "twice.yaml").problems
    assert (problem.line, problem.field, problem.rule) == (
        21,
        "spec.resources.securityGroups[0].rules[2]",
        "security-group-rule-duplicate",
    )
    assert "rules[0] of group 'web'" in problem.message
