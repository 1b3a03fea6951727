"""Art. 20 and 36 in the stacks: the platform client, its roles and realm, Keystone group roles,
and the client secret's one path (secret cloud-init user data), searched for everywhere else."""

from __future__ import annotations

import importlib
import json
import logging
import pkgutil
import runpy
from typing import Any

import pulumi
import pytest
import yaml
from click.testing import CliRunner

from orchestrator.adapters.pulumimock import ProgramRun, mock_client_secret, run_program, run_program_collecting
from orchestrator.adapters.templates import OIDC_ENV_PATH
from orchestrator.core import naming
from orchestrator.core.access import FORBIDDEN_ROLES, grants
from orchestrator.core.manifest import Environment
from stacks.components import auth

from .conftest import KEYCLOAK_ADMIN_SECRET, KEYCLOAK_CONFIG, REPO, Checks, Deployed, example

SECRET_SIG = "4dabf18193072939515e22adb298388d"
CLIENT = "keycloak:openid/client:Client"
ROLE = "keycloak:index/role:Role"
KEYCLOAK_PROVIDER = "pulumi:providers:keycloak"
ASSIGNMENT = "openstack:identity/roleAssignment:RoleAssignment"


def client_id(d: Deployed) -> str:
    return naming.client_id(d.app.unit, d.app.id, d.env)


def provider_ref(d: Deployed) -> str:
    provider = d.one(KEYCLOAK_PROVIDER, f"{naming.project_name(d.app.unit, d.app.id, d.env)}-auth-provider")
    return f"{provider.urn}::{provider.name}-id"


# --- the client ----------------------------------------------------------------------------


def test_one_confidential_client_with_the_manifests_redirect_uris(env_run: Deployed) -> None:
    d = env_run
    [client] = d.of_type(CLIENT)
    assert client.name == client_id(d) == f"{d.app.unit}-{d.app.id}-{d.env}"
    assert client.inputs["clientId"] == client_id(d)
    assert client.inputs["accessType"] == "CONFIDENTIAL"
    assert client.inputs["validRedirectUris"] == d.app.auth.redirect_uris
    assert client.inputs["standardFlowEnabled"] is True
    assert client.inputs["implicitFlowEnabled"] is False
    assert client.inputs["directAccessGrantsEnabled"] is False
    assert client.inputs["extraConfig"] == naming.metadata(d.app, d.env), "labels let reclamation recognise it"
    assert "clientSecret" not in client.inputs, "Keycloak generates the secret; none is sent"
    assert client.provider == provider_ref(d), "the explicit Keycloak provider, never a default one"
    assert d.parent_of(client).type == "govcloud:auth:KeycloakClient"


def test_test_environments_use_the_test_realm(env_run: Deployed) -> None:
    d = env_run
    realm = "government-test" if d.env is Environment.TEST else "government"
    [client] = d.of_type(CLIENT)
    assert client.inputs["realmId"] == realm
    assert {r.inputs["realmId"] for r in d.of_type(ROLE)} == {realm}
    assert d.run.outputs["authIssuer"] == f"{KEYCLOAK_CONFIG['keycloak:url']}/realms/{realm}"
    assert d.run.outputs["authClientId"] == client_id(d)


def test_the_applications_roles_are_client_roles(env_run: Deployed) -> None:
    d = env_run
    [client] = d.of_type(CLIENT)
    roles = d.of_type(ROLE)
    assert sorted(r.inputs["name"] for r in roles) == sorted(r.name for r in d.app.auth.roles)
    for declared in d.app.auth.roles:
        role = d.one(ROLE, f"{client_id(d)}-role-{declared.name}")
        assert role.inputs["clientId"] == f"{client.name}-id", "a client role, not a realm role"
        assert role.inputs.get("description") == declared.description
        assert d.parent_of(role) == client
        assert role.provider == provider_ref(d)


