"""clouds.yaml -> OS_* variables for the engine, and the program's refusal of OS_CLOUD.

With OS_CLOUD the bridged OpenStack provider ignores tenantId/tenantName (seen on the local
cloud: every resource of an environment landed in the admin's project)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from orchestrator.adapters.cloud.credentials import openrc
from orchestrator.cli import cli, register_commands
from orchestrator.errors import UsageError

from .test_entrypoint import config_for, example, run_entrypoint

CLOUDS = """
clouds:
  city:
    region_name: RegionOne
    interface: internal
    verify: false
    auth:
      auth_url: https://keystone.city.example/v3
      username: govcloud-ops
      password: "s3cret pass"
      user_domain_name: Default
      project_name: admin
      project_domain_name: Default
  bound:
    auth_type: v3applicationcredential
    auth:
      auth_url: https://keystone.city.example/v3
      application_credential_id: abc
      application_credential_secret: xyz
"""


@pytest.fixture
def clouds_yaml(tmp_path, monkeypatch):
    path = tmp_path / "clouds.yaml"
    path.write_text(CLOUDS, encoding="utf-8")
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(path))
    monkeypatch.delenv("OS_CLOUD", raising=False)
    return path


def test_a_clouds_yaml_entry_becomes_explicit_variables(clouds_yaml):
    env = openrc(environ={"OS_CLOUD": "city"})
    assert env == {
        "OS_CLOUD": "",
        "OS_AUTH_URL": "https://keystone.city.example/v3",
        "OS_USERNAME": "govcloud-ops",
        "OS_PASSWORD": "s3cret pass",
        "OS_USER_DOMAIN_NAME": "Default",
        "OS_PROJECT_NAME": "admin",
        "OS_PROJECT_DOMAIN_NAME": "Default",
        "OS_REGION_NAME": "RegionOne",
        "OS_INTERFACE": "internal",
        "OS_INSECURE": "true",
    }
    assert openrc(environ={}) == {}


def test_a_project_bound_credential_or_unknown_cloud_is_refused_naming_clouds_yaml(clouds_yaml):
    with pytest.raises(UsageError, match=r"clouds.yaml: cloud 'bound' uses auth_type v3applicationcredential"):
        openrc("bound")
    with pytest.raises(UsageError, match=r"clouds.yaml: .*nowhere"):
        openrc("nowhere")


def test_openrc_command_prints_what_a_shell_evaluates(clouds_yaml):
    register_commands()
    result = CliRunner().invoke(cli, ["openrc", "--cloud", "city"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "export OS_CLOUD=''"  # empty, as govcloud up gives it: the provider records it
    assert "export OS_PASSWORD='s3cret pass'" in lines
    missing = CliRunner().invoke(cli, ["openrc"])
    assert missing.exit_code == 2 and "--cloud NAME or OS_CLOUD" in missing.stderr


@pytest.mark.parametrize("how", ["environment", "config"])
def test_the_program_refuses_os_cloud_before_registering_anything(monkeypatch, how):
    config = config_for(example("permit-prototype").digest)
    if how == "environment":
        monkeypatch.setenv("OS_CLOUD", "city")
    else:
        monkeypatch.delenv("OS_CLOUD", raising=False)
        config["openstack:cloud"] = "city"
    run, error = run_entrypoint(config)
    assert error is not None and "ignores each environment's project scope" in str(error)
    assert "govcloud openrc" in str(error)
    assert run.resources == []
