"""Shortcuts through the Pulumi SDK's bookkeeping for runs under our mock runtime.

This module reads private names of the SDK as it is imported: only
:mod:`~orchestrator.adapters.pulumimock.shortcuts` imports it, and only once its version check
has passed (on any other SDK version runs take the stock path).

A plan spends most of its time in the SDK's per-Output machinery, not in the program. Each
shortcut below replaces one SDK function by one that gives the program the same values, in the
same Outputs, with the same errors, at less cost; the registrations the monitor receives are the
ones the stock SDK sends. They are installed for the duration of one mock run only
(:func:`~orchestrator.adapters.pulumimock.shortcuts.installed`), written against one SDK version
(:data:`~orchestrator.adapters.pulumimock.shortcuts.SDK_VERSION`) and
checked by ``tests/stacks/test_pulumimock.py``: for every example, the monitor receives the same
registration requests byte for byte (inputs, options, dependencies, aliases; only the stack trace
differs, see 6) and the stack exports the same outputs, with and without them. Mock runs without
shortcuts: ``run_program(fast=False)``.

1. ``rpc.transfer_properties``: each property's Output gets one future, resolved with its value,
   known/secret flags and dependencies at once (the SDK's own idiom for ``urn`` and ``id``),
   instead of four futures and a task that gathers them.
2. ``Output._track``: an Output enters the settings' set of outstanding outputs without a done
   callback per Output that removes it again; ``stack.wait_for_rpcs`` drops the settled ones before
   it waits. Failed or cancelled ones are still awaited, so their errors surface as before.
   ``_track`` and ``_untrack`` skip the lock (one thread runs the loop and the monitor), and
   they and ``settings.is_dry_run`` read the context variables behind the runtime settings
   directly (through the settings object a read costs a microsecond; a stack makes a thousand).
3. ``resource.create_urn`` on plain strings computes the URN at once (the SDK derives the mock URN
   it never uses when a monitor answers through three Outputs and two tasks per registration).
4. ``_types.unwrap_type``, ``resource_types``, ``resource_pulumi_to_py_names``,
   ``input_type_py_to_pulumi_names`` and ``input_type_types``: memoised; they are pure functions
   of the (immutable) generated classes and their annotations, whose answers callers only read.
5. ``log.debug``: dropped (the mock engine would hand the SDK's debug chatter to the root logger).
6. ``resource._get_stack_trace``: no source positions (a stack walk per registration; a real
   engine runs the program in its own process, never with these shortcuts).
7. ``rpc.serialize_property`` of a plain ``str``, ``int``, ``float``, ``bool`` or ``None`` (exactly
   these types, not subclasses such as enums) answers the value itself, as the stock function
   does after a dozen type checks.
8. ``wrap_with_context`` (resource registrations and invokes): the call itself. It carries the
   Python and OpenTelemetry contexts over to an executor thread; the mock loop runs the call at
   once, on its own thread, in the very context the wrapper would copy.
9. ``rpc.contains_unknowns`` of a plain ``str``, ``int``, ``float``, ``bool`` or ``None``:
   ``False`` at once (the SDK asks it of every value an Output settles with, twice).
10. ``Output.from_input`` of such a plain value: the known, settled Output built at once (the
   stock function checks a dozen other kinds of input first).
11. ``ResourceOptions._copy`` and ``ResourceHookBinding._copy`` (twice per resource, in
   ``ResourceOptions.merge``): a new instance with the same ``__dict__``, which is what
   ``copy.copy`` makes of these plain classes, without its generic reduce-and-rebuild path.
12. ``resource._prepare_resource_hooks`` of a binding without hooks: the empty binding at once
   (the stock function looks up each of the seven hook kinds first).
"""

from __future__ import annotations

import asyncio
import functools
import importlib
from collections.abc import Callable
from typing import Any

import pulumi
import pulumi.log
from pulumi import _types
from pulumi.output import Output, _OutputData
from pulumi.runtime import resource, rpc, settings, stack
from pulumi.runtime.proto import resource_pb2, source_pb2
from pulumi.runtime.settings import SETTINGS


@functools.cache
def replacements() -> tuple[tuple[Any, str, Any], ...]:
    """(owner, name, replacement) of every shortcut."""
    return (
        (rpc, "transfer_properties", _transfer_properties),
        (rpc, "serialize_property", _serializing_property(rpc.serialize_property)),
        (Output, "_track", _track),
        (Output, "_untrack", _untrack),
        (settings, "is_dry_run", _is_dry_run),
        (stack, "wait_for_rpcs", _waiting_for_rpcs(stack.wait_for_rpcs)),
        (resource, "create_urn", _creating_urn(resource.create_urn)),
        (_types, "unwrap_type", _memoised(_types.unwrap_type)),
        (_types, "resource_types", functools.cache(_types.resource_types)),
        (_types, "resource_pulumi_to_py_names", functools.cache(_types.resource_pulumi_to_py_names)),
        (_types, "input_type_py_to_pulumi_names", functools.cache(_types.input_type_py_to_pulumi_names)),
        (_types, "input_type_types", functools.cache(_types.input_type_types)),
        (pulumi.log, "debug", _no_debug),
        (resource, "_get_stack_trace", source_pb2.StackTrace),
        (resource, "wrap_with_context", _unwrapped),
        (importlib.import_module("pulumi.runtime.invoke"), "wrap_with_context", _unwrapped),  # not the function
        (rpc, "contains_unknowns", _plain_known(rpc.contains_unknowns)),
        (Output, "from_input", staticmethod(_plain_from_input(Output.from_input))),
        (pulumi.ResourceOptions, "_copy", _shallow_copy),
        (pulumi.ResourceHookBinding, "_copy", _shallow_copy),
        (resource, "_prepare_resource_hooks", _hookless(resource._prepare_resource_hooks)),
    )