def test_keycloak_provider_from_stack_config_with_a_secret_credential(env_run: Deployed) -> None:
    d = env_run
    provider = d.one(KEYCLOAK_PROVIDER, f"{naming.project_name(d.app.unit, d.app.id, d.env)}-auth-provider")
    assert provider.inputs["url"] == KEYCLOAK_CONFIG["keycloak:url"]
    assert provider.inputs["clientId"] == KEYCLOAK_CONFIG["keycloak:clientId"]
    assert provider.inputs["realm"] == "master"
    assert SECRET_SIG in provider.inputs["clientSecret"]


def test_realms_from_settings() -> None:
    settings = auth.AuthSettings(realm="changsha", test_realm="changsha-sandbox")
    assert settings.realm_for(Environment.TEST) == "changsha-sandbox"
    assert settings.realm_for(Environment.TRIAL) == settings.realm_for(Environment.PRODUCTION) == "changsha"
    assert auth.AuthSettings(realm="changsha").realm_for("test") == "changsha-test"


# --- Keystone groups and roles (Art. 20 level by level, Art. 36) ---------------------------


def test_exactly_the_unit_groups_and_the_provider_ops_get_roles_on_the_project(env_run: Deployed) -> None:
    d = env_run
    project = naming.project_name(d.app.unit, d.app.id, d.env)
    got = {}
    for a in d.of_type(ASSIGNMENT):
        assert a.inputs["projectId"] == f"{project}-id", a.urn
        assert a.provider == "", f"{a.urn}: role assignments need the cloud-admin provider"
        who = a.inputs.get("groupId") or a.inputs["userId"]
        got[who] = a.inputs["roleId"]
    assert got == {
        "mock-admin-user-id": "mock-getRole-member-id",  # the provisioning user (identity component)
        f"mock-getGroup-{d.app.unit}-admins-id": "mock-getRole-member-id",
        f"mock-getGroup-{d.app.unit}-operators-id": "mock-getRole-reader-id",
        "mock-getGroup-govcloud-provider-ops-id": "mock-getRole-member-id",
    }
    assert d.of_type("openstack:identity/group:Group") == [], "groups are looked up, never owned by an app"
    assert d.of_type("openstack:identity/userMembershipV3:UserMembershipV3") == []


def test_grants_never_include_admin() -> None:
    table = grants("rsj", "city-ops")
    assert [(g.group, g.role) for g in table] == [
        ("rsj-admins", "member"),
        ("rsj-operators", "reader"),
        ("city-ops", "member"),
    ]
    assert not {g.role for g in table} & FORBIDDEN_ROLES


# --- the secret's path --------------------------------------------------------------------


def plain_paths(value: Any, needle: str, path: str = "") -> list[str]:
    """Where ``needle`` occurs outside Pulumi secret wrappers."""
    if isinstance(value, dict):
        if SECRET_SIG in value:
            return []
        return [p for k, v in value.items() for p in plain_paths(v, needle, f"{path}.{k}")]
    if isinstance(value, (list, tuple)):
        return [p for i, v in enumerate(value) for p in plain_paths(v, needle, f"{path}[{i}]")]
    return [path or "."] if needle in str(value) else []


def oidc_file(instance_inputs: dict) -> dict:
    user_data = yaml.safe_load(instance_inputs["userData"]["value"])
    [entry] = [f for f in user_data["write_files"] if f["path"] == OIDC_ENV_PATH]
    return entry


def test_servers_get_the_client_in_a_root_only_file_from_secret_user_data(env_run: Deployed) -> None:
    d = env_run
    secret = mock_client_secret(client_id(d))
    realm = "government-test" if d.env is Environment.TEST else "government"
    instances = d.of_type("openstack:compute/instance:Instance")
    assert instances
    for instance in instances:
        assert SECRET_SIG in instance.inputs["userData"], instance.urn
        entry = oidc_file(instance.inputs)
        assert (entry["permissions"], entry["owner"]) == ("0600", "root:root"), instance.urn
        assert entry["content"].splitlines() == [
            f"OIDC_ISSUER={KEYCLOAK_CONFIG['keycloak:url']}/realms/{realm}",
            f"OIDC_CLIENT_ID={client_id(d)}",
            f"OIDC_CLIENT_SECRET={secret}",
        ]
        assert secret not in json.dumps(instance.inputs["metadata"]), "instance metadata is readable by any API user"


