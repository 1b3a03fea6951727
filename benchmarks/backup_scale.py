"""Which backups are due for 1,000 applications x 3 live environments.

    .venv/bin/python benchmarks/backup_scale.py [--apps 1000] [--runs 5] [--distinct]

A SQLite ledger where every application is in production (test, trial and production live), with
the real social-security manifest (each application's own schedule, one of five cron expressions)
and a backup taken of every environment the night before (``--distinct``: every application its own
schedule, so no two share a computed slot: the worst case). Times what ``govcloud backup run`` does
before it touches the cloud: read the live environments and their policies from the ledger, the
last backup of each from the backup record, and decide (croniter) which are due. Target (issue 20):
under 2 s.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from orchestrator.core import lifecycle as lc  # noqa: E402

TARGET_S = 2.0
SCHEDULES = ("0 1 * * *", "30 2 * * *", "0 */6 * * *", "15 3 * * 1-5", "0 0 1,15 * *")
AT = dt.datetime(2026, 11, 20, 2, 40)  # Beijing


def build(url: str, apps: int, distinct: bool = False) -> None:
    import sqlalchemy as sa

    from orchestrator.adapters.backuplog import BackupLog
    from orchestrator.adapters.ledger import EventRow, Ledger, bulk_rows
    from orchestrator.core.backups import TAKEN, Entry
    from orchestrator.core.yamlsource import parse, plain

    base = plain(parse((ROOT / "examples" / "manifests" / "social-security.yaml").read_bytes()))
    office, provider = ("zhang", lc.EGOV, "egov"), ("ops", lc.PROVIDER, None)
    events, entries = [], []
    for i in range(apps):
        app, unit = f"app-{i:04d}", f"u{i % 100:03d}"
        data = copy.deepcopy(base)
        data["metadata"]["id"], data["metadata"]["unit"]["id"] = app, unit
        data["spec"]["backup"]["schedule"] = (
            f"{i % 60} {i // 60 % 24} * * *" if distinct else SCHEDULES[i % len(SCHEDULES)]
        )
        start = dt.datetime(2026, 6, 1, 9) + dt.timedelta(minutes=i)
        steps = [
            ("submitted", (f"{unit}-owner", lc.UNIT, unit), None, {"unit": unit, "manifest": data, "materials": {}}),
            ("accepted", office, None, {}),
            ("reviewed", office, None, {}),
            ("approved", office, "test", {}),
            ("provisioned", provider, "test", {}),
            ("test-passed", office, None, {}),
            ("approved", office, "trial", {}),
            ("provisioned", provider, "trial", {}),
            ("approved", office, "production", {}),
            ("provisioned", provider, "production", {}),
        ]
        for n, (kind, actor, env, payload) in enumerate(steps, start=1):
            at = start + dt.timedelta(days=4 * n if kind != "provisioned" or env != "production" else 80)
            events.append(
                lc.Event(
                    app,
                    n,
                    kind,
                    actor[0],
                    actor[1],
                    at,
                    actor_unit=actor[2],
                    digest="sha256:" + "0" * 64 if kind in ("submitted", "approved", "provisioned") else None,
                    environment=env,
                    payload=payload,
                )
            )
        for env in ("test", "trial", "production"):
            entries.append(
                Entry(
                    app,
                    env,
                    TAKEN,
                    "volume-snapshot",
                    f"s-{i}-{env}",
                    AT - dt.timedelta(hours=20),
                    "ops",
                    started=AT - dt.timedelta(hours=20),
                )
            )
    ledger = Ledger.open(url)
    with ledger.engine.begin() as conn:
        conn.execute(sa.insert(EventRow), list(bulk_rows(events, AT)))
    from orchestrator.services.lifecycle import project

    ledger.rebuild(project)
    BackupLog(ledger.engine).record(entries)
    ledger.close()


def decide(url: str) -> tuple[float, int, int]:
    """(seconds, environments decided, due) of one decision over the whole ledger."""
    from orchestrator.adapters.backuplog import BackupLog
    from orchestrator.adapters.ledger import Ledger
    from orchestrator.services.backup import due, live_environments

    ledger = Ledger.open(url)
    started = time.perf_counter()
    lives = live_environments(ledger)
    decisions = due(lives, BackupLog(ledger.engine).last_taken([x.application for x in lives]), AT)
    seconds = time.perf_counter() - started
    ledger.close()
    return seconds, len(decisions), sum(d.due for d in decisions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--apps", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--distinct", action="store_true", help="a schedule of its own for every application")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/ledger.db"
        t0 = time.perf_counter()
        build(url, args.apps, args.distinct)
        print(f"built {args.apps} applications x 3 environments in {time.perf_counter() - t0:.1f} s")
        times = []
        from orchestrator.core.backups import last_slot

        for _ in range(args.runs):
            last_slot.cache_clear()  # each run as a fresh process decides
            seconds, count, due_now = decide(url)
            times.append(seconds)
        assert count == 3 * args.apps, count
        median = statistics.median(times)
        print(
            f"due decision: {count} environments, {due_now} due at {AT:%Y-%m-%d %H:%M} Beijing; "
            f"median {median:.3f} s (best {min(times):.3f}, worst {max(times):.3f}) over {args.runs} runs; "
            f"target {TARGET_S:.0f} s: {'met' if median < TARGET_S else 'MISSED'}"
        )


if __name__ == "__main__":
    main()
