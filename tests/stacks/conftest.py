"""Fixtures for the Pulumi program under the mock runtime.

Each run sets the mocks (in a fresh context) before any program code runs, so the program sees
only the mock engine. Runs are cached per (manifest, environment): the program is deterministic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from orchestrator.adapters.pulumimock import ProgramRun, Registered, run_program, shortcuts
from orchestrator.core import naming
from orchestrator.core.manifest import Application, Environment
from orchestrator.core.validation import load_manifest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "examples" / "manifests").glob("*.yaml"))
EXTERNAL_NETWORK = "public"
KEY_PAIR = "ops-key"
#: The authentication platform's provider config, as ``pulumi config set [--secret]`` writes it.
#: Tests of the SDK shortcuts themselves: with another SDK version (within the pin of
#: pyproject.toml) there are none, plans take the stock path (tested in test_pulumimock.py).
shortcuts_only = pytest.mark.skipif(
    not shortcuts.supported(), reason=f"the SDK shortcuts exist for pulumi {shortcuts.SDK_VERSION}* only"
)
KEYCLOAK_ADMIN_SECRET = "kc-admin-secret-5f1e"
KEYCLOAK_CONFIG = {
    "keycloak:url": "https://sso.changsha.example",
    "keycloak:clientId": "govcloud-provisioner",
    "keycloak:clientSecret": KEYCLOAK_ADMIN_SECRET,
}


@cache
def example(name: str) -> Application:
    return load_manifest(REPO / "examples" / "manifests" / f"{name}.yaml")


def example_environments() -> list[tuple[str, Environment]]:
    """Every (example manifest, declared environment)."""
    return [(p.stem, env) for p in EXAMPLES for env in load_manifest(p).environments]


@dataclass
class Deployed:
    """One environment run under mocks: what was registered, exported, and the component."""

    app: Application
    env: Environment
    run: ProgramRun
    component: object

    def of_type(self, type_: str) -> list[Registered]:
        return self.run.of_type(type_)

    def one(self, type_: str, name: str) -> Registered:
        found = [r for r in self.run.resources if r.type == type_ and r.name == name]
        assert len(found) == 1, f"expected one {type_} named {name}, found {len(found)}"
        return found[0]

    def parent_of(self, resource: Registered) -> Registered:
        return self.run.by_urn()[resource.parent]


@cache
def deployed(name: str, env: Environment) -> Deployed:
    return deploy_app(example(name), env)


def deploy_app(app: Application, env: Environment) -> Deployed:
    """Run the program for ``env`` of ``app`` under mocks."""
    from stacks.components.settings import StackSettings
    from stacks.program import deploy, policy_headroom

    holder: list[object] = []
    settings = StackSettings(external_network=EXTERNAL_NETWORK, key_pair=KEY_PAIR, headroom=policy_headroom())
    run = run_program(
        lambda: holder.append(deploy(app, env, settings)),
        project="govcloud",
        stack=naming.stack_name(app.unit, app.id, env),
        config=KEYCLOAK_CONFIG,
    )
    return Deployed(app, env, run, holder[0])


@pytest.fixture(params=example_environments(), ids=lambda p: f"{p[0]}-{p[1]}")
def env_run(request: pytest.FixtureRequest) -> Deployed:
    return deployed(*request.param)


class Checks:
    """Guard for assertions that run inside ``Output.apply``: each one is declared first and
    marked when it runs; a declared check that never ran fails the test."""

    def __init__(self) -> None:
        self.expected: set[str] = set()
        self.ran: set[str] = set()

    def expect(self, name: str) -> Callable[[Callable], Callable]:
        self.expected.add(name)

        def wrap(check: Callable) -> Callable:
            def run(value: object) -> object:
                check(value)
                self.ran.add(name)
                return value

            return run

        return wrap

    def verify(self) -> None:
        missing = sorted(self.expected - self.ran)
        if missing:
            pytest.fail(f"Output assertion(s) never ran: {', '.join(missing)}")


@pytest.fixture
def checks() -> Iterator[Checks]:
    guard = Checks()
    yield guard
    guard.verify()
