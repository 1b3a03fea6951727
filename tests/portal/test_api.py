"""The REST API: every step through the service, the JSON of --output json, refusals as RFC 9457
problem details that write nothing, bearer tokens verified as the CLI verifies them."""

from __future__ import annotations

import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from orchestrator.adapters.ledger import Ledger
from orchestrator.core.lifecycle import PROVIDER, Actor
from orchestrator.services.lifecycle import Lifecycle, beijing_now

from .conftest import EXAMPLES, upload, variant

SOCIAL = EXAMPLES / "social-security.yaml"
OPS = Actor("ops", PROVIDER)


def events(client, tokens, app="social-security") -> list[dict]:
    answer = client.get(f"/api/v1/applications/{app}/history", headers=tokens.office)
    return answer.json() if answer.status_code == 200 else []


def provision(database_url, environment: str) -> None:
    """The provider's ``up`` records provisioning (not a portal step)."""
    ledger = Ledger.open(database_url)
    try:
        service = Lifecycle(ledger)
        digest = service.state("social-security").digest  # after a change: the changed manifest
        service.record_provisioned("social-security", environment, OPS, beijing_now(), digest=digest)
    finally:
        ledger.close()


def step(client, headers, verb, body=None, app="social-security", **kw):
    return client.post(f"/api/v1/applications/{app}/{verb}", headers=headers, json=body, **kw)


def test_every_step_through_the_api(oidc_app, tokens, database_url, tmp_path):
    c = oidc_app
    answer = c.post("/api/v1/applications", headers=tokens.rsj, files=upload(SOCIAL))
    assert answer.status_code == 201, answer.text
    submitted = answer.json()
    assert (submitted["type"], submitted["actor"], submitted["actor_source"]) == ("submitted", "zhaogang", "oidc")
    assert answer.headers["etag"] == '"1"'
    assert step(c, tokens.office, "reject", {"reason": "the budget is missing"}).json()["type"] == "rejected"
    assert c.post("/api/v1/applications", headers=tokens.rsj, files=upload(SOCIAL)).status_code == 201
    assert step(c, tokens.office, "accept").status_code == 200
    assert step(c, tokens.office, "review", {"opinion": "complete"}).json()["reason"] == "complete"
    assert step(c, tokens.office, "approve", {"environment": "test"}).json()["environment"] == "test"
    provision(database_url, "test")
    assert step(c, tokens.office, "extend", {"days": 5, "reason": "load tests"}).json()["payload"] == {"days": 5}
    assert step(c, tokens.office, "test-passed", {"evidence": "report 7"}).status_code == 200
    assert step(c, tokens.office, "approve", {"environment": "trial"}).status_code == 200
    provision(database_url, "trial")
    minor = variant(tmp_path, "minor", ("retentionDays: 180", "retentionDays: 90"))
    changed = c.post("/api/v1/applications/social-security/change", headers=tokens.rsj, files=upload(minor))
    assert changed.status_code == 200, changed.text
    assert changed.json()["payload"]["kind"] == "minor"
    assert step(c, tokens.office, "approve-change").json()["type"] == "change-approved"
    provision(database_url, "test")  # the change goes to every live environment
    provision(database_url, "trial")
    assert step(c, tokens.rsj, "terminate", {"reason": "replaced"}).json()["type"] == "termination-requested"
    # naming a final backup (Art. 16): the same service call as app confirm-backup --backup, its refusals
    refused = step(c, tokens.rsj, "confirm-backup", {"evidence": "tape 12", "backups": ["no-such-backup"]})
    assert refused.status_code == 409 and refused.json()["rule"] == "final-backup-recorded", refused.text
    assert refused.json()["article"] == "Art. 16" and "no-such-backup" in refused.json()["detail"]
    assert step(c, tokens.rsj, "confirm-backup", {"evidence": "tape 12"}).status_code == 200
    assert step(c, tokens.office, "approve-termination").status_code == 200

    status = c.get("/api/v1/applications/social-security", headers=tokens.rsj)
    assert status.json()["state"] == "termination-approved"
    assert status.headers["etag"] == f'"{status.json()["sequence"]}"'
    assert [e["type"] for e in events(c, tokens)][-3:] == [
        "termination-requested",
        "backup-confirmed",
        "termination-approved",
    ]
    reclaim = c.get("/api/v1/queues/reclamation", headers=tokens.provider).json()
    assert [(i["application"], i["deadline"]["name"]) for i in reclaim] == [("social-security", "reclamation")]


