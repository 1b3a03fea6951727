"""``govcloud gitops plan`` on a repository of 1,000 applications where 3 changed.

    .venv/bin/python benchmarks/gitops_scale.py [--apps 1000] [--runs 3] [--ledger]

Builds a git repository (the quota policy and ``--apps`` generated manifests of
``plan_scale.py``, three environments each), commits, changes 3 manifests (a bigger server, a
bigger volume, a new database) and times the whole command, start-up included, as a pipeline
runs it. Target (issue 9): under 5 s; planning only what changed is the point.

The ledger is empty unless ``--ledger``: then every application is in production, its three
environments live at the base digest, as a city's ledger would be (what each unit holds is read
from it for the quota check).
"""

from __future__ import annotations

import argparse
import datetime as dt
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
from plan_scale import DATABASE, generate

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


def fill_ledger(url: str, repo: Path) -> int:
    """Every application of ``repo`` in production, test, trial and production live at its digest."""
    import sqlalchemy as sa

    sys.path.insert(0, str(REPO))
    from orchestrator.adapters.ledger import EventRow, Ledger, bulk_rows
    from orchestrator.core import lifecycle as lc
    from orchestrator.core.validation import validate_bytes
    from orchestrator.core.yamlsource import parse, plain
    from orchestrator.services.lifecycle import project

    office, ops = ("zhang", lc.EGOV, "egov"), ("ops", lc.PROVIDER, None)
    start, events = dt.datetime(2026, 6, 1, 9), []
    for path in sorted((repo / "manifests").glob("*.yaml")):
        raw = path.read_bytes()
        app = validate_bytes(raw, str(path)).application
        steps = [
            (
                "submitted",
                (f"{app.unit}-owner", lc.UNIT, app.unit),
                None,
                {"unit": app.unit, "manifest": plain(parse(raw)), "materials": {}},
            ),
            ("accepted", office, None, {}),
            ("reviewed", office, None, {}),
            ("approved", office, "test", {}),
            ("provisioned", ops, "test", {}),
            ("extended", office, None, {"days": 365}),
            ("approved", office, "trial", {}),
            ("provisioned", ops, "trial", {}),
            ("approved", office, "production", {}),
            ("provisioned", ops, "production", {}),
        ]
        events += [
            lc.Event(
                app.id,
                n,
                kind,
                who[0],
                who[1],
                start + dt.timedelta(days=4 * n),
                actor_unit=who[2],
                digest=app.digest,
                environment=env,
                reason="bench" if kind == "extended" else None,
                payload=payload,
            )
            for n, (kind, who, env, payload) in enumerate(steps, start=1)
        ]
    ledger = Ledger.open(url)
    with ledger.engine.begin() as conn:
        conn.execute(sa.insert(EventRow), list(bulk_rows(events, dt.datetime(2026, 11, 1))))
    count = ledger.rebuild(project)
    ledger.close()
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--ledger", action="store_true", help="every application live in the ledger")
    args = parser.parse_args()
    govcloud = Path(sys.executable).parent / "govcloud"
    with tempfile.TemporaryDirectory(prefix="govcloud-gitops-scale-") as tmp:
        repo = Path(tmp) / "repo"
        base, head = build(repo, args.apps)
        url = f"sqlite:///{Path(tmp) / 'ledger.db'}"
        if args.ledger:
            git(repo, "checkout", "-q", base)
            print(f"ledger:        {fill_ledger(url, repo)} applications live in test, trial and production")
            git(repo, "checkout", "-q", head)
        # this checkout's code, whichever checkout the console script was installed from, with
        # its bytecode cached as an installed package has it (the first run writes it)
        env = dict(
            os.environ,
            GOVCLOUD_DATABASE_URL=url,
            PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        )
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        command = [
            str(govcloud),
            "gitops",
            "plan",
            "--repo",
            str(repo),
            "--base",
            base,
            "--head",
            head,
            "--output",
            "json",
        ]
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
    print(
        f"affected:      {len(payload['applications'])} applications, {len(stacks)} stacks "
        f"({planned} diffed: base and head planned)"
    )
    print(
        f"wall:          median {statistics.median(walls):.2f} s over {args.runs} runs "
        f"({', '.join(f'{w:.2f}' for w in walls)}), whole command incl. start-up"
    )
    print(
        f"cpu:           median {statistics.median(cpus):.2f} s (user+sys of the command and its workers; "
        "on an idle machine wall time is at most about this)"
    )
    print(f"load average:  {load:.1f} on {os.cpu_count()} cores")
    print(f"target:        under 5 s: {'met' if statistics.median(walls) < 5 else 'NOT met'}")


if __name__ == "__main__":
    main()
