"""The monthly report for 100 units and 1,000 applications: gather, compute, render HTML with charts.

Target: under 10 s (2-core machine). The ledger (SQLite) holds a real timeline per application,
built from the example manifests with their ids replaced (1,000 distinct manifests, each validated
once by the report): to trial in September, production in October for a quarter of them, in
November a change for those and a termination for another quarter. The cloud is a fake that
answers every live project with a few servers, volumes and containers (some idle), as the cloud
adapter would. Measured: ``services.report.monthly`` + ``render(html, zh)``, best of 3.

    .venv/bin/python benchmarks/report_scale.py [--apps N] [--units N] [--repeat N]
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from orchestrator.core import lifecycle as lc  # noqa: E402
from orchestrator.core.capacity import Measure  # noqa: E402
from orchestrator.core.usage import GIB, ContainerUsage, ProjectUsage, ServerUsage, VolumeUsage  # noqa: E402

TARGET_S = 10.0
MONTH = "2026-11"
OFFICE, PROVIDER = ("zhang", lc.EGOV, "egov"), ("ops", lc.PROVIDER, None)
KINDS = ("citizen-portal", "open-data-platform", "permit-prototype", "social-security")


def manifests() -> dict[str, dict]:
    from orchestrator.core.yamlsource import parse, plain

    return {k: plain(parse((ROOT / "examples" / "manifests" / f"{k}.yaml").read_bytes())) for k in KINDS}


def timeline(i: int, units: int, bases: dict[str, dict]) -> list[lc.Event]:
    kind = KINDS[i % len(KINDS)]
    unit, app = f"u{i % units:03d}", f"app-{i:04d}"
    data = copy.deepcopy(bases[kind])
    data["metadata"]["id"], data["metadata"]["unit"]["id"] = app, unit
    digest = "sha256:" + hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
    owner = (f"{unit}-owner", lc.UNIT, unit)
    start = dt.datetime(2026, 9, 1, 9) + dt.timedelta(days=i % 20, minutes=i)
    steps = [
        (0, "submitted", owner, None, {"unit": unit, "manifest": data, "materials": {}}),
        (1, "accepted", OFFICE, None, {}),
        (2, "reviewed", OFFICE, None, {}),
        (3, "approved", OFFICE, "test", {}),
        (4, "provisioned", PROVIDER, "test", {}),
        (10, "test-passed", OFFICE, None, {}),
    ]
    if kind == "permit-prototype":  # test only; terminated in November
        steps += [
            (19, "test-expired", PROVIDER, "test", {}),
            (70, "termination-requested", owner, None, {}),
            (71, "backup-confirmed", owner, None, {}),
            (73, "termination-approved", OFFICE, None, {}),
            (77, "reclaimed", PROVIDER, None, {}),
        ]
    else:
        steps += [
            (11, "approved", OFFICE, "trial", {}),
            (12, "provisioned", PROVIDER, "trial", {}),
            (19, "test-expired", PROVIDER, "test", {}),
        ]
    if kind == "social-security":  # production in October, a minor change in November
        steps += [
            (43, "approved", OFFICE, "production", {}),
            (44, "provisioned", PROVIDER, "production", {}),
            (66, "change-requested", owner, None, {"unit": unit, "kind": "minor", "manifest": data}),
            (69, "change-approved", OFFICE, None, {}),
            (71, "provisioned", PROVIDER, "trial", {}),
            (71.1, "provisioned", PROVIDER, "production", {}),
        ]
    return [
        lc.Event(
            app,
            n,
            kind_,
            actor[0],
            actor[1],
            start + dt.timedelta(days=day),
            actor_unit=actor[2],
            digest=digest if kind_ in ("submitted", "approved", "provisioned", "change-requested") else None,
            environment=env,
            payload=payload,
        )
        for n, (day, kind_, actor, env, payload) in enumerate(steps, start=1)
    ]


def build(url: str, apps: int, units: int) -> None:
    import sqlalchemy as sa

    from orchestrator.adapters.ledger import EventRow, Ledger, bulk_rows

    bases = manifests()
    events = [e for i in range(apps) for e in timeline(i, units, bases)]
    ledger = Ledger.open(url)
    with ledger.engine.begin() as conn:
        conn.execute(sa.insert(EventRow), list(bulk_rows(events, dt.datetime(2026, 11, 30))))
    ledger.close()


class FakeCloud:
    """Every live project: three servers (one shut off since September), three volumes (one
    unattached since September), two containers (one empty)."""

    name = "bench"

    def project_usage(self, project: str) -> ProjectUsage:
        sept, recent = dt.datetime(2026, 9, 5), dt.datetime(2026, 11, 2)
        return ProjectUsage(
            project,
            servers=(
                ServerUsage("a-1", "ACTIVE", recent, 2, 4),
                ServerUsage("a-2", "ACTIVE", recent, 2, 4),
                ServerUsage("a-3", "SHUTOFF", sept, 8, 16),
            ),
            volumes=(
                VolumeUsage("d-1", 40, True, recent),
                VolumeUsage("d-2", 40, True, recent),
                VolumeUsage("d-3", 200, False, sept),
            ),
            containers=(ContainerUsage("c-1", 100, 3 * GIB), ContainerUsage("c-2", 0, 0)),
        )

    def capacity(self) -> list[Measure]:
        return [
            Measure("compute vcpu", 7400, 10000, "vCPU", "placement"),
            Measure("compute ram", 9000000, 20000000, "MB", "placement"),
            Measure("block storage", 410000, 500000, "GB", "cinder pools"),
        ]


def run(url: str, unit_count: int) -> tuple[float, float, float, int, int]:
    """(wall, CPU, CPU of the figures alone, applications, HTML size) of one report."""
    from orchestrator.adapters.ledger import Ledger
    from orchestrator.services import quotas, report

    wall, cpu = time.perf_counter(), time.process_time()
    ledger = Ledger.open(url)
    figures = report.monthly(ledger, MONTH, quotas.policy(), cloud=FakeCloud())
    gathered = time.process_time() - cpu
    html = report.render(figures, "html", "zh")
    ledger.close()
    apps = sum(len(u.applications) for u in figures.units)
    assert len(figures.units) == unit_count and html.count("data:image/png;base64,") == 3
    return time.perf_counter() - wall, time.process_time() - cpu, gathered, apps, len(html)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--apps", type=int, default=1000)
    parser.add_argument("--units", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'ledger.db'}"
        started = time.perf_counter()
        build(url, args.apps, args.units)
        print(f"ledger: {args.apps} applications in {args.units} units, built in {time.perf_counter() - started:.1f} s")
        runs = [run(url, args.units) for _ in range(args.repeat)]
    wall, cpu, gathered, apps, size = min(runs)
    verdict = "ok" if wall < TARGET_S else "SLOW"
    load = os.getloadavg()[0]
    print(
        f"report monthly {MONTH} (html, zh, 3 charts): {apps} applications, {size / 1e6:.1f} MB; "
        f"best of {args.repeat}: {wall:.2f} s wall, {cpu:.2f} s CPU ({gathered:.2f} s gathering and figures, "
        f"{cpu - gathered:.2f} s rendering); all: {', '.join(f'{r[0]:.2f}' for r in runs)} s; "
        f"load average {load:.1f} on {os.cpu_count()} cores  [target < {TARGET_S:.0f} s: {verdict}]"
    )


if __name__ == "__main__":
    main()
