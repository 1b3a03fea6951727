"""How long govcloud's Keycloak plugin takes to start (target: median under 2 s).

Starts the installed launcher (`.cache/pulumi/bin/pulumi-resource-keycloak`, written by
scripts/install-pulumi) 10 times, as the engine does, and times each start up to the gRPC port on
its stdout. The engine starts the plugin once per `pulumi preview`/`up`/`refresh`/`destroy`, so
this is added to each command; most of it is `import pulumi` (grpc, protobuf).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

RUNS = 10
LAUNCHER = Path(__file__).resolve().parents[1] / ".cache" / "pulumi" / "bin" / "pulumi-resource-keycloak"


def start_time() -> float:
    started = time.perf_counter()
    plugin = subprocess.Popen(
        [str(LAUNCHER), "127.0.0.1:1"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        port = plugin.stdout.readline().strip()
        elapsed = time.perf_counter() - started
        if not port.isdigit():
            raise SystemExit(f"{LAUNCHER} printed {port!r}, not a port")
        return elapsed
    finally:
        plugin.terminate()
        plugin.wait(timeout=10)


def main() -> int:
    if not LAUNCHER.is_file():
        print(f"{LAUNCHER} is missing: run scripts/install-pulumi", file=sys.stderr)
        return 2
    times = [start_time() for _ in range(RUNS)]
    print(
        f"pulumi-resource-keycloak start: median {statistics.median(times) * 1000:.0f} ms, "
        f"best {min(times) * 1000:.0f} ms, worst {max(times) * 1000:.0f} ms over {RUNS} runs"
    )
    return 0 if statistics.median(times) < 2 else 1


if __name__ == "__main__":
    sys.exit(main())
