"""Classification by what the engine will do (issue 25): each edit that destroys data, by
resource kind, is named and major; the paths that keep data are taken or said."""

from __future__ import annotations

import pytest

from orchestrator.core.dataloss import CONTAINER, DATABASE, SERVER, VOLUME, data_changes
from orchestrator.core.manifest import Environment
from orchestrator.core.stackplan import PlannedResource
from orchestrator.core.validation import load_manifest
from orchestrator.services.datasafety import classify_applications, stack_data_changes

from .conftest import EXAMPLES, variant

PROD = Environment.PRODUCTION  # the base resources: four app servers
SOCIAL = EXAMPLES / "social-security.yaml"
APP_SERVERS = """      - name: app
        flavor: g.8c16g
        image: debian-12
        count: 4"""


def steps(tmp_path, *replacements, env=PROD):
    old = load_manifest(SOCIAL)
    new = load_manifest(variant(tmp_path, "new", *replacements))
    return stack_data_changes(old, new, env)


def summary(changes) -> set[tuple[str, str, str]]:
    return {(s.action, s.type, s.name) for s in changes.steps}


def test_renaming_a_data_volume_deletes_every_instance_s_volume(tmp_path) -> None:
    found = steps(tmp_path, ("          - name: data\n", "          - name: records\n"))
    assert summary(found) == {("delete", VOLUME, f"social-security-app-{n}-data") for n in range(1, 5)}
    assert all("destroys data: volume" in str(s) for s in found.steps)


def test_renaming_a_standalone_volume_or_a_container_deletes_it(tmp_path) -> None:
    found = steps(tmp_path, ("      - name: archive\n", "      - name: archive2\n"))
    assert summary(found) == {("delete", VOLUME, "social-security-archive")}
    text = SOCIAL.read_text(encoding="utf-8")
    container = text.split("containers:")[1].split("name: ")[1].split("\n")[0]
    found = steps(tmp_path, (f"name: {container}\n", f"name: {container}-new\n"))
    assert summary(found) == {("delete", CONTAINER, f"social-security-{container}")}


def test_an_image_change_rebuilds_stateful_servers_only(tmp_path) -> None:
    changed = APP_SERVERS.replace("debian-12", "debian-13")
    found = steps(tmp_path, (APP_SERVERS, changed))
    assert summary(found) == {("rebuild", SERVER, f"social-security-app-{n}") for n in range(1, 5)}
    assert "root disk re-imaged" in found.steps[0].reason and "debian-12 -> debian-13" in found.steps[0].reason
    stateless = APP_SERVERS + "\n        stateless: true"
    old = load_manifest(variant(tmp_path, "old", (APP_SERVERS, stateless)))
    new = load_manifest(variant(tmp_path, "new", (APP_SERVERS, stateless.replace("debian-12", "debian-13"))))
    assert stack_data_changes(old, new, PROD).steps == ()


def test_declaring_a_server_stateless_does_not_excuse_the_same_change(tmp_path) -> None:
    found = steps(tmp_path, (APP_SERVERS, APP_SERVERS.replace("debian-12", "debian-13") + "\n        stateless: true"))
    assert {s.action for s in found.steps} == {"rebuild"} and len(found.steps) == 4


def test_a_lower_count_deletes_the_server_and_its_volumes(tmp_path) -> None:
    found = steps(tmp_path, (APP_SERVERS, APP_SERVERS.replace("count: 4", "count: 3")))
    assert summary(found) == {
        ("delete", SERVER, "social-security-app-4"),
        ("delete", VOLUME, "social-security-app-4-data"),
        ("delete", VOLUME, "social-security-app-4-logs"),
    }


def test_a_lower_count_of_stateless_servers_without_volumes_destroys_nothing(tmp_path) -> None:
    gateway = "        count: 2\n        publicIp: true\n"
    old = load_manifest(variant(tmp_path, "old", (gateway, gateway + "        stateless: true\n")))
    new = load_manifest(variant(tmp_path, "new", (gateway, gateway.replace("2", "1") + "        stateless: true\n")))
    assert stack_data_changes(old, new, PROD).steps == ()


def test_a_trove_flavor_or_size_change_is_a_resize_not_a_replacement(tmp_path) -> None:
    found = steps(
        tmp_path,
        ("        flavor: g.8c16g\n        sizeGb: 300\n", "        flavor: g.16c32g\n        sizeGb: 300\n"),
        (
            "            flavor: g.2c4g\n            sizeGb: 50\n",
            "            flavor: g.2c4g\n            sizeGb: 60\n",
        ),
    )
    assert found.steps == ()
    [resize] = found.resizes
    assert resize.name == "social-security-benefits" and resize.size is None and "g.16c32g" in resize.flavor
    test = stack_data_changes(load_manifest(SOCIAL), load_manifest(tmp_path / "new.yaml"), Environment.TEST)
    assert test.steps == () and [(r.flavor, r.size) for r in test.resizes] == [(None, 60)]


def test_shrinking_is_refused_for_volumes_and_databases(tmp_path) -> None:
    found = steps(tmp_path, ("sizeGb: 1000\n", "sizeGb: 500\n"), ("        sizeGb: 300\n", "        sizeGb: 200\n"))
    assert summary(found) == {
        ("refused", VOLUME, "social-security-archive"),
        ("refused", DATABASE, "social-security-benefits"),
    }
    assert found.destroying == () and "cannot be applied" in str(found.refused[0])


def test_a_database_engine_version_change_replaces_the_instance(tmp_path) -> None:
    found = steps(tmp_path, ('        version: "8.0"\n', '        version: "8.4"\n'))
    assert summary(found) == {("replace", DATABASE, "social-security-benefits")}
    assert "datastore.version 8.0 -> 8.4" in found.steps[0].reason


def test_growing_a_volume_destroys_nothing(tmp_path) -> None:
    assert steps(tmp_path, ("sizeGb: 1000\n", "sizeGb: 1200\n")).steps == ()


def test_a_replacing_property_of_a_volume_is_named() -> None:
    def vol(**props):
        return PlannedResource(VOLUME, "v", "", {"name": "v", "size": 10, **props})

    found = data_changes([vol(availabilityZone="a")], [vol(availabilityZone="b")], ())
    assert summary(found) == {("replace", VOLUME, "v")} and "availabilityZone a -> b" in found.steps[0].reason


@pytest.mark.parametrize(("env", "servers"), [("test", 1), ("trial", 2), ("production", 4)])
def test_classification_marks_each_data_step_major_with_its_reason(tmp_path, env, servers) -> None:
    old = load_manifest(SOCIAL)
    new = load_manifest(variant(tmp_path, "new", ("          - name: data\n", "          - name: records\n")))
    major = [c for c in classify_applications(old, new) if c.path.startswith(f"environments.{env}.resources.social")]
    assert {c.path for c in major} == {
        f"environments.{env}.resources.social-security-app-{n}-data" for n in range(1, servers + 1)
    }
    assert all(c.kind == "major" and c.reason.startswith("destroys data: volume") for c in major)
