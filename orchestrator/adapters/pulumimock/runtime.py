"""Run a Pulumi program in-process under Pulumi's mock runtime: no engine, no cloud.

The runtime's state (settings, root stack, config) lives in context variables. Each run
therefore happens in a fresh, empty :class:`contextvars.Context` in which the settings are reset
(``reset_options``), the config set and the mocks installed with a new monitor: nothing leaks
from one stack into the next, and many stacks are planned one after another in one process
(or in each forked worker). Mocked values are deterministic. Runs go through the SDK shortcuts
(:mod:`~orchestrator.adapters.pulumimock.shortcuts`) unless ``fast=False``.

The SDK is imported inside the functions that run programs, not with this module: commands
that plan nothing (most of the CLI) start without paying for it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import gc
import threading
import zlib
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any, TypeVar, TypeVarTuple

from orchestrator.adapters.pulumimock import shortcuts

STACK_TYPE = "pulumi:pulumi:Stack"

#: A Pulumi program: registers resources when called (the SDK's run_pulumi_func awaits one that is async).
Program = Callable[[], Awaitable[None] | None]
T = TypeVar("T")
Ts = TypeVarTuple("Ts")


@dataclass(frozen=True)
class Registered:
    """One resource the program registered, as the engine would have received it."""

    urn: str
    type: str
    name: str
    parent: str
    """URN of the parent (the root stack's URN for top-level resources)."""
    provider: str
    """Provider reference ``<urn>::<id>`` ('' for the default provider)."""
    custom: bool
    inputs: dict[str, Any]
    aliases: tuple[str, ...] = ()
    """URNs of the names the resource had before (its ``aliases`` option), as the engine reads them."""
    delete_before_replace: bool = False
    """Its ``delete_before_replace`` option: a replacement deletes it before creating the new one."""
    protect: bool = False
    """Its ``protect`` option: the engine refuses to delete or replace it."""
    ignore_changes: tuple[str, ...] = ()
    """Its ``ignore_changes`` option: inputs whose change the engine does not apply."""


@dataclass
class ProgramRun:
    """What a run registered and exported."""

    resources: list[Registered] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: set[str] = field(default_factory=set)

    def of_type(self, type_: str) -> list[Registered]:
        return [r for r in self.resources if r.type == type_]

    def by_urn(self) -> dict[str, Registered]:
        return {r.urn: r for r in self.resources}


# --- deterministic values for outputs the cloud would compute ------------------------------


def _address(prefix: str, name: str) -> str:
    """A fake address derived from the resource name, so plans are the same from run to run."""
    n = zlib.crc32(name.encode())
    return f"{prefix}.{n % 250 + 2}" if prefix.count(".") == 2 else f"{prefix}.{n // 256 % 256}.{n % 250 + 2}"


def mock_client_secret(name: str) -> str:
    """The secret the mock platform generates for the client named ``name`` (tests search for it)."""
    return f"mock-client-secret-{name}"


def _computed(type_: str, name: str) -> dict[str, Any]:
    if type_ == "openstack:compute/instance:Instance":
        return {"accessIpV4": _address("172.31", name)}
    if type_ == "openstack:networking/floatingIp:FloatingIp":
        return {"address": _address("203.0.113", name)}
    if type_ == "openstack:database/instance:Instance":
        return {"addresses": [_address("172.31", name)]}
    if type_ == "random:index/randomPassword:RandomPassword":
        return {"result": f"mock-{name}"}
    if type_ == "keycloak:openid/client:Client":
        return {"clientSecret": mock_client_secret(name)}
    return {}


def _call(function: str, args: dict[str, Any]) -> dict[str, Any]:
    name = args.get("name") or "current"
    if function == "openstack:identity/getAuthScope:getAuthScope":
        return {
            "id": name,
            "name": name,
            "userId": "mock-admin-user-id",
            "userName": "admin",
            "projectId": "mock-admin-project-id",
            "projectName": "admin",
        }
    return {"id": f"mock-{function.rsplit(':', 1)[-1]}-{name}-id", "name": name}


def _make_mocks() -> tuple[Any, Any]:
    from google.protobuf import struct_pb2
    from pulumi.runtime import mocks, rpc
    from pulumi.runtime.proto import resource_pb2

    def struct(values: dict[str, Any]) -> Any:
        # The mocks answer with plain JSON values: building the Struct directly avoids the SDK's
        # async serializer, whose re-entrant event-loop pumping (``_sync_await`` inside a call
        # the inline executor runs on the loop) deadlocks once enough registrations are in flight.
        out = struct_pb2.Struct()
        out.update(values)
        return out

    class Recorder(mocks.Mocks):
        """Answers the engine's questions with deterministic values."""

        def new_resource(self, args: Any) -> tuple[str, dict[str, Any]]:
            # Only computed outputs: outside previews the SDK fills the others from the inputs.
            return f"{args.name}-id", _computed(args.typ, args.name)

        def call(self, args: Any) -> tuple[dict[str, Any], None]:
            return _call(args.token, args.args), None  # no check failures (the SDK reads a bare dict so too)

    class Monitor(mocks.MockMonitor):
        """The stock mock monitor, recording parent, provider and inputs of each resource, and
        answering registrations and invokes without pumping the event loop."""

        def __init__(self, recorder: Recorder) -> None:
            super().__init__(recorder)
            self.recorder = recorder
            self.registered: list[Registered] = []

        def RegisterResource(self, request: Any) -> Any:  # the gRPC method's name
            urn = self.make_urn(request.parent, request.type, request.name)
            if request.type == STACK_TYPE:
                return resource_pb2.RegisterResourceResponse(urn=urn)
            inputs = rpc.deserialize_properties(request.object)
            id_, state = self.recorder.new_resource(
                mocks.MockResourceArgs(
                    typ=request.type,
                    name=request.name,
                    inputs=inputs,
                    provider=request.provider,
                    resource_id=request.importId,
                    custom=request.custom or False,
                )
            )
            self.resources[urn] = mocks.MockMonitor.ResourceRegistration(urn, id_, state)
            self.registered.append(
                Registered(
                    urn,
                    request.type,
                    request.name,
                    request.parent,
                    request.provider,
                    bool(request.custom),
                    inputs,
                    tuple(self.alias_urn(request, a) for a in request.aliases),
                    request.deleteBeforeReplace,
                    request.protect,
                    tuple(request.ignoreChanges),
                )
            )
            return resource_pb2.RegisterResourceResponse(urn=urn, id=id_, object=struct(state))

        def alias_urn(self, request: Any, alias: Any) -> str:
            """The URN an alias spec names: what it leaves out is the resource's own (this stack)."""
            if alias.WhichOneof("alias") == "urn":
                return alias.urn
            spec = alias.spec
            parent = "" if spec.noParent else (spec.parentUrn or request.parent)
            return self.make_urn(parent, spec.type or request.type, spec.name or request.name)

        def Invoke(self, request: Any) -> Any:  # the gRPC method's name
            if request.tok == "pulumi:pulumi:getResource":
                return super().Invoke(request)
            args = rpc.deserialize_properties(request.args)
            return resource_pb2.ResourceInvokeResponse(**{"return": struct(_call(request.tok, args))})

    recorder = Recorder()
    return recorder, Monitor(recorder)


_loop_holder = threading.local()


class _MockLoop(asyncio.SelectorEventLoop):
    """An event loop whose default executor runs each call at once, on the loop's own thread.

    The SDK sends every RPC through ``run_in_executor``; the mock monitor answers in
    microseconds, so a thread hand-off (or even a concurrent future chained back through the
    loop's self-pipe) costs more than the call.
    """

    def run_in_executor(
        self, executor: concurrent.futures.Executor | None, func: Callable[[*Ts], T], *args: *Ts
    ) -> asyncio.Future[T]:
        if executor is not None:
            return super().run_in_executor(executor, func, *args)
        future = self.create_future()
        try:
            future.set_result(func(*args))
        except Exception as exc:  # noqa: BLE001  (delivered through the future, as an executor would)
            future.set_exception(exc)
        return future


def _event_loop() -> asyncio.AbstractEventLoop:
    """One event loop per thread, reused by every run (runs leave no pending work behind)."""
    loop = getattr(_loop_holder, "loop", None)
    if loop is None or loop.is_closed():
        loop = _loop_holder.loop = _MockLoop()
    asyncio.set_event_loop(loop)
    return loop


def run_program(
    program: Program,
    *,
    project: str,
    stack: str,
    config: dict[str, str] | None = None,
    preview: bool = False,
    fast: bool = True,
) -> ProgramRun:
    """Run ``program`` as stack ``stack`` of ``project`` with ``config`` under mocks.

    ``preview=True`` runs as ``pulumi preview`` does: about a quarter cheaper, but outputs the
    cloud computes (addresses) stay unknown, so stack outputs are not collected. ``fast=False``
    runs the stock SDK, without :mod:`~orchestrator.adapters.pulumimock.shortcuts` (same result, slower).

    Exceptions of the program propagate after the runtime has settled; the resources registered
    until then are lost with them (use :func:`run_program_collecting` to keep them).
    """
    run = ProgramRun()
    error = run_program_collecting(
        program, run, project=project, stack=stack, config=config, preview=preview, fast=fast
    )
    if error is not None:
        raise error
    return run


def run_program_collecting(
    program: Program,
    run: ProgramRun,
    *,
    project: str,
    stack: str,
    config: dict[str, str] | None = None,
    preview: bool = False,
    fast: bool = True,
) -> BaseException | None:
    """Like :func:`run_program` but fills ``run`` and returns the program's exception, if any.

    The cyclic garbage collector is paused during the run (the SDK allocates many short-lived
    futures; collecting them as they go doubles the run time) and runs once every
    :data:`COLLECT_EVERY` runs (a collection after each run cost a third of the planning time;
    one after twenty costs about as much as one after one). Callers that plan many stacks do so
    inside :func:`batch`, after :func:`freeze_heap`.
    """
    global _runs_since_collect
    enabled = gc.isenabled()
    gc.disable()
    try:
        return contextvars.Context().run(_run_in_context, program, run, project, stack, config or {}, preview, fast)
    finally:
        _runs_since_collect += 1
        if _collect_every is not None and _runs_since_collect >= _collect_every:
            gc.collect()
            _runs_since_collect = 0
        if enabled:
            gc.enable()


#: Runs between two garbage collections (each run leaves under a MB of cyclic garbage).
COLLECT_EVERY = 20
_collect_every: int | None = COLLECT_EVERY
_runs_since_collect = 0


def in_forked_worker() -> None:
    """Prepare a process forked to plan a few dozen stacks and exit: it never collects garbage
    after runs (its exit gives the memory back faster than any collection), and runs on an
    event loop of its own (an inherited one shares its selector with the parent; it is kept
    alive, unclosed, so that closing it does not unregister the parent's descriptors)."""
    global _collect_every
    _collect_every = None
    inherited = getattr(_loop_holder, "loop", None)
    if inherited is not None:
        _inherited_loops.append(inherited)
        _loop_holder.loop = None


_inherited_loops: list[asyncio.AbstractEventLoop] = []


def preload() -> None:
    """Import what a run imports (the SDK, the mocks, the shortcuts) before a fork."""
    import pulumi.runtime.mocks  # imported to be loaded before the fork
    import pulumi.runtime.stack  # noqa: F401 (as above; both bind one name, pulumi)

    shortcuts.preload()


@contextmanager
def batch() -> Iterator[None]:
    """Keep the cyclic collector paused between the runs of the block too (processes forked in
    it inherit that), so that it runs only every :data:`COLLECT_EVERY` runs: re-enabled after
    each run, it would at once scan everything the run allocated (a tenth of the planning time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def freeze_heap() -> None:
    """Move every object alive now out of the collector's sight (``gc.freeze``): modules and
    SDK state loaded once are not rescanned after each run, and forked workers share them."""
    gc.collect()
    gc.freeze()


def _run_in_context(
    program: Program,
    run: ProgramRun,
    project: str,
    stack: str,
    config: dict[str, str],
    preview: bool,
    fast: bool,
) -> BaseException | None:
    """One run, in the fresh context :func:`run_program_collecting` made for it."""
    import pulumi
    from pulumi.runtime import config as runtime_config
    from pulumi.runtime import settings
    from pulumi.runtime.mocks import set_mocks
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    with shortcuts.installed() if fast else nullcontext():
        _event_loop()
        settings.reset_options(project=project, stack=stack, preview=preview)
        runtime_config.set_all_config(dict(config), [])
        recorder, monitor = _make_mocks()
        set_mocks(recorder, project=project, stack=stack, preview=preview, monitor=monitor)
        error: BaseException | None = None
        try:
            _sync_await(run_pulumi_func(program))
        except Exception as exc:  # noqa: BLE001 (the program's own failure, handed to the caller)
            error = exc
        run.resources.extend(monitor.registered)
        if error is None and not preview:
            root = settings.get_root_resource()
            for key, value in getattr(root, "outputs", {}).items():
                output = pulumi.Output.from_input(value)
                run.outputs[key] = _sync_await(output.future())
                if _sync_await(output.is_secret()):
                    run.secret_outputs.add(key)
    return error