def test_lists_are_filtered_paged_and_a_unit_sees_its_own(oidc_app, tokens):
    c = oidc_app
    c.post("/api/v1/applications", headers=tokens.rsj, files=upload(SOCIAL))
    c.post("/api/v1/applications", headers=tokens.zwb, files=upload(EXAMPLES / "citizen-portal.yaml"))
    step(c, tokens.office, "accept", app="citizen-portal")
    every = c.get("/api/v1/applications", headers=tokens.office).json()
    assert [i["application"] for i in every["items"]] == ["citizen-portal", "social-security"]
    assert every["total"] == 2
    page = c.get("/api/v1/applications?limit=1&offset=1", headers=tokens.office).json()
    assert [i["application"] for i in page["items"]] == ["social-security"] and page["total"] == 2
    accepted = c.get("/api/v1/applications?state=accepted", headers=tokens.office).json()
    assert [i["application"] for i in accepted["items"]] == ["citizen-portal"]
    mine = c.get("/api/v1/applications", headers=tokens.zwb).json()
    assert [i["application"] for i in mine["items"]] == ["citizen-portal"]
    assert c.get("/api/v1/applications?state=bogus", headers=tokens.office).status_code == 400
    # another unit's application does not exist for a unit, as an unknown one does not
    for path in ("social-security", "social-security/history", "no-such-app"):
        answer = c.get(f"/api/v1/applications/{path}", headers=tokens.zwb)
        assert answer.status_code == 404 and answer.headers["content-type"] == "application/problem+json"
    queue = c.get("/api/v1/queues/office", headers=tokens.office).json()
    assert [(i["application"], i["deadline"]["name"]) for i in queue] == [
        ("social-security", "accept-or-reject"),
        ("citizen-portal", "review"),
    ] or [(i["application"], i["deadline"]["name"]) for i in queue] == [
        ("citizen-portal", "review"),
        ("social-security", "accept-or-reject"),
    ]
    assert all(isinstance(i["working_days_left"], int) for i in queue)


@pytest.mark.parametrize(
    "who, verb, body, rule",
    [
        ("rsj", "accept", None, "role"),  # a unit approving
        ("provider", "accept", None, "role"),  # the provider deciding
        ("zwb", "terminate", {"reason": "x"}, "own-unit"),  # a unit acting for another unit (not visible: 404)
        ("office", "reject", {}, None),  # a rejection without reasons
    ],
)
def test_refusals_write_nothing(oidc_app, tokens, who, verb, body, rule):
    c = oidc_app
    c.post("/api/v1/applications", headers=tokens.rsj, files=upload(SOCIAL))
    before = events(c, tokens)
    answer = step(c, getattr(tokens, who), verb, body)
    problem = answer.json()
    assert answer.headers["content-type"] == "application/problem+json"
    if who == "zwb":
        assert answer.status_code == 404
    elif rule:
        assert answer.status_code == 403 and problem["rule"] == rule and problem["article"] == "Art. 6-9"
    else:
        assert answer.status_code == 400 and "reason" in problem["detail"]
    assert events(c, tokens) == before


def test_the_office_of_the_same_unit_may_not_decide(oidc_app, tokens):
    c = oidc_app
    c.post("/api/v1/applications", headers=tokens.rsj, files=upload(SOCIAL))
    answer = step(c, tokens("govcloud-egov", "rsj", "insider"), "accept")
    assert answer.status_code == 403 and answer.json()["rule"] == "no-self-approval"


