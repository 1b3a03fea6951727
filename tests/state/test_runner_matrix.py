"""A matrix of runners over one merge: every affected stack is applied once, in order per application."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest

from orchestrator.adapters.ledger import Ledger
from orchestrator.core.gitops import shard_of
from orchestrator.services import gitops_apply
from orchestrator.services.lifecycle import Lifecycle
from tests.gitops.conftest import GitRepo, example
from tests.gitops.test_apply import OPS, FakeEngine, approve_test, at

APPS = 30


def _runner(repo: Path, base: str, url: str, shard: tuple[int, int], log: Path, barrier) -> None:
    ledger = Ledger.open(url)
    engine = FakeEngine(ledger, delay=0.01)
    barrier.wait(timeout=60)
    report = gitops_apply.apply(repo, base, actor=OPS, ledger=ledger, run=engine, at=at(10), shard=shard, wait=30)
    log.write_text(
        json.dumps({"calls": [c[1] for c in engine.calls], "results": [[r.stack, r.status] for r in report.results]})
    )
    ledger.close()


def test_a_forked_runner_is_a_holder_of_its_own() -> None:
    """The runners below are forks of this process: had they inherited its holder, all three would
    have held every stack at once (the ledger lets a holder take its own lease again)."""
    from orchestrator.services.stacklock import lease_holder

    ours = lease_holder()
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=lambda: queue.put(lease_holder()))
    child.start()
    theirs = queue.get(timeout=30)
    child.join(timeout=30)
    assert theirs != ours and f" pid {child.pid} " in theirs


def test_shards_split_applications_whole_and_cover_each_once() -> None:
    apps = [f"permit-{n}" for n in range(300)]
    shares = [[a for a in apps if shard_of(a, 3) == i] for i in (1, 2, 3)]
    assert sorted(a for share in shares for a in share) == sorted(apps)
    assert all(60 <= len(share) <= 140 for share in shares), [len(s) for s in shares]
    assert {shard_of("permit-7", 1)} == {1}


@pytest.mark.parametrize("sharded", [True, False], ids=["sharded", "all-runners-on-all"])
def test_three_runners_over_thirty_applications_run_the_engine_once_per_stack(
    database_url: str, tmp_path: Path, sharded: bool
) -> None:
    """Sharded, each runner takes its share; unsharded (a misconfigured matrix), the stack lease and
    the look at the ledger after taking it still keep every stack to one engine run."""
    url = database_url
    ledger = Ledger.open(url)
    lifecycle = Lifecycle(ledger)
    repo = GitRepo(tmp_path / "repo")
    repo.write("manifests/.keep", "")
    repo.commit("empty")
    base = repo.git("rev-parse", "HEAD")
    for n in range(APPS):
        repo.write(
            f"manifests/permit-{n}.yaml", example("permit-prototype").replace("id: permit-prototype", f"id: permit-{n}")
        )
    repo.commit("thirty prototypes")
    for n in range(APPS):
        approve_test(lifecycle, repo.path / f"manifests/permit-{n}.yaml", "zjj")
    ledger.close()

    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(3)
    logs = [tmp_path / f"runner-{i}.json" for i in (1, 2, 3)]
    procs = [
        ctx.Process(target=_runner, args=(repo.path, base, url, (i, 3) if sharded else (1, 1), logs[i - 1], barrier))
        for i in (1, 2, 3)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    ran = [json.loads(log.read_text()) for log in logs]
    calls = [stack for r in ran for stack in r["calls"]]
    assert sorted(calls) == sorted(f"zjj.permit-{n}.test" for n in range(APPS))  # each stack's engine once
    if sharded:
        assert all(len(r["calls"]) > 0 for r in ran)  # every runner had a share
    assert all(status == "applied" for r in ran for _, status in r["results"])
    ledger = Ledger.open(url)
    assert all(Lifecycle(ledger).state(f"permit-{n}").provisioned.get("test") for n in range(APPS))
