"""Manifest fields that were accepted and must not be: wildcard and non-https redirect URIs,
relative user-data paths, booleans read as numbers, ``yes`` read as true, a user-data file
without a path, control characters in text. Each refusal names the line, the field and the rule."""

from __future__ import annotations

import pytest

from orchestrator.core.validation import validate_bytes
from tests.conftest import INVALID

BASE = (
    (INVALID / "user-data-reserved-path.yaml")
    .read_text(encoding="utf-8")
    .replace("path: /etc/govcloud/oidc.env", "path: /srv/permit/app.env")
)


def problems(text: str) -> set[tuple[int | None, str, str]]:
    return {(p.line, p.field, p.rule) for p in validate_bytes(text.encode(), "m.yaml").problems}


def test_the_base_is_valid():
    assert problems(BASE) == set()


URI = "spec.auth.redirectUris[0]"


@pytest.mark.parametrize(
    "uri",
    [
        '"https://*"',
        '"*"',
        '"+"',
        '"https://*.changsha.gov.cn/cb"',
        '"https://app.gov.cn/*"',
        '"https://app*.gov.cn/cb"',
        '"http://app.changsha.gov.cn/cb"',
        '"ftp://app.gov.cn/cb"',
        '"javascript:alert(1)"',
        '"data:text/html,x"',
        '"com.example.app:/cb"',
        '"https://user:pw@app.gov.cn/cb"',
        '"https://evil.example@app.gov.cn/cb"',
        '"https://app.gov.cn/cb#frag"',
        '"https:///cb"',
        '"https://app.gov.cn:99999/cb"',
        '"https://app_x.gov.cn/cb"',
        '"https://app.gov.cn/c b"',
        '"http://10.0.0.1/cb"',
    ],
)
def test_redirect_uris_are_exact_https_uris(uri):
    text = BASE.replace("- https://test-permit.zjj.changsha.gov.cn/callback", f"- {uri}")
    assert problems(text) == {(26, URI, "redirect-uri-exact")}


def test_a_control_character_in_a_redirect_uri_breaks_both_rules():
    text = BASE.replace("- https://test-permit.zjj.changsha.gov.cn/callback", '- "https://app.gov.cn/cb\\n"')
    assert problems(text) == {(26, URI, "redirect-uri-exact"), (26, URI, "text-printable")}


@pytest.mark.parametrize(
    "uri",
    [
        "https://test-permit.zjj.changsha.gov.cn/callback",
        "https://app.gov.cn:8443/sso/cb?x=1",
        "http://localhost:8080/cb",
        "http://127.0.0.1/cb",
        "http://[::1]:9000/cb",
        "https://10.20.0.5/cb",
    ],
)
def test_exact_https_and_loopback_http_redirect_uris_are_accepted(uri):
    assert problems(BASE.replace("https://test-permit.zjj.changsha.gov.cn/callback", uri)) == set()


FILE = "spec.resources.servers[0].userData.files[0].path"


@pytest.mark.parametrize(
    ("path", "rules"),
    [
        ("etc/govcloud/oidc.env", {"user-data-path-absolute", "user-data-reserved-path"}),
        ("srv/permit/app.env", {"user-data-path-absolute"}),
        ("/srv/permit/../../etc/govcloud/oidc.env", {"user-data-path-absolute", "user-data-reserved-path"}),
        ("/srv/permit/./app.env", {"user-data-path-absolute"}),
        ("//etc/govcloud/oidc.env", {"user-data-path-absolute", "user-data-reserved-path"}),
        ("/srv/permit/", {"user-data-path-absolute"}),
        ("/srv//permit/app.env", {"user-data-path-absolute"}),
        ("/srv/permit/app.env", set()),
    ],
)
def test_user_data_paths_are_absolute_and_normalised_then_kept_out_of_etc_govcloud(path, rules):
    found = problems(BASE.replace("path: /srv/permit/app.env", f"path: {path}"))
    assert found == {(43, FILE, rule) for rule in rules}


