"""Plan 1,000 generated applications x 3 environments in forked workers; print wall time, CPU,
peak memory and the load average.

    .venv/bin/python benchmarks/plan_scale.py [--apps 1000] [--workers N] [--no-warm]

The first pass starts from an empty plan cache, so the program really runs for every stack (the
headline number); the second plans the same files again from the cache it filled (warm).
Peak memory is the largest sum of the proportional set sizes (PSS: shared pages split among the
processes sharing them) of this process and its workers, sampled by a watcher process at the
lowest priority (every 0.2 s when a core is free, less often while the workers use both).

Targets (issue 3): under 60 s and under 1 GB on a 2-core machine.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

MANIFEST = """\
apiVersion: govcloud/v1
kind: Application
metadata:
  id: {app}
  name: 生成的应用 {n}
  unit: {{id: {unit}, name: 单位 {unit}}}
  contacts: [{{name: 测试, role: owner, email: owner@{unit}.example.gov.cn}}]
spec:
  mlpsLevel: {level}
  materials:
    constructionPlan: {{path: plan.pdf, sha256: {sha}}}
    selfTestReport: {{path: self-test.pdf, sha256: {sha}}}
    thirdPartyTestReport: {{path: third-party.pdf, sha256: {sha}}}
    mlpsFilingCertificate: {{path: filing.pdf, sha256: {sha}}}
  auth:
    redirectUris: [https://{app}.changsha.gov.cn/callback]
    roles: [{{name: user}}]
  resources:
    securityGroups:
      - name: web
        rules:
          - {{protocol: tcp, ports: 443, remoteCidr: 0.0.0.0/0}}
          - {{protocol: tcp, ports: 22, remoteCidr: 10.20.0.0/16}}
      - name: app
        rules:
          - {{protocol: tcp, ports: 8080, remoteGroup: web}}
    servers:
      - name: web
        flavor: g.2c4g
        image: debian-12
        count: 2
        securityGroups: [web]
      - name: app
        flavor: g.4c8g
        image: debian-12
        securityGroups: [app]
        volumes: [{{name: data, sizeGb: {data}}}]
{extras}  environments:
    test:
      resources:
        servers: [{{name: web, count: 1}}]
    trial: {{}}
    production: {{}}
"""

DATABASE = """\
    databases:
      - name: main
        engine: postgresql
        version: "15"
        flavor: g.2c4g
        sizeGb: 50
        databases: [main]
        users: [{name: app, databases: [main]}]
"""

CONTAINER = """\
    containers:
      - {name: files, sizeGb: 100}
"""


def generate(directory: Path, apps: int) -> list[Path]:
    """Write ``apps`` valid manifests of varied shape; every one declares three environments."""
    paths = []
    for n in range(apps):
        extras = (DATABASE if n % 2 == 0 else "") + (CONTAINER if n % 3 == 0 else "")
        text = MANIFEST.format(
            app=f"app-{n:04d}",
            n=n,
            unit=f"unit{n % 40:02d}",
            level=1 + n % 3,
            sha=hashlib.sha256(str(n).encode()).hexdigest(),
            data=20 + n % 100,
            extras=extras,
        )
        path = directory / f"app-{n:04d}.yaml"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


#: Watches a process tree and writes the largest PSS sum seen (kB) to the file named by argv[2].
#: Reading a 300 MB process's smaps_rollup costs the kernel about 10 ms: every 0.1 s for three
#: processes took a quarter of a core from the workers (and 8 s from the wall time of 1,000
#: applications), so the watcher runs at the lowest priority and samples when a core is free.
WATCHER = """
import os, sys, time
os.nice(19)
root, out, peak = int(sys.argv[1]), sys.argv[2], 0
def tree(pid):
    yield pid
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            children = open(f"/proc/{pid}/task/{task}/children").read().split()
        except OSError:
            continue
        for child in children:
            yield from tree(int(child))
while os.path.exists(f"/proc/{root}"):
    total = 0
    try:
        for pid in tree(root):
            for line in open(f"/proc/{pid}/smaps_rollup"):
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
    except OSError:
        pass
    if total > peak:
        peak = total
        open(out, "w").write(str(peak))
    time.sleep(0.2)
"""


def measured(label: str, plan: Callable[[], list[Any]], apps: int, workers: int) -> None:
    """Run ``plan`` and print what it took."""
    with tempfile.NamedTemporaryFile(prefix="govcloud-pss-") as peak_file:
        watcher = subprocess.Popen([sys.executable, "-c", WATCHER, str(os.getpid()), peak_file.name])
        before = [
            getattr(resource.getrusage(w), f)
            for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
            for f in ("ru_utime", "ru_stime")
        ]
        load = os.getloadavg()[0]
        start = time.perf_counter()
        plans = plan()
        wall = time.perf_counter() - start
        after = [
            getattr(resource.getrusage(w), f)
            for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
            for f in ("ru_utime", "ru_stime")
        ]
        time.sleep(0.2)
        watcher.terminate()
        watcher.wait()
        peak = int(Path(peak_file.name).read_text() or 0) / 1024
    own, children = sum(after[:2]) - sum(before[:2]), sum(after[2:]) - sum(before[2:])
    resources = sum(len(p.resources) for p in plans)
    print(f"== {label}")
    print(f"stacks:        {len(plans)} ({apps} applications, {resources} resources), {workers} workers")
    print(f"wall:          {wall:.1f} s ({wall / max(len(plans), 1) * 1000:.1f} ms per stack)")
    print(f"cpu:           {own + children:.1f} s (this process {own:.1f} s, workers {children:.1f} s)")
    print(f"peak memory:   {peak:.0f} MB (PSS of this process and its workers)")
    print(f"load average:  {load:.2f} before, {os.getloadavg()[0]:.2f} after (1 min)")


def host_speed() -> float:
    """CPU seconds of a fixed pure-Python loop (best of three). This shared VM's speed varies
    several-fold within minutes (0.8 to 3.4 s for this loop on 2026-11-25), so compare runs only
    at similar host speeds, taken before and after."""
    best = float("inf")
    for _ in range(3):
        start, total = time.process_time(), 0
        for i in range(20_000_000):
            total += i
        best = min(best, time.process_time() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-warm", action="store_true", help="skip the second, cached pass")
    args = parser.parse_args()

    from orchestrator.services.admission import plan_paths
    from orchestrator.services.plancache import PlanCache

    with tempfile.TemporaryDirectory(prefix="govcloud-plan-scale-") as tmp:
        paths = generate(Path(tmp), args.apps)
        cache = PlanCache(Path(tmp) / "plan-cache")
        run = functools.partial(plan_paths, paths, workers=args.workers, cache=cache)
        print(f"host speed:    {host_speed():.2f} s for the reference loop, before")
        measured("cold: the program runs for every stack", run, args.apps, args.workers)
        if not args.no_warm:
            measured("warm: the same files again, from the plan cache", run, args.apps, args.workers)
        print(f"host speed:    {host_speed():.2f} s for the reference loop, after")


if __name__ == "__main__":
    main()
