"""Auth in reclamation (issue 8 item 4): the application's clients leave the platform and its role
assignments leave Keystone, both verified by listing again. In-memory cloud and Keycloak admin
under the real :class:`~orchestrator.adapters.platform.KeycloakPlatform`; a real (SQLite) ledger."""

from __future__ import annotations

import json

import pytest

from orchestrator.adapters.platform import NoPlatform
from orchestrator.core.access import Assignment
from orchestrator.core.reclaim import Found
from orchestrator.errors import UsageError
from orchestrator.services.reclaim import open_platform

from .fakes import APP, OTHER, OURS, UNIT, Killed, environment

TEST_CLIENT = f"{UNIT}-{APP}-test"


def _steps(summary, name: str) -> list:
    return [s for s in summary.steps if s.step == name]


def _ledger_steps(lifecycle, name: str) -> list[dict]:
    return [e.payload for e in lifecycle.history(APP) if e.type == "reclaim-step" and e.payload.get("step") == name]


# --- clients ------------------------------------------------------------------------------------


def test_clients_of_every_environment_go_from_their_realm_and_are_verified_gone(
    reclaimer, cloud, keycloak, approved, mocker
):
    production = keycloak.add("government", f"{UNIT}-{APP}-production", dict(OURS, env="production"))
    test = next(iter(keycloak.realms["government-test"]))
    cloud.add_project("production", items=environment("production"))
    cloud.add_project("test", items=environment("test"))
    listing = mocker.spy(keycloak, "clients")
    summary = reclaimer().run(APP)
    assert summary.failures == [] and summary.reclaimed
    assert sorted(keycloak.deleted) == sorted([production, test])
    asked = [(c.args[0], c.args[1]) for c in listing.call_args_list]
    assert asked == [("government", f"{UNIT}-{APP}-")] * 4 + [("government-test", f"{UNIT}-{APP}-")] * 2
    # production, trial (which has nothing: asked all the same) and test, each decided and verified
    recorded = _ledger_steps(approved, "clients")
    assert [p["deleted"] for p in recorded] == [{"auth_client": 1}, {"auth_client": 1}]  # trial: nothing recorded
    assert all(p["status"] == "done" for p in recorded)
    assert summary.counts()["auth_client"] == 2


def test_a_client_of_another_application_is_left_and_listed_as_foreign(reclaimer, cloud, keycloak):
    cloud.add_project("test", items=environment("test"))
    extends = keycloak.add("government-test", f"{TEST_CLIENT}-sso", dict(OTHER, app=f"{APP}-test-sso"))
    by_hand = keycloak.add("government-test", TEST_CLIENT, {})  # our client id, registered by a person
    other_realm = keycloak.add("government", f"{UNIT}-other-app-test", OTHER)  # not even a look-alike
    summary = reclaimer().run(APP)
    assert set(keycloak.realms["government-test"]) == {extends, by_hand}
    assert other_realm in keycloak.realms["government"]
    foreign = {f["id"]: f for f in summary.foreign if f["kind"] == "auth_client"}
    assert set(foreign) == {f"government-test/{extends}", f"government-test/{by_hand}"}
    assert foreign[f"government-test/{by_hand}"]["name"] == TEST_CLIENT
    assert summary.failures == [] and summary.reclaimed  # foreign is for a person, not a failure


def test_a_look_alike_in_a_realm_two_environments_share_is_listed_once(reclaimer, cloud, keycloak):
    legacy = keycloak.add("government", f"{UNIT}-{APP}-legacy", {})
    cloud.add_project("production")
    cloud.add_project("trial")
    summary = reclaimer().run(APP)
    assert sum(f["id"] == f"government/{legacy}" for f in summary.foreign) == 1
    assert sum(f["id"] == f"government/{legacy}" for s in _steps(summary, "clients") for f in s.foreign) == 2


def test_the_clients_step_runs_for_an_approved_environment_with_nothing_else_left(reclaimer, cloud, keycloak, approved):
    summary = reclaimer().run(APP)  # no stack, no project anywhere: only the test client, approved once
    assert [(s.environment, s.step, s.status) for s in summary.steps] == [("test", "clients", "done")]
    assert keycloak.realms["government-test"] == {} and summary.reclaimed
    assert approved.state(APP).state == "reclaimed"


