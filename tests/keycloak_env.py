"""The local Keycloak's connection file, written by ``make cloud-up`` (docs/testing.md):
``$GOVCLOUD_TEST_KEYCLOAK_ENV``, default ``.cache/keycloak/keycloak.env`` of this checkout."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ENV_FILE = Path(os.environ.get("GOVCLOUD_TEST_KEYCLOAK_ENV")
                or Path(__file__).resolve().parents[1] / ".cache" / "keycloak" / "keycloak.env")


def load(path: Path = ENV_FILE) -> dict[str, str]:
    """Its ``KEY=value`` lines (``#`` comments and blank lines skipped); the test fails, never
    skips, when the file is missing."""
    if not path.is_file():
        pytest.fail(f"{path} is missing: start Keycloak with `make cloud-up` (or scripts/keycloak/up.sh), "
                    "or point GOVCLOUD_TEST_KEYCLOAK_ENV at its connection file")
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if line.strip() and not line.startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}
