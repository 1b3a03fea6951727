"""The portal at scale: the ledger of ledger_scale.py on PostgreSQL, ``govcloud serve`` with 4
workers, 20 concurrent clients for 60 s over the office queue page, ``GET /api/v1/applications?state=``
and one application's page.

    python benchmarks/portal_scale.py [--apps N] [--events-per-app M] [--seconds S] [--clients C]
                                      [--workers W] [--client lean|httpx] [--ramp S] [--changes S] [--reuse]

Target: p95 under 150 ms and no error. The portal runs with ``--dev-insecure-local-auth`` (the
clients sign in on the development form; token verification is not what is measured) and a shared
session key, so any worker serves any client. PostgreSQL: ``GOVCLOUD_TEST_POSTGRES_URL`` or the
server of ``scripts/test-postgres``. Besides latencies: CPU per request of the portal, PostgreSQL,
the clients and the whole machine, the clients' connections per worker, PostgreSQL sessions opened.
The workers keep what they read while the ledger's version stays the same; ``--changes S`` makes a
new version every S seconds, as recorded steps do, so the reads and renders that follow are paid again.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
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
    env = dict(
        os.environ,
        GOVCLOUD_DATABASE_URL=url,
        GOVCLOUD_CONFIG=str(ROOT / "govcloud.yaml"),
        GOVCLOUD_PORTAL_SESSION_KEY="b" * 40,
    )
    exe = str(Path(sys.executable).with_name("govcloud"))
    server = subprocess.Popen(
        [exe, "serve", "--dev-insecure-local-auth", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(base + "/login", timeout=1)
            return server, base
        except httpx.HTTPError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("the portal did not start")


API_HEADERS = {"X-Govcloud-As": "zhang", "X-Govcloud-Role": "egov-office", "X-Govcloud-Unit": "egov"}


def targets(probe: str) -> list[tuple[str, str, dict[str, str]]]:
    """What each client asks for, in turn: (name, path, headers)."""
    return [
        ("queue page", "/queue", {}),
        ("api list", "/api/v1/applications?state=change-requested", API_HEADERS),
        ("application page", f"/applications/{probe}", {}),
    ]


async def signed_in(http: httpx.AsyncClient) -> None:
    """Sign ``http`` in as the e-gov office on the development form."""
    token = re.search(r'name="csrf" value="([^"]+)"', (await http.get("/login")).text).group(1)
    await http.post("/login", data={"csrf": token, "name": "zhang", "role": "egov-office", "unit": "egov"})


@dataclasses.dataclass
class Window:
    """When each client starts (one after the other over the ramp, as people arrive: clients that all
    connect in one instant are taken by whichever worker wakes first, which accepts every waiting
    connection), and the measured span that follows the ramp."""

    ramp: float
    seconds: float
    clients: int
    start: float = dataclasses.field(default_factory=time.perf_counter)

    def begin(self, client: int) -> float:
        return self.start + self.ramp * client / self.clients

    @property
    def since(self) -> float:
        return self.start + self.ramp

    @property
    def until(self) -> float:
        return self.since + self.seconds


def record(results: dict, window: Window, name: str, started: float, ok: bool) -> None:
    """One answer, counted when it was asked for after the ramp."""
    if started < window.since:
        return
    results.setdefault(name, []).append(time.perf_counter() - started)
    if not ok:
        results["errors"] = results.get("errors", 0) + 1


async def httpx_client(base: str, probe: str, window: Window, client: int, results: dict) -> None:
    """A client on httpx's AsyncClient (about 1.5-2 ms of CPU per request in this process)."""
    await asyncio.sleep(window.begin(client) - time.perf_counter())
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        await signed_in(http)
        i = 0
        while time.perf_counter() < window.until:
            name, path, headers = targets(probe)[i % 3]
            i += 1
            started = time.perf_counter()
            try:
                ok = (await http.get(path, headers=headers)).status_code == 200
            except httpx.HTTPError:
                ok = False
            record(results, window, name, started, ok)


