"""Quota commands: ``quota check``, ``quota usage``, ``quota drift`` and ``capacity`` (Art. 14, 31)."""

from __future__ import annotations

from pathlib import Path

import click

from orchestrator.cli.common import ENVIRONMENT, emit, output_option
from orchestrator.cli.root import cli

policy_option = click.option(
    "--policy",
    type=click.Path(path_type=Path),
    default=None,
    help="quota policy file [default: quotas/policy.yaml or GOVCLOUD_QUOTA_POLICY]",
)
manifests_option = click.option(
    "--manifests",
    type=click.Path(path_type=Path),
    multiple=True,
    metavar="DIR",
    help="directory of the units' manifests (repeatable) [default: GOVCLOUD_MANIFESTS, "
    "':'-separated, else ./manifests and examples/manifests]",
)
cloud_option = click.option("--cloud", envvar="OS_CLOUD", default=None, help="cloud in clouds.yaml [default: OS_CLOUD]")


@cli.group()
def quota() -> None:
    """Per-unit quotas and reasonable allocation (Art. 14, 45, 50)."""


@quota.command("check")
@click.argument("manifest", type=click.Path(path_type=Path))
@click.option("--env", type=ENVIRONMENT, default=None, help="one environment [default: every declared one]")
@policy_option
@manifests_option
@output_option
def quota_check(manifest: Path, env: str | None, policy: Path | None, manifests: tuple[Path, ...], output: str) -> None:
    """Check MANIFEST against the quota policy; exit 1 on a mandatory violation."""
    from orchestrator.core.manifest import Environment
    from orchestrator.services import quotas as svc
    from orchestrator.services.manifests import manifest_dirs

    payload = svc.check(manifest, Environment(env) if env else None, svc.policy(policy), manifest_dirs(manifests))
    emit(output, payload, _print_check)
    if not payload["ok"]:
        raise click.exceptions.Exit(1)


@quota.command("usage")
@click.argument("unit", required=False)
@policy_option
@manifests_option
@output_option
def quota_usage(unit: str | None, policy: Path | None, manifests: tuple[Path, ...], output: str) -> None:
    """Declared allocation per unit and environment (every environment the manifests declare)
    against the unit's limits."""
    from orchestrator.services import quotas as svc
    from orchestrator.services.manifests import manifest_dirs

    emit(output, svc.usage(unit, svc.policy(policy), manifest_dirs(manifests)), _print_usage)


@quota.command("drift")
@click.argument("app")
@click.option("--env", type=ENVIRONMENT, required=True)
@manifests_option
@cloud_option
@output_option
def quota_drift(app: str, env: str, manifests: tuple[Path, ...], cloud: str | None, output: str) -> None:
    """Compare the project's quota sets in the cloud with the environment's allocation; exit 1 on drift."""
    from orchestrator.core.manifest import Environment
    from orchestrator.services import quotas as svc
    from orchestrator.services.manifests import manifest_dirs

    payload = svc.drift(app, Environment(env), manifest_dirs(manifests), cloud)
    emit(output, payload, _print_drift)
    if not payload["ok"]:
        raise click.exceptions.Exit(1)


@cli.command()
@click.option(
    "--threshold",
    type=click.FloatRange(0, 1, min_open=True),
    default=None,
    help="warn at this share of capacity [default: the policy's, 0.70]",
)
@policy_option
@cloud_option
@output_option
def capacity(threshold: float | None, policy: Path | None, cloud: str | None, output: str) -> None:
    """The cloud's use of compute, storage and network; exit 1 when any is at the threshold (Art. 31)."""
    from orchestrator.services import quotas as svc

    payload = svc.capacity(cloud, threshold if threshold is not None else svc.policy(policy).capacity.threshold)
    emit(output, payload, _print_capacity)
    if payload["warnings"]:
        click.echo(
            f"warning: at or above {payload['threshold']:.0%} of capacity (Art. 31): " + ", ".join(payload["warnings"]),
            err=True,
        )
        raise click.exceptions.Exit(1)


# --- rendering for people --------------------------------------------------------------------


def _print_check(payload: dict) -> None:
    from orchestrator.core.quota.registry import numbers

    for stack in payload["stacks"]:
        click.echo(f"{stack['stack']}: {'ok' if not stack['violations'] else ''}".rstrip())
        for v in stack["violations"]:
            figures = numbers(v["asked"], v["allowed"], v["used"])
            click.echo(
                f"  {v['enforcement'].upper():9} {v['rule']}: {v['subject']}: {v['message']}"
                f"{f' ({figures})' if figures else ''} [{v['article']}]"
            )
    click.echo(f"{payload['mandatory']} mandatory violation(s); policy {payload['policy']}")


def _print_usage(payload: dict) -> None:
    from orchestrator.core.quota.policy import MEASURES

    heads = {"database_instances": "databases", "public_ips": "public_ip"}
    row = "  {:<30}" + "{:>11}" * len(MEASURES)
    click.echo(f"{payload['meaning']} (manifests in {payload['manifests']})")
    for unit in payload["units"]:
        click.echo(f"unit {unit['unit']}")
        click.echo(row.format("", *(heads.get(m, m) for m in MEASURES)))
        for e in unit["environments"]:
            click.echo(row.format(f"{e['app']}/{e['env']}", *(e[m] for m in MEASURES)))
        click.echo(row.format("declared/limit", *(f"{unit['total'][m]}/{unit['limits'][m]}" for m in MEASURES)))
        click.echo(
            row.format(
                "declared of limit",
                *("-" if unit["percent"][m] is None else f"{unit['percent'][m]}%" for m in MEASURES),
            )
        )
        if unit["over"]:
            click.echo(f"  OVER LIMIT: {', '.join(unit['over'])}")


def _print_drift(payload: dict) -> None:
    if payload["status"] == "not provisioned":
        click.echo(f"{payload['project']}: not provisioned (the cloud holds no such project): nothing to compare")
        return
    if payload["ok"]:
        click.echo(f"{payload['project']}: quotas match the allocation")
        return
    click.echo(f"{payload['project']}: {len(payload['differences'])} difference(s)")
    for d in payload["differences"]:
        click.echo(f"  {d['service']}.{d['key']}: expected {d['expected']}, cloud has {d['actual']}")


def _print_capacity(payload: dict) -> None:
    for a in payload["resources"]:
        if a["status"] == "unknown":
            click.echo(f"{a['resource']:40} unknown ({a['source']}: {a['reason']})")
        else:
            mark = "  WARN" if a["status"] == "warn" else ""
            click.echo(f"{a['resource']:40} {a['percent']:5.1f}%  {a['used']:g}/{a['capacity']:g} {a['unit']}{mark}")
