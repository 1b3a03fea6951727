"""The repository's own scripts, run as a newcomer runs them: from a clone in a private directory."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
from pathlib import Path

import sqlalchemy

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_test_postgres_starts_from_a_checkout_inside_a_private_directory(tmp_path: Path) -> None:
    """As root the server runs as user postgres, who cannot enter a 0700 directory: the cluster
    must live where that user can reach it (``make test`` from a ``mktemp -d`` clone failed so)."""
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    script = private / "clone" / "scripts" / "test-postgres"
    script.parent.mkdir(parents=True)
    shutil.copy2(ROOT / "scripts" / "test-postgres", script)
    assert stat.S_IMODE(private.stat().st_mode) == 0o700
    env = {**os.environ, "GOVCLOUD_PG_PORT": str(_free_port())}
    started = subprocess.run([str(script), "start"], capture_output=True, text=True, env=env, timeout=180)
    try:
        assert started.returncode == 0, started.stderr
        url = started.stdout.strip().splitlines()[-1]
        assert url.startswith("postgresql://govcloud@127.0.0.1:")
        engine = sqlalchemy.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.connect() as conn:
            assert conn.execute(sqlalchemy.text("select current_user")).scalar() == "govcloud"
        engine.dispose()
    finally:
        stopped = subprocess.run([str(script), "stop"], capture_output=True, text=True, env=env, timeout=120)
    assert stopped.returncode == 0, stopped.stderr