def test_double_approval_and_stale_if_match_are_refused(oidc_app, tokens):
    c = oidc_app
    c.post("/api/v1/applications", headers=tokens.rsj, files=upload(SOCIAL))
    step(c, tokens.office, "accept")
    reviewed = step(c, tokens.office, "review", {"opinion": "ok"})
    version = reviewed.headers["etag"]
    first = c.post(
        "/api/v1/applications/social-security/approve",
        headers=tokens.office | {"If-Match": version},
        json={"environment": "test"},
    )
    assert first.status_code == 200
    before = events(c, tokens)
    stale = c.post(
        "/api/v1/applications/social-security/approve",
        headers=tokens("govcloud-egov", "egov", "chen") | {"If-Match": version},
        json={"environment": "test"},
    )
    assert stale.status_code == 412 and stale.json()["title"] == "the application changed meanwhile"
    again = step(c, tokens("govcloud-egov", "egov", "chen"), "approve", {"environment": "test"})
    assert again.status_code == 409 and again.json()["article"]  # the ledger's one-shot rule
    assert events(c, tokens) == before


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda p: p.token(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200), "expired"),
        (lambda p: p.token(aud="another-app"), "wrong audience"),
        (lambda p: p.token(iss="https://evil.example"), "wrong issuer"),
        (lambda p: p.token(key=rsa.generate_private_key(public_exponent=65537, key_size=2048)), "does not verify"),
        (lambda p: p.token(kid="k-unknown"), "does not publish"),
        (
            lambda p: jwt.encode(
                {
                    "iss": p.issuer,
                    "aud": "govcloud-cli",
                    "sub": "x",
                    "exp": int(time.time()) + 60,
                    "iat": int(time.time()),
                    "govcloud_roles": ["govcloud-egov"],
                },
                None,
                algorithm="none",
            ),
            "refused",
        ),
        (lambda p: "not.a.jwt", "malformed"),
    ],
    ids=["expired", "audience", "issuer", "forged", "unknown-key", "alg-none", "garbage"],
)
def test_bad_tokens_are_refused_and_write_nothing(oidc_app, tokens, platform, make, words):
    c = oidc_app
    c.post("/api/v1/applications", headers=tokens.rsj, files=upload(SOCIAL))
    answer = step(c, {"Authorization": f"Bearer {make(platform)}"}, "accept")
    assert answer.status_code == 401, answer.text
    assert words in answer.json()["detail"] and answer.headers["www-authenticate"] == "Bearer"
    assert len(events(c, tokens)) == 1
    assert c.get("/api/v1/applications").status_code == 401  # no token at all


def test_invalid_oversized_and_hostile_uploads_store_nothing(oidc_app, tokens, tmp_path):
    c = oidc_app
    broken = variant(tmp_path, "broken", ("retentionDays: 180", "retentionDays: -1"))
    answer = c.post("/api/v1/applications", headers=tokens.rsj, files=upload(broken))
    assert answer.status_code == 422
    problems = answer.json()["problems"]
    assert problems and all(p["line"] and p["rule"] for p in problems)
    huge = {"manifest": ("big.yaml", b"a: " + b"x" * (1024 * 1024 + 10), "application/yaml")}
    assert c.post("/api/v1/applications", headers=tokens.rsj, files=huge).status_code == 413
    bomb = b"a: &a [x, x, x, x, x, x, x, x, x]\n" + b"".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n".encode() for i in range(8)
    )
    started = time.monotonic()
    answer = c.post("/api/v1/applications", headers=tokens.rsj, files={"manifest": ("bomb.yaml", bomb)})
    assert answer.status_code == 422 and time.monotonic() - started < 10
    assert c.get("/api/v1/applications", headers=tokens.office).json()["total"] == 0


def test_openapi_is_3_1_and_names_the_steps(oidc_app):
    spec = oidc_app.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    assert "/api/v1/applications/{application}/{step}" in spec["paths"]
    assert {
        "/api/v1/applications/{application}/decision",
        "/api/v1/applications/{application}/notices",
        "/api/v1/expiring",
        "/api/v1/capacity",
        "/api/v1/reports/monthly",
        "/api/v1/reports/assessment",
    } <= set(spec["paths"])
    assert "/login" not in spec["paths"]


def test_dev_api_takes_the_local_actor_headers(dev_app):
    headers = {"X-Govcloud-As": "liming", "X-Govcloud-Role": "unit", "X-Govcloud-Unit": "zwb"}
    answer = dev_app.post("/api/v1/applications", headers=headers, files=upload(EXAMPLES / "citizen-portal.yaml"))
    assert answer.status_code == 201 and answer.json()["actor_source"] == "local"
    assert dev_app.get("/api/v1/applications").status_code == 400  # nobody said who acts


def test_serve_refuses_local_auth_without_the_development_flag(run_cli):
    refused = run_cli("serve")
    assert refused.exit_code == 2
    assert "--dev-insecure-local-auth" in refused.stderr and "auth: local" in refused.stderr