def test_a_user_data_file_names_its_path_and_only_the_keys_cloud_init_is_given():
    without = BASE.replace("            - path: /srv/permit/app.env\n", "            - owner: root\n")
    assert problems(without) == {(43, "spec.resources.servers[0].userData.files[0].path", "schema.missing")}
    unknown = BASE.replace('permissions: "0644"', 'permissions: "0644"\n              append: true')
    assert problems(unknown) == {(45, "spec.resources.servers[0].userData.files[0].append", "schema.extra_forbidden")}
    setuid = BASE.replace('permissions: "0644"', 'permissions: "4755"')
    assert problems(setuid) == {
        (44, "spec.resources.servers[0].userData.files[0].permissions", "schema.string_pattern_mismatch")
    }


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "rule"),
    [
        ("sizeGb: 20", "sizeGb: true", 48, "spec.resources.volumes[0].sizeGb", "schema.int_type"),
        ("sizeGb: 20", 'sizeGb: "20"', 48, "spec.resources.volumes[0].sizeGb", "schema.int_type"),
        ("sizeGb: 20", "sizeGb: 20.0", 48, "spec.resources.volumes[0].sizeGb", "schema.int_type"),
        ("mlpsLevel: 1", "mlpsLevel: true", 16, "spec.mlpsLevel", "schema.int_type"),
        (
            "image: debian-12",
            "image: debian-12\n        count: false",
            40,
            "spec.resources.servers[0].count",
            "schema.int_type",
        ),
        (
            "image: debian-12",
            "image: debian-12\n        publicIp: yes",
            40,
            "spec.resources.servers[0].publicIp",
            "schema.bool_type",
        ),
        (
            "image: debian-12",
            "image: debian-12\n        publicIp: 1",
            40,
            "spec.resources.servers[0].publicIp",
            "schema.bool_type",
        ),
        (
            "image: debian-12",
            'image: debian-12\n        publicIp: "true"',
            40,
            "spec.resources.servers[0].publicIp",
            "schema.bool_type",
        ),
        (
            "ports: 8000-8080",
            "ports: {min: true, max: 80}",
            34,
            "spec.resources.securityGroups[0].rules[0].ports.min",
            "schema.int_type",
        ),
        (
            "    test: {}",
            "    test: {productionData: on}",
            51,
            "spec.environments.test.productionData",
            "schema.bool_type",
        ),
    ],
)
def test_numbers_and_switches_are_strict(old, new, line, field, rule):
    assert problems(BASE.replace(old, new, 1)) == {(line, field, rule)}


@pytest.mark.parametrize(
    ("old", "new", "line", "field"),
    [
        ("  name: 工程建设项目审批原型", '  name: "工程建设\\0项目审批原型"', 7, "metadata.name"),
        ("  name: 工程建设项目审批原型", '  name: "工程\\e[2J建设"', 7, "metadata.name"),
        ("  name: 工程建设项目审批原型", '  name: "工程\\n建设"', 7, "metadata.name"),
        ("  name: 工程建设项目审批原型", '  name: "工程\\u202e建设"', 7, "metadata.name"),
        ("    - name: 黄磊", '    - name: "黄\\x7f磊"', 12, "metadata.contacts[0].name"),
        ("image: debian-12", 'image: "debian-12\\0"', 39, "spec.resources.servers[0].image"),
        (
            'content: "OIDC_CLIENT_SECRET=changeme"',
            'content: "a\\0b"',
            45,
            "spec.resources.servers[0].userData.files[0].content",
        ),
        (
            "    test: {}",
            '    test: {resources: {servers: [{name: app, image: "x\\ty"}]}}',
            51,
            "spec.environments.test.resources.servers[0].image",
        ),
    ],
)
def test_control_characters_are_refused_in_text_that_reaches_the_ledger_and_the_cloud(old, new, line, field):
    assert problems(BASE.replace(old, new, 1)) == {(line, field, "text-printable")}


def test_line_breaks_and_tabs_stay_allowed_where_text_runs_over_lines():
    text = BASE.replace('content: "OIDC_CLIENT_SECRET=changeme"', 'content: "KEY=1\\n\\tOTHER=2\\n"').replace(
        "  contacts:", '  description: "第一行\\n第二行"\n  contacts:'
    )
    assert problems(text) == set()


def test_a_lone_surrogate_is_a_problem_of_the_file_not_a_crash():
    report = validate_bytes(BASE.replace("  name: 工程建设项目审批原型", '  name: "a\\ud800b"').encode(), "m.yaml")
    assert [(p.rule, "surrogate" in p.message) for p in report.problems] == [("yaml-syntax", True)]


def test_a_duplicate_key_names_the_key_not_its_values():
    report = validate_bytes(b"a: 1\na: hunter2-secret\n", "m.yaml")
    assert [(p.line, p.rule, p.message) for p in report.problems] == [(2, "duplicate-key", "duplicate key a")]


def test_a_nul_is_reported_beside_schema_errors_at_its_own_line():
    text = BASE.replace("  name: 工程建设项目审批原型", '  name: "工程\\0建设"').replace("sizeGb: 20", "sizeGb: true")
    assert problems(text) == {
        (7, "metadata.name", "text-printable"),
        (48, "spec.resources.volumes[0].sizeGb", "schema.int_type"),
    }


def test_a_message_quoting_the_refused_value_is_escaped_and_bounded():
    text = BASE.replace("remoteCidr: 10.0.0.0/8", 'remoteCidr: "' + "x" * 500 + '\\e[2J"')
    found = {p.rule: p for p in validate_bytes(text.encode(), "m.yaml").problems}
    assert set(found) == {"schema.value_error", "text-printable"}
    message = found["schema.value_error"].message
    assert len(message) <= 300 and "\x1b" not in message and message.endswith("…")
