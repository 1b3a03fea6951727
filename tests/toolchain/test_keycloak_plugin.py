"""govcloud's stand-in Keycloak resource plugin (toolchain/keycloak_plugin.py):
Check, Diff, Create, Read, Update and Delete of clients and roles against a fake Keycloak admin
API on loopback, and the plugin process spoken to over gRPC as the engine does."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2
from pulumi.provider.experimental import provider as rpc
from pulumi.provider.experimental.property_value import PropertyValue
from pulumi.runtime import proto
from pulumi.runtime.proto import provider_pb2_grpc
from pulumi.runtime.rpc import UNKNOWN, _special_secret_sig, _special_sig_key

from orchestrator.adapters.platform import PlatformError
from toolchain import keycloak_plugin as plugin
from toolchain.keycloak_plugin import CLIENT, ROLE, KeycloakProvider, Refusal, wrap

from ..conftest import ROOT
from .fakekeycloak import ADMIN_ID, ADMIN_SECRET, PASSWORD, USER, FakeKeycloak, serve

Kind = rpc.PropertyDiffKind
CONFIDENTIAL = {
    "realmId": "government",
    "clientId": "zwb-citizen-portal-test",
    "name": "Citizen portal (test)",
    "accessType": "CONFIDENTIAL",
    "standardFlowEnabled": True,
    "implicitFlowEnabled": False,
    "directAccessGrantsEnabled": False,
    "serviceAccountsEnabled": False,
    "validRedirectUris": ["https://portal.test.gov/callback"],
    "webOrigins": ["+"],
    "extraConfig": {"govcloud:unit": "zwb", "govcloud:app": "citizen-portal"},
}


def urn(token: str, name: str = "x") -> str:
    """A child of govcloud's component, as the program registers it (the type is qualified by the parent's)."""
    return f"urn:pulumi:zwb.citizen-portal.test::govcloud::govcloud:auth:KeycloakClient${token}::{name}"


def props(values: dict[str, Any], secret: tuple[str, ...] = ()) -> dict[str, PropertyValue]:
    return {k: wrap(v, k in secret) for k, v in values.items()}


def plain(values: dict[str, PropertyValue]) -> dict[str, Any]:
    return plugin._plain_map(values)


@pytest.fixture
def keycloak() -> Iterator[FakeKeycloak]:
    with serve() as fake:
        yield fake


@pytest.fixture
def provider(keycloak: FakeKeycloak) -> KeycloakProvider:
    """Configured as the program does: url, realm of the admin client, client id and secret."""
    provider = KeycloakProvider(environ={})
    config = props(
        {
            "url": keycloak.url,
            "realm": "master",
            "clientId": ADMIN_ID,
            "clientSecret": ADMIN_SECRET,
            "clientTimeout": "5",
            "version": "6.14.1",
        },
        secret=("clientSecret",),
    )
    asyncio.run(provider.configure(rpc.ConfigureRequest({}, config, True, True)))
    return provider


def check(
    provider: KeycloakProvider,
    token: str,
    news: dict[str, Any],
    olds: dict[str, Any] | None = None,
    secret: tuple[str, ...] = (),
) -> rpc.CheckResponse:
    return asyncio.run(provider.check(rpc.CheckRequest(urn(token), props(olds or {}), props(news, secret), b"")))


def diff(provider: KeycloakProvider, token: str, state: dict[str, Any], news: dict[str, Any]) -> rpc.DiffResponse:
    return asyncio.run(provider.diff(rpc.DiffRequest(urn(token), "id", props(state), props(news), [])))


def create(provider: KeycloakProvider, token: str, news: dict[str, Any], preview: bool = False) -> rpc.CreateResponse:
    inputs = check(provider, token, news).inputs
    return asyncio.run(provider.create(rpc.CreateRequest(urn(token), inputs, 60, preview)))


def read(
    provider: KeycloakProvider, token: str, id: str, state: dict[str, PropertyValue], inputs: dict[str, Any]
) -> rpc.ReadResponse:
    return asyncio.run(provider.read(rpc.ReadRequest(urn(token), id, state, props(inputs))))


def update(
    provider: KeycloakProvider,
    token: str,
    id: str,
    state: dict[str, PropertyValue],
    news: dict[str, Any],
    preview: bool = False,
) -> rpc.UpdateResponse:
    inputs = check(provider, token, news, olds=news).inputs
    return asyncio.run(provider.update(rpc.UpdateRequest(urn(token), id, state, inputs, 60, [], preview)))


def delete(provider: KeycloakProvider, token: str, id: str, state: dict[str, PropertyValue]) -> None:
    asyncio.run(provider.delete(rpc.DeleteRequest(urn(token), id, state, 60)))


# --- Check ----------------------------------------------------------------------------------


def test_check_fills_upstream_defaults_and_keeps_secret_inputs_secret(provider: KeycloakProvider) -> None:
    checked = check(provider, CLIENT, {**CONFIDENTIAL, "clientSecret": "given"}, secret=("clientSecret",))
    assert checked.failures == []
    inputs = plain(checked.inputs)
    assert {
        k: inputs[k] for k in ("enabled", "clientAuthenticatorType", "fullScopeAllowed", "alwaysDisplayInConsole")
    } == {
        "enabled": True,
        "clientAuthenticatorType": "client-secret",
        "fullScopeAllowed": True,
        "alwaysDisplayInConsole": False,
    }
    assert checked.inputs["clientSecret"].is_secret and not checked.inputs["clientId"].is_secret
    assert "name" in inputs and "description" not in inputs, "optional+computed properties get no default"


@pytest.mark.parametrize(
    ("change", "property", "reason"),
    [
        ({"accessType": None}, "accessType", "missing required property accessType"),
        ({"accessType": "SECRET"}, "accessType", "accessType must be one of 'CONFIDENTIAL', 'PUBLIC', 'BEARER-ONLY'"),
        ({"enabled": "yes"}, "enabled", "enabled must be a boolean"),
        ({"validRedirectUris": "https://x"}, "validRedirectUris", "must be a list of strings"),
        ({"validRedirectUris": []}, "validRedirectUris", "require at least one valid redirect URI"),
        ({"standardFlowEnabled": False, "webOrigins": []}, "validRedirectUris", "cannot be set when neither standard"),
        (
            {"standardFlowEnabled": False, "validRedirectUris": []},
            "webOrigins",
            "webOrigins cannot be set when standard",
        ),
        ({"accessType": "BEARER-ONLY"}, "accessType", "no OAuth2 flow can be enabled"),
        (
            {"accessType": "PUBLIC", "serviceAccountsEnabled": True},
            "serviceAccountsEnabled",
            "cannot be enabled on PUBLIC",
        ),
        ({"extraConfig": {"use.refresh.tokens": "false"}}, "extraConfig", 'key "use.refresh.tokens" is not allowed'),
        ({"pkceCodeChallengeMethod": "S512"}, "pkceCodeChallengeMethod", "must be one of '', 'plain', 'S256'"),
        (
            {"authorization": {"policyEnforcementMode": "ENFORCING"}},
            "authorization",
            "not implemented by govcloud's stand-in keycloak plugin for keycloak:openid/client:Client; "
            "install upstream pulumi-resource-keycloak 6.14.1",
        ),
        ({"useRefreshTokens": False}, "useRefreshTokens", "not implemented"),
    ],
)
def test_check_names_the_property_and_the_rule(
    provider: KeycloakProvider, change: dict, property: str, reason: str
) -> None:
    news = {k: v for k, v in {**CONFIDENTIAL, **change}.items() if v is not None}
    failures = check(provider, CLIENT, news).failures
    assert [f.property for f in failures] == [property]
    assert reason in failures[0].reason


def test_check_accepts_upstream_defaults_it_does_not_implement_and_leaves_unknowns_alone(
    provider: KeycloakProvider,
) -> None:
    assert check(provider, CLIENT, {**CONFIDENTIAL, "useRefreshTokens": True, "import": False}).failures == []
    unknown = {**CONFIDENTIAL, "validRedirectUris": UNKNOWN, "standardFlowEnabled": UNKNOWN}
    assert check(provider, CLIENT, unknown).failures == []
    role = check(provider, ROLE, {"realmId": "government", "clientId": UNKNOWN, "name": "reviewer"})
    assert role.failures == [] and plain(role.inputs)["clientId"] == UNKNOWN


def test_a_type_it_does_not_implement_is_refused_by_name(provider: KeycloakProvider) -> None:
    with pytest.raises(Refusal) as refused:
        check(provider, "keycloak:index/realm:Realm", {"realm": "x"})
    assert str(refused.value) == (
        "keycloak:index/realm:Realm is not implemented: govcloud's stand-in keycloak plugin implements only "
        "keycloak:openid/client:Client and keycloak:index/role:Role; install upstream pulumi-resource-keycloak "
        "6.14.1 for it"
    )
    with pytest.raises(Refusal, match="keycloak:index/getRealm:getRealm is not implemented"):
        asyncio.run(provider.invoke(rpc.InvokeRequest("keycloak:index/getRealm:getRealm", {})))


# --- Diff -----------------------------------------------------------------------------------


def test_diff_per_property_with_replacements(provider: KeycloakProvider) -> None:
    state = {**CONFIDENTIAL, "enabled": True, "description": "", "clientSecret": "s", "webOrigins": ["+", "https://a"]}
    news = {**CONFIDENTIAL, "enabled": True, "webOrigins": ["https://a", "+"]}
    same = diff(provider, CLIENT, state, news)
    assert same.changes is False and same.detailed_diff == {}, "set order and absent computed values are no change"

    moved = diff(provider, CLIENT, state, {**news, "validRedirectUris": ["https://portal.test.gov/cb2"]})
    assert moved.changes and moved.replaces == [] and moved.diffs == ["validRedirectUris"]
    assert moved.detailed_diff["validRedirectUris"].kind == Kind.UPDATE

    other_realm = diff(provider, CLIENT, state, {**news, "realmId": "gov-test", "extraConfig": {}})
    assert other_realm.replaces == ["realmId"]
    assert {k: d.kind for k, d in other_realm.detailed_diff.items()} == {
        "realmId": Kind.UPDATE_REPLACE,
        "extraConfig": Kind.UPDATE,
    }
    dropped = diff(provider, CLIENT, state, {k: v for k, v in news.items() if k != "extraConfig"})
    assert dropped.detailed_diff["extraConfig"].kind == Kind.DELETE

    role = {"realmId": "government", "clientId": "uuid-1", "name": "reviewer", "description": "", "attributes": {}}
    assert diff(provider, ROLE, role, {**role, "clientId": UNKNOWN}).replaces == ["clientId"]
    renamed = diff(provider, ROLE, role, {**role, "name": "approver", "description": "Approves"})
    assert renamed.replaces == [] and sorted(renamed.diffs) == ["description", "name"]
    assert renamed.detailed_diff["description"].kind == Kind.ADD
    multi = diff(provider, ROLE, {**role, "attributes": {"k": "a##b"}}, {**role, "attributes": {"k": "b##a"}})
    assert multi.changes is False


# --- Create, Read, Update, Delete ---------------------------------------------------------


def test_client_lifecycle(provider: KeycloakProvider, keycloak: FakeKeycloak) -> None:
    created = create(provider, CLIENT, CONFIDENTIAL)
    id = created.resource_id
    clients = "/admin/realms/government/clients"
    assert keycloak.admin_calls() == [f"POST {clients}", f"GET {clients}", f"GET {clients}/{id}/client-secret"]
    sent = keycloak.body("POST", clients)
    assert sent["clientId"] == "zwb-citizen-portal-test" and sent["protocol"] == "openid-connect"
    assert (sent["publicClient"], sent["bearerOnly"], sent["standardFlowEnabled"], sent["enabled"]) == (
        False,
        False,
        True,
        True,
    )
    assert sent["redirectUris"] == ["https://portal.test.gov/callback"] and "secret" not in sent
    assert sent["attributes"]["govcloud:unit"] == "zwb" and sent["attributes"]["use.refresh.tokens"] == "true"

    outputs = created.properties
    secret = keycloak.realms["government"][id]["secret"]
    assert outputs["clientSecret"] == PropertyValue(secret, is_secret=True)
    assert [k for k, v in outputs.items() if v.is_secret] == ["clientSecret"]
    assert plain(outputs) | {"clientSecret": "-"} == {
        **CONFIDENTIAL,
        "description": "",
        "enabled": True,
        "clientSecret": "-",
        "clientAuthenticatorType": "client-secret",
        "frontchannelLogoutEnabled": False,
        "validPostLogoutRedirectUris": [],
        "rootUrl": "",
        "adminUrl": "",
        "baseUrl": "",
        "fullScopeAllowed": True,
        "consentRequired": False,
        "alwaysDisplayInConsole": False,
        "pkceCodeChallengeMethod": "",
        "accessTokenLifespan": "",
        "serviceAccountUserId": "",
    }

    refreshed = read(provider, CLIENT, id, outputs, CONFIDENTIAL)
    assert refreshed.resource_id == id and refreshed.properties == outputs
    assert plain(refreshed.inputs) == CONFIDENTIAL

    news = {
        **CONFIDENTIAL,
        "validRedirectUris": ["https://portal.test.gov/cb2"],
        "extraConfig": {"govcloud:unit": "zwb"},
    }
    updated = update(provider, CLIENT, id, outputs, news)
    put = keycloak.body("PUT", f"{clients}/{id}")
    assert put["id"] == id and put["redirectUris"] == ["https://portal.test.gov/cb2"]
    assert put["attributes"]["govcloud:app"] == "", "a removed extraConfig key is cleared, as upstream does"
    assert "govcloud:app" not in keycloak.realms["government"][id]["attributes"]
    assert plain(updated.properties)["validRedirectUris"] == ["https://portal.test.gov/cb2"]
    assert plain(updated.properties)["extraConfig"] == {"govcloud:unit": "zwb"}
    assert updated.properties["clientSecret"] == PropertyValue(secret, is_secret=True), "the secret survives an update"

    delete(provider, CLIENT, id, updated.properties)
    assert keycloak.realms["government"] == {}
    delete(provider, CLIENT, id, updated.properties)  # already gone (404): done
    assert keycloak.admin_calls()[-2:] == [f"DELETE {clients}/{id}"] * 2
    gone = read(provider, CLIENT, id, updated.properties, news)
    assert gone.resource_id is None and gone.properties == {}, "a refresh drops what Keycloak no longer has"


def test_client_with_given_secret_and_service_account(provider: KeycloakProvider, keycloak: FakeKeycloak) -> None:
    news = {**CONFIDENTIAL, "clientSecret": "chosen", "serviceAccountsEnabled": True}
    inputs = check(provider, CLIENT, news, secret=("clientSecret",)).inputs
    created = asyncio.run(provider.create(rpc.CreateRequest(urn(CLIENT), inputs, 60, False)))
    assert keycloak.body("POST", "/admin/realms/government/clients")["secret"] == "chosen"
    assert created.properties["clientSecret"] == PropertyValue("chosen", is_secret=True)
    assert plain(created.properties)["serviceAccountUserId"] == f"user-{created.resource_id}"


def test_role_lifecycle(provider: KeycloakProvider, keycloak: FakeKeycloak) -> None:
    client = create(provider, CLIENT, CONFIDENTIAL).resource_id
    roles = f"/admin/realms/government/clients/{client}/roles"
    news = {
        "realmId": "government",
        "clientId": client,
        "name": "reviewer",
        "description": "Reviews applications",
        "attributes": {"level": "2##3"},
    }
    created = create(provider, ROLE, news)
    id = created.resource_id
    assert keycloak.admin_calls()[-2:] == [f"POST {roles}", f"GET {roles}/reviewer"]
    assert keycloak.body("POST", roles) == {
        "name": "reviewer",
        "description": "Reviews applications",
        "attributes": {"level": ["2", "3"]},
        "clientRole": True,
        "containerId": client,
    }
    assert plain(created.properties) == news

    by_id = f"/admin/realms/government/roles-by-id/{id}"
    assert read(provider, ROLE, id, created.properties, news).properties == created.properties
    updated = update(provider, ROLE, id, created.properties, {**news, "description": "Reviews"})
    assert keycloak.body("PUT", by_id)["description"] == "Reviews"
    assert plain(updated.properties)["description"] == "Reviews"

    delete(provider, ROLE, id, updated.properties)
    delete(provider, ROLE, id, updated.properties)
    assert keycloak.admin_calls()[-2:] == [f"DELETE {by_id}"] * 2 and keycloak.roles["government"] == {}
    assert read(provider, ROLE, id, updated.properties, news).resource_id is None

    realm_role = create(provider, ROLE, {"realmId": "government", "name": "auditor"})
    assert keycloak.admin_calls()[-2:] == [
        "POST /admin/realms/government/roles",
        "GET /admin/realms/government/roles/auditor",
    ]
    assert plain(realm_role.properties)["clientId"] == ""


def test_preview_calls_nothing_and_leaves_what_keycloak_decides_unknown(
    provider: KeycloakProvider, keycloak: FakeKeycloak
) -> None:
    previewed = create(provider, CLIENT, CONFIDENTIAL, preview=True)
    assert keycloak.calls == [] and previewed.resource_id is None
    outputs = plain(previewed.properties)
    assert outputs["clientSecret"] == UNKNOWN and outputs["description"] == UNKNOWN
    assert outputs["clientId"] == "zwb-citizen-portal-test" and previewed.properties["clientSecret"].is_secret
    given = create(provider, CLIENT, {**CONFIDENTIAL, "clientSecret": "chosen"}, preview=True).properties
    assert given["clientSecret"] == PropertyValue("chosen", is_secret=True), "a given secret is known in a preview"
    state = create(provider, CLIENT, CONFIDENTIAL).properties
    calls = len(keycloak.calls)
    news = {**CONFIDENTIAL, "validRedirectUris": ["https://b"]}
    assert plain(update(provider, CLIENT, "id", state, news, preview=True).properties)["validRedirectUris"] == [
        "https://b"
    ]
    assert len(keycloak.calls) == calls


def test_importing_is_refused(provider: KeycloakProvider) -> None:
    with pytest.raises(Refusal, match="importing keycloak:openid/client:Client is not implemented"):
        read(provider, CLIENT, "some-id", {}, {})


def test_an_expired_token_is_renewed_once(provider: KeycloakProvider, keycloak: FakeKeycloak) -> None:
    created = create(provider, CLIENT, CONFIDENTIAL)
    keycloak.expire_tokens()
    assert read(provider, CLIENT, created.resource_id, created.properties, CONFIDENTIAL).resource_id
    token_requests = [c for c in keycloak.calls if c.path == "/realms/master/protocol/openid-connect/token"]
    assert len(token_requests) == 2


def test_keycloak_refusals_say_what_and_keep_keycloak_s_status(provider: KeycloakProvider) -> None:
    client = create(provider, CLIENT, CONFIDENTIAL).resource_id
    with pytest.raises(PlatformError) as refused:
        create(provider, CLIENT, CONFIDENTIAL)
    assert (
        str(refused.value)
        == ("authentication platform: client zwb-citizen-portal-test in realm government already exists (409 Conflict)")
        and refused.value.status == 409
    )
    role = {"realmId": "government", "clientId": client, "name": "reviewer"}
    create(provider, ROLE, role)
    with pytest.raises(PlatformError, match=f"role reviewer of client {client} of realm government already exists"):
        create(provider, ROLE, role)
    with pytest.raises(PlatformError, match="answered 404"):
        create(provider, CLIENT, {**CONFIDENTIAL, "realmId": "no-such-realm"})


# --- provider config ------------------------------------------------------------------------


def config_failures(args: dict[str, Any], environ: dict[str, str] | None = None) -> dict[str, str]:
    return {f.property: f.reason for f in plugin.check_config(args, environ or {})}


def test_provider_config_is_checked_with_upstream_environment_fallbacks() -> None:
    assert config_failures({}) == {
        "url": "set keycloak:url (or KEYCLOAK_URL)",
        "clientId": "set keycloak:clientId (or KEYCLOAK_CLIENT_ID)",
        "clientSecret": "set keycloak:clientSecret (client credentials grant) or keycloak:username and "
        "keycloak:password (password grant)",
    }
    environ = {"KEYCLOAK_URL": "https://sso", "KEYCLOAK_CLIENT_ID": "x", "KEYCLOAK_CLIENT_SECRET": "y"}
    assert config_failures({"clientTimeout": "5", "tlsInsecureSkipVerify": "false"}, environ) == {}
    assert plugin.settings({}, environ)["realm"] == "master"
    assert config_failures({"url": UNKNOWN}) == {}, "unknown config is judged when known"
    refused = config_failures(
        {
            "url": "u",
            "clientId": "c",
            "clientSecret": "s",
            "jwtToken": "t",
            "tlsInsecureSkipVerify": "true",
            "clientTimeout": "soon",
        }
    )
    assert sorted(refused) == ["clientTimeout", "jwtToken", "tlsInsecureSkipVerify"]
    assert refused["jwtToken"].endswith("install upstream pulumi-resource-keycloak 6.14.1 for it")


def test_password_grant(keycloak: FakeKeycloak) -> None:
    provider = KeycloakProvider(environ={"KEYCLOAK_URL": keycloak.url, "KEYCLOAK_USER": USER})
    config = props({"clientId": "admin-cli", "password": PASSWORD})
    assert plugin.check_config(plain(config), provider.environ) == []
    asyncio.run(provider.configure(rpc.ConfigureRequest({}, config, True, True)))
    assert create(provider, CLIENT, CONFIDENTIAL).resource_id
    assert keycloak.calls[0].body == {
        "grant_type": "password",
        "client_id": "admin-cli",
        "username": USER,
        "password": PASSWORD,
    }


# --- the plugin process, over gRPC --------------------------------------------------------


@pytest.fixture
def plugin_process() -> Iterator[provider_pb2_grpc.ResourceProviderStub]:
    """``python -m toolchain.keycloak_plugin`` as the launcher runs it; it prints its port."""
    process = subprocess.Popen(
        [sys.executable, "-m", "toolchain.keycloak_plugin", "127.0.0.1:1"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        port = process.stdout.readline().strip()
        assert port.isdigit(), process.stderr.read()
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield provider_pb2_grpc.ResourceProviderStub(channel)
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_plugin_process_speaks_the_engine_s_protocol(
    plugin_process: provider_pb2_grpc.ResourceProviderStub, keycloak: FakeKeycloak
) -> None:
    stub = plugin_process
    assert stub.GetPluginInfo(empty_pb2.Empty()).version == "6.14.1"
    config = PropertyValue.marshal_map(
        props({"url": keycloak.url, "clientId": ADMIN_ID, "clientSecret": ADMIN_SECRET}, secret=("clientSecret",))
    )
    assert not stub.CheckConfig(proto.CheckRequest(urn=urn("pulumi:providers:keycloak"), news=config)).failures
    assert stub.Configure(proto.ConfigureRequest(args=config, acceptSecrets=True)).acceptSecrets

    news = stub.Check(proto.CheckRequest(urn=urn(CLIENT), news=PropertyValue.marshal_map(props(CONFIDENTIAL)))).inputs
    created = stub.Create(proto.CreateRequest(urn=urn(CLIENT), properties=news))
    assert created.id in keycloak.realms["government"]
    secret = created.properties.fields["clientSecret"].struct_value.fields
    assert secret[_special_sig_key].string_value == _special_secret_sig
    assert secret["value"].string_value == keycloak.realms["government"][created.id]["secret"]

    with pytest.raises(grpc.RpcError) as failed:
        stub.Create(proto.CreateRequest(urn=urn(CLIENT), properties=news))
    assert failed.value.details() == (
        "authentication platform: client zwb-citizen-portal-test in realm government already exists (409 Conflict)"
    )
    with pytest.raises(grpc.RpcError) as refused:
        stub.Check(proto.CheckRequest(urn=urn("keycloak:index/realm:Realm")))
    assert refused.value.details().startswith("keycloak:index/realm:Realm is not implemented: ")
    assert "Traceback" not in refused.value.details() and "\n" not in refused.value.details()
    diffed = stub.Diff(proto.DiffRequest(urn=urn(CLIENT), id=created.id, olds=created.properties, news=news))
    assert diffed.changes == proto.DiffResponse.DIFF_NONE


def test_started_without_an_engine_address_it_says_how_it_is_started(capsys: pytest.CaptureFixture) -> None:
    assert plugin.main([]) == 2 and plugin.main(["--logtostderr"]) == 2
    assert "the engine's address as the last argument" in capsys.readouterr().err
