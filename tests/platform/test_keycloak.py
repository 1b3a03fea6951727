"""Against the real Keycloak of the local test environment: reclamation's clients step (through
:class:`KeycloakPlatform`) finds, keeps and deletes clients by their govcloud labels through the
admin REST API, in the application's realm and its test realm, and the CLI verifies real ID tokens
(signature by the realm's JWKS found through discovery, issuer, audience, role and unit claims)."""

from __future__ import annotations

import json
import uuid

import pytest

from orchestrator.adapters import oidc
from orchestrator.adapters.platform import KeycloakPlatform, PlatformError
from orchestrator.core import naming
from orchestrator.core.platform import AuthSettings
from orchestrator.core.reclaim import Step
from orchestrator.services.reclaim.dryrun import DryRun
from orchestrator.services.reclaim.steps import clients_step
from orchestrator.settings import OidcSettings
from tests.auth.conftest import oidc_cli
from tests.conftest import EXAMPLES

from .conftest import ROLE_MAP, call

pytestmark = pytest.mark.cloud

USERS = [  # (username, govcloud role, unit): what toolchain/keycloak/keycloak.py makes
    ("egov-reviewer", "egov-office", None),
    ("provider-operator", "provider", None),
    ("zwb-admin", "unit", "zwb"),
]


@pytest.fixture
def app(keycloak, admin, admin_token):
    """A unique application of unit ``zwb`` with its trial client in the realm and its test client
    in the test realm (labelled as Pulumi's extra_config stores them), and one unlabelled client
    with the same prefix (someone else's). Whatever is left is deleted afterwards."""
    unit, app = "zwb", f"kc-{uuid.uuid4().hex[:8]}"
    realms = {"trial": keycloak["KEYCLOAK_AUTH_REALM"], "test": keycloak["KEYCLOAK_AUTH_TEST_REALM"]}

    def create(realm: str, client_id: str, attributes: dict[str, str]) -> None:
        call(
            "POST",
            f"{keycloak['KEYCLOAK_URL']}/admin/realms/{realm}/clients",
            token=admin_token,
            body={"clientId": client_id, "protocol": "openid-connect", "publicClient": False, "attributes": attributes},
        )

    for env, realm in realms.items():
        labels = {"unit": unit, "app": app, "env": env, "digest": "sha256:0"}
        create(realm, naming.client_id(unit, app, env), {naming.TAG_PREFIX + k: v for k, v in labels.items()})
    create(realms["trial"], f"{unit}-{app}-scratch", {})
    yield unit, app, list(realms.values())
    for realm in realms.values():
        for client in admin.clients(realm, naming.client_prefix(unit, app)):
            admin.delete_client(realm, client.id)


def test_admin_lists_labelled_clients_and_the_clients_step_deletes_only_ours(admin, app):
    unit, app_id, realms = app
    prefix = naming.client_prefix(unit, app_id)

    def listed() -> dict[tuple[str, str], dict[str, str]]:
        return {(c.realm, c.client_id): c.labels for realm in realms for c in admin.clients(realm, prefix)}

    assert listed() == {
        (realms[0], f"{prefix}trial"): {"unit": unit, "app": app_id, "env": "trial", "digest": "sha256:0"},
        (realms[1], f"{prefix}test"): {"unit": unit, "app": app_id, "env": "test", "digest": "sha256:0"},
        (realms[0], f"{prefix}scratch"): {},
    }
    # the reclamation service's clients step, environment by environment, each in its realm
    platform = KeycloakPlatform(admin, AuthSettings(*realms))

    def steps(dry_run: bool) -> dict[str, Step]:
        if not dry_run:
            return {env: clients_step(platform, env, unit, app_id) for env in ("production", "trial", "test")}
        view = DryRun(platform=platform)  # the dry run: the same step over a view that only notes deletions
        return {
            env: view.planned(clients_step(view.platform, env, unit, app_id)) for env in ("production", "trial", "test")
        }

    dry = steps(dry_run=True)
    assert {env: [p["name"] for p in s.plan] for env, s in dry.items()} == {
        "production": [],
        "trial": [f"{prefix}trial"],
        "test": [f"{prefix}test"],
    }
    assert {env: [f["name"] for f in s.foreign] for env, s in dry.items()} == {
        "production": [f"{prefix}scratch"],
        "trial": [f"{prefix}scratch"],
        "test": [],
    }
    assert all(s.status == "planned" and not s.failures for s in dry.values())
    assert len(listed()) == 3

    done = steps(dry_run=False)
    assert all(s.status == "done" and not s.failures for s in done.values())
    assert {env: s.deleted for env, s in done.items()} == {
        "production": {},
        "trial": {"auth_client": 1},
        "test": {"auth_client": 1},
    }
    assert listed() == {(realms[0], f"{prefix}scratch"): {}}