def test_a_killed_run_resumes_and_a_client_already_gone_is_fine(reclaimer, cloud, keycloak, approved, ledger):
    import datetime as dt

    cloud.add_project("test", items=environment("test"))
    cloud.kill_after = 16  # all 16 of ours swept, clients removed; killed at the default security group
    with pytest.raises(Killed):
        reclaimer(holder="ops@host-a:1", workers=1).run(APP)
    assert len(keycloak.deleted) == 1 and keycloak.realms["government-test"] == {}
    cloud.kill_after = None
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    ledger.acquire(f"reclaim:{APP}", "ops@host-a:1", dt.timedelta(minutes=15), now=now - dt.timedelta(hours=1))
    summary = reclaimer(holder="wang@host-b:2").run(APP)
    assert summary.failures == [] and summary.reclaimed
    [clients] = _steps(summary, "clients")
    assert clients.status == "done" and clients.deleted == {} and clients.detail.endswith("removed none")
    assert len(keycloak.deleted) == 1  # nothing deleted twice
    assert [p["status"] for p in _ledger_steps(approved, "clients")] == ["done", "done"]


def test_a_refused_or_surviving_deletion_fails_the_run_and_a_rerun_finishes(reclaimer, cloud, keycloak, approved):
    [test] = keycloak.realms["government-test"]
    survivor = keycloak.add("government", f"{UNIT}-{APP}-production", dict(OURS, env="production"))
    cloud.add_project("production")
    cloud.add_project("test")
    keycloak.refuse.add(test)
    keycloak.pretend.add(survivor)
    summary = reclaimer().run(APP)
    failed = {(f.environment, f.kind, f.id): f.error for f in summary.failures}
    assert "answered 500" in failed[("test", "auth_client", f"government-test/{test}")]
    assert failed[("production", "auth_client", f"government/{survivor}")] == "still there after its deletion"
    assert not summary.reclaimed and "reclaimed" not in [e.type for e in approved.history(APP)]
    keycloak.refuse.clear()
    keycloak.pretend.clear()
    again = reclaimer(when="2026-06-08T11:00").run(APP)  # production: no project, stack or approval left
    assert again.failures == [] and again.reclaimed
    assert sorted(keycloak.deleted) == sorted([test, survivor])
    assert [(s.environment, s.step) for s in again.steps] == [("production", "clients"), ("test", "clients")]


def test_an_unreachable_platform_fails_the_step_not_the_run(reclaimer, cloud, keycloak):
    cloud.add_project("test", items=environment("test"))
    keycloak.down = True
    summary = reclaimer().run(APP)
    # no environment's clients can be verified gone, not even those of never-provisioned ones
    assert sorted((f.environment, f.kind) for f in summary.failures) == [
        ("production", "auth_client"),
        ("test", "auth_client"),
        ("trial", "auth_client"),
    ]
    assert all("unreachable" in f.error for f in summary.failures)
    assert cloud.deleted_projects == [f"{UNIT}-{APP}-test"]  # the rest went on
    assert not summary.reclaimed


def test_dry_run_lists_the_clients_and_changes_nothing(reclaimer, cloud, keycloak, approved):
    cloud.add_project("test", items=environment("test"))
    foreign = keycloak.add("government-test", f"{TEST_CLIENT}-sso", OTHER)
    before = len(approved.history(APP))
    summary = reclaimer().run(APP, dry_run=True)
    [clients] = _steps(summary, "clients")
    assert clients.status == "planned" and clients.deleted == {"auth_client": 1}
    assert [(p["kind"], p["name"]) for p in clients.plan] == [("auth_client", TEST_CLIENT)]
    assert [f["id"] for f in clients.foreign] == [f"government-test/{foreign}"]
    assert keycloak.deleted == [] and len(approved.history(APP)) == before


# --- no platform configured ---------------------------------------------------------------------