def test_no_secret_in_plain_text_anywhere_in_the_mock_state(env_run: Deployed) -> None:
    d = env_run
    secrets = [mock_client_secret(client_id(d)), KEYCLOAK_ADMIN_SECRET]
    state = {r.urn: r.inputs for r in d.run.resources}
    # The search works: each secret is in the state, inside secret wrappers only.
    assert mock_client_secret(client_id(d)) in json.dumps(state)
    assert KEYCLOAK_ADMIN_SECRET in json.dumps(state)
    for secret in secrets:
        assert plain_paths(state, secret) == []
        plain_outputs = {k: v for k, v in d.run.outputs.items() if k not in d.run.secret_outputs}
        assert secret not in json.dumps(plain_outputs)
    assert d.run.secret_outputs == {"databaseCredentials"}


def test_no_secret_in_logs(caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
    from stacks.components.settings import StackSettings
    from stacks.program import deploy

    app = example("citizen-portal")
    caplog.set_level(logging.DEBUG)

    def program() -> None:
        deploy(app, Environment.TRIAL, StackSettings(external_network="public"))
        pulumi.log.info("deployed")  # the log path works: this line must be captured

    run = run_program(program, project="govcloud", stack="zwb.citizen-portal.trial", config=KEYCLOAK_CONFIG)
    captured = capsys.readouterr()
    logs = caplog.text + captured.out + captured.err
    assert "deployed" in logs
    assert run.of_type(CLIENT)
    for secret in (mock_client_secret("zwb-citizen-portal-trial"), KEYCLOAK_ADMIN_SECRET):
        assert secret not in logs


def test_no_secret_in_the_stack_config_the_program_reads() -> None:
    """The manifest names no credential; the platform's live in its own config, read as secrets."""
    manifest = (REPO / "examples/manifests/citizen-portal.yaml").read_text()
    assert "secret" not in manifest.lower()
    from stacks.components.auth.keycloak import Connection

    def program() -> None:
        connection = Connection.read()
        checks = connection.client_secret.is_secret()
        pulumi.export("secret", checks)

    run = run_program(program, project="govcloud", stack="s", config=KEYCLOAK_CONFIG)
    assert run.outputs["secret"] is True


def test_plan_output_holds_no_secret() -> None:
    from orchestrator.cli import cli
    from orchestrator.cli import plan as _plan  # noqa: F401  (registers the command)
    from orchestrator.services.plan import PLAN_CONFIG

    path = str(REPO / "examples/manifests/citizen-portal.yaml")
    as_json = CliRunner().invoke(cli, ["plan", path, "--env", "test", "--output", "json"])
    table = CliRunner().invoke(cli, ["plan", path, "--env", "test"])
    assert as_json.exit_code == 0 and table.exit_code == 0, as_json.stderr + table.stderr
    [stack] = json.loads(as_json.stdout)["stacks"]
    by_type: dict[str, list[dict]] = {}
    for r in stack["resources"]:
        by_type.setdefault(r["type"], []).append(r)
    assert by_type[KEYCLOAK_PROVIDER][0]["properties"]["clientSecret"] == "[secret]"
    assert {i["properties"]["userData"] for i in by_type["openstack:compute/instance:Instance"]} == {"[secret]"}
    assert by_type[CLIENT][0]["properties"]["validRedirectUris"] == example("citizen-portal").auth.redirect_uris
    assert "realmId=government-test" in table.stdout
    for output in (as_json.stdout, table.stdout, as_json.stderr, table.stderr):
        assert PLAN_CONFIG["keycloak:clientSecret"] not in output
        assert "mock-client-secret" not in output


def test_output_assertions_on_the_registration(checks: Checks) -> None:
    from stacks.components.settings import StackSettings
    from stacks.program import deploy

    app = example("permit-prototype")

    def program() -> None:
        env = deploy(app, Environment.TEST, StackSettings(external_network="public"))

        @checks.expect("client secret is a secret")
        def secret(is_secret: bool) -> None:
            assert is_secret, env.auth

        @checks.expect("client secret value")
        def value(v: str) -> None:
            assert v == mock_client_secret("zjj-permit-prototype-test"), env.auth

        pulumi.Output.from_input(env.auth.client_secret.is_secret()).apply(secret)
        env.auth.client_secret.apply(value)

    run_program(program, project="govcloud", stack="zjj.permit-prototype.test", config=KEYCLOAK_CONFIG)


# --- refusals and the platform interface ----------------------------------------------------


def collect(program) -> tuple[ProgramRun, BaseException | None]:
    run = ProgramRun()
    error = run_program_collecting(program, run, project="govcloud", stack="s", config=KEYCLOAK_CONFIG)
    return run, error


@pytest.mark.parametrize("protocol", ["saml", "cas"])
def test_unsupported_protocol_is_refused_naming_the_field(protocol: str) -> None:
    from stacks.components.settings import StackSettings
    from stacks.program import deploy

    app = example("citizen-portal")
    app = app.model_copy(update={"auth": app.auth.model_copy(update={"protocol": protocol})})
    run, error = collect(lambda: deploy(app, Environment.TEST, StackSettings(external_network="public")))
    assert isinstance(error, pulumi.RunError)
    assert f"spec.auth.protocol {protocol!r} is not supported by the keycloak platform" in str(error)
    assert "citizen-portal.yaml" in str(error)
    assert run.resources == []


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("ldap", "no module stacks/components/auth/ldap.py"),
        ("../x", "is not a platform module name"),
    ],
)
def test_unknown_platform_is_refused(name: str, message: str) -> None:
    from stacks.components.settings import StackSettings
    from stacks.program import deploy

    settings = StackSettings(external_network="public", auth=auth.AuthSettings(platform=name))
    run, error = collect(lambda: deploy(example("citizen-portal"), Environment.TEST, settings))
    assert isinstance(error, pulumi.RunError) and message in str(error)
    assert run.resources == []


