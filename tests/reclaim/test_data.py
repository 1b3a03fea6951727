"""Reclamation of an environment that holds data (issue 24), over the in-memory cloud and a fake
engine whose stacks hold their resources: the destroy meets the cloud's refusals (a container
with objects, a volume with snapshots) and cannot authenticate once the project is gone.

One run must finish with data everywhere; a run killed at each step (empty, destroy, sweep,
project) must finish when run again; the project goes only once the stack holds nothing; a
stack whose project went first (an older govcloud) is verified gone and forgotten."""

from __future__ import annotations

import pytest

from orchestrator.core.reclaim import Found
from orchestrator.errors import ExternalError

from .fakes import APP, OURS, UNIT, Killed, deploy

STACK = f"{UNIT}.{APP}.test"
#: What a department makes by hand in its test project: data and a few things beside the stack.
BY_HAND = [
    Found("container", "files_segments", "files_segments"),
    Found("object", "files_segments/big.iso/000001", "big.iso/000001", owned_by="files_segments"),
    Found("object", "files_segments/big.iso/000002", "big.iso/000002", owned_by="files_segments"),
    Found("object", "test-files/big.iso", "big.iso", owned_by="test-files"),
    Found("snapshot", "hand-snap", "before-upgrade"),
    Found("image", "hand-img", "web-1-golden"),
    Found("database_backup", "hand-bk", "manual", owned_by="test-db"),
    Found("port", "hand-port", "debug"),
    Found("security_group", "hand-sg", "debug"),
    Found("volume", "hand-vol", "scratch", OURS),  # labelled by hand, not in the stack
]


@pytest.fixture
def deployed(cloud, stacks):
    """The test environment as ``pulumi up`` left it, with the department's data and hand-made things."""
    project = deploy(cloud, stacks)
    cloud.items[project.id] += BY_HAND
    deletions: list[tuple[str, int]] = []
    delete_project = cloud.delete_project

    def watched(p: Found) -> None:  # the project may go only once the stack holds nothing
        held = len(stacks.held(STACK))
        delete_project(p)
        deletions.append((p.name, held))

    cloud.delete_project = watched
    return project, deletions


def _gone(cloud, stacks, summary, deletions) -> None:
    assert summary.failures == [] and summary.reclaimed, summary.failures
    assert cloud.projects == {} and deletions[-1] == (f"{UNIT}-{APP}-test", 0)
    assert not stacks.exists(STACK) and stacks.held(STACK) == []


def test_the_fake_engine_refuses_what_the_real_one_refuses(cloud, stacks, deployed):
    with pytest.raises(ExternalError, match="409 Conflict"):
        stacks.destroy(STACK)  # objects in the container, a snapshot on the volume, ports on the network


def test_one_run_removes_an_environment_full_of_data(reclaimer, cloud, stacks, deployed):
    _, deletions = deployed
    summary = reclaimer().run(APP)
    _gone(cloud, stacks, summary, deletions)
    steps = [(s.step, s.status) for s in summary.steps]
    assert steps[:3] == [("empty", "deferred"), ("destroy", "done"), ("sweep", "done")], steps
    empty = summary.steps[0]
    assert empty.deleted == {"snapshot": 2, "database_backup": 2, "port": 1, "object": 5, "container": 1, "image": 2}
    assert "security_group" not in empty.deleted and "1 left for the sweep" in empty.detail
    assert empty.failures == []  # what waits for the sweep is not a failure here  # in use until the destroy
    sweep = summary.steps[2]
    assert sweep.deleted == {"volume": 1, "security_group": 1}  # the labelled scratch volume, the hand-made group
    assert {f.id for f in BY_HAND} <= {f.id for f in cloud.deleted}
    assert stacks.calls == [("destroy", STACK), ("rm", STACK)]


@pytest.mark.parametrize("kill", ["empty", "destroy", "sweep", "project"])
def test_a_run_killed_at_each_step_finishes_when_run_again(reclaimer, cloud, stacks, deployed, kill):
    _, deletions = deployed
    if kill == "empty":
        cloud.kill_at = "test-files/big.iso"
    elif kill == "destroy":
        stacks.kill_destroy.add(STACK)
    elif kill == "sweep":
        cloud.kill_at = "hand-vol"
    else:
        cloud.kill_before_project = True
    with pytest.raises(Killed):
        reclaimer(holder="ops@host-a:1").run(APP)
    assert cloud.projects and deletions == []  # nothing killed midway deleted the project
    cloud.kill_before_project = False
    summary = reclaimer(holder="ops@host-a:1").run(APP)  # the same operator: its lease is its own
    _gone(cloud, stacks, summary, deletions)
    assert len({f.id for f in cloud.deleted}) == len(cloud.deleted)  # nothing deleted twice


