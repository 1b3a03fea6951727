"""The portal's ASGI application: the API, the pages, sessions and the error answers."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from orchestrator import __version__
from orchestrator.errors import GovcloudError
from orchestrator.portal import api, common, pages
from orchestrator.portal.config import PortalConfig

HERE = Path(__file__).parent
SESSION_HOURS = 8


def create_app(config: PortalConfig) -> FastAPI:
    app = FastAPI(
        title="govcloud",
        version=__version__,
        docs_url="/api/docs",
        redoc_url=None,
        description="Applications, their lifecycle (regulation Art. 10-16) and work queues.",
    )
    app.state.config = config
    app.add_middleware(
        SessionMiddleware,
        secret_key=config.session_key,
        session_cookie="govcloud_session",
        max_age=SESSION_HOURS * 3600,
        same_site="lax",
        https_only=config.secure_cookies,
    )
    app.include_router(api.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    if not config.dev_local:
        pages.register_login(app, config)

    @app.exception_handler(GovcloudError)
    async def refused(request: Request, error: GovcloudError):
        if request.url.path.startswith("/api/"):
            return common.problem_response(error)
        return pages.error_page(request, error)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError):
        first = error.errors()[0] if error.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(part) for part in first.get("loc", ()))
        from orchestrator.errors import UsageError

        wrapped = UsageError(f"{where}: {first.get('msg')}")
        if request.url.path.startswith("/api/"):
            return common.problem_response(wrapped)
        return pages.error_page(request, wrapped)

    return app
