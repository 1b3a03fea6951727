"""``up`` and data (issue 25): refused before the engine starts without an approved data loss,
exactly the approved resources unprotected with it, Trove resized in place, a failure recorded
and recoverable, ``provisioned`` only after the cloud matches the plan. The engine and the cloud
are fakes; the ledger, the plans and the classification are real."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from orchestrator.adapters.engine import EngineStep
from orchestrator.adapters.ledger import Ledger
from orchestrator.core import lifecycle as lc
from orchestrator.errors import ExternalError, RuleError
from orchestrator.services.lifecycle import Lifecycle
from orchestrator.services.provision import run_operation
from tests.conftest import EXAMPLES

T = dt.datetime.fromisoformat
SOCIAL_YAML = EXAMPLES / "social-security.yaml"
UNIT, CLERK, CHIEF = (
    lc.Actor("zhaogang", lc.UNIT, "rsj"),
    lc.Actor("zhang", lc.EGOV, "egov"),
    lc.Actor("chen", lc.EGOV, "egov"),
)
OPS = lc.Actor("ops", lc.PROVIDER)
SELF_TEST = ("5b6c7d8e9f00112233445566778899aabbccddeeff0011223344556677889900", "e" * 64)
APP_SERVERS = "      - name: app\n        flavor: g.8c16g\n        image: debian-12\n        count: 4"


@pytest.fixture
def lifecycle(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    monkeypatch.setenv("GOVCLOUD_DATABASE_URL", url)
    service = Lifecycle(Ledger.open(url))
    service.submit(SOCIAL_YAML, UNIT, T("2026-02-12T10:00"))
    service.accept("social-security", CLERK, T("2026-02-24T09:00"))
    service.review("social-security", "complete", CLERK, T("2026-02-26T15:00"))
    service.approve("social-security", "test", CHIEF, T("2026-02-27T09:00"))
    service.record_provisioned("social-security", "test", OPS, T("2026-02-28T10:00"))
    service.test_passed("social-security", "report T-26-031", CLERK, T("2026-03-10T09:00"))
    service.approve("social-security", "trial", CHIEF, T("2026-03-11T09:00"))
    service.record_provisioned("social-security", "trial", OPS, T("2026-03-12T10:00"))
    return service


class FakeCloud:
    """The engine and the cloud as ``up`` sees them; what each was asked is recorded."""

    def __init__(self, monkeypatch):
        from orchestrator.adapters import engine

        self.calls: list[tuple] = []
        self.preview: list[EngineStep] = []
        self.fail_up: str | None = None
        self.differences: list[str] = []
        monkeypatch.setattr(engine, "locate", lambda: engine.Engine(None, None, {}))
        monkeypatch.setattr(engine, "run", self.run)
        monkeypatch.setattr(
            engine, "preview_steps", lambda stack, config, located, **k: self.record("preview", stack) or self.preview
        )
        monkeypatch.setattr(
            engine, "unprotect", lambda stack, located, names=None: self.record("unprotect", stack, sorted(names))
        )
        monkeypatch.setattr(
            engine,
            "destroy_targets",
            lambda stack, located, names, **k: self.record("destroy-first", stack, sorted(names)),
        )
        monkeypatch.setattr("orchestrator.services.provision.platform_config", lambda environ: ({}, set()))
        monkeypatch.setattr("orchestrator.services.provision.remove_strange_rules", lambda stack, located: [])
        monkeypatch.setattr(
            "orchestrator.services.provision.resize_database",
            lambda project, resize: (
                self.record("resize", project, resize.name, resize.flavor, resize.size) or {"size": resize.size}
            ),
        )
        monkeypatch.setattr("orchestrator.services.provision.restrict_database_access", lambda app, env: [])
        monkeypatch.setattr(
            "orchestrator.services.verify.cloud_differences",
            lambda plan, cloud=None: self.record("verify", plan.stack) or self.differences,
        )

    def record(self, *call) -> None:
        self.calls.append(call)

    def run(self, operation, stack, config, located, refresh=False, **kwargs):
        from orchestrator.adapters import engine

        self.record(operation, stack, json.loads(config["govcloud:releaseData"]), refresh)
        if self.fail_up:
            raise ExternalError(self.fail_up)
        return engine.OperationResult(stack, operation, False, {"update": 3})

    def ops(self) -> list[str]:
        return [c[0] for c in self.calls]


@pytest.fixture
def cloud(monkeypatch):
    return FakeCloud(monkeypatch)


def changed(lifecycle, tmp_path, *replacements, at="2026-03-20T09:00", report="e") -> tuple[str, str]:
    """Request, test and approve a change of social-security (with a new self-test report whose
    hash is ``report`` repeated); returns (manifest path, digest)."""
    text = SOCIAL_YAML.read_text(encoding="utf-8")
    for old, new in (*replacements, (SELF_TEST[0], report * 64)):
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / "social-security.yaml"
    path.write_text(text, encoding="utf-8")
    event = lifecycle.change("social-security", path, UNIT, T(at))
    lifecycle.test_passed("social-security", "report T-26-040", CLERK, T(at) + dt.timedelta(hours=1))
    lifecycle.approve_change("social-security", CHIEF, T(at) + dt.timedelta(hours=2))
    return str(path), event.digest


def up(path: str, env: str = "trial", at: str = "2026-03-21T09:00"):
    return run_operation("up", path, env, actor=OPS, at=T(at))


RENAMED = [f"social-security-app-{n}-data" for n in (1, 2)]


def test_a_renamed_volume_is_refused_before_the_engine_starts_naming_each_resource(lifecycle, cloud, tmp_path):
    path, _ = changed(lifecycle, tmp_path, ("          - name: data\n", "          - name: records\n"))
    with pytest.raises(RuleError) as refused:
        up(path)
    message = str(refused.value)
    assert refused.value.rule == "data-loss-approved" and refused.value.article == "Art. 15"
    for name in RENAMED:
        assert f"destroys data: volume {name} (delete:" in message
    assert (
        "govcloud app confirm-data-loss social-security --env trial --resource social-security-app-1-data "
        "--resource social-security-app-2-data --backup BACKUP" in message
    )
    assert cloud.calls == []
    assert lifecycle.state("social-security").state == lc.CHANGE_APPROVED  # nothing recorded, nothing failed


def test_with_the_approval_exactly_those_resources_lose_protection_and_the_loss_is_recorded(lifecycle, cloud, tmp_path):
    path, digest = changed(lifecycle, tmp_path, ("          - name: data\n", "          - name: records\n"))
    lifecycle.confirm_data_loss(
        "social-security", "trial", RENAMED, "backup bk-0320 of both data volumes", UNIT, T("2026-03-20T13:00")
    )
    lifecycle.approve_data_loss("social-security", "trial", CLERK, T("2026-03-20T14:00"))
    up(path)
    assert cloud.calls == [
        ("preview", "rsj.social-security.trial"),
        ("unprotect", "rsj.social-security.trial", RENAMED),
        ("destroy-first", "rsj.social-security.trial", RENAMED),
        ("up", "rsj.social-security.trial", RENAMED, False),
        ("verify", "rsj.social-security.trial"),
    ]
    event = lifecycle.history("social-security")[-1]
    assert (event.type, event.digest, event.environment) == ("provisioned", digest, "trial")
    assert [(d["action"], d["name"]) for d in event.payload["destroyed"]] == [("delete", n) for n in RENAMED]
    assert event.payload["verified"] is True
    assert lifecycle.state("social-security").data_loss == {}


def test_an_approval_for_fewer_resources_is_not_enough(lifecycle, cloud, tmp_path):
    path, _ = changed(lifecycle, tmp_path, ("          - name: data\n", "          - name: records\n"))
    lifecycle.confirm_data_loss("social-security", "trial", RENAMED[:1], "bk-0320", UNIT, T("2026-03-20T13:00"))
    lifecycle.approve_data_loss("social-security", "trial", CLERK, T("2026-03-20T14:00"))
    with pytest.raises(RuleError, match="--resource social-security-app-2-data --backup") as refused:
        up(path)
    assert "social-security-app-1-data" not in str(refused.value).split("confirm-data-loss")[1]
    assert cloud.calls == []


@pytest.mark.parametrize("stateless", [False, True])
def test_an_image_change_rebuilds_only_with_an_approval_unless_the_servers_are_stateless(
    lifecycle, cloud, tmp_path, stateless, monkeypatch
):
    if stateless:  # the manifest on record already declares the app servers stateless
        text = SOCIAL_YAML.read_text(encoding="utf-8").replace(APP_SERVERS, APP_SERVERS + "\n        stateless: true")
        base = tmp_path / "base" / "social-security.yaml"
        base.parent.mkdir()
        base.write_text(text, encoding="utf-8")
        monkeypatch.setattr("tests.admission.test_up_data.SOCIAL_YAML", base)
        path, _digest = changed(lifecycle, tmp_path, ("retentionDays: 180", "retentionDays: 90"))
        lifecycle.record_provisioned("social-security", "trial", OPS, T("2026-03-20T15:00"))
        path, _ = changed(
            lifecycle,
            tmp_path,
            ("image: debian-12\n        count: 4", "image: debian-13\n        count: 4"),
            at="2026-03-23T09:00",
            report="d",
        )  # major: the test environment still runs stateful servers
        up(path, at="2026-03-24T09:00")
        assert cloud.ops() == ["preview", "up", "verify"]
        return
    path, _ = changed(lifecycle, tmp_path, ("image: debian-12\n        count: 4", "image: debian-13\n        count: 4"))
    with pytest.raises(RuleError) as refused:
        up(path)
    assert "destroys data: server root disk social-security-app-1 (rebuild: imageName debian-12 -> debian-13" in str(
        refused.value
    )
    assert cloud.calls == []


def test_a_lower_count_asks_for_the_server_and_its_volumes(lifecycle, cloud, tmp_path):
    path, _ = changed(
        lifecycle,
        tmp_path,
        ("          - name: app\n            count: 2", "          - name: app\n            count: 1"),
    )
    with pytest.raises(RuleError) as refused:
        up(path)
    for name in ("social-security-app-2", "social-security-app-2-data", "social-security-app-2-logs"):
        assert f"--resource {name}" in str(refused.value)
    assert cloud.calls == []


def test_a_trove_flavor_change_is_a_resize_through_trove_before_the_engine(lifecycle, cloud, tmp_path):
    path, _ = changed(
        lifecycle,
        tmp_path,
        (
            '        engine: mysql\n        version: "8.0"\n        flavor: g.8c16g',
            '        engine: mysql\n        version: "8.0"\n        flavor: g.16c32g',
        ),
    )
    up(path)
    assert cloud.ops() == ["preview", "resize", "up", "verify"]
    resize = cloud.calls[1]
    assert resize[:3] == ("resize", "rsj-social-security-trial", "social-security-benefits") and "g.16c32g" in resize[3]
    assert lifecycle.history("social-security")[-1].payload["resized"][0]["name"] == "social-security-benefits"


def test_shrinking_a_volume_is_refused_even_with_an_approval(lifecycle, cloud, tmp_path):
    path, _ = changed(lifecycle, tmp_path, ("        sizeGb: 1000\n", "        sizeGb: 900\n"))
    with pytest.raises(RuleError) as refused:
        up(path)
    assert refused.value.rule == "data-path" and "Cinder cannot shrink a volume" in str(refused.value)
    assert cloud.calls == []


def test_a_preview_showing_a_loss_the_plan_did_not_is_refused(lifecycle, cloud, tmp_path):
    path, _ = changed(lifecycle, tmp_path, ("retentionDays: 180", "retentionDays: 90"))
    cloud.preview = [EngineStep("protected", "openstack:blockstorage/volume:Volume", "social-security-archive")]
    with pytest.raises(
        RuleError,
        match="preview would destroy data the plan did not show: destroys data: volume social-security-archive",
    ):
        up(path)
    assert cloud.ops() == ["preview"]


def test_a_failed_up_is_recorded_the_unit_may_revert_and_a_retry_refreshes_first(lifecycle, cloud, tmp_path):
    path, digest = changed(lifecycle, tmp_path, ("retentionDays: 180", "retentionDays: 90"))
    cloud.fail_up = "pulumi up of stack rsj.social-security.trial failed: Quota exceeded for resources: ['gigabytes']"
    with pytest.raises(ExternalError):
        up(path)
    failed = lifecycle.history("social-security")[-1]
    assert (failed.type, failed.digest, failed.reason) == ("provision-failed", digest, cloud.fail_up)
    state = lifecycle.state("social-security")
    assert state.state == lc.TRIAL and state.failed["trial"]["error"] == cloud.fail_up

    cloud.fail_up, cloud.calls = None, []
    up(path, at="2026-03-22T09:00")
    assert cloud.calls[1] == ("up", "rsj.social-security.trial", [], True)  # refreshed first
    assert lifecycle.history("social-security")[-1].type == "provisioned"
    assert lifecycle.state("social-security").failed == {}


def test_provisioned_is_never_recorded_while_the_cloud_differs_from_the_plan(lifecycle, cloud, tmp_path):
    path, digest = changed(lifecycle, tmp_path, ("retentionDays: 180", "retentionDays: 90"))
    cloud.differences = ["server social-security-app-1 flavor: cloud has 'g.4c8g', plan says 'g.8c16g'"]
    with pytest.raises(ExternalError, match="the cloud differs from the plan: server social-security-app-1 flavor"):
        up(path)
    last = lifecycle.history("social-security")[-1]
    assert last.type == "provision-failed" and "cloud has 'g.4c8g'" in last.reason
    assert lifecycle.state("social-security").provisioned["trial"] != digest
    # after the failure the unit can request a revert (a new change)
    revert = lifecycle.change("social-security", SOCIAL_YAML, UNIT, T("2026-03-21T10:00"))
    assert revert.type == "change-requested"


def test_verify_command_says_whether_the_cloud_matches_the_plan(monkeypatch):
    from click.testing import CliRunner

    from orchestrator.cli import cli, register_commands

    seen = []
    answers = [[], ["volume social-security-archive size: cloud has 100, plan says 1000"]]
    monkeypatch.setattr(
        "orchestrator.services.verify.cloud_differences",
        lambda plan, cloud=None: seen.append((plan.stack, cloud)) or answers[len(seen) - 1],
    )
    monkeypatch.setenv("GOVCLOUD_EXTERNAL_NETWORK", "ext-net")
    register_commands()
    args = ["verify", str(SOCIAL_YAML), "--env", "production", "--cloud", "local"]
    ok = CliRunner().invoke(cli, [*args, "--output", "json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout) == {
        "stack": "rsj.social-security.production",
        "digest": json.loads(ok.stdout)["digest"],
        "matches": True,
        "problems": [],
    }
    differs = CliRunner().invoke(cli, args)
    assert differs.exit_code == 1
    assert "the cloud differs from the plan\n  volume social-security-archive size: cloud has 100" in differs.stdout
    assert seen == [("rsj.social-security.production", "local")] * 2


def test_verify_plans_with_the_network_and_key_pair_up_uses(monkeypatch):
    from orchestrator.core.manifest import Environment
    from orchestrator.core.validation import load_manifest
    from orchestrator.services.verify import verify_application

    plans = []
    monkeypatch.setattr(
        "orchestrator.services.verify.cloud_differences", lambda plan, cloud=None: plans.append(plan) or []
    )
    verify_application(load_manifest(SOCIAL_YAML), Environment.TRIAL, external_network="ext-net", key_pair="ops-key")
    [plan] = plans
    servers = [r for r in plan.resources if r.type == "openstack:compute/instance:Instance"]
    assert servers and all(r.properties["keyPair"] == "ops-key" for r in servers)
    router = next(r for r in plan.resources if r.type == "openstack:networking/router:Router")
    assert "ext-net" in router.properties["externalNetworkId"]


def test_a_lower_count_of_stateless_servers_deletes_them_first_without_an_approval(
    lifecycle, cloud, tmp_path, monkeypatch
):
    # the engine would lower the project's quota before deleting the server, which Nova refuses
    # ("Quota limit 2 for cores must be greater than or equal to already used and reserved 3",
    # found on the local cloud): the removed servers go first, as an approved deletion does
    gateway = "        image: debian-12\n        count: 2\n"
    text = SOCIAL_YAML.read_text(encoding="utf-8").replace(gateway, gateway + "        stateless: true\n")
    base = tmp_path / "base" / "social-security.yaml"
    base.parent.mkdir()
    base.write_text(text, encoding="utf-8")
    monkeypatch.setattr("tests.admission.test_up_data.SOCIAL_YAML", base)
    changed(lifecycle, tmp_path, ("retentionDays: 180", "retentionDays: 90"))
    lifecycle.record_provisioned("social-security", "trial", OPS, T("2026-03-20T15:00"))
    path, _ = changed(
        lifecycle, tmp_path, (gateway, gateway.replace("count: 2", "count: 1")), at="2026-03-23T09:00", report="d"
    )
    up(path, at="2026-03-24T09:00")
    assert cloud.calls[:3] == [
        ("preview", "rsj.social-security.trial"),
        ("destroy-first", "rsj.social-security.trial", ["social-security-gateway-2"]),
        ("up", "rsj.social-security.trial", [], False),
    ]
    event = lifecycle.history("social-security")[-1]
    assert event.type == "provisioned" and "destroyed" not in event.payload
