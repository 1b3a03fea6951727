"""The ASGI entry point of each worker process: the configuration from the environment."""

from __future__ import annotations

import os

from fastapi import FastAPI

from orchestrator.portal.app import create_app
from orchestrator.portal.config import load_config
from orchestrator.settings import current_settings

DEV_ENV = "GOVCLOUD_PORTAL_DEV_LOCAL"


def app_from_environment() -> FastAPI:
    """``uvicorn --factory orchestrator.portal.main:app_from_environment`` (what ``serve`` runs)."""
    return create_app(load_config(current_settings(), os.environ.get(DEV_ENV) == "1"))
