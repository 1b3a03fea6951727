"""Issue 21 on the local cloud: drift detection and the suspension of Art. 37.

Two lean applications (``social-security``'s unit and materials under fresh ids: one server, one
security group with a rule from the management network and one from anywhere, test environment
only) are provisioned: the one under inspection and its neighbour.

Drift: a rule is added to the inspected one's security group with openstacksdk. ``govcloud
drift`` finds it, reports it once over three runs, hides it while an ignore rule of the quota
policy is in force, reports it again once the rule has expired, and finds it gone after
``govcloud up`` re-applied the approved digest (recorded ``reapplied``). A server changed by hand
(resized where the cloud can; this one's Nova has one host and cannot, so stopped) is found too.

Suspension: the office suspends it; the provider's ``govcloud up`` shuts every server of it off
and withdraws its public ingress; ``app resume --rectified`` and ``up`` bring both back; the
neighbour's servers and rules, listed before and after, are untouched.

The tests share one story and run in file order; a failure stops the rest.
"""

from __future__ import annotations

import datetime as dt
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from orchestrator.adapters.platform import KeycloakAdmin
from orchestrator.core import naming
from orchestrator.core.manifest import Environment

from .conftest import DAY, EXAMPLE, REPO, Govcloud, beijing, remove_projects
from .test_lifecycle import CHIEF, CLERK, OPS, UNIT, UNIT_ACTOR, leftovers