def test_without_a_platform_the_clients_step_is_unverifiable_and_the_run_fails(reclaimer, cloud, approved):
    cloud.add_project("test", items=environment("test"))
    summary = reclaimer(platform=NoPlatform()).run(APP)
    [failure] = summary.failures
    assert (failure.environment, failure.kind) == ("test", "auth_client")
    assert "no unified-authentication platform is configured" in failure.error
    assert "cannot verify" in failure.error and "KEYCLOAK_URL" in failure.error
    assert cloud.deleted_projects == [f"{UNIT}-{APP}-test"]  # everything else was reclaimed
    assert not summary.reclaimed and approved.state(APP).state != "reclaimed"
    assert _ledger_steps(approved, "clients")[0]["status"] == "failed"
    # and a second run, with nothing left in the cloud, still cannot say the client is gone
    again = reclaimer(platform=NoPlatform(), when="2026-06-08T11:00").run(APP)
    assert [(s.step, s.status) for s in again.steps] == [("clients", "failed")] and not again.reclaimed


def test_cli_without_a_platform_exits_1_and_says_why(run_cli, monkeypatch, reclaimer, cloud):
    from orchestrator.services import reclaim as service

    cloud.add_project("test")
    monkeypatch.setattr(
        service,
        "open_reclaimer",
        lambda actor, name, reporter: reclaimer(actor, reporter=reporter, platform=open_platform()),
    )
    dry = run_cli("reclaim", APP, "--dry-run", "--as", "ops", "--role", "provider")
    assert dry.exit_code == 1 and "cannot verify that the clients" in dry.stdout
    result = run_cli("reclaim", APP, "--as", "ops", "--role", "provider", "-o", "json")
    assert result.exit_code == 1
    summary = json.loads(result.stdout.splitlines()[-1])["summary"]
    assert summary["reclaimed"] is False
    assert [f["kind"] for f in summary["failures"]] == ["auth_client"]


PLATFORM_ENV = {
    "GOVCLOUD_AUTH_REALM": "changsha",
    "KEYCLOAK_URL": "https://sso.example",
    "KEYCLOAK_CLIENT_ID": "govcloud-reclaimer",
    "KEYCLOAK_CLIENT_SECRET": "s3cret",
}


def test_open_platform_reads_what_govcloud_up_reads():
    from orchestrator.adapters.platform import KeycloakPlatform

    assert isinstance(open_platform({}), NoPlatform)
    built = open_platform(PLATFORM_ENV | {"GOVCLOUD_AUTH_TEST_REALM": "changsha-sandbox", "KEYCLOAK_REALM": "ops"})
    assert isinstance(built, KeycloakPlatform)
    assert (built.settings.realm_for("production"), built.settings.realm_for("test")) == (
        "changsha",
        "changsha-sandbox",
    )
    assert (built.admin.url, built.admin.realm, built.admin.client_id) == (
        "https://sso.example",
        "ops",
        "govcloud-reclaimer",
    )
    assert open_platform(PLATFORM_ENV).settings.realm_for("test") == "changsha-test"  # the stacks' rule
    assert "s3cret" not in repr(built)


def test_open_platform_names_what_is_missing_and_an_adapterless_platform():
    with pytest.raises(UsageError, match="set GOVCLOUD_AUTH_REALM, KEYCLOAK_CLIENT_SECRET") as missing:
        open_platform(
            {k: v for k, v in PLATFORM_ENV.items() if k not in ("GOVCLOUD_AUTH_REALM", "KEYCLOAK_CLIENT_SECRET")}
        )
    assert missing.value.exit_code == 2
    other = open_platform({"GOVCLOUD_AUTH_PLATFORM": "cas_city", "GOVCLOUD_AUTH_REALM": "changsha"})
    assert isinstance(other, NoPlatform) and "cas_city platform has no reclamation adapter" in other.reason


def test_the_realm_rule_is_one_rule():
    from orchestrator.core import platform
    from stacks.components import auth

    assert auth.AuthSettings is platform.AuthSettings and auth.DEFAULT_PLATFORM == platform.DEFAULT_PLATFORM


# --- role assignments ---------------------------------------------------------------------------


def test_a_deleted_projects_assignments_are_verified_gone(reclaimer, cloud, approved):
    project = cloud.add_project("test", items=environment("test"))
    listing_before = list(cloud.assignments[project.id])
    summary = reclaimer().run(APP)
    [access] = _steps(summary, "access")
    assert access.status == "done" and "none left, Keystone removed them with the project" in access.detail
    assert cloud.role_assignments(project.id) == [] and len(listing_before) == 4
    assert _ledger_steps(approved, "access")[0]["status"] == "done"


