"""The portal at scale: the ledger of ledger_scale.py on PostgreSQL, ``govcloud serve`` with 4
workers, 20 concurrent clients for 60 s over the office queue page, ``GET /api/v1/applications?state=``
and one application's page.

    python benchmarks/portal_scale.py [--apps N] [--events-per-app M] [--seconds S] [--clients C]
                                      [--workers W] [--reuse]

Target: p95 under 150 ms and no error. The portal runs with ``--dev-insecure-local-auth`` (the
clients sign in on the development form; token verification is not what is measured) and a shared
session key, so any worker serves any client. PostgreSQL: ``GOVCLOUD_TEST_POSTGRES_URL`` or the
server of ``scripts/test-postgres``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

from ledger_scale import bench_database, load  # noqa: E402

from orchestrator.adapters.ledger import Ledger  # noqa: E402


def start_portal(url: str, workers: int) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, GOVCLOUD_DATABASE_URL=url, GOVCLOUD_CONFIG=str(ROOT / "govcloud.yaml"),
               GOVCLOUD_PORTAL_SESSION_KEY="b" * 40)
    exe = str(Path(sys.executable).with_name("govcloud"))
    server = subprocess.Popen([exe, "serve", "--dev-insecure-local-auth", "--port", str(port), "--workers",
                               str(workers)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(base + "/login", timeout=1)
            return server, base
        except httpx.HTTPError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("the portal did not start")


async def client(base: str, probe: str, until: float, results: dict) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        token = re.search(r'name="csrf" value="([^"]+)"', (await http.get("/login")).text).group(1)
        await http.post("/login", data={"csrf": token, "name": "zhang", "role": "egov-office", "unit": "egov"})
        api = {"X-Govcloud-As": "zhang", "X-Govcloud-Role": "egov-office", "X-Govcloud-Unit": "egov"}
        targets = [("queue page", "/queue", {}), ("api list", "/api/v1/applications?state=change-requested", api),
                   ("application page", f"/applications/{probe}", {})]
        i = 0
        while time.perf_counter() < until:
            name, path, headers = targets[i % len(targets)]
            i += 1
            started = time.perf_counter()
            try:
                answer = await http.get(path, headers=headers)
                ok = answer.status_code == 200
            except httpx.HTTPError:
                ok = False
            results.setdefault(name, []).append(time.perf_counter() - started)
            if not ok:
                results["errors"] = results.get("errors", 0) + 1


def percentiles(samples: list[float]) -> dict:
    cuts = statistics.quantiles(samples, n=100)
    return {"n": len(samples), "p50_ms": round(cuts[49] * 1000, 1), "p95_ms": round(cuts[94] * 1000, 1),
            "p99_ms": round(cuts[98] * 1000, 1)}


async def run(base: str, probe: str, clients: int, seconds: float) -> dict:
    results: dict = {}
    until = time.perf_counter() + seconds
    await asyncio.gather(*(client(base, probe, until, results) for _ in range(clients)))
    every = [x for k, v in results.items() if k != "errors" for x in v]
    return {"errors": results.get("errors", 0), "requests_per_s": round(len(every) / seconds, 1),
            "all": percentiles(every), **{k: percentiles(v) for k, v in results.items() if k != "errors"}}


def sizes(ledger: Ledger) -> tuple[int, int]:
    import sqlalchemy as sa

    with ledger.engine.connect() as conn:
        return (conn.execute(sa.text("SELECT count(*) FROM applications")).scalar_one(),
                conn.execute(sa.text("SELECT count(*) FROM events")).scalar_one())


def vacuum(ledger: Ledger) -> None:
    """What autovacuum does to a table after a bulk load: statistics and the visibility map (the
    count of ``?state=`` is then an index-only scan)."""
    with ledger.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE applications")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--apps", type=int, default=10_000)
    parser.add_argument("--events-per-app", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--reuse", action="store_true", help="keep a ledger of this size loaded by an earlier run")
    args = parser.parse_args()
    url = os.environ.get("GOVCLOUD_TEST_POSTGRES_URL") or subprocess.run(
        [str(ROOT / "scripts" / "test-postgres")], check=True, capture_output=True, text=True).stdout.strip()
    url = bench_database(url)
    ledger = Ledger.open(url)  # migrated to the newest schema (its indexes) before the load
    loaded = 0.0 if args.reuse and sizes(ledger) == (args.apps, args.apps * args.events_per_app) else load(
        ledger, args.apps, args.events_per_app)
    vacuum(ledger)
    ledger.close()
    server, base = start_portal(url, args.workers)
    before = os.getloadavg()[0]
    try:
        result = asyncio.run(run(base, f"app-{args.apps // 2:05d}", args.clients, args.seconds))
    finally:
        server.terminate()
        server.wait(30)
    print(json.dumps({"applications": args.apps, "events": args.apps * args.events_per_app, "load_s": round(loaded, 1),
                      "workers": args.workers, "clients": args.clients, "seconds": args.seconds,
                      "load_average_1m": [round(before, 1), round(os.getloadavg()[0], 1)], **result}, indent=2))
    print("target: p95 < 150 ms, no error")


if __name__ == "__main__":
    main()
