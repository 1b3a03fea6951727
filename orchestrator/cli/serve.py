"""``govcloud serve``: the approval portal and the REST API (docs/portal.md)."""

from __future__ import annotations

import click

from orchestrator.cli.lifecycle import Command
from orchestrator.cli.root import cli
from orchestrator.portal.config import DEV_FLAG, SESSION_KEY_ENV


@cli.command(cls=Command)
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True, help="worker processes")
@click.option(
    DEV_FLAG,
    "dev_local",
    is_flag=True,
    help="development only: serve 'auth: local', the actor chosen on a sign-in form (shown in red)",
)
def serve(host: str, port: int, workers: int, dev_local: bool) -> None:
    """Serve the portal and the REST API (/api/v1, /openapi.json) over the ledger."""
    import os

    import uvicorn

    from orchestrator.portal.config import load_config
    from orchestrator.settings import current_settings

    load_config(current_settings(), dev_local)  # refuse before listening, with the reason
    if dev_local and workers > 1 and not os.environ.get(SESSION_KEY_ENV):
        raise click.UsageError(f"{DEV_FLAG} with several workers needs {SESSION_KEY_ENV}: one session key for all")
    from orchestrator.portal.main import DEV_ENV

    os.environ[DEV_ENV] = "1" if dev_local else "0"  # read by each worker's app factory
    click.echo(
        f"govcloud portal on http://{host}:{port}/" + ("  (DEVELOPMENT: auth local)" if dev_local else ""), err=True
    )
    uvicorn.run(
        "orchestrator.portal.main:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        log_level="info",
    )