pytestmark = [pytest.mark.e2e]
RESOURCES = """  resources:
    securityGroups:
      - name: web
        rules:
          - protocol: tcp
            ports: 443
            remoteCidr: 0.0.0.0/0
          - protocol: tcp
            ports: 8443
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


def write(directory: Path, app: str) -> Path:
    text = EXAMPLE.read_text(encoding="utf-8").replace("id: social-security", f"id: {app}", 1)
    manifest = directory / f"{app}.yaml"
    manifest.write_text(text[: text.index("\n  resources:\n") + 1] + RESOURCES, encoding="utf-8")
    return manifest


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory, admin: Any, keycloak: dict[str, str], govcloud: Govcloud) -> Any:
    suffix = uuid.uuid4().hex[:6]
    app, neighbour = f"dr-{suffix}", f"nb-{suffix}"
    directory = tmp_path_factory.mktemp("governance")
    yield {
        "app": app,
        "manifest": write(directory, app),
        "directory": directory,
        "neighbour": neighbour,
        "neighbour_manifest": write(directory, neighbour),
    }
    names = (app, neighbour)
    problems = remove_projects([project_name(name) for name in names])  # directly, not by engine destroys
    for name in names:
        leftovers(admin, KeycloakAdmin.from_environ(keycloak), name, remove=True)
    left = [name for name in names if project(admin, name) is not None]
    assert left == [], f"left behind: {left}; " + "; ".join(problems)


def policy(story: dict, expires: dt.date | None) -> str:
    """The repository's quota policy, with an ignore rule for the web group's rules when ``expires``."""
    text = (REPO / "quotas" / "policy.yaml").read_text(encoding="utf-8")
    if expires is not None:
        text += (
            f"\ndrift:\n  ignore:\n    - application: {story['app']}\n      resource: '*-web'\n"
            f"      property: rules\n      owner: ops-li\n      reason: emergency rule for incident 42\n"
            f"      expires: {expires.isoformat()}\n"
        )
    path = story["directory"] / f"policy-{expires}.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def drift(
    govcloud: Govcloud, story: dict, *, expect: int, policy_file: str | None = None, at: str | None = None
) -> dict:
    args = ["drift", story["app"], "--env", "test"] + (["--policy", policy_file] if policy_file else [])
    [checked] = govcloud.json(*args, *(["--at", at] if at else []), expect=expect)["checked"]
    assert checked["ok"], checked["error"]
    return checked


def project_name(app: str) -> str:
    return naming.project_name(UNIT, app, Environment.TEST)


def project(admin: Any, app: str) -> Any:
    return admin.identity.find_project(project_name(app), domain_id="default")


def group(admin: Any, story: dict) -> Any:
    [found] = [
        g for g in admin.network.security_groups(project_id=project(admin, story["app"]).id) if g.name.endswith("-web")
    ]
    return found


def listing(admin: Any, app: str) -> dict[str, list]:
    """What the cloud holds of ``app``'s test environment: its servers' states, its rules."""
    found = project(admin, app)
    return {
        "servers": sorted((s.name, s.status) for s in admin.compute.servers(project_id=found.id, all_projects=True)),
        "rules": sorted(
            (r.direction, r.protocol, r.port_range_min, r.remote_ip_prefix)
            for g in admin.network.security_groups(project_id=found.id)
            if g.name != "default"
            for r in admin.network.security_group_rules(security_group_id=g.id)
        ),
    }


def test_provisioned_and_no_drift(govcloud, story):
    def provision(app: str, m: str) -> None:
        govcloud("app", "submit", m, *UNIT_ACTOR, "--at", beijing(-5 * DAY))
        govcloud("app", "accept", app, *CLERK, "--at", beijing(-5 * DAY + dt.timedelta(hours=1)))
        govcloud("app", "review", app, "--opinion", "complete", *CLERK, "--at", beijing(-4 * DAY))
        govcloud("app", "approve", app, "--env", "test", *CHIEF, "--at", beijing(-4 * DAY + dt.timedelta(hours=1)))
        govcloud("up", m, "--env", "test", "--at", beijing(-3 * DAY), *OPS)

    with ThreadPoolExecutor(max_workers=2) as pool:  # two stacks, two leases: their engines wait at once
        list(
            pool.map(
                provision,
                (story["app"], story["neighbour"]),
                map(str, (story["manifest"], story["neighbour_manifest"])),
            )
        )
    checked = drift(govcloud, story, expect=0)
    assert checked["new"] == checked["still"] == [], checked


def test_a_rule_added_by_hand_is_reported_once_ignored_and_reported_again(govcloud, story, admin):
    web = group(admin, story)
    admin.network.create_security_group_rule(
        security_group_id=web.id,
        direction="ingress",
        ethertype="IPv4",
        protocol="tcp",
        port_range_min=22,
        port_range_max=22,
        remote_ip_prefix="0.0.0.0/0",
        project_id=web.project_id,
    )
    first = drift(govcloud, story, expect=1)
    [found] = first["new"]
    assert (found["resource"], found["property"], found["before"]) == (web.name, "rules", None)
    assert found["after"] == "ingress tcp 22-22 from 0.0.0.0/0 (IPv4)"
    for _ in range(2):  # the same drift: still there, never new again
        again = drift(govcloud, story, expect=1)
        assert again["new"] == [] and [f["fingerprint"] for f in again["still"]] == [found["fingerprint"]]

    today = dt.date.today()
    hidden = drift(govcloud, story, expect=0, policy_file=policy(story, today + dt.timedelta(days=30)))
    assert hidden["new"] == hidden["still"] == [] and [f["fingerprint"] for f in hidden["ignored"]] == [
        found["fingerprint"]
    ]
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
    assert (
        event["type"] == "reapplied"
        and event["payload"]["removed rules"]
        == [f"{group(admin, story).name}: ingress tcp 22-22 from 0.0.0.0/0 (IPv4)"]
        and "drift" in event["reason"]
    )
    rules = list(admin.network.security_group_rules(security_group_id=group(admin, story).id))
    assert not [r for r in rules if r.port_range_min == 22]
    after = drift(govcloud, story, expect=0)
    assert after["new"] == after["still"] == [] and after["resolved"] == []  # up resolved it already
    assert govcloud.json("drift", story["app"], "--list")["findings"] == []


def test_suspension_shuts_the_servers_off_and_withdraws_public_ingress_until_resumed(govcloud, story, admin):
    app, m = story["app"], str(story["manifest"])
    neighbour = listing(admin, story["neighbour"])
    before = listing(admin, app)
    assert ("ingress", "tcp", 443, "0.0.0.0/0") in before["rules"] and all(s == "ACTIVE" for _, s in before["servers"])

    govcloud(
        "app",
        "suspend",
        app,
        "--risk",
        "high",
        "--finding",
        "admin console open to the internet",
        "--reference",
        "INSP-2026-042",
        *CHIEF,
    )
    assert govcloud.json("app", "status", app)["suspension"]["reference"] == "INSP-2026-042"
    assert govcloud.json("up", m, "--env", "test", *OPS)["recorded"] == "reapplied"
    suspended = listing(admin, app)
    assert suspended["servers"] and all(s == "SHUTOFF" for _, s in suspended["servers"]), suspended
    assert suspended["rules"] == [r for r in before["rules"] if r != ("ingress", "tcp", 443, "0.0.0.0/0")]
    assert listing(admin, story["neighbour"]) == neighbour  # the other application is untouched

    govcloud("app", "resume", app, "--rectified", "console closed, report R-42", *CHIEF)
    assert govcloud.json("up", m, "--env", "test", *OPS)["recorded"] == "reapplied"
    assert listing(admin, app) == before
    assert listing(admin, story["neighbour"]) == neighbour
    assert drift(govcloud, story, expect=0)["new"] == []


def test_a_server_changed_by_hand_is_found(govcloud, story, admin):
    owner = project(admin, story["app"])
    [server] = list(admin.compute.servers(project_id=owner.id, all_projects=True))
    bigger = admin.compute.find_flavor("g.2c4g")
    # the project's quota is the manifest's totals exactly: room for the bigger flavor, as an
    # operator resizing by hand would have to make it; the resize is made in the project's scope
    admin.compute.update_quota_set(owner.id, cores=16, ram=32768)
    by_hand = admin.connect_as_project(owner)
    resized = False
    try:  # a Nova with one host and without allow_resize_to_same_host answers NoValidHost at once
        by_hand.compute.resize_server(server, bigger.id)
        by_hand.compute.wait_for_server(server, status="VERIFY_RESIZE", wait=45)
        by_hand.compute.confirm_server_resize(server)
        by_hand.compute.wait_for_server(server, status="ACTIVE", wait=120)
        resized = True
    except Exception:  # noqa: BLE001 — a cloud that cannot resize: the stop below takes the same path
        admin.compute.wait_for_server(admin.compute.get_server(server.id), status="ACTIVE", wait=120)
    if not resized:
        admin.compute.stop_server(server)
        admin.compute.wait_for_server(server, status="SHUTOFF", wait=120)
    checked = drift(govcloud, story, expect=1)
    changed = {
        f["property"]: (f["before"], f["after"])
        for f in checked["new"]
        if f["type"] == "openstack:compute/instance:Instance"
    }
    key = "flavorName" if resized else "powerState"
    assert changed.get(key) == (("g.1c2g", "g.2c4g") if resized else ("active", "shutoff")), (resized, checked)
    print(f"server changed by hand: {'resized' if resized else 'stopped (this cloud cannot resize)'}: {changed}")