def _transfer_properties(res: Any, props: Any, custom: bool) -> dict[str, Callable[..., None]]:
    resolvers: dict[str, Callable[..., None]] = {}
    outputs = _OUTPUTS.get()  # what Output._track adds to
    for name in props:
        if name == "urn" or (name == "id" and custom):
            continue  # the SDK resolves these itself
        future: asyncio.Future = asyncio.Future()
        resolvers[name] = functools.partial(_resolve_property, res, future)
        res.__dict__[name] = _output(future, outputs)
    return resolvers


def _output(future: asyncio.Future, outputs: set) -> Output:
    """``Output._from_data(future)`` without ``ensure_future`` of what is a future already;
    ``outputs`` is the set ``Output._track`` adds to."""
    output = object.__new__(Output)
    output._data = future
    outputs.add(future)
    return output


_PLAIN = frozenset({str, int, float, bool, type(None)})


def _serializing_property(stock: Callable[..., Any]) -> Callable[..., Any]:
    async def serialize_property(value: Any, *args: Any, **kwargs: Any) -> Any:
        if type(value) in _PLAIN and not kwargs.get("return_protobuf_value"):
            return value
        return await stock(value, *args, **kwargs)

    return serialize_property


def _plain_known(stock: Callable[[Any], bool]) -> Callable[[Any], bool]:
    def contains_unknowns(value: Any) -> bool:
        return False if type(value) in _PLAIN else stock(value)

    return contains_unknowns


_HOOK_KINDS = (
    "before_create",
    "after_create",
    "before_update",
    "after_update",
    "before_delete",
    "after_delete",
    "on_error",
)


def _hookless(stock: Callable[..., Any]) -> Callable[..., Any]:
    async def prepare_resource_hooks(hooks: Any, name_prefix: str) -> Any:
        if hooks is None or not any(getattr(hooks, kind, None) for kind in _HOOK_KINDS):
            return resource_pb2.RegisterResourceRequest.ResourceHooksBinding()
        return await stock(hooks, name_prefix)

    return prepare_resource_hooks


def _shallow_copy(self: Any) -> Any:
    out = object.__new__(type(self))
    out.__dict__.update(self.__dict__)
    return out


def _plain_from_input(stock: Callable[[Any], Output]) -> Callable[[Any], Output]:
    def from_input(value: Any) -> Output:
        if type(value) not in _PLAIN:
            return stock(value)
        future: asyncio.Future = asyncio.Future()
        future.set_result(_OutputData(resources=set(), value=value, is_known=True, is_secret=False))
        return _output(future, _OUTPUTS.get())

    return from_input


def _resolve_property(
    res: Any,
    future: asyncio.Future,
    value: Any,
    is_known: bool,
    is_secret: bool,
    deps: Any,
    failed: Exception | None,
) -> None:
    if failed is not None:
        future.set_exception(failed)
        return
    resources = set(deps) if deps else set()
    resources.add(res)
    future.set_result(_OutputData(resources=resources, value=value, is_known=is_known, is_secret=is_secret))


#: The context variables behind ``SETTINGS.outputs`` and ``SETTINGS.dry_run`` (set by every
#: run's ``reset_options``).
_OUTPUTS = type(SETTINGS).__dict__["outputs"]._data
_DRY_RUN = type(SETTINGS).__dict__["dry_run"]._data


def _track(self: Any) -> None:
    _OUTPUTS.get().add(self._data)


def _untrack(self: Any) -> None:
    _OUTPUTS.get().discard(self._data)


def _is_dry_run() -> bool:
    return bool(_DRY_RUN.get())


def _waiting_for_rpcs(stock: Callable[..., Any]) -> Callable[..., Any]:
    """``stack.wait_for_rpcs`` for outputs that stay tracked once settled (see :func:`_track`)."""

    async def wait_for_rpcs(await_all_outstanding_tasks: bool = True) -> None:
        while True:
            await stock(await_all_outstanding_tasks=False)
            if not await_all_outstanding_tasks:
                return
            while True:
                outputs = SETTINGS.outputs
                waiting = [f for f in outputs if not f.done() or f.cancelled() or f.exception() is not None]
                outputs.clear()
                if not waiting:
                    break
                done, not_done = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    await task
                outputs.update(not_done)
            if not settings._get_rpc_manager().rpcs:
                return

    return wait_for_rpcs


def _creating_urn(stock: Callable[..., Any]) -> Callable[..., Any]:
    def create_urn(name: Any, type_: Any, parent: Any = None, project: Any = None, stack: Any = None) -> Any:
        if not (isinstance(name, str) and isinstance(type_, str) and (parent is None or isinstance(parent, str))):
            return stock(name, type_, parent, project, stack)
        if parent is not None:
            prefix = parent[0 : parent.rfind("::")] + "$"
        else:
            stack = settings.get_stack() if stack is None else stack
            project = settings.get_project() if project is None else project
            prefix = "urn:pulumi:" + stack + "::" + project + "::"
        return Output.from_input(prefix + type_ + "::" + name)

    return create_urn


def _memoised(function: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``function`` remembered per argument; unhashable arguments are computed each time."""
    cache: dict[Any, Any] = {}

    def memoised(value: Any) -> Any:
        try:
            return cache[value]
        except KeyError:
            result = cache[value] = function(value)
            return result
        except TypeError:
            return function(value)

    return memoised


def _unwrapped(function: Callable[..., Any]) -> Callable[..., Any]:
    return function


def _no_debug(*_args: Any, **_kwargs: Any) -> None:
    return None
