"""Data-bearing resources are protected in the program (issue 25): volumes, database instances,
containers and the servers whose root disk the manifest does not declare disposable."""

from __future__ import annotations

import pytest

from orchestrator.adapters.pulumimock import run_program
from orchestrator.core import naming
from orchestrator.core.manifest import Environment
from orchestrator.core.validation import validate_data
from orchestrator.core.yamlsource import load
from stacks.components.settings import StackSettings
from stacks.program import deploy, release_data

from .conftest import EXTERNAL_NETWORK, KEYCLOAK_CONFIG, REPO

VOLUME = "openstack:blockstorage/volume:Volume"
DATABASE = "openstack:database/instance:Instance"
CONTAINER = "openstack:objectstorage/container:Container"
SERVER = "openstack:compute/instance:Instance"


def social_security(stateless: tuple[str, ...] = ()):
    data = load((REPO / "examples" / "manifests" / "social-security.yaml").read_bytes())
    for server in data["spec"]["resources"]["servers"]:
        if server["name"] in stateless:
            server["stateless"] = True
    report = validate_data(data, "social-security.yaml")
    assert report.valid, report.problems
    return report.application


def registered(app, release: frozenset[str] = frozenset()):
    settings = StackSettings(external_network=EXTERNAL_NETWORK, release_data=release)
    env = Environment.TRIAL
    return run_program(
        lambda: deploy(app, env, settings),
        project="govcloud",
        stack=naming.stack_name(app.unit, app.id, env),
        config=KEYCLOAK_CONFIG,
    )


def test_every_data_bearing_resource_is_protected_and_nothing_else() -> None:
    run = registered(social_security())
    data = [r for r in run.resources if r.type in (VOLUME, DATABASE, CONTAINER, SERVER)]
    assert {r.type for r in data} == {VOLUME, DATABASE, CONTAINER, SERVER}
    assert all(r.protect for r in data), [r.name for r in data if not r.protect]
    others = [r.name for r in run.resources if r.protect and r not in data]
    assert others == []


def test_a_stateful_server_ignores_image_changes_a_stateless_one_does_not() -> None:
    run = registered(social_security(stateless=("gateway",)))
    servers = {r.name: r for r in run.of_type(SERVER)}
    assert servers["social-security-app-1"].protect
    assert servers["social-security-app-1"].ignore_changes == ("imageId", "imageName")
    gateway = servers["social-security-gateway-1"]
    assert not gateway.protect and gateway.ignore_changes == ()
    # the stateless server's resources that hold data stay protected
    assert all(r.protect for r in run.of_type(VOLUME))


def test_released_resources_alone_lose_protection() -> None:
    release = frozenset({"social-security-app-2", "social-security-app-2-data", "social-security-benefits"})
    run = registered(social_security(), release)
    unprotected = {r.name for r in run.resources if r.type in (VOLUME, DATABASE, CONTAINER, SERVER) and not r.protect}
    assert unprotected == release
    assert next(r for r in run.of_type(SERVER) if r.name == "social-security-app-2").ignore_changes == ()


@pytest.mark.parametrize("value", ["{", '"one"', "[1]", '{"a": 1}'])
def test_release_config_must_be_a_json_list_of_names(value: str) -> None:
    import pulumi

    with pytest.raises(pulumi.RunError, match="govcloud:releaseData must be a JSON list"):
        release_data(value)


def test_release_config_read() -> None:
    assert release_data('["a", "b"]') == frozenset({"a", "b"})
    assert release_data(None) == frozenset() == release_data("")


def test_stateless_must_be_a_boolean() -> None:
    data = load((REPO / "examples" / "manifests" / "social-security.yaml").read_bytes())
    data["spec"]["resources"]["servers"][0]["stateless"] = "sometimes"
    report = validate_data(data, "social-security.yaml")
    assert not report.valid
    assert any("stateless" in str(p) for p in report.problems)