def test_a_run_killed_after_the_project_went_finishes(reclaimer, cloud, stacks, deployed):
    project, deletions = deployed
    stack_rm = stacks.remove

    def killed(stack: str, force: bool = False) -> None:
        raise Killed()

    stacks.remove = killed
    with pytest.raises(Killed):
        reclaimer().run(APP)
    assert deletions == [(project.name, 0)] and stacks.exists(STACK)
    stacks.remove = stack_rm
    summary = reclaimer().run(APP)
    assert [s.step for s in summary.steps] == ["destroy", "clients", "stack", "verify"]
    assert summary.reclaimed and not stacks.exists(STACK)


def test_a_failed_destroy_keeps_the_project_and_runs_again_after_the_sweep(reclaimer, cloud, stacks, deployed):
    project, deletions = deployed
    blocker = Found("port", "labelled-port", "made by hand with our labels", OURS)  # not in the stack
    cloud.items[project.id].append(blocker)  # Neutron refuses the stack's subnet and network while it is there
    summary = reclaimer().run(APP)
    destroys = [s for s in summary.steps if s.step == "destroy"]
    assert [d.status for d in destroys] == ["deferred", "done"] and "again, after the sweep" in destroys[1].detail
    assert "in use by port labelled-port" in destroys[0].detail
    _gone(cloud, stacks, summary, deletions)


def test_a_destroy_that_keeps_failing_keeps_project_and_stack(reclaimer, cloud, stacks, deployed):
    project, deletions = deployed
    cloud.broken["test-vol"] = "volume is busy"
    summary = reclaimer().run(APP)
    assert not summary.reclaimed and deletions == [] and project.name in cloud.projects
    [kept] = [s for s in summary.steps if s.step == "project"]
    assert kept.status == "skipped" and "still holds resources" in kept.detail
    assert stacks.exists(STACK) and any(r.id == "test-vol" for r in stacks.held(STACK))
    del cloud.broken["test-vol"]
    again = reclaimer().run(APP)  # the provider is still scoped to a living project: the destroy works
    _gone(cloud, stacks, again, deletions)


def _project_went_first(cloud, stacks, project) -> None:
    """What govcloud before issue 24 left: its sweep emptied the project and deleted it while
    the stack (whose destroy had failed) still held its resources."""
    cloud.items[project.id].clear()
    cloud.projects.pop(project.name)
    assert stacks.held(STACK)
    with pytest.raises(ExternalError, match="401"):
        stacks.destroy(STACK)
    stacks.calls.clear()


def test_a_stack_whose_project_went_first_is_verified_gone_and_forgotten(reclaimer, cloud, stacks, deployed):
    project, _ = deployed
    _project_went_first(cloud, stacks, project)
    held = len(stacks.held(STACK))
    summary = reclaimer().run(APP)
    forget = next(s for s in summary.steps if s.step == "forget")
    assert forget.status == "done" and forget.deleted == {"forgotten": held}
    assert summary.reclaimed and not stacks.exists(STACK)
    assert ("destroy", STACK) not in stacks.calls


def test_forgetting_refuses_what_is_still_in_the_cloud_or_cannot_be_verified(reclaimer, cloud, stacks, deployed):
    project, _ = deployed
    _project_went_first(cloud, stacks, project)
    cloud.items["elsewhere"] = [Found("server", "test-srv", "moved")]  # still there: an admin finds it by id
    cloud.unverifiable.add("test-vol")
    summary = reclaimer().run(APP)
    forget = next(s for s in summary.steps if s.step == "forget")
    failed = {f.name: f.error for f in forget.failures}
    assert forget.status == "failed" and not summary.reclaimed and stacks.exists(STACK)
    assert failed["openstack:compute/instance:Instance"] == "still in the cloud although its project is gone"
    assert "403 Forbidden" in failed["openstack:blockstorage/volume:Volume"]
    cloud.items.pop("elsewhere")
    cloud.unverifiable.clear()
    assert reclaimer().run(APP).reclaimed and not stacks.exists(STACK)


def test_dry_run_plans_the_emptying(reclaimer, cloud, stacks, deployed):
    summary = reclaimer().run(APP, dry_run=True)
    [empty] = [s for s in summary.steps if s.step == "empty"]
    assert empty.status == "planned" and empty.deleted["object"] == 5 and empty.deleted["security_group"] == 1
    assert cloud.deleted == [] and stacks.calls == []
