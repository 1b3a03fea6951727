"""How long `govcloud --help` takes to answer (target: under 0.3 s).

Runs the installed console script 20 times and prints the median and worst wall time.
Heavy libraries (pulumi, openstacksdk, sqlalchemy) must stay out of the start-up path.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

RUNS = 20


def main() -> int:
    exe = Path(sys.executable).with_name("govcloud")
    command = [str(exe) if exe.exists() else shutil.which("govcloud") or "govcloud", "--help"]
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    modules = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import orchestrator.cli as c; c.register_commands()"],
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    heavy = [
        m for m in ("pulumi", "openstack", "sqlalchemy", "pydantic") if f" {m}\n" in modules or f" {m}." in modules
    ]
    print(
        f"govcloud --help: median {statistics.median(times) * 1000:.0f} ms, "
        f"worst {max(times) * 1000:.0f} ms over {RUNS} runs"
    )
    print(f"heavy modules imported at start-up: {', '.join(heavy) or 'none'}")
    return 0 if statistics.median(times) < 0.3 else 1


if __name__ == "__main__":
    sys.exit(main())
