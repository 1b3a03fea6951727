"""``govcloud doctor``: before a team's first ``up``, is the shared state usable from here?

Each check is one sentence: the configuration, the engine and the passphrase rule, the backend
(read, then a write), the passphrase against a stack's secrets, the ledger that holds the
stacks' leases, and the stacks held right now. Checks after a failed one still run when they can.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from orchestrator.errors import GovcloudError, UsageError


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.name, "ok": self.ok, "message": self.message}


def diagnose(*, stack: str | None = None) -> list[Check]:
    """Run the checks; ``stack`` is the one whose secrets test the passphrase (default: the first)."""
    from orchestrator.adapters import engine
    from orchestrator.adapters.ledger import Ledger
    from orchestrator.settings import current_settings

    checks: list[Check] = []

    def check(name: str, step: Callable[[], str]) -> bool:
        try:
            checks.append(Check(name, True, step()))
        except GovcloudError as exc:
            checks.append(Check(name, False, str(exc)))
        return checks[-1].ok

    settings: Any = None

    def configuration() -> str:
        nonlocal settings
        settings = current_settings()
        return f"{settings.source}: valid"

    check("configuration", configuration)
    located: Any = None

    def find_engine() -> str:
        nonlocal located
        located = engine.locate()
        return f"Pulumi CLI and plugins found; the passphrase is set ({_passphrase_source(located.env)})"

    if not check("engine", find_engine):
        return checks
    backend = located.env["PULUMI_BACKEND_URL"]
    stacks: list[str] = []

    def read() -> str:
        stacks.extend(engine.list_stacks(located))
        return f"{_shown(backend)} answers: {len(stacks)} stack(s)"

    def writes() -> str:
        engine.check_writable(located)
        return "a probe stack was created and removed"

    def decrypts(target: str) -> str:
        engine.check_decrypts(target, located)
        return f"decrypts the secrets of stack {target}"

    if check("backend", read):
        check("backend writes", writes)
        target = stack or (stacks[0] if stacks else None)
        if target is not None:
            check("passphrase", functools.partial(decrypts, target))
    ledger: Any = None

    def open_ledger() -> str:
        nonlocal ledger
        ledger = Ledger.open()
        dialect = ledger.engine.dialect.name
        if backend.startswith("s3://") and dialect != "postgresql":
            raise UsageError(
                f"the state is shared ({_shown(backend)}) but the ledger is {dialect} on this machine, "
                "so the leases that keep two engineers off one stack are not shared: set "
                "GOVCLOUD_DATABASE_URL=postgresql://... for every checkout and runner"
            )
        return f"{dialect} ledger reachable"

    if check("ledger", open_ledger):
        check("leases", lambda: _held(ledger))
    return checks


def _held(ledger: Any) -> str:
    held = ledger.leases("stack:")
    if not held:
        return "no stack is being changed right now"
    return "held now: " + "; ".join(
        f"{name[len('stack:') :]} by {holder} until {until:%Y-%m-%d %H:%M} UTC" for name, holder, until in held
    )


def _passphrase_source(env: dict[str, str]) -> str:
    return (
        f"file {env['PULUMI_CONFIG_PASSPHRASE_FILE']}"
        if env.get("PULUMI_CONFIG_PASSPHRASE_FILE")
        else "PULUMI_CONFIG_PASSPHRASE"
    )


def _shown(backend: str) -> str:
    """The backend URL without its query (it may carry a profile name, never a secret, but it is long)."""
    return backend.split("?", 1)[0]
