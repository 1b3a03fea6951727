"""``govcloud gitops plan|apply``: what a merge request does to the stacks, and applying it on merge."""

from __future__ import annotations

from pathlib import Path

import click

from orchestrator.cli.common import actor_options, emit, make_actor, output_option
from orchestrator.cli.root import cli

manifests_option = click.option(
    "--manifests",
    "dirs",
    multiple=True,
    metavar="DIR",
    help="manifest directory, relative to the repository root (repeatable; default manifests/ and examples/manifests/)",
)
repo_option = click.option(
    "--repo",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("."),
    show_default=True,
    help="a directory inside the git repository",
)


@cli.group()
def gitops() -> None:
    """Plan every merge request, apply on merge (docs/gitops.md)."""


@gitops.command("plan")
@click.option("--base", required=True, help="the target branch or commit (compared from the merge base)")
@click.option("--head", default="HEAD", show_default=True, help="the commit whose manifests are planned")
@click.option(
    "--output",
    "-o",
    type=click.Choice(["markdown", "json", "matrix"]),
    default="markdown",
    show_default=True,
    help="markdown: the merge-request comment; json: everything; matrix: one CI job per stack",
)
@manifests_option
@repo_option
@click.pass_context
def plan(ctx: click.Context, base: str, head: str, output: str, dirs: tuple[str, ...], repo: Path) -> None:
    """Validation, change class, quota, approval and resource difference of every affected stack."""
    from orchestrator.adapters.git import toplevel
    from orchestrator.core.gitops import MANIFEST_DIRS
    from orchestrator.services import gitops as service

    args = (toplevel(repo), base, head, dirs or MANIFEST_DIRS)
    found = service.affected(*args) if output == "matrix" else service.plan(*args)
    payload = {"matrix": service.matrix, "json": lambda f: f.as_dict(), "markdown": service.render_markdown}[output](
        found
    )
    emit("json" if output != "markdown" else "table", payload, lambda text: click.echo(text, nl=False))
    ctx.exit(1 if service.refused(found) else 0)


@gitops.command("apply")
@click.option("--base", required=True, help="the commit applied last (the previous pipeline's)")
@click.option("--parallel", type=click.IntRange(1, 64), default=2, show_default=True, help="applications at a time")
@click.option(
    "--wait",
    type=click.FloatRange(0),
    default=0,
    show_default=True,
    metavar="SECONDS",
    help="wait this long for a stack another pipeline is applying, then fail",
)
@click.option(
    "--shard",
    default="1/1",
    show_default=True,
    metavar="INDEX/TOTAL",
    callback=lambda c, p, v: _shard(v),
    help='apply only runner INDEX\'s share of TOTAL runners (a CI matrix: "$CI_NODE_INDEX/$CI_NODE_TOTAL")',
)
@manifests_option
@repo_option
@output_option
@actor_options
@click.pass_context
def apply(
    ctx: click.Context,
    base: str,
    parallel: int,
    wait: float,
    shard: tuple[int, int],
    dirs: tuple[str, ...],
    repo: Path,
    output: str,
    actor_name: str | None,
    actor_role: str | None,
    actor_unit: str | None,
    actor_token_file: Path | None,
) -> None:
    """Up every approved affected stack (test, trial, production in order), record it in the
    ledger; a deleted manifest becomes a termination proposal the unit confirms. Exit 0 all applied, 1 some refused,
    3 some failed."""
    from orchestrator.adapters.git import toplevel
    from orchestrator.adapters.ledger import Ledger
    from orchestrator.core.gitops import MANIFEST_DIRS
    from orchestrator.services.gitops_apply import apply as apply_changes

    actor = make_actor(actor_name, actor_role, actor_unit, actor_token_file)
    report = apply_changes(
        toplevel(repo),
        base,
        actor=actor,
        ledger=Ledger.open(),
        parallel=parallel,
        wait=wait,
        on_result=_progress,
        shard=shard,
        dirs=dirs or MANIFEST_DIRS,
    )
    emit(output, report.as_dict(), _print_apply)
    ctx.exit(report.exit_code)


def _shard(value: str) -> tuple[int, int]:
    index, _, total = value.partition("/")
    if not (index.isdigit() and total.isdigit() and 1 <= int(index) <= int(total) <= 256):
        raise click.BadParameter(f"{value!r} is not INDEX/TOTAL with 1 <= INDEX <= TOTAL <= 256 (e.g. 2/3)")
    return int(index), int(total)


def _progress(result) -> None:
    """Each stack's outcome on stderr as soon as it is known (the summary follows on stdout)."""
    click.echo(f"gitops: {result.stack}: {result.status}", err=True)


def _print_apply(payload: dict) -> None:
    for r in payload["results"]:
        changes = ", ".join(f"{op} {n}" for op, n in r["changes"].items() if op != "same")
        click.echo(f"{r['status']:<22} {r['stack']:<40} {r['message']}" + (f" [{changes}]" if changes else ""))
    click.echo(", ".join(f"{n} {status}" for status, n in sorted(payload["counts"].items())) or "nothing to apply")
