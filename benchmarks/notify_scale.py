"""Notices at scale: 10,000 applications whose deadlines all fall due on one day.

    python benchmarks/notify_scale.py [--backend sqlite|postgres] [--apps N] [--units U] [--scan-only]

Every application was submitted on Mon 2 Mar 2026; its accept-or-reject deadline (Art. 12) is
Thu 5 Mar for all. The scan runs on Fri 6 Mar: each deadline is missed, so each application
gets a notice for the office, its unit's address and its two contacts (4 x N rows). Targets
(2-core machine): the scan queues them in under 10 s; a second scan queues nothing; delivery to
a local SMTP server (aiosmtpd, in this process) sends exactly one digest per recipient
(1 office + U units + 2U contacts).
PostgreSQL: a fresh database ``notify_scale`` on the server of ``GOVCLOUD_TEST_POSTGRES_URL`` or
of ``scripts/test-postgres``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from orchestrator.adapters.ledger import ApplicationRow, EventRow, Ledger, bulk_rows  # noqa: E402
from orchestrator.core import lifecycle as lc  # noqa: E402
from orchestrator.core.workdays import default_calendar  # noqa: E402
from orchestrator.services.notices import Notices  # noqa: E402
from orchestrator.settings_notices import NoticeSettings  # noqa: E402

SUBMITTED = dt.datetime(2026, 3, 2, 10, 0)
SCAN_AT = dt.datetime(2026, 3, 6, 9, 0)  # Beijing
SEND_AT = dt.datetime(2026, 3, 6, 1, 5)  # UTC


def load(ledger: Ledger, apps: int, units: int) -> None:
    """One submission per application, bulk-inserted with its projection."""
    calendar, events, projections = default_calendar(), [], []
    for i in range(apps):
        app, unit = f"app-{i:05d}", f"unit-{i % units:03d}"
        manifest = {
            "metadata": {
                "id": app,
                "name": f"系统 {i}",
                "unit": {"id": unit, "name": unit},
                "contacts": [
                    {"name": "owner", "email": f"owner@{unit}.example.gov.cn"},
                    {"name": "it", "role": "operations", "email": f"it@{unit}.example.gov.cn"},
                ],
            }
        }
        event = lc.Event(
            app,
            1,
            "submitted",
            f"{unit}-owner",
            lc.UNIT,
            SUBMITTED,
            actor_unit=unit,
            digest=f"sha256:{i:064d}",
            payload={"unit": unit, "manifest": manifest, "materials": {}},
        )
        state = lc.apply(lc.AppState(app), event)
        events.append(event)
        projections.append(
            dict(
                application=app,
                unit=unit,
                state=state.state,
                sequence=1,
                next_due=lc.next_due(state, calendar),
                snapshot=state.as_dict(),
            )
        )
    with ledger.engine.begin() as conn:
        conn.execute(sa.insert(EventRow), list(bulk_rows(events, dt.datetime(2026, 3, 2, 2, 0))))
        conn.execute(sa.insert(ApplicationRow), projections)


def smtp_server():
    """aiosmtpd on 127.0.0.1, counting messages per recipient."""
    from aiosmtpd.controller import Controller

    received: Counter[str] = Counter()

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            received.update(envelope.rcpt_tos)
            return "250 OK"

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    return controller, port, received


def timed(label: str, work):
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    print(f"{label:<34} {time.perf_counter() - wall:7.2f} s wall {time.process_time() - cpu:7.2f} s CPU  {result}")
    return result


def postgres_url() -> str:
    """A fresh database ``notify_scale`` on that server (never the given database itself)."""
    url = os.environ.get("GOVCLOUD_TEST_POSTGRES_URL")
    if not url:
        done = subprocess.run([str(ROOT / "scripts" / "test-postgres")], capture_output=True, text=True, check=True)
        url = done.stdout.strip().splitlines()[-1]
    base = sa.make_url(url)
    engine = sa.create_engine(base.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text('DROP DATABASE IF EXISTS "notify_scale"'))
        conn.execute(sa.text('CREATE DATABASE "notify_scale"'))
    engine.dispose()
    return base.set(database="notify_scale").render_as_string(hide_password=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--apps", type=int, default=10_000)
    parser.add_argument("--units", type=int, default=50)
    parser.add_argument("--scan-only", action="store_true", help="stop after the two scans (no delivery)")
    args = parser.parse_args()
    controller, port, received = smtp_server()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/ledger.db" if args.backend == "sqlite" else postgres_url()
        ledger = Ledger.open(url)
        settings = NoticeSettings.model_validate(
            {
                "office": ["email:office@egov.example.gov.cn"],
                "units": {f"unit-{u:03d}": [f"email:desk@unit-{u:03d}.example.gov.cn"] for u in range(args.units)},
                "email": {
                    "host": "127.0.0.1",
                    "port": port,
                    "security": "none",
                    "from": "govcloud@egov.example.gov.cn",
                    "perMinute": 10_000,
                },
            }
        )
        print(f"{args.apps} applications, {args.units} units, {args.backend}, {os.cpu_count()} cores")
        timed("load ledger", lambda: load(ledger, args.apps, args.units))
        notices = Notices(ledger, settings)
        first = timed("scan (queue every notice)", lambda: notices.scan(SCAN_AT))
        again = timed("scan again (all queued already)", lambda: notices.scan(SCAN_AT))
        assert first["queued"] == 4 * args.apps and again["queued"] == 0
        if args.scan_only:
            ledger.close()
            controller.stop()
            return
        report = timed(
            "deliver", lambda: {k: v for k, v in notices.deliver(SEND_AT).as_dict().items() if k != "messages"}
        )
        recipients = 1 + 3 * args.units
        print(
            f"digests received {sum(received.values())} by {len(received)} recipients "
            f"(expected {recipients}, one each: {set(received.values()) == {1}}); "
            f"outbox {notices.outbox.counts()}"
        )
        print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
        assert report["sent"] == recipients == len(received)
        ledger.close()
    controller.stop()


if __name__ == "__main__":
    main()
