"""Plan Pulumi programs fast: in-process under the SDK's mock runtime, with shortcuts through
the SDK's bookkeeping, in short-lived forked workers. Callers import from here only.

- :mod:`.runtime`: run a program under mocks (:func:`run_program`), many runs in a row
  (:func:`batch`, :func:`preload`, :func:`freeze_heap`, :func:`in_forked_worker`).
- :mod:`.shortcuts`: whether runs take the shortcuts; the SDK version is checked before the
  shortcuts (:mod:`.patches`, which read private SDK names) are imported, and any other version
  takes the stock path, with one warning.
- :mod:`.forkpool`: map a function over items in forked workers (:func:`forked_map`).

Importing this package imports no SDK (commands that plan nothing start without it).
"""

from orchestrator.adapters.pulumimock.forkpool import WorkerFailed, forked_map
from orchestrator.adapters.pulumimock.runtime import (
    ProgramRun,
    Registered,
    batch,
    freeze_heap,
    in_forked_worker,
    mock_client_secret,
    preload,
    run_program,
    run_program_collecting,
)
from orchestrator.adapters.pulumimock.shortcuts import StockSdkWarning

__all__ = [
    "ProgramRun",
    "Registered",
    "StockSdkWarning",
    "WorkerFailed",
    "batch",
    "forked_map",
    "freeze_heap",
    "in_forked_worker",
    "mock_client_secret",
    "preload",
    "run_program",
    "run_program_collecting",
]
