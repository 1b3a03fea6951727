"""The cloud's times (UTC, with or without offset) as naive Beijing time, the clock of the ledger
and the reports: one function for every cloud adapter."""

from __future__ import annotations

import datetime as dt
from typing import Any


def _beijing(value: Any) -> dt.datetime | None:
    """An OpenStack timestamp (UTC, with or without offset) as naive Beijing time."""
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.timezone(dt.timedelta(hours=8))).replace(tzinfo=None)
