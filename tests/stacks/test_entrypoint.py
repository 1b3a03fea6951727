"""The program's entry point (``stacks/__main__.py``) under mocks: config, digest gate, outputs.

The mocks are set (inside :func:`run_program_collecting`) before ``stacks.__main__`` is executed.
"""

from __future__ import annotations

import runpy

import pulumi
import pytest

from orchestrator.adapters.pulumimock import ProgramRun, run_program, run_program_collecting
from orchestrator.core import naming
from orchestrator.core.manifest import Environment

from .conftest import KEYCLOAK_CONFIG, REPO, Checks, example


@pytest.fixture(autouse=True)
def _no_os_cloud(monkeypatch: pytest.MonkeyPatch) -> None:
    """The program refuses OS_CLOUD (test_credentials.py); a developer's shell may set it."""
    monkeypatch.delenv("OS_CLOUD", raising=False)


def run_entrypoint(config: dict[str, str]) -> tuple[ProgramRun, BaseException | None]:
    run = ProgramRun()
    error = run_program_collecting(
        lambda: runpy.run_module("stacks", run_name="__main__"),
        run,
        project="govcloud",
        stack="zjj.permit-prototype.test",
        config=config,
    )
    return run, error


def config_for(digest: str, environment: str = "test") -> dict[str, str]:
    return {
        "govcloud:manifest": "examples/manifests/permit-prototype.yaml",
        "govcloud:environment": environment,
        "govcloud:digest": digest,
        "govcloud:externalNetwork": "public",
        "govcloud:authRealm": "government",
        **KEYCLOAK_CONFIG,
    }


def test_approved_digest_deploys() -> None:
    run, error = run_entrypoint(config_for(example("permit-prototype").digest))
    assert error is None
    assert len(run.of_type("openstack:compute/instance:Instance")) == 1
    assert run.outputs["projectId"] == "zjj-permit-prototype-test-id"


def test_digest_mismatch_registers_nothing() -> None:
    wrong = "sha256:" + "0" * 64
    run, error = run_entrypoint(config_for(wrong))
    assert isinstance(error, pulumi.RunError)
    assert "differs from the approved digest" in str(error) and wrong in str(error)
    assert run.resources == []


def test_undeclared_environment_registers_nothing() -> None:
    run, error = run_entrypoint(config_for(example("permit-prototype").digest, "production"))
    assert isinstance(error, pulumi.RunError)
    assert "environment production is not declared" in str(error)
    assert run.resources == []


def test_missing_config_is_an_error_naming_the_key() -> None:
    config = config_for(example("permit-prototype").digest)
    del config["govcloud:externalNetwork"]
    run, error = run_entrypoint(config)
    assert error is not None and "govcloud:externalNetwork" in str(error)
    assert run.resources == []


def test_manifest_path_is_relative_to_the_repository() -> None:
    from stacks.program import PROJECT_DIR

    assert (PROJECT_DIR / "Pulumi.yaml").is_file()
    assert PROJECT_DIR == REPO


def test_output_assertions_run(checks: Checks) -> None:
    """Assertions on Outputs, each guarded: an apply that never runs fails the test."""
    from stacks.components.settings import StackSettings
    from stacks.program import deploy

    app = example("social-security")

    def program() -> None:
        env = deploy(app, Environment.PRODUCTION, StackSettings(external_network="public"))

        @checks.expect("public addresses of the gateways")
        def public(addresses: dict) -> None:
            assert sorted(addresses) == ["social-security-gateway-1", "social-security-gateway-2"], env.urn

        @checks.expect("database hosts")
        def hosts(hosts: dict) -> None:
            assert list(hosts) == ["social-security-benefits"] and len(hosts["social-security-benefits"]) == 1

        @checks.expect("quota of the project")
        def quota(values: list) -> None:
            assert values == [6, 36, (2 * 4 + 4 * 16) * 1024], env.identity.compute_quota

        env.public_addresses.apply(public)
        env.database_hosts.apply(hosts)
        q = env.identity.compute_quota
        pulumi.Output.all(q.instances, q.cores, q.ram).apply(quota)

    run_program(
        program, project="govcloud", stack=naming.stack_name(app.unit, app.id, "production"), config=KEYCLOAK_CONFIG
    )


def test_guard_fails_when_an_output_assertion_never_ran() -> None:
    """In a preview, values the cloud would return are unknown and applies on them never run:
    the guard must notice."""
    from stacks.components.settings import StackSettings
    from stacks.program import deploy

    app = example("citizen-portal")
    guard = Checks()

    def program() -> None:
        env = deploy(app, Environment.TEST, StackSettings(external_network="public"))
        env.identity.project.domain_id.apply(guard.expect("domain known in preview")(lambda _: None))

    run_program(program, project="govcloud", stack="zwb.citizen-portal.test", config=KEYCLOAK_CONFIG, preview=True)
    with pytest.raises(pytest.fail.Exception, match="never ran: domain known in preview"):
        guard.verify()
