"""Issue 21 on the local cloud: ``govcloud drift`` finds what was changed behind the stack's back.

One lean application (``social-security``'s unit and materials under a fresh id: one server, one
security group, test environment only) is provisioned; then a rule is added to its security group
with openstacksdk. ``govcloud drift`` finds it, reports it once over three runs, hides it while an
ignore rule of the quota policy is in force, reports it again once the rule has expired, and
finds it gone after ``govcloud up`` re-applied the approved digest (recorded ``reapplied``). A
server changed by hand (resized where the cloud can, else its metadata) is found too.

The tests share one story and run in file order; a failure stops the rest.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import pytest

from orchestrator.adapters import engine
from orchestrator.adapters.platform import KeycloakAdmin
from orchestrator.core import naming
from orchestrator.core.manifest import Environment
from orchestrator.errors import GovcloudError

from .conftest import DAY, EXAMPLE, REPO, Govcloud, beijing
from .test_lifecycle import CHIEF, CLERK, OPS, UNIT, UNIT_ACTOR, leftovers

pytestmark = [pytest.mark.e2e]
RESOURCES = """  resources:
    securityGroups:
      - name: web
        rules:
          - protocol: tcp
            ports: 443
            remoteCidr: 10.20.0.0/16
    servers:
      - name: gateway
        flavor: g.1c2g
        image: debian-12
        stateless: true
        securityGroups: [web]
  environments:
    test: {}
