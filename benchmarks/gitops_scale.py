"""``govcloud gitops plan`` on a repository of 1,000 applications where 3 changed.

    .venv/bin/python benchmarks/gitops_scale.py [--apps 1000] [--runs 3]

Builds a git repository (the quota policy and ``--apps`` generated manifests of
``plan_scale.py``, three environments each), commits, changes 3 manifests (a bigger server, a
bigger volume, a new database) and times the whole command, start-up included, as a pipeline
runs it. Target (issue 9): under 5 s; planning only what changed is the point.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from plan_scale import DATABASE, generate  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


def build(repo: Path, apps: int) -> tuple[str, str]:
    (repo / "manifests").mkdir(parents=True)
    (repo / "quotas").mkdir()
    (repo / "quotas" / "policy.yaml").write_text((REPO / "quotas" / "policy.yaml").read_text(encoding="utf-8"))
    generate(repo / "manifests", apps)
    git(repo, "init", "-q", "-b", "main")
    for key, value in (("user.name", "bench"), ("user.email", "bench@example.gov.cn"), ("commit.gpgsign", "false")):
        git(repo, "config", key, value)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"{apps} applications")
    base = git(repo, "rev-parse", "HEAD")
    edits = [
        ("app-0001.yaml", "flavor: g.4c8g", "flavor: g.8c16g"),
        ("app-0500.yaml", "sizeGb: ", "sizeGb: 1"),
        ("app-0999.yaml", "  environments:\n", DATABASE + "  environments:\n"),
    ]
    for name, old, new in edits:
        path = repo / "manifests" / name
        text = path.read_text(encoding="utf-8")
        assert old in text, (name, old)
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
    git(repo, "commit", "-q", "-am", "three applications change")
    return base, git(repo, "rev-parse", "HEAD")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    govcloud = Path(sys.executable).parent / "govcloud"
    with tempfile.TemporaryDirectory(prefix="govcloud-gitops-scale-") as tmp:
        repo = Path(tmp) / "repo"
        base, head = build(repo, args.apps)
        env = dict(os.environ, GOVCLOUD_DATABASE_URL=f"sqlite:///{Path(tmp) / 'ledger.db'}")
        command = [str(govcloud), "gitops", "plan", "--repo", str(repo), "--base", base, "--head", head, "--output", "json"]
        walls, cpus, payload = [], [], {}
        for _ in range(args.runs):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
            walls.append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
            if done.returncode not in (0, 1):
                sys.exit(f"gitops plan failed ({done.returncode}): {done.stderr}")
            payload = json.loads(done.stdout)
    stacks = [s for a in payload["applications"] for s in a["stacks"]]
    planned = sum(s["resources"] is not None for s in stacks)
    load = os.getloadavg()[0]
    print(f"repository:    {args.apps} applications x 3 environments, 3 manifests changed")
    print(f"affected:      {len(payload['applications'])} applications, {len(stacks)} stacks "
          f"({planned} diffed: base and head planned)")
    print(f"wall:          median {statistics.median(walls):.2f} s over {args.runs} runs "
          f"({', '.join(f'{w:.2f}' for w in walls)}), whole command incl. start-up")
    print(f"cpu:           median {statistics.median(cpus):.2f} s (user+sys of the command and its workers; "
          "on an idle machine wall time is at most about this)")
    print(f"load average:  {load:.1f} on {os.cpu_count()} cores")
    print(f"target:        under 5 s: {'met' if statistics.median(walls) < 5 else 'NOT met'}")


if __name__ == "__main__":
    main()