async def lean_client(base: str, probe: str, window: Window, client: int, results: dict) -> None:
    """A client that writes its GETs by hand on one kept-alive connection and reads each answer by
    its Content-Length (a tenth of httpx's CPU per request: the load generator shares the cores
    with the portal). Signs in with httpx; any answer but 200, or a broken connection, is an error."""
    await asyncio.sleep(window.begin(client) - time.perf_counter())
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        await signed_in(http)
        cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
    url = httpx.URL(base)
    wire = [
        (
            name,
            "".join(
                [
                    f"GET {path} HTTP/1.1\r\nHost: {url.host}:{url.port}\r\nCookie: {cookie}\r\n",
                    *(f"{k}: {v}\r\n" for k, v in headers.items()),
                    "\r\n",
                ]
            ).encode(),
        )
        for name, path, headers in targets(probe)
    ]
    reader = writer = None
    i = 0
    while time.perf_counter() < window.until:
        name, request = wire[i % 3]
        i += 1
        started = time.perf_counter()
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(url.host, url.port)
            writer.write(request)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
            length = re.search(rb"\r\ncontent-length: *(\d+)", head, re.IGNORECASE)
            if length is None:
                raise ConnectionError("an answer without Content-Length")
            await reader.readexactly(int(length.group(1)))
            ok = head.startswith(b"HTTP/1.1 200 ")
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            ok = False
            if writer is not None:
                writer.close()
            reader = writer = None
        record(results, window, name, started, ok)
    if writer is not None:
        writer.close()


CLIENTS = {"lean": lean_client, "httpx": httpx_client}


TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int, reaped: bool = False) -> float:
    """User + system CPU seconds of process ``pid`` (all its threads) so far, with ``reaped`` those of
    its children that ended; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(f) for f in fields[11 : 15 if reaped else 13]) / TICK


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):  # the thread ended meanwhile
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


def parties(server: int, postgres: int) -> dict[str, float]:
    """CPU seconds so far of the portal (its master and workers), of PostgreSQL (the backends serving
    the bench database, and every backend that ended: the benchmark's server serves nothing else), of
    this process (the clients) and of the whole machine (busy, from /proc/stat)."""
    backends = [
        pid
        for pid in children(postgres)
        if "govcloud_bench" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    ]
    busy = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return {
        "portal": sum(cpu_seconds(p) for p in (server, *children(server))),
        "postgres": cpu_seconds(postgres, reaped=True) + sum(cpu_seconds(p) for p in backends),
        "clients": cpu_seconds(os.getpid()),
        "machine": (sum(busy) - busy[3] - busy[4]) / TICK,
    }


def connections_per_worker(server: int, port: int) -> list[int]:
    """How many of the clients' connections each worker holds (from /proc: its sockets' inodes
    among the established TCP connections to ``port``)."""
    served = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == "01":
            served.add(fields[9])
    counts = []
    for worker in children(server):
        inodes = set()
        for fd in Path(f"/proc/{worker}/fd").glob("*"):
            with contextlib.suppress(OSError):  # closed meanwhile
                inodes.add(os.readlink(fd).removeprefix("socket:[").removesuffix("]"))
        counts.append(len(inodes & served))
    return sorted(counts, reverse=True)


def sessions(ledger: Ledger) -> int:
    """PostgreSQL sessions ever opened on the bench database (each a backend process)."""
    import sqlalchemy as sa

    with ledger.engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        ).scalar_one()


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def percentiles(samples: list[float]) -> dict:
    cuts = statistics.quantiles(samples, n=100)
    return {
        "n": len(samples),
        "p50_ms": round(cuts[49] * 1000, 1),
        "p95_ms": round(cuts[94] * 1000, 1),
        "p99_ms": round(cuts[98] * 1000, 1),
    }


async def run(
    base: str,
    probe: str,
    args: argparse.Namespace,
    server: int,
    postgres: int,
    opened: Callable[[], int],
    change: Callable[[], None],
) -> dict:
    """``args.clients`` clients for ``args.seconds``: the latencies by target, and what the run cost
    each party in CPU per request (portal, PostgreSQL, the clients, the whole machine)."""
    results: dict = {}
    window = Window(args.ramp, args.seconds, args.clients)
    before: dict = {}

    async def watch() -> list[int]:
        """The parties' CPU and the sessions when the measured span starts; the spread in its middle."""
        await asyncio.sleep(window.since - time.perf_counter())
        before.update(parties(server, postgres), sessions=opened())
        await asyncio.sleep(args.seconds / 2)
        return connections_per_worker(server, httpx.URL(base).port)

    async def writes() -> int:
        """Every ``args.changes`` seconds, a new ledger version, as each recorded step makes (what the
        workers keep of their reads is then read and rendered again)."""
        made = 0
        while args.changes and time.perf_counter() + args.changes < window.until:
            await asyncio.sleep(args.changes)
            await asyncio.to_thread(change)
            made += 1
        return made

    *_, spread_found, changes = await asyncio.gather(
        *(CLIENTS[args.client](base, probe, window, i, results) for i in range(args.clients)), watch(), writes()
    )
    spent = {k: v - before[k] for k, v in parties(server, postgres).items()}  # the clients' last answers are in
    every = [x for k, v in results.items() if k != "errors" for x in v]
    return {
        "errors": results.get("errors", 0),
        "requests_per_s": round(len(every) / args.seconds, 1),
        "cpu_ms_per_request": {k: round(v * 1000 / len(every), 2) for k, v in spent.items()},
        "cores_busy": round(spent["machine"] / args.seconds, 2),
        "connections_per_worker": spread_found,
        "postgres_sessions_opened": opened() - before["sessions"],
        "ledger_versions_made": changes,
        "all": percentiles(every),
        **{k: percentiles(v) for k, v in results.items() if k != "errors"},
    }


