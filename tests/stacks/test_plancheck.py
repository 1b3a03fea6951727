"""The plan-versus-cloud comparison behind ``govcloud verify``: tags (issue 25 found the pinned
provider leaves a Neutron resource's first digest tag beside the current one)."""

from __future__ import annotations

from types import SimpleNamespace

from orchestrator.adapters.cloud.plancheck import Check, _tags
from orchestrator.core.stackplan import PlannedResource

PLANNED = ["govcloud:app=portal", "govcloud:digest=sha256:new"]


def compare(cloud_tags: list[str]) -> list[str]:
    check = Check(plan=None, admin=None)  # type: ignore[arg-type]
    resource = PlannedResource("openstack:networking/network:Network", "portal-net", "", {"tags": PLANNED})
    _tags(check, "network portal-net", SimpleNamespace(tags=cloud_tags), resource)
    return check.problems


def test_planned_tags_match_and_an_older_digest_tag_is_tolerated() -> None:
    assert compare(PLANNED) == []
    assert compare([*PLANNED, "govcloud:digest=sha256:first"]) == []


def test_a_missing_current_digest_or_a_foreign_tag_is_a_difference() -> None:
    [missing] = compare(["govcloud:app=portal", "govcloud:digest=sha256:first"])
    assert missing.startswith("network portal-net tags: cloud has ['govcloud:app=portal']")
    [foreign] = compare([*PLANNED, "owner=someone"])
    assert "'owner=someone'" in foreign


def test_verify_plans_with_the_quota_headroom_up_applies():
    """up applies the policy's headroom to the quotas; verify must plan with it too, or every
    verified up differs from its plan (found on the local cloud after both landed)."""
    from orchestrator.services import verify
    from stacks.program import policy_headroom

    assert verify.settings().headroom == policy_headroom() != type(policy_headroom())()