def test_a_kept_project_loses_the_applications_grants_and_keeps_the_rest(reclaimer, cloud):
    project = cloud.add_project("test", items=environment("test") + [Found("volume", "their-vol", "x", OTHER)])
    someone = Assignment(project.id, "r-member", "member", "user", "u-alice", "alice")
    cloud.assignments[project.id].append(someone)
    summary = reclaimer().run(APP)
    assert cloud.deleted_projects == []  # kept: a foreign volume is in it
    left = cloud.role_assignments(project.id)
    assert [(a.actor, a.actor_name) for a in left] == [("user", "govcloud-admin"), ("user", "alice")]
    [access] = _steps(summary, "access")
    assert access.deleted == {"role_assignment": 3} and access.status == "done"
    assert "kept user govcloud-admin: member, ours, with the project" in access.detail
    assert {f["id"] for f in summary.foreign} == {"their-vol", someone.id}
    assert summary.failures == [] and summary.reclaimed


def test_an_assignment_that_cannot_be_removed_is_reported_and_the_run_exits_1(reclaimer, cloud, run_cli, monkeypatch):
    from orchestrator.services import reclaim as service

    project = cloud.add_project("test", items=[Found("volume", "their-vol", "x", OTHER)])
    stuck = cloud.assignments[project.id][0]
    cloud.stuck_assignments[stuck.id] = "403 Forbidden: You are not authorized"
    monkeypatch.setattr(service, "open_reclaimer", lambda actor, name, reporter: reclaimer(actor, reporter=reporter))
    result = run_cli("reclaim", APP, "--as", "ops", "--role", "provider", "-o", "json")
    assert result.exit_code == 1
    [failure] = json.loads(result.stdout.splitlines()[-1])["summary"]["failures"]
    assert (failure["kind"], failure["id"], failure["name"]) == (
        "role_assignment",
        stuck.id,
        f"group {UNIT}-admins: member",
    )
    assert "403 Forbidden" in failure["error"]
    assert [a.actor_name for a in cloud.role_assignments(project.id)] == [f"{UNIT}-admins", "govcloud-admin"]


def test_a_project_not_tagged_for_the_application_keeps_its_assignments(reclaimer, cloud):
    project = cloud.add_project("test", labels={})
    summary = reclaimer().run(APP)
    assert len(cloud.role_assignments(project.id)) == 4
    [access] = _steps(summary, "access")
    assert access.status == "skipped" and len(access.foreign) == 4


def test_a_project_the_destroy_deleted_is_not_swept_and_its_assignments_are_verified(
    reclaimer, cloud, stacks, monkeypatch
):
    project = cloud.add_project("test", items=environment("test"))
    stacks.names.add(f"{UNIT}.{APP}.test")
    destroy = stacks.destroy

    def destroy_everything(stack: str) -> dict[str, int]:
        cloud.items[project.id].clear()
        cloud.delete_project(project)
        return destroy(stack)

    monkeypatch.setattr(stacks, "destroy", destroy_everything)
    summary = reclaimer().run(APP)
    assert [s.step for s in summary.steps] == ["empty", "destroy", "clients", "access", "stack", "verify"]
    assert summary.failures == [] and summary.reclaimed


def test_dry_run_says_of_the_grants_what_the_run_does(reclaimer, cloud):
    project = cloud.add_project("test", items=environment("test"))
    summary = reclaimer().run(APP, dry_run=True)
    [access] = _steps(summary, "access")
    # the project goes, and Keystone drops its grants with it: the run removes none, so neither does the plan
    assert access.status == "planned" and access.deleted == {} and access.plan == []
    assert access.detail.endswith("none left, Keystone removed them with the project")
    assert len(cloud.role_assignments(project.id)) == 4
    [done] = _steps(reclaimer().run(APP), "access")
    assert (done.status, done.detail, done.deleted) == ("done", access.detail, access.deleted)


def test_a_provider_ops_group_from_config_is_the_applications_grant(reclaimer, cloud):
    project = cloud.add_project("test", items=[Found("volume", "their-vol", "x", OTHER)])
    cloud.assignments[project.id][2] = Assignment(project.id, "r-member", "member", "group", "g-ops", "city-ops")
    reclaimer(provider_ops_group="city-ops").run(APP)
    assert [a.actor_name for a in cloud.role_assignments(project.id)] == ["govcloud-admin"]
