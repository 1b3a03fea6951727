"""Ledger at scale: 10,000 applications, 1,000,000 events; time ``deadlines --overdue`` and ``status``.

    python benchmarks/ledger_scale.py [--backend sqlite|postgres|both] [--apps N] [--events-per-app M]

Targets (2-core machine): ``deadlines --overdue`` < 1 s, ``status APP`` < 0.3 s, on both backends.
Each application gets a real timeline (submission, acceptance, review, test, trial, then change
cycles) built with the core's ``apply`` so the projection is exact; 10% of the applications end with
a change request long past its review deadline (overdue). Rows are bulk-loaded (executemany on
SQLite, COPY on PostgreSQL). Submissions carry the real manifest snapshot (social-security, ~3 KB);
change requests carry a small stand-in so the database stays a few hundred MB.
PostgreSQL: ``GOVCLOUD_TEST_POSTGRES_URL`` or the server of ``scripts/test-postgres``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from orchestrator.adapters.ledger import Ledger  # noqa: E402
from orchestrator.core import lifecycle as lc  # noqa: E402
from orchestrator.core.workdays import default_calendar  # noqa: E402
from orchestrator.core.yamlsource import parse, plain  # noqa: E402
from orchestrator.services.lifecycle import Lifecycle  # noqa: E402

AT = dt.datetime(2026, 11, 25, 9, 0)
COLUMNS = (
    "application",
    "sequence",
    "type",
    "actor",
    "actor_role",
    "actor_unit",
    "actor_source",
    "stated_at",
    "recorded_at",
    "digest",
    "environment",
    "reason",
    "payload",
)
OFFICE, PROVIDER = ("zhang", lc.EGOV, "egov"), ("ops", lc.PROVIDER, None)


def timeline(app: str, unit: str, start: dt.datetime, length: int, manifest: dict) -> list[lc.Event]:
    """``length`` events of one application: to trial, then change cycles; ends with a change request."""
    steps: list[tuple] = [
        ("submitted", (f"{unit}-owner", lc.UNIT, unit), None, {"unit": unit, "manifest": manifest, "materials": {}}),
        ("accepted", OFFICE, None, {}),
        ("reviewed", OFFICE, None, {}),
        ("approved", OFFICE, "test", {}),
        ("provisioned", PROVIDER, "test", {}),
        ("test-passed", OFFICE, None, {}),
        ("approved", OFFICE, "trial", {}),
        ("provisioned", PROVIDER, "trial", {}),
        ("test-expired", PROVIDER, "test", {}),
    ]
    cycle = 0
    while len(steps) < length - 1:
        cycle += 1
        steps.append(
            (
                "change-requested",
                (f"{unit}-owner", lc.UNIT, unit),
                None,
                {"unit": unit, "kind": "minor", "manifest": {"metadata": {"id": app}, "revision": cycle}},
            )
        )
        steps.append(("change-approved", OFFICE, None, {}))
        steps.append(("provisioned", PROVIDER, "trial", {}))
    steps = steps[: length - 1]
    steps.append(("change-requested", (f"{unit}-owner", lc.UNIT, unit), None, {"unit": unit, "kind": "minor"}))
    events, when, digest = [], start, f"sha256:{app}-0"
    for seq, (kind, (name, role, actor_unit), env, payload) in enumerate(steps, 1):
        if kind == "change-requested":
            digest = f"sha256:{app}-{seq}"
        events.append(
            lc.Event(
                app, seq, kind, name, role, when, actor_unit=actor_unit, digest=digest, environment=env, payload=payload
            )
        )
        when += dt.timedelta(hours=7) if kind != "test-passed" else dt.timedelta(days=20)
    return events


def generate(apps: int, per_app: int):
    """Yield (events, state) per application."""
    rng = random.Random(5)
    manifest = plain(parse((ROOT / "examples/manifests/social-security.yaml").read_bytes()))
    span = dt.timedelta(hours=7) * per_app + dt.timedelta(days=20)
    for i in range(apps):
        app = f"app-{i:05d}"
        back = dt.timedelta(days=rng.randint(60, 600)) if i % 10 == 0 else dt.timedelta(hours=rng.randint(1, 40))
        events = timeline(app, f"unit-{i % 60:02d}", AT - span - back, per_app, manifest)
        state = lc.fold(events)
        yield events, state


def load(ledger: Ledger, apps: int, per_app: int) -> float:
    calendar, recorded = default_calendar(), dt.datetime(2026, 11, 25, 1, 0)
    started = time.perf_counter()
    with ledger.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM events"))
        conn.execute(sa.text("DELETE FROM applications"))
    raw = ledger.engine.raw_connection()
    try:
        postgres = ledger.engine.dialect.name == "postgresql"
        cursor = raw.cursor()
        batch, projections = [], []

        def flush() -> None:
            if postgres:
                with cursor.copy(f"COPY events ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                    for row in batch:
                        copy.write_row(row)
            else:
                cursor.executemany(
                    f"INSERT INTO events ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                    [(*r[:7], r[7].isoformat(" "), r[8].isoformat(" "), *r[9:]) for r in batch],
                )
            batch.clear()

        for events, state in generate(apps, per_app):
            for e in events:
                batch.append(
                    (
                        e.application,
                        e.sequence,
                        e.type,
                        e.actor,
                        e.actor_role,
                        e.actor_unit,
                        e.actor_source,
                        e.at,
                        recorded,
                        e.digest,
                        e.environment,
                        e.reason,
                        json.dumps(e.payload),
                    )
                )
            due = lc.next_due(state, calendar)
            projections.append(
                (
                    state.application,
                    state.unit,
                    state.state,
                    state.sequence,
                    due if postgres else (due.isoformat() if due else None),
                    json.dumps(state.as_dict()),
                )
            )
            if len(batch) >= 50_000:
                flush()
        flush()
        marks = "%s" if postgres else "?"
        cursor.executemany(
            f"INSERT INTO applications (application, unit, state, sequence, next_due, snapshot) "
            f"VALUES ({', '.join([marks] * 6)})",
            projections,
        )
        raw.commit()
        cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
    return time.perf_counter() - started


def timed(fn, repeat: int = 5) -> tuple[float, float]:
    """(first call, median of the following calls) in seconds."""
    first = time.perf_counter()
    fn()
    first = time.perf_counter() - first
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t)
    return first, statistics.median(runs)


def cli_time(url: str, *args: str) -> float:
    """Wall time of one ``govcloud`` process (interpreter start and imports included)."""
    env = dict(os.environ, GOVCLOUD_DATABASE_URL=url)
    exe = str(Path(sys.executable).with_name("govcloud"))
    t = time.perf_counter()
    subprocess.run([exe, *args, "--at", AT.isoformat(), "-o", "json"], env=env, check=True, capture_output=True)
    return time.perf_counter() - t


def bench(name: str, url: str, apps: int, per_app: int) -> dict:
    ledger = Ledger.open(url)
    seconds = load(ledger, apps, per_app)
    with ledger.engine.connect() as conn:
        count = conn.execute(sa.text("SELECT count(*) FROM events")).scalar()
    service = Lifecycle(ledger)
    overdue = service.deadlines(AT, overdue=True).found
    probe = f"app-{apps // 2:05d}"
    result = {
        "backend": name,
        "applications": apps,
        "events": count,
        "load_s": round(seconds, 1),
        "overdue_found": len(overdue),
        "deadlines_overdue_s": [round(x, 3) for x in timed(lambda: service.deadlines(AT, overdue=True))],
        "status_app_s": [round(x, 4) for x in timed(lambda: service.status(probe, AT))],
        "cli_deadlines_overdue_s": round(min(cli_time(url, "deadlines", "--overdue") for _ in range(3)), 3),
        "cli_status_app_s": round(min(cli_time(url, "app", "status", probe) for _ in range(3)), 3),
    }
    ledger.close()
    return result


def bench_database(url: str) -> str:
    """A ``govcloud_bench`` database on the same server, so the test database stays small."""
    admin = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = 'govcloud_bench'")).scalar():
            conn.execute(sa.text("CREATE DATABASE govcloud_bench"))
    admin.dispose()
    return sa.engine.make_url(url).set(database="govcloud_bench").render_as_string(hide_password=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--apps", type=int, default=10_000)
    parser.add_argument("--events-per-app", type=int, default=100)
    args = parser.parse_args()
    results = []
    if args.backend in ("sqlite", "both"):
        path = ROOT / ".cache" / "bench" / "ledger.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        results.append(bench("sqlite", f"sqlite:///{path}", args.apps, args.events_per_app))
        print(json.dumps(results[-1]), flush=True)
    if args.backend in ("postgres", "both"):
        url = (
            os.environ.get("GOVCLOUD_TEST_POSTGRES_URL")
            or subprocess.run(
                [str(ROOT / "scripts" / "test-postgres")], check=True, capture_output=True, text=True
            ).stdout.strip()
        )
        results.append(bench("postgres", bench_database(url), args.apps, args.events_per_app))
        print(json.dumps(results[-1]), flush=True)
    print("targets: deadlines --overdue < 1 s, status APP < 0.3 s; [first call, median of 5]")


if __name__ == "__main__":
    main()
