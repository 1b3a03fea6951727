"""Shared fixtures: paths of the repository and a CLI runner."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "manifests"
INVALID = ROOT / "examples" / "invalid"


@pytest.fixture
def run_cli():
    """Run ``govcloud ARGS`` in-process; returns the click Result (stdout and stderr apart)."""
    from orchestrator.cli import cli, register_commands

    register_commands()
    runner = CliRunner()

    def invoke(*args: str, **kwargs):
        return runner.invoke(cli, list(args), catch_exceptions=False, **kwargs)

    return invoke


@pytest.fixture(autouse=True)
def development_settings(monkeypatch, tmp_path_factory):
    """Every test starts from the repository's development configuration (``auth: local``),
    with an empty plan cache of its own."""
    from orchestrator.settings import current_settings

    monkeypatch.setenv("GOVCLOUD_CONFIG", str(ROOT / "govcloud.yaml"))
    monkeypatch.setenv("GOVCLOUD_PLAN_CACHE", str(tmp_path_factory.mktemp("plan-cache")))
    monkeypatch.delenv("GOVCLOUD_ID_TOKEN", raising=False)
    current_settings.cache_clear()
    yield
    current_settings.cache_clear()
