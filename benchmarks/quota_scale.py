"""Evaluating the quota policy over 1,000 applications (x their environments): target < 1 s.

The applications are copies of the example manifests spread over 50 units; the measured part is
what ``plan``/``quota check`` do per stack: what the unit holds, the facts, every active rule.

    .venv/bin/python benchmarks/quota_scale.py [N]
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 1.0
REPEAT = 3  # best of three: the machine is shared


def applications(n: int) -> list:
    from orchestrator.core.validation import load_manifest

    examples = [load_manifest(p) for p in sorted((ROOT / "examples" / "manifests").glob("*.yaml"))]
    apps = []
    for i in range(n):
        base = examples[i % len(examples)]
        unit = base.metadata.unit.model_copy(update={"id": f"unit{i % 50:02d}"})
        metadata = base.metadata.model_copy(update={"id": f"{base.id}-{i}", "unit": unit})
        apps.append(base.model_copy(update={"metadata": metadata}))
    return apps


def evaluate(apps: list, policy) -> tuple[int, int]:
    """What the unit holds, then every stack's violations: (stacks, violations)."""
    from orchestrator.core.quota import check_stack
    from orchestrator.core.quota.holdings import holdings

    by_unit = defaultdict(list)
    for app in apps:
        by_unit[app.unit].append(app)
    held = {unit: holdings(members) for unit, members in by_unit.items()}
    stacks = violations = 0
    for app in apps:
        for env in app.environments:
            violations += len(check_stack(app, env, policy, held[app.unit]))
            stacks += 1
    return stacks, violations


def main(n: int = 1000) -> int:
    from orchestrator.core.quota import load_policy

    policy = load_policy(ROOT / "quotas" / "policy.yaml")
    apps = applications(n)
    runs = []
    for _ in range(REPEAT):
        start, cpu = time.perf_counter(), time.process_time()
        stacks, violations = evaluate(apps, policy)
        runs.append((time.perf_counter() - start, time.process_time() - cpu))
    elapsed, cpu = min(runs)
    verdict = "ok" if elapsed < TARGET_S else "SLOW"
    print(
        f"quota policy: {n} applications, {stacks} stacks, {len(policy.rules)} rules, "
        f"{violations} violations in {elapsed * 1000:.0f} ms wall (best of {REPEAT}), {cpu * 1000:.0f} ms CPU "
        f"({elapsed / stacks * 1e6:.0f} us/stack) "
        f"target < {TARGET_S:.0f} s: {verdict}"
    )
    return 0 if elapsed < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000))
