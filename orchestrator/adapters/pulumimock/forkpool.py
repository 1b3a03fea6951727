"""Map a function over many items in short-lived forked processes, without collecting garbage.

Each chunk of items is handled by a fresh child forked from this (preloaded) process: the child
runs with the cyclic garbage collector off, writes its results (pickled) to a file and leaves
with ``os._exit``, so the garbage its runs leave behind is given back to the system at once
instead of being traced and freed object by object (that was a sixth of the planning time). At
most ``workers`` children run at a time; a chunk is small enough that its garbage stays in the
tens of MB. Forking happens from the calling thread only, with no executor threads around.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import os
import pickle
import selectors
import signal
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from orchestrator.errors import ExternalError

T = TypeVar("T")
R = TypeVar("R")


class WorkerFailed(ExternalError):
    """A forked worker died without handing back its results (killed, out of memory: the
    operating system, an outside system, failed the plan)."""


def forked_map(
    function: Callable[[T], R],
    items: Sequence[T],
    workers: int,
    chunk: int,
    *,
    initializer: Callable[[], None] | None = None,
    meanwhile: Callable[[], None] | None = None,
) -> list[R]:
    """``[function(i) for i in items]``, in up to ``workers`` forked children of at most ``chunk``
    items each: smaller towards the end (a quarter of what is left per worker), so that the
    children finish together instead of one planning a whole chunk while the other cores idle.

    Each child calls ``initializer`` first. An exception raised by ``function`` is raised here
    (the first to come back; the other children are stopped). ``meanwhile`` runs in this process
    once the first children are forked.
    """
    chunks = []
    start = 0
    while start < len(items):
        size = max(1, min(chunk, (len(items) - start) // (2 * workers)))
        chunks.append(items[start : start + size])
        start += size
    results: list[list[R]] = [[] for _ in chunks]
    running: dict[int, tuple[int, int]] = {}  # pidfd -> (pid, chunk index)
    with tempfile.TemporaryDirectory(prefix="govcloud-fork-") as tmp, selectors.DefaultSelector() as ready:
        out = Path(tmp)

        def launch(index: int) -> None:
            pid = _fork(function, chunks[index], out / str(index), initializer)
            pidfd = os.pidfd_open(pid)
            running[pidfd] = (pid, index)
            ready.register(pidfd, selectors.EVENT_READ)

        try:
            pending = iter(range(len(chunks)))
            for index in itertools.islice(pending, workers):
                launch(index)
            if meanwhile is not None:
                meanwhile()
            while running:
                for key, _ in ready.select():
                    pid, index = running.pop(key.fd)
                    ready.unregister(key.fd)
                    os.close(key.fd)
                    _, status = os.waitpid(pid, 0)
                    next_index = next(pending, None)
                    if next_index is not None:
                        launch(next_index)  # before reading the results, so no core waits on this process
                    results[index] = _collect(out / str(index), status)
        finally:
            for pidfd, (pid, _) in running.items():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, 0)
                os.close(pidfd)
    return [r for part in results for r in part]


def _fork(function: Callable[[T], R], chunk: Sequence[T], out: Path, initializer: Callable[[], None] | None) -> int:
    pid = os.fork()
    if pid:
        return pid
    status = 1
    try:  # the child: never returns
        gc.disable()
        try:
            if initializer is not None:
                initializer()
            payload: tuple[str, Any] = ("ok", [function(item) for item in chunk])
        except Exception as exc:  # noqa: BLE001  (handed to the parent, raised there)
            payload = ("error", exc)
        try:
            data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # noqa: BLE001  (an exception that does not pickle)
            data = pickle.dumps(("error", WorkerFailed(f"{type(payload[1]).__name__}: {exc}")))
        out.write_bytes(data)
        status = 0
    finally:
        os._exit(status)


def _collect(out: Path, status: int) -> list[Any]:
    try:
        kind, value = pickle.loads(out.read_bytes())  # noqa: S301 (our forked child's own file)
    except (OSError, EOFError, pickle.UnpicklingError):
        raise WorkerFailed(f"a plan worker died (wait status {status}) without results") from None
    if kind == "error":
        raise value
    return value
