"""Plan 1,000 generated applications x 3 environments with a process pool; print wall time and
peak RSS.

    .venv/bin/python benchmarks/plan_scale.py [--apps 1000] [--workers N]

Targets (issue 3): under 60 s and under 1 GB on a 2-core machine.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import tempfile
import time
from pathlib import Path

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
            app=f"app-{n:04d}", n=n, unit=f"unit{n % 40:02d}", level=1 + n % 3,
            sha=hashlib.sha256(str(n).encode()).hexdigest(), data=20 + n % 100, extras=extras,
        )
        path = directory / f"app-{n:04d}.yaml"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()

    from orchestrator.services.plan import plan_paths

    with tempfile.TemporaryDirectory(prefix="govcloud-plan-scale-") as tmp:
        paths = generate(Path(tmp), args.apps)
        start = time.perf_counter()
        plans = plan_paths(paths, workers=args.workers)
        wall = time.perf_counter() - start
    resources = sum(len(p.resources) for p in plans)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    cpu = sum(getattr(resource.getrusage(w), f) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
              for f in ("ru_utime", "ru_stime"))
    print(f"stacks:        {len(plans)} ({args.apps} applications, {resources} resources)")
    print(f"workers:       {args.workers}")
    print(f"wall:          {wall:.1f} s ({wall / max(len(plans), 1) * 1000:.1f} ms per stack)")
    print(f"cpu:           {cpu:.1f} s (parent and workers)")
    print(f"peak RSS:      parent {own:.0f} MB, largest worker {children:.0f} MB, "
          f"all at once at most {own + args.workers * children:.0f} MB")


if __name__ == "__main__":
    main()