def test_deleting_a_missing_client_is_fine_unless_asked(admin, keycloak):
    realm = keycloak["KEYCLOAK_AUTH_REALM"]
    admin.delete_client(realm, str(uuid.uuid4()))
    with pytest.raises(PlatformError) as refused:
        admin.delete_client(realm, str(uuid.uuid4()), ignore_missing=False)
    assert refused.value.status == 404


def settings(keycloak, **overrides) -> OidcSettings:
    return OidcSettings(
        **{"issuer": keycloak["KEYCLOAK_ISSUER"], "audience": keycloak["KEYCLOAK_CLI_CLIENT_ID"], "role_map": ROLE_MAP}
        | overrides
    )


@pytest.mark.parametrize("username, role, unit", USERS)
def test_a_real_id_token_names_the_actor(keycloak, id_token, username, role, unit):
    assert f"{username}:" in keycloak["KEYCLOAK_TEST_USERS"]
    actor = oidc.actor_from_token(id_token(username), settings(keycloak))
    assert (actor.name, actor.role, actor.unit, actor.source) == (username, role, unit, "oidc")


@pytest.mark.parametrize(
    "overrides, message",
    [
        (lambda kc: {"audience": "some-other-client"}, "wrong audience"),
        # the test realm's issuer with the real realm's keys: the signature verifies, the issuer not
        (
            lambda kc: {
                "issuer": kc["KEYCLOAK_TEST_ISSUER"],
                "jwks_uri": kc["KEYCLOAK_ISSUER"] + "/protocol/openid-connect/certs",
            },
            "wrong issuer",
        ),
        # the test realm as found by discovery: its keys are its own
        (lambda kc: {"issuer": kc["KEYCLOAK_TEST_ISSUER"]}, "a key the platform does not publish"),
    ],
    ids=["audience", "issuer", "keys-of-another-realm"],
)
def test_a_real_id_token_for_someone_else_is_refused(keycloak, id_token, overrides, message):
    with pytest.raises(oidc.AuthenticationFailed, match=message):
        oidc.actor_from_token(id_token("egov-reviewer"), settings(keycloak, **overrides(keycloak)))


def test_a_tampered_real_id_token_is_refused(keycloak, id_token):
    header, payload, signature = id_token("zwb-admin").split(".")
    other = id_token("egov-reviewer").split(".")[1]  # a valid payload under the wrong signature
    with pytest.raises(oidc.AuthenticationFailed, match="signature does not verify"):
        oidc.actor_from_token(f"{header}.{other}.{signature}", settings(keycloak))
    assert payload != other


def test_cli_steps_record_the_keycloak_users(keycloak, id_token, tmp_path, monkeypatch):
    invoke = oidc_cli(tmp_path, monkeypatch, keycloak["KEYCLOAK_ISSUER"], keycloak["KEYCLOAK_CLI_CLIENT_ID"])

    def run(*args: str, user: str):
        return invoke(*args, token=id_token(user))

    manifest = str(EXAMPLES / "citizen-portal.yaml")
    assert run("app", "submit", manifest, "--at", "2026-02-12T10:00", user="zwb-admin").exit_code == 0
    assert run("app", "accept", "citizen-portal", "--at", "2026-02-13T10:00", user="egov-reviewer").exit_code == 0
    events = json.loads(run("app", "history", "citizen-portal", "-o", "json", user="egov-reviewer").stdout)
    assert [(e["actor"], e["actor_role"], e["actor_source"]) for e in events] == [
        ("zwb-admin", "unit", "oidc"),
        ("egov-reviewer", "egov-office", "oidc"),
    ]