def new_version(ledger: Ledger) -> None:
    """The ledger's version replaced, as every append does in its transaction."""
    import uuid

    import sqlalchemy as sa

    with ledger.engine.begin() as conn:
        conn.execute(sa.text("UPDATE ledger_version SET token = :token"), {"token": uuid.uuid4().hex})


def sizes(ledger: Ledger) -> tuple[int, int]:
    import sqlalchemy as sa

    with ledger.engine.connect() as conn:
        return (
            conn.execute(sa.text("SELECT count(*) FROM applications")).scalar_one(),
            conn.execute(sa.text("SELECT count(*) FROM events")).scalar_one(),
        )


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
    parser.add_argument("--ramp", type=float, default=2.0, help="seconds over which the clients start, not measured")
    parser.add_argument(
        "--client",
        choices=sorted(CLIENTS),
        default="lean",
        help="lean: GETs written by hand on kept-alive connections; httpx: httpx.AsyncClient",
    )
    parser.add_argument(
        "--changes",
        type=float,
        default=0,
        metavar="S",
        help="a new ledger version every S seconds, as a recorded step makes (0: none, the ledger read only)",
    )
    parser.add_argument("--reuse", action="store_true", help="keep a ledger of this size loaded by an earlier run")
    args = parser.parse_args()
    url = (
        os.environ.get("GOVCLOUD_TEST_POSTGRES_URL")
        or subprocess.run(
            [str(ROOT / "scripts" / "test-postgres")], check=True, capture_output=True, text=True
        ).stdout.strip()
    )
    url = bench_database(url)
    ledger = Ledger.open(url)  # migrated to the newest schema (its indexes) before the load
    loaded = (
        0.0
        if args.reuse and sizes(ledger) == (args.apps, args.apps * args.events_per_app)
        else load(ledger, args.apps, args.events_per_app)
    )
    vacuum(ledger)
    with ledger.engine.connect() as conn:
        postmaster = parent_of(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
    server, base = start_portal(url, args.workers)
    before = os.getloadavg()[0]
    try:
        result = asyncio.run(
            run(
                base,
                f"app-{args.apps // 2:05d}",
                args,
                server.pid,
                postmaster,
                lambda: sessions(ledger),
                lambda: new_version(ledger),
            )
        )
    finally:
        server.terminate()
        server.wait(30)
        ledger.close()
    print(
        json.dumps(
            {
                "applications": args.apps,
                "events": args.apps * args.events_per_app,
                "load_s": round(loaded, 1),
                "workers": args.workers,
                "clients": args.clients,
                "client": args.client,
                "ramp": args.ramp,
                "changes_every_s": args.changes,
                "seconds": args.seconds,
                "load_average_1m": [round(before, 1), round(os.getloadavg()[0], 1)],
                **result,
            },
            indent=2,
        )
    )
    print("target: p95 < 150 ms, no error")


if __name__ == "__main__":
    main()
