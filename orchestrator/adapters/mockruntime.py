"""Run a Pulumi program in-process under Pulumi's mock runtime: no engine, no cloud.

The runtime's state (settings, root stack, config) lives in context variables. Each run
therefore happens in a fresh, empty :class:`contextvars.Context` in which the settings are reset
(``reset_options``), the config set and the mocks installed with a new monitor: nothing leaks
from one stack into the next, and many stacks are planned one after another in one process
(or in each worker of a process pool). Mocked values are deterministic.

Heavy imports (pulumi) happen when a run starts, not when this module is imported.
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import threading
import zlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

STACK_TYPE = "pulumi:pulumi:Stack"


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


def _call(token: str, args: dict[str, Any]) -> dict[str, Any]:
    name = args.get("name") or "current"
    if token == "openstack:identity/getAuthScope:getAuthScope":
        return {"id": name, "name": name, "userId": "mock-admin-user-id", "userName": "admin",
                "projectId": "mock-admin-project-id", "projectName": "admin"}
    return {"id": f"mock-{token.rsplit(':', 1)[-1]}-{name}-id", "name": name}


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

        def call(self, args: Any) -> dict[str, Any]:
            return _call(args.token, args.args)

    class Monitor(mocks.MockMonitor):
        """The stock mock monitor, recording parent, provider and inputs of each resource, and
        answering registrations and invokes without pumping the event loop."""

        def __init__(self, recorder: Recorder) -> None:
            super().__init__(recorder)
            self.recorder = recorder
            self.registered: list[Registered] = []

        def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
            urn = self.make_urn(request.parent, request.type, request.name)
            if request.type == STACK_TYPE:
                return resource_pb2.RegisterResourceResponse(urn=urn)
            inputs = rpc.deserialize_properties(request.object)
            id_, state = self.recorder.new_resource(
                mocks.MockResourceArgs(typ=request.type, name=request.name, inputs=inputs,
                                       provider=request.provider, resource_id=request.importId,
                                       custom=request.custom or False)
            )
            self.resources[urn] = mocks.MockMonitor.ResourceRegistration(urn, id_, state)
            self.registered.append(
                Registered(urn, request.type, request.name, request.parent, request.provider,
                           bool(request.custom), inputs)
            )
            return resource_pb2.RegisterResourceResponse(urn=urn, id=id_, object=struct(state))

        def Invoke(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
            if request.tok == "pulumi:pulumi:getResource":
                return super().Invoke(request)
            args = rpc.deserialize_properties(request.args)
            return resource_pb2.ResourceInvokeResponse(**{"return": struct(_call(request.tok, args))})

    recorder = Recorder()
    return recorder, Monitor(recorder)


_loop_holder = threading.local()


class _InlineExecutor(ThreadPoolExecutor):
    """Runs each submitted call at once on the calling thread.

    The SDK sends every RPC through the loop's default executor; the mock monitor answers in
    microseconds, so the thread hand-offs cost more than the calls (planning runs ~2x faster).
    """

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001  (delivered through the future)
            future.set_exception(exc)
        return future


def _event_loop() -> asyncio.AbstractEventLoop:
    """One event loop per thread, reused by every run (runs leave no pending work behind)."""
    loop = getattr(_loop_holder, "loop", None)
    if loop is None or loop.is_closed():
        loop = _loop_holder.loop = asyncio.new_event_loop()
        loop.set_default_executor(_InlineExecutor(max_workers=1))
    asyncio.set_event_loop(loop)
    return loop


def _skip_source_positions() -> None:
    """Registrations under mocks need no source positions; computing them (a stack walk per
    resource) is a fifth of the planning time. Only this process's mock runs are affected: a real
    engine runs the program in its own process."""
    from pulumi.runtime import resource
    from pulumi.runtime.proto import source_pb2

    resource._get_stack_trace = source_pb2.StackTrace  # type: ignore[attr-defined]


def _skip_debug_messages() -> None:
    """Under mocks the SDK's debug messages (several per resource) end in a logger nobody reads,
    each built as an engine log request first: a tenth of the planning time. Only this process's
    mock runs are affected, for the same reason as :func:`_skip_source_positions`."""
    from pulumi import log

    log.debug = _no_debug


def _no_debug(*_args: Any, **_kwargs: Any) -> None:
    """``pulumi.log.debug`` under mocks."""


def run_program(
    program: Callable[[], object],
    *,
    project: str,
    stack: str,
    config: dict[str, str] | None = None,
    preview: bool = False,
) -> ProgramRun:
    """Run ``program`` as stack ``stack`` of ``project`` with ``config`` under mocks.

    ``preview=True`` runs as ``pulumi preview`` does: about a quarter cheaper, but outputs the
    cloud computes (addresses) stay unknown, so stack outputs are not collected.

    Exceptions of the program propagate after the runtime has settled; the resources registered
    until then are lost with them (use :func:`run_program_collecting` to keep them).
    """
    run = ProgramRun()
    error = run_program_collecting(
        program, run, project=project, stack=stack, config=config, preview=preview
    )
    if error is not None:
        raise error
    return run


def run_program_collecting(
    program: Callable[[], object],
    run: ProgramRun,
    *,
    project: str,
    stack: str,
    config: dict[str, str] | None = None,
    preview: bool = False,
) -> BaseException | None:
    """Like :func:`run_program` but fills ``run`` and returns the program's exception, if any.

    The cyclic garbage collector is paused during the run (the SDK allocates many short-lived
    futures; collecting them as they go doubles the run time) and runs once every
    :data:`COLLECT_EVERY` runs (a collection after each run cost a third of the planning time;
    one after twenty costs about as much as one after one). Callers that plan many stacks call
    :func:`freeze_heap` first so that collection skips what is loaded.
    """
    global _runs_since_collect
    enabled = gc.isenabled()
    gc.disable()
    try:
        return contextvars.Context().run(
            _run_isolated, program, run, project, stack, config or {}, preview
        )
    finally:
        _runs_since_collect += 1
        if _runs_since_collect >= COLLECT_EVERY:
            gc.collect()
            _runs_since_collect = 0
        if enabled:
            gc.enable()


#: Runs between two garbage collections (each run leaves a few MB of cyclic garbage).
COLLECT_EVERY = 20
_runs_since_collect = 0


def freeze_heap() -> None:
    """Move every object alive now out of the collector's sight (``gc.freeze``): modules and
    SDK state loaded once are not rescanned after each run, and forked workers share them.

    No collection first (the Python documentation's recipe before a fork): a full collection of
    the freshly loaded SDK cost about 0.09 s of every ``plan`` before its workers could start,
    to free the little garbage importing leaves.
    """
    gc.freeze()


def _run_isolated(
    program: Callable[[], object],
    run: ProgramRun,
    project: str,
    stack: str,
    config: dict[str, str],
    preview: bool,
) -> BaseException | None:
    import pulumi
    from pulumi.runtime import config as runtime_config
    from pulumi.runtime import settings
    from pulumi.runtime.mocks import set_mocks
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    _skip_source_positions()
    _skip_debug_messages()
    _event_loop()
    settings.reset_options(project=project, stack=stack, preview=preview)
    runtime_config.set_all_config(dict(config), [])
    recorder, monitor = _make_mocks()
    set_mocks(recorder, project=project, stack=stack, preview=preview, monitor=monitor)
    error: BaseException | None = None
    try:
        _sync_await(run_pulumi_func(program))
    except Exception as exc:  # the program's own failure, handed to the caller
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
