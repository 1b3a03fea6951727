"""Engine commands without an engine: one sentence, exit 3, no traceback; APP resolution."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from orchestrator.cli import cli
from orchestrator.cli import engine as _engine  # noqa: F401  (registers the commands)
from orchestrator.errors import NotFound, UsageError
from orchestrator.services.manifests import find_manifest

from .conftest import REPO

EXAMPLES = REPO / "examples" / "manifests"


def fake_executable(directory: Path, name: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)


@pytest.fixture
def engine_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty engine directory, an empty PATH, and a passphrase."""
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("GOVCLOUD_ENGINE_DIR", str(tmp_path / "engine"))
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "test")
    monkeypatch.delenv("PULUMI_HOME", raising=False)
    return tmp_path / "engine"


def up(*extra: str):
    """``preview``: an engine command that needs no approval, so the engine is the first check."""
    return CliRunner().invoke(cli, ["preview", "citizen-portal", "--env", "test", *extra])


def assert_one_sentence(result, *needles: str) -> None:
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    for needle in needles:
        assert needle in line
    assert line.endswith("install it with scripts/install-pulumi")


def test_missing_cli_exits_3_with_one_sentence(engine_dir: Path) -> None:
    assert_one_sentence(up(), "the Pulumi CLI (pulumi) was not found", str(engine_dir / "bin"))


def test_missing_language_host(engine_dir: Path) -> None:
    fake_executable(engine_dir / "bin", "pulumi")
    assert_one_sentence(up(), "Python language host (pulumi-language-python)")


def test_missing_openstack_plugin(engine_dir: Path) -> None:
    fake_executable(engine_dir / "bin", "pulumi")
    fake_executable(engine_dir / "bin", "pulumi-language-python")
    assert_one_sentence(up(), "openstack resource plugin v5.5.3", str(engine_dir / "home" / "plugins"))


def test_missing_keycloak_plugin(engine_dir: Path) -> None:
    for name in ("pulumi", "pulumi-language-python", "pulumi-resource-openstack", "pulumi-resource-random"):
        fake_executable(engine_dir / "bin", name)
    assert_one_sentence(up(), "keycloak resource plugin v6.14.1 (pulumi-resource-keycloak)")


