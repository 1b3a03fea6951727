"""Database access as data: what the manifest allows, what differs, and the command over a fake cloud."""

from __future__ import annotations

import json
from pathlib import Path

from orchestrator.adapters.cloud import Cloud
from orchestrator.core import dbaccess
from orchestrator.core.manifest import Environment
from orchestrator.core.validation import load_manifest

ROOT = Path(__file__).resolve().parents[2]
SOCIAL = load_manifest(ROOT / "examples" / "manifests" / "social-security.yaml")
OPEN = dbaccess.Observed("social-security-benefits", "i-1", (), (("tcp", 3306, 3306, "0.0.0.0/0"),))
NARROW = dbaccess.Observed(
    "social-security-benefits", "i-1", ("172.18.0.0/24",), (("tcp", 3306, 3306, "172.18.0.0/24"),)
)


def test_each_database_is_reachable_from_its_environments_subnet_only():
    assert [a.as_dict() for a in dbaccess.expected(SOCIAL, Environment.PRODUCTION)] == [
        {"instance": "social-security-benefits", "engine": "mysql", "port": 3306, "from": ["172.18.0.0/24"]}
    ]
    assert dbaccess.expected(SOCIAL, Environment.TEST)[0].cidrs == ("172.16.0.0/24",)  # each its own subnet


def test_differences_name_what_lets_in_more():
    [wanted] = dbaccess.expected(SOCIAL, Environment.PRODUCTION)
    assert dbaccess.differences([wanted], [NARROW]) == []
    assert dbaccess.differences([wanted], [OPEN]) == [
        "database social-security-benefits: Trove access allows anyone, the manifest ['172.18.0.0/24']",
        "database social-security-benefits: its security group lets in tcp 3306 from 0.0.0.0/0",
    ]
    wider = NARROW.__class__(
        NARROW.instance, "i-1", NARROW.allowed_cidrs, NARROW.ingress + (("tcp", 22, 22, "172.18.0.0/24"),)
    )
    assert dbaccess.differences([wanted], [wider]) == [
        "database social-security-benefits: its security group lets in tcp 22 from 172.18.0.0/24"
    ]
    assert dbaccess.differences([wanted], []) == ["database social-security-benefits: not found in Trove"]


class FakeTrove(Cloud):
    """The two verbs over one instance; the access change shows at once."""

    def __init__(self, observed: dbaccess.Observed) -> None:
        super().__init__(None, "fake")
        self.observed, self.calls = observed, []

    def database_access(self, project):
        return [self.observed]

    def set_database_access(self, project, instance_id, cidrs):
        self.calls.append((project, instance_id, cidrs))
        self.observed = dbaccess.Observed(
            self.observed.instance, instance_id, tuple(cidrs), tuple(("tcp", 3306, 3306, c) for c in cidrs)
        )


def test_the_command_reports_then_fixes(run_cli, monkeypatch):
    fake = FakeTrove(OPEN)
    monkeypatch.setattr(Cloud, "connect", classmethod(lambda cls, name=None: fake))
    args = (
        "database-access",
        "social-security",
        "--env",
        "production",
        "--manifests",
        str(ROOT / "examples" / "manifests"),
    )
    found = run_cli(*args)
    assert found.exit_code == 1 and "its security group lets in tcp 3306 from 0.0.0.0/0" in found.stdout
    fixed = run_cli(*args, "--fix", "-o", "json")
    assert fixed.exit_code == 0 and json.loads(fixed.stdout)["ok"] is True
    assert fake.calls == [("rsj-social-security-production", "i-1", ["172.18.0.0/24"])]
    assert run_cli(*args).exit_code == 0
