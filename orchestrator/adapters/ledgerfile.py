"""Where the ledger lives, known without loading the database layer (``plan`` asks before it
decides whether there is a ledger to open at all)."""

from __future__ import annotations

import os
from pathlib import Path


def database_url() -> str:
    """``GOVCLOUD_DATABASE_URL``, else the SQLite file ``ledger.db`` in ``GOVCLOUD_HOME`` or ``./.govcloud``."""
    url = os.environ.get("GOVCLOUD_DATABASE_URL")
    if url:
        return url
    home = Path(os.environ.get("GOVCLOUD_HOME") or Path.cwd() / ".govcloud")
    home.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{home / 'ledger.db'}"
