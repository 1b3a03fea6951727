"""The SDK shortcuts of mock runs change nothing a run yields, and the forked pool nothing a plan yields."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import warnings
from collections.abc import Iterator

import pulumi
import pytest
from pulumi.output import Output, Unknown
from pulumi.runtime import resource, rpc, stack

from orchestrator.adapters.pulumimock import (
    ProgramRun,
    StockSdkWarning,
    WorkerFailed,
    forked_map,
    run_program,
    runtime,
    shortcuts,
)
from orchestrator.core import naming
from orchestrator.errors import ExternalError
from orchestrator.services.admission import plan_paths
from orchestrator.services.plan import plan_manifest
from tests.stacks.conftest import (
    EXAMPLES,
    EXTERNAL_NETWORK,
    KEY_PAIR,
    KEYCLOAK_CONFIG,
    REPO,
    example,
    example_environments,
    shortcuts_only,
)


def _run(name: str, env: object, *, fast: bool, preview: bool) -> ProgramRun:
    from stacks.components.settings import StackSettings
    from stacks.program import deploy

    app = example(name)
    settings = StackSettings(external_network=EXTERNAL_NETWORK, key_pair=KEY_PAIR)
    return run_program(
        lambda: deploy(app, env, settings),
        project="govcloud",
        stack=naming.stack_name(app.unit, app.id, env),
        config=KEYCLOAK_CONFIG,
        preview=preview,
        fast=fast,
    )


def _comparable(value: object) -> object:
    """``value`` with the SDK's unknown markers (objects without equality) as one string."""
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_comparable(v) for v in value]
    return "<unknown>" if isinstance(value, Unknown) else value


def _registered(run: ProgramRun) -> list[tuple]:
    return sorted((r.urn, r.type, r.name, r.parent, r.provider, r.custom, _comparable(r.inputs)) for r in run.resources)