"""


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory, admin: Any, keycloak: dict[str, str],
          govcloud: Govcloud) -> Any:
    app = f"dr-{uuid.uuid4().hex[:6]}"
    directory = tmp_path_factory.mktemp("drift")
    text = EXAMPLE.read_text(encoding="utf-8").replace("id: social-security", f"id: {app}", 1)
    manifest = directory / f"{app}.yaml"
    manifest.write_text(text[:text.index("\n  resources:\n") + 1] + RESOURCES, encoding="utf-8")
    yield {"app": app, "manifest": manifest, "directory": directory}
    located = engine.locate(environ=govcloud.env)
    located = engine.Engine(located.root, located.pulumi_home,
                            located.env | {"PULUMI_CONFIG_PASSPHRASE": govcloud.env["PULUMI_CONFIG_PASSPHRASE"]})
    stack = naming.stack_name(UNIT, app, Environment.TEST)
    with contextlib.suppress(GovcloudError):
        if engine.stack_exists(stack, located):
            engine.destroy_stack(stack, located)
            engine.remove_stack(stack, located)
    leftovers(admin, KeycloakAdmin.from_environ(keycloak), app, remove=True)


def policy(story: dict, expires: dt.date | None) -> str:
    """The repository's quota policy, with an ignore rule for the web group's rules when ``expires``."""
    text = (REPO / "quotas" / "policy.yaml").read_text(encoding="utf-8")
    if expires is not None:
        text += (f"\ndrift:\n  ignore:\n    - application: {story['app']}\n      resource: '*-web'\n"
                 f"      property: rules\n      owner: ops-li\n      reason: emergency rule for incident 42\n"
                 f"      expires: {expires.isoformat()}\n")
    path = story["directory"] / f"policy-{expires}.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def drift(govcloud: Govcloud, story: dict, *, expect: int, policy_file: str | None = None,
          at: str | None = None) -> dict:
    args = ["drift", story["app"], "--env", "test"] + (["--policy", policy_file] if policy_file else [])
    [checked] = govcloud.json(*args, *(["--at", at] if at else []), expect=expect)["checked"]
    assert checked["ok"], checked["error"]
    return checked


def group(admin: Any, story: dict) -> Any:
    project = admin.identity.find_project(naming.project_name(UNIT, story["app"], Environment.TEST),
                                          domain_id="default")
    [found] = [g for g in admin.network.security_groups(project_id=project.id) if g.name.endswith("-web")]
    return found


def test_provisioned_and_no_drift(govcloud, story):
    m = str(story["manifest"])
    govcloud("app", "submit", m, *UNIT_ACTOR, "--at", beijing(-5 * DAY))
    govcloud("app", "accept", story["app"], *CLERK, "--at", beijing(-5 * DAY + dt.timedelta(hours=1)))
    govcloud("app", "review", story["app"], "--opinion", "complete", *CLERK, "--at", beijing(-4 * DAY))
    govcloud("app", "approve", story["app"], "--env", "test", *CHIEF, "--at", beijing(-4 * DAY + dt.timedelta(hours=1)))
    govcloud("up", m, "--env", "test", "--at", beijing(-3 * DAY), *OPS)
    checked = drift(govcloud, story, expect=0)
    assert checked["new"] == checked["still"] == [], checked


def test_a_rule_added_by_hand_is_reported_once_ignored_and_reported_again(govcloud, story, admin):
    web = group(admin, story)
    admin.network.create_security_group_rule(security_group_id=web.id, direction="ingress", ethertype="IPv4",
                                             protocol="tcp", port_range_min=22, port_range_max=22,
                                             remote_ip_prefix="0.0.0.0/0", project_id=web.project_id)
    first = drift(govcloud, story, expect=1)
    [found] = first["new"]
    assert (found["resource"], found["property"], found["before"]) == (web.name, "rules", None)
    assert found["after"] == "ingress tcp 22-22 from 0.0.0.0/0 (IPv4)"
    for _ in range(2):  # the same drift: still there, never new again
        again = drift(govcloud, story, expect=1)
        assert again["new"] == [] and [f["fingerprint"] for f in again["still"]] == [found["fingerprint"]]

    today = dt.date.today()
    hidden = drift(govcloud, story, expect=0, policy_file=policy(story, today + dt.timedelta(days=30)))
    assert hidden["new"] == hidden["still"] == [] and [f["fingerprint"] for f in hidden["ignored"]] == [found["fingerprint"]]
    assert hidden["ignored"][0]["rule"]["owner"] == "ops-li"
    assert drift(govcloud, story, expect=0, policy_file=policy(story, today + dt.timedelta(days=30)))["new"] == []

    expired = drift(govcloud, story, expect=1, policy_file=policy(story, today))  # expires today: hides nothing
    assert [f["fingerprint"] for f in expired["new"]] == [found["fingerprint"]] and expired["ignored"] == []
    listed = govcloud.json("drift", story["app"], "--list")["findings"]
    assert [(f["status"], f["fingerprint"]) for f in listed] == [("open", found["fingerprint"])]


def test_up_reapplies_the_approved_digest_and_the_drift_is_gone(govcloud, story, admin):
    result = govcloud.json("up", str(story["manifest"]), "--env", "test", *OPS)
    assert result["recorded"] == "reapplied"
    event = govcloud.json("app", "history", story["app"])[-1]
    assert event["type"] == "reapplied" and event["payload"]["removed rules"] == [
        f"{group(admin, story).name}: ingress tcp 22-22 from 0.0.0.0/0 (IPv4)"] and "drift" in event["reason"]
    rules = list(admin.network.security_group_rules(security_group_id=group(admin, story).id))
    assert not [r for r in rules if r.port_range_min == 22]
    after = drift(govcloud, story, expect=0)
    assert after["new"] == after["still"] == [] and after["resolved"] == []  # up resolved it already
    assert govcloud.json("drift", story["app"], "--list")["findings"] == []


def test_a_server_changed_by_hand_is_found(govcloud, story, admin):
    project = admin.identity.find_project(naming.project_name(UNIT, story["app"], Environment.TEST),
                                          domain_id="default")
    [server] = list(admin.compute.servers(project_id=project.id, all_projects=True))
    bigger = admin.compute.find_flavor("g.2c4g")
    resized = False
    try:
        admin.compute.resize_server(server, bigger.id)
        admin.compute.wait_for_server(server, status="VERIFY_RESIZE", wait=120)
        admin.compute.confirm_server_resize(server)
        admin.compute.wait_for_server(server, status="ACTIVE", wait=120)
        resized = True
    except Exception:  # noqa: BLE001 — a cloud that cannot resize (one host): the stop below shows the same path
        admin.compute.wait_for_server(admin.compute.get_server(server.id), status="ACTIVE", wait=120)
    if not resized:
        admin.compute.stop_server(server)
        admin.compute.wait_for_server(server, status="SHUTOFF", wait=120)
    checked = drift(govcloud, story, expect=1)
    changed = {f["property"]: (f["before"], f["after"]) for f in checked["new"]
               if f["type"] == "openstack:compute/instance:Instance"}
    key = "flavorName" if resized else "powerState"
    assert changed.get(key) == (("g.1c2g", "g.2c4g") if resized else ("active", "shutoff")), (resized, checked)
    print(f"server changed by hand: {'resized' if resized else 'stopped (this cloud cannot resize)'}: {changed}")
