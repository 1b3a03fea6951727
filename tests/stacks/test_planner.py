"""The planner: plans in its own forked process, in order, and hands back its errors."""

from __future__ import annotations

import pytest

from orchestrator.core.manifest import Environment
from orchestrator.core.validation import load_manifest
from orchestrator.services.plan import Planner, plan_application

from .conftest import REPO


def test_plans_come_back_in_order_as_planned_here() -> None:
    portal = load_manifest(REPO / "examples/manifests/citizen-portal.yaml")
    permit = load_manifest(REPO / "examples/manifests/permit-prototype.yaml")
    pairs = [(permit, Environment.TEST), (portal, Environment.TRIAL), (portal, Environment.TEST)]
    with Planner() as planner:
        planner.submit(pairs)
        plans = planner.result()
        planner.submit(pairs[:1])
        again = planner.result()
    assert [p.stack for p in plans] == ["zjj.permit-prototype.test", "zwb.citizen-portal.trial", "zwb.citizen-portal.test"]
    assert plans == [plan_application(app, env) for app, env in pairs] and again == plans[:1]


def test_an_error_while_planning_reaches_the_caller() -> None:
    permit = load_manifest(REPO / "examples/manifests/permit-prototype.yaml")  # no production environment
    with Planner() as planner:
        planner.submit([(permit, Environment.PRODUCTION)])
        with pytest.raises(KeyError):
            planner.result()


def test_a_planner_never_asked_ends_when_closed() -> None:
    planner = Planner()
    planner.close()
    assert not planner._process.is_alive() and planner._process.exitcode is not None