@pytest.fixture
def requests(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every RegisterResourceRequest the mock monitor receives (without the stack trace and source
    position, which shortcut 6 leaves out), serialized: all options, dependencies and aliases, not only inputs."""
    seen: list[bytes] = []
    make_mocks = runtime._make_mocks

    def recording() -> tuple:
        recorder, monitor = make_mocks()
        register = monitor.RegisterResource

        def register_resource(request: object) -> object:
            kept = type(request)()
            kept.CopyFrom(request)
            kept.ClearField("stackTrace")
            kept.ClearField("sourcePosition")
            for urns in [kept.dependencies, *(d.urns for d in kept.propertyDependencies.values())]:
                urns.sort()  # the SDK lists them from sets: their order differs from run to run
            seen.append(kept.SerializeToString(deterministic=True))
            return register(request)

        monitor.RegisterResource = register_resource
        return recorder, monitor

    monkeypatch.setattr(runtime, "_make_mocks", recording)
    return seen


@shortcuts_only
@pytest.mark.parametrize("preview", [True, False], ids=["preview", "update"])
@pytest.mark.parametrize(("name", "env"), example_environments())
def test_a_run_with_shortcuts_registers_and_exports_exactly_what_the_stock_sdk_does(
    name: str, env: object, preview: bool, requests: list[bytes]
) -> None:
    fast = _run(name, env, fast=True, preview=preview)
    fast_requests = sorted(requests)
    requests.clear()
    stock = _run(name, env, fast=False, preview=preview)
    assert fast.resources, "the run registered nothing"
    assert _registered(fast) == _registered(stock)
    assert len(fast_requests) == len(fast.resources) + 1  # and the stack
    assert fast_requests == sorted(requests)
    assert (fast.outputs, fast.secret_outputs) == (stock.outputs, stock.secret_outputs)
    if not preview:
        assert fast.outputs and fast.secret_outputs


@shortcuts_only
def test_shortcuts_last_only_as_long_as_the_run() -> None:
    before = (rpc.transfer_properties, Output._track, stack.wait_for_rpcs, resource.create_urn, pulumi.log.debug)
    seen: list[object] = []
    run_program(lambda: seen.append(rpc.transfer_properties), project="p", stack="s")
    from orchestrator.adapters.pulumimock import patches  # here: it reads private names of SDK 3.272 only

    assert seen == [patches._transfer_properties]
    assert (
        rpc.transfer_properties,
        Output._track,
        stack.wait_for_rpcs,
        resource.create_urn,
        pulumi.log.debug,
    ) == before


@pytest.mark.parametrize("fast", [True, False])
def test_an_error_in_an_apply_fails_the_run_with_or_without_shortcuts(fast: bool) -> None:
    import pulumi_random

    def program() -> None:
        password = pulumi_random.RandomPassword("p", length=8)
        password.length.apply(lambda _: 1 / 0)

    with pytest.raises(ZeroDivisionError):
        run_program(program, project="p", stack="s", fast=fast)


def test_resources_registered_inside_applies_are_all_waited_for() -> None:
    import pulumi_random

    def program() -> None:
        first = pulumi_random.RandomPassword("first", length=8)
        first.id.apply(lambda _: [pulumi_random.RandomPassword(f"inner{i}", length=8) for i in range(3)])

    runs = [run_program(program, project="p", stack="s", fast=fast) for fast in (True, False)]
    assert [sorted(r.name for r in run.resources) for run in runs] == [["first", "inner0", "inner1", "inner2"]] * 2


def test_planning_in_forked_workers_yields_the_sequential_plans() -> None:
    forked = plan_paths(EXAMPLES, workers=2)
    sequential = plan_paths(EXAMPLES, workers=1)
    assert len(forked) > len(EXAMPLES)
    assert [p.as_dict() for p in forked] == [p.as_dict() for p in sequential]


def test_after_the_preload_planning_imports_nothing_so_forked_workers_start_warm() -> None:
    script = (
        "import sys\n"
        "from orchestrator.services import plan\n"
        "plan.preload_planning()\n"
        "before = set(sys.modules)\n"
        f"for path in {[str(p) for p in EXAMPLES]!r}:\n"
        "    plan.plan_manifest(path)\n"
        "print(sorted(set(sys.modules) - before))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.stdout.strip() == "[]", f"imported after the preload: {done.stdout}"


def _square(n: int) -> int:
    if n == 7:
        raise ValueError("seven")
    return n * n


def test_forked_map_keeps_the_order_and_raises_the_workers_error() -> None:
    assert forked_map(_square, list(range(7)), workers=2, chunk=2) == [n * n for n in range(7)]
    with pytest.raises(ValueError, match="seven"):
        forked_map(_square, list(range(10)), workers=2, chunk=3)


def test_forked_map_names_a_worker_that_died() -> None:
    def die(_: int) -> int:
        os.kill(os.getpid(), signal.SIGKILL)
        return 0

    with pytest.raises(WorkerFailed, match="died"):
        forked_map(die, [1, 2], workers=2, chunk=1)


@pytest.fixture
def version_check() -> Iterator[None]:
    """The version check and its warning forgotten before and after the test."""
    shortcuts.supported.cache_clear()
    shortcuts._warn_once.cache_clear()
    yield
    shortcuts.supported.cache_clear()
    shortcuts._warn_once.cache_clear()


def test_another_sdk_version_plans_through_the_stock_path_saying_so_once(
    monkeypatch: pytest.MonkeyPatch, version_check: None
) -> None:
    fast = plan_paths(EXAMPLES, workers=1)
    monkeypatch.setattr(shortcuts, "_sdk_version", lambda: "3.999.0")  # what the check reads
    shortcuts.supported.cache_clear()
    shortcuts._warn_once.cache_clear()
    seen: list[object] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run_program(lambda: seen.append(rpc.transfer_properties), project="p", stack="s")
        stock = plan_paths(EXAMPLES, workers=1)
        forked = plan_paths(EXAMPLES, workers=2)
    assert seen == [rpc.transfer_properties], "a shortcut was installed on another SDK version"
    said = [w for w in caught if issubclass(w.category, StockSdkWarning)]
    assert len(said) == 1 and "pulumi 3.999.0 is not the SDK version" in str(said[0].message), said
    assert len(fast) > len(EXAMPLES)
    assert [p.as_dict() for p in stock] == [p.as_dict() for p in fast] == [p.as_dict() for p in forked]


def test_the_private_sdk_names_are_read_only_after_the_version_check() -> None:
    """Importing the package reads nothing of the SDK; with another SDK version the module that
    reads its private names is never imported (here: cannot be), and plans still run."""
    script = (
        "import sys, warnings\n"
        "from orchestrator.adapters import pulumimock\n"
        "from orchestrator.adapters.pulumimock import shortcuts\n"
        "assert 'pulumi' not in sys.modules and 'orchestrator.adapters.pulumimock.patches' not in sys.modules\n"
        "shortcuts._sdk_version = lambda: '3.999.0'\n"
        "sys.modules['orchestrator.adapters.pulumimock.patches'] = None  # importing it raises\n"
        "from orchestrator.services import plan\n"
        "plan.preload_planning()\n"
        f"plans = [p for path in {[str(p) for p in EXAMPLES]!r} for p in plan.plan_manifest(path)[1]]\n"
        "print(len(plans), sum(len(p.resources) for p in plans))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 0, done.stderr
    expected = [p for path in EXAMPLES for p in plan_manifest(path)[1]]
    assert done.stdout.split() == [str(len(expected)), str(sum(len(p.resources) for p in expected))]
    assert done.stderr.count("StockSdkWarning") == 1, done.stderr


def test_a_dead_worker_is_an_outside_failure() -> None:
    assert issubclass(WorkerFailed, ExternalError) and WorkerFailed("x").exit_code == 3
