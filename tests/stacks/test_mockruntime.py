"""The mock-runtime adapter: isolation between runs and exact inputs per resource."""

from __future__ import annotations

import pulumi
import pulumi_random as random

from orchestrator.adapters.pulumimock import run_program
from tests.stacks.conftest import shortcuts_only


class Box(pulumi.ComponentResource):
    def __init__(self, name: str, length: int) -> None:
        super().__init__("test:index:Box", name)
        random.RandomPassword("same-name", length=length, opts=pulumi.ResourceOptions(parent=self))
        self.register_outputs({})


def test_same_name_under_different_parents_keeps_each_ones_inputs() -> None:
    run = run_program(lambda: [Box(f"box-{n}", n) for n in (8, 9, 10)], project="p", stack="s")
    passwords = run.of_type("random:index/randomPassword:RandomPassword")
    by_parent = {run.by_urn()[p.parent].name: p.inputs["length"] for p in passwords}
    assert by_parent == {"box-8": 8, "box-9": 9, "box-10": 10}


def test_runs_do_not_share_state() -> None:
    first = run_program(lambda: Box("a", 8), project="p", stack="one", config={"x:y": "1"})
    second = run_program(lambda: pulumi.export("y", pulumi.Config("x").get("y")), project="p", stack="two")
    assert [r.name for r in first.resources] == ["a", "same-name"]
    assert second.resources == [] and second.outputs == {"y": None}
    assert first.resources[0].urn.startswith("urn:pulumi:one::p::")


@shortcuts_only
def test_the_sdks_debug_messages_are_not_built_under_mocks(caplog) -> None:
    """They would end in the root logger at debug level; the run makes none."""
    import logging

    with caplog.at_level(logging.DEBUG):
        run = run_program(lambda: Box("quiet", 8), project="p", stack="s")
    assert [r.name for r in run.resources] == ["quiet", "same-name"]
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG and r.name == "root"] == []