def test_plugins_in_pulumi_home_are_found_then_the_passphrase_is_required(
    engine_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_executable(engine_dir / "bin", "pulumi")
    fake_executable(engine_dir / "bin", "pulumi-language-python")
    fake_executable(engine_dir / "home" / "plugins" / "resource-openstack-v5.5.3", "pulumi-resource-openstack")
    fake_executable(engine_dir / "bin", "pulumi-resource-random")
    fake_executable(engine_dir / "home" / "plugins" / "resource-keycloak-v6.14.1", "pulumi-resource-keycloak")
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE")
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE_FILE", raising=False)
    monkeypatch.setenv("PULUMI_BACKEND_URL", f"file://{engine_dir / 'state'}")
    result = up()
    assert result.exit_code == 2
    assert "set PULUMI_CONFIG_PASSPHRASE" in result.stderr
    assert (engine_dir / "state").is_dir()


def test_undeclared_environment_is_a_usage_error(engine_dir: Path) -> None:
    result = CliRunner().invoke(cli, ["preview", "permit-prototype", "--env", "production"])
    assert result.exit_code == 2 and "environment production is not declared" in result.stderr


def test_app_id_and_path_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOVCLOUD_MANIFESTS", raising=False)
    assert find_manifest("open-data") == EXAMPLES / "open-data-platform.yaml"  # id, not file name
    path = str(EXAMPLES / "citizen-portal.yaml")
    assert find_manifest(path) == Path(path)
    with pytest.raises(NotFound, match="no such manifest file"):
        find_manifest(str(tmp_path / "missing.yaml"))
    with pytest.raises(NotFound, match="no manifest declares application id 'ghost'"):
        find_manifest("ghost")
    shutil.copy(EXAMPLES / "citizen-portal.yaml", tmp_path / "a.yaml")
    shutil.copy(EXAMPLES / "citizen-portal.yaml", tmp_path / "b.yaml")
    monkeypatch.setenv("GOVCLOUD_MANIFESTS", str(tmp_path))
    with pytest.raises(UsageError, match="declared by several manifests"):
        find_manifest("citizen-portal")
    assert find_manifest("open-data", [EXAMPLES]) == EXAMPLES / "open-data-platform.yaml"


def test_stack_config_written_from_the_manifest(tmp_path: Path) -> None:
    from orchestrator.core.manifest import Environment
    from orchestrator.core.validation import load_manifest
    from orchestrator.services.provision import stack_config

    path = EXAMPLES / "social-security.yaml"
    app = load_manifest(path)
    assert stack_config(app, path, Environment.TRIAL, "ext-net", "ops") == {
        "govcloud:manifest": "examples/manifests/social-security.yaml",
        "govcloud:environment": "trial",
        "govcloud:digest": app.digest,
        "govcloud:externalNetwork": "ext-net",
        "govcloud:keyPair": "ops",
        "govcloud:releaseData": "[]",
    }
    released = stack_config(app, path, Environment.TRIAL, "ext-net", None, {"b", "a"})
    assert released["govcloud:releaseData"] == '["a", "b"]'
    outside = tmp_path / "x.yaml"
    shutil.copy(path, outside)
    config = stack_config(app, outside, Environment.TEST, "public", None)
    assert config["govcloud:manifest"] == str(outside.resolve()) and "govcloud:keyPair" not in config


PLATFORM_ENV = {
    "GOVCLOUD_AUTH_REALM": "government",
    "KEYCLOAK_URL": "https://sso.example",
    "KEYCLOAK_CLIENT_ID": "govcloud-provisioner",
    "KEYCLOAK_CLIENT_SECRET": "kc-secret",
}


def test_platform_config_from_the_environment_with_the_secret_marked() -> None:
    from orchestrator.services.provision import platform_config

    config, secret_keys = platform_config(PLATFORM_ENV | {"GOVCLOUD_PROVIDER_OPS_GROUP": "city-ops"})
    assert config == {
        "govcloud:authRealm": "government",
        "govcloud:providerOpsGroup": "city-ops",
        "keycloak:url": "https://sso.example",
        "keycloak:clientId": "govcloud-provisioner",
        "keycloak:clientSecret": "kc-secret",
    }
    assert secret_keys == {"keycloak:clientSecret"}
    with pytest.raises(UsageError, match="set GOVCLOUD_AUTH_REALM, KEYCLOAK_CLIENT_SECRET"):
        platform_config(
            {k: v for k, v in PLATFORM_ENV.items() if k not in ("GOVCLOUD_AUTH_REALM", "KEYCLOAK_CLIENT_SECRET")}
        )


def test_missing_platform_config_is_a_usage_error(engine_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "pulumi",
        "pulumi-language-python",
        "pulumi-resource-openstack",
        "pulumi-resource-random",
        "pulumi-resource-keycloak",
    ):
        fake_executable(engine_dir / "bin", name)
    for var in [*PLATFORM_ENV, "GOVCLOUD_AUTH_REALM"]:
        monkeypatch.delenv(var, raising=False)
    result = up()
    assert result.exit_code == 2 and "set GOVCLOUD_AUTH_REALM, KEYCLOAK_URL" in result.stderr


def test_engine_failure_is_exit_3_with_the_engine_s_own_words(
    engine_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var, value in PLATFORM_ENV.items():
        monkeypatch.setenv(var, value)
    for name in (
        "pulumi-language-python",
        "pulumi-resource-openstack",
        "pulumi-resource-random",
        "pulumi-resource-keycloak",
    ):
        fake_executable(engine_dir / "bin", name)
    pulumi = engine_dir / "bin" / "pulumi"
    pulumi.write_text(
        '#!/bin/sh\nif [ "$1" = version ]; then echo v3.272.0; exit 0; fi\n'
        'echo "error: the backend is on fire" >&2\nexit 1\n'
    )
    pulumi.chmod(0o755)
    result = CliRunner().invoke(cli, ["preview", "citizen-portal", "--env", "test"])
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.stderr
    assert "pulumi preview of stack zwb.citizen-portal.test failed" in result.stderr
    assert "the backend is on fire" in result.stderr


def test_engine_events_become_progress_lines(capsys: pytest.CaptureFixture) -> None:
    from types import SimpleNamespace as Event

    from orchestrator.adapters.engine import Progress, _progress
    from orchestrator.cli.engine import ProgressPrinter

    def event(**kinds):
        base = dict(resource_pre_event=None, res_outputs_event=None, res_op_failed_event=None, diagnostic_event=None)
        return Event(**{**base, **kinds})

    meta = Event(
        op="create",
        type="openstack:compute/instance:Instance",
        urn="urn:pulumi:s::govcloud::x$openstack:compute/instance:Instance::citizen-portal-web-1",
    )
    start = _progress(event(resource_pre_event=Event(metadata=meta)))
    done = _progress(event(res_outputs_event=Event(metadata=meta)))
    note = _progress(event(diagnostic_event=Event(message="quota exceeded\n", severity="error", ephemeral=False)))
    assert start == Progress("step", "create", meta.type, "citizen-portal-web-1")
    assert done.kind == "done" and note == Progress("message", message="quota exceeded", severity="error")
    assert _progress(event()) is None
    printer = ProgressPrinter()
    for p in (start, done, note):
        printer(p)
    err = capsys.readouterr().err
    assert "create   openstack:compute/instance:Instance  citizen-portal-web-1" in err
    assert "✓" in err and "quota exceeded" in err


def test_engine_failures_become_one_outside_error_naming_what_failed() -> None:
    """Every engine call converts through ``engine_errors``: the step named with the engine's own
    error lines, or the CLI that could not run with how to install it; the cause chained."""
    from pulumi.automation._cmd import CommandResult
    from pulumi.automation.errors import CommandError

    from orchestrator.adapters.engine import engine_errors
    from orchestrator.errors import ExternalError

    failed = CommandError(CommandResult("", "Updating (s)\nerror: project not found\n", 255))
    with (
        pytest.raises(ExternalError, match=r"^pulumi stack rm s failed: .*error: project not found") as caught,
        engine_errors("pulumi stack rm s"),
    ):
        raise failed
    assert caught.value.__cause__ is failed
    with (
        pytest.raises(ExternalError, match=r"could not run \(.*denied\); install it with scripts/install-pulumi"),
        engine_errors("pulumi stack ls"),
    ):
        raise PermissionError("denied")
    with engine_errors("pulumi stack ls"):
        pass  # nothing failed: nothing raised
