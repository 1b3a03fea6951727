"""The decision part of ``govcloud drift`` at scale (target: 3,000 stacks, 1% drifting, under 5 s).

What is timed is what govcloud decides, not what the engine and the cloud take to answer: which
of 3,000 live environments a run checks (:func:`orchestrator.core.drift.due`: 30 whose last up
failed are left out, a third were checked less than a day ago), then, for every stack checked,
its findings judged against the findings on record by fingerprint and against 200 ignore rules
(:func:`orchestrator.core.drift.reconcile`). 1% of the stacks drift with 4 differences each (one of
them a rule opened by hand); half of those are on record already, a quarter hidden by a rule in
force, and every stack has 2 resolved findings on record. Runs 5 times, prints the median and
worst; exit 1 when the median misses the target.

``--ledger`` also times the same run against a SQLite ledger (what ``govcloud drift`` reads and
writes per stack: its findings on record, then one transaction for the run), for information.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time

from orchestrator.core import drift as dr

TARGET = 5.0


def world(stacks: int, share: float) -> tuple[list, list, dict, dict, dict, list]:
    now = dt.datetime(2026, 12, 5, 9, 0)
    live = [
        (f"app-{i:05d}", env, f"u{i % 100:03d}.app-{i:05d}.{env}")
        for i in range(stacks // 3)
        for env in ("test", "trial", "production")
    ][:stacks]
    drifting = {stack for _, _, stack in live[50 :: int(1 / share)]}
    failed = [(app, env) for app, env, _ in live[::100]]
    checked = {stack: now - dt.timedelta(hours=3) for _, _, stack in live[1::3] if stack not in drifting}
    found, recorded = {}, {}
    for app, _, stack in live:
        gone = [
            dr.Finding(
                stack,
                f"{app}-web",
                "openstack:networking/secGroup:SecGroup",
                "rules",
                None,
                f"ingress tcp {p}-{p} from 0.0.0.0/0 (IPv4)",
            )
            for p in (1000, 1001)
        ]
        recorded[stack] = [dr.Recorded(f, dr.OPEN, now - dt.timedelta(days=3)) for f in gone]
        if stack in drifting:
            now_found = [
                dr.Finding(
                    stack, f"{app}-app-{n}", "openstack:compute/instance:Instance", "flavorName", "g.2c4g", "g.4c8g"
                )
                for n in range(3)
            ]
            now_found.append(
                dr.Finding(
                    stack,
                    f"{app}-web",
                    "openstack:networking/secGroup:SecGroup",
                    "rules",
                    None,
                    "ingress tcp 22-22 from 0.0.0.0/0 (IPv4)",
                )
            )
            found[stack] = now_found
            recorded[stack] += [dr.Recorded(f, dr.OPEN, now - dt.timedelta(days=1)) for f in now_found[:2]]
    rules = [
        dr.IgnoreRule(f"app-{i * 7:05d}", "*-web", "ops", "accepted", dt.date(2027, 1, 1), "rules") for i in range(200)
    ]
    return live, failed, checked, found, recorded, rules


def decide(live, failed, checked, found, recorded, rules) -> tuple[int, int]:
    now = dt.datetime(2026, 12, 5, 9, 0)
    chosen = dr.due(live, failed, checked, now)
    new = 0
    for app, env, stack in chosen:
        result = dr.reconcile(found.get(stack, []), recorded[stack], rules, app, env, now.date())
        new += len(result.new)
    return len(chosen), new


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stacks", type=int, default=3000)
    parser.add_argument("--drifting", type=float, default=0.01, help="share of the stacks that drift")
    parser.add_argument("--ledger", action="store_true", help="also time the record in a SQLite ledger")
    args = parser.parse_args()
    data = world(args.stacks, args.drifting)
    times = []
    for _ in range(5):
        start = time.perf_counter()
        chosen, new = decide(*data)
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    print(
        f"drift decisions for {args.stacks} stacks ({len(data[3])} drifting): {chosen} checked, {new} new findings; "
        f"median {median:.3f} s, worst {max(times):.3f} s (target {TARGET} s: {'met' if median < TARGET else 'MISSED'})"
    )
    if args.ledger:
        ledgered(*data)
    return 0 if median < TARGET else 1


def ledgered(live, failed, checked, found, recorded, rules) -> None:
    import tempfile
    from pathlib import Path

    from orchestrator.adapters.driftlog import DriftLog
    from orchestrator.adapters.ledger import Ledger

    now = dt.datetime(2026, 12, 5, 9, 0)
    with tempfile.TemporaryDirectory() as folder:
        ledger = Ledger.open(f"sqlite:///{Path(folder) / 'ledger.db'}")
        log = DriftLog(ledger.engine)
        chosen = dr.due(live, failed, checked, now)
        for app, env, stack in chosen:  # the record a day before: the drifting stacks' first findings
            log.record(
                app,
                env,
                stack,
                dr.reconcile(found.get(stack, [])[:2], [], [], app, env, now.date()),
                now - dt.timedelta(days=1),
                now - dt.timedelta(days=1),
            )
        start = time.perf_counter()
        for app, env, stack in dr.due(live, failed, log.last_checked(), now):
            log.record(
                app,
                env,
                stack,
                dr.reconcile(found.get(stack, []), log.recorded(stack), rules, app, env, now.date()),
                now,
                now,
            )
        took = time.perf_counter() - start
        ledger.close()
    print(f"with the SQLite ledger (read the record, write the run, per stack): {len(chosen)} stacks in {took:.2f} s")


if __name__ == "__main__":
    sys.exit(main())