def test_every_platform_module_satisfies_the_interface() -> None:
    names = [m.name for m in pkgutil.iter_modules(auth.__path__)]
    assert "keycloak" in names
    for name in names:
        module = importlib.import_module(f"stacks.components.auth.{name}")
        assert isinstance(module.PROTOCOLS, frozenset) and module.PROTOCOLS, name
        assert {"oidc", "saml", "cas"} >= module.PROTOCOLS, f"{name}: manifest protocols only"
        assert callable(module.register) and module.register.__doc__, name
        for protocol in module.PROTOCOLS:
            assert auth.platform(name, protocol) is module


def test_stack_config_keys_reach_the_program() -> None:
    app = example("permit-prototype")
    config = {
        "govcloud:manifest": "examples/manifests/permit-prototype.yaml",
        "govcloud:environment": "test",
        "govcloud:digest": app.digest,
        "govcloud:externalNetwork": "public",
        "govcloud:authRealm": "changsha",
        "govcloud:authTestRealm": "changsha-sandbox",
        "govcloud:providerOpsGroup": "city-cloud-ops",
        **KEYCLOAK_CONFIG,
    }
    run = ProgramRun()
    error = run_program_collecting(
        lambda: runpy.run_module("stacks", run_name="__main__"),
        run,
        project="govcloud",
        stack="zjj.permit-prototype.test",
        config=config,
    )
    assert error is None
    [client] = run.of_type(CLIENT)
    assert client.inputs["realmId"] == "changsha-sandbox"
    groups = {a.inputs.get("groupId") for a in run.of_type(ASSIGNMENT)}
    assert "mock-getGroup-city-cloud-ops-id" in groups
    assert "mock-getGroup-govcloud-provider-ops-id" not in groups

    del config["govcloud:authRealm"]
    run = ProgramRun()
    error = run_program_collecting(
        lambda: runpy.run_module("stacks", run_name="__main__"),
        run,
        project="govcloud",
        stack="zjj.permit-prototype.test",
        config=config,
    )
    assert error is not None and "govcloud:authRealm" in str(error)
    assert run.resources == []
