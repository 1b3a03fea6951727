"""One vocabulary across commands: wherever an actor may be given, the same options say who acts."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from orchestrator.cli import cli, register_commands

register_commands()
ACTOR = {"actor_name": "--as", "actor_role": "--role", "actor_unit": "--unit", "actor_token_file": "--id-token-file"}


def _commands(group: click.Group = cli, prefix: str = ""):
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _commands(command, f"{prefix}{name} ")
        else:
            yield f"{prefix}{name}", command


def _actor_options(command: click.Command) -> dict[str, tuple[str, ...]]:
    return {p.name: tuple(p.opts) for p in command.params if p.name in ACTOR}


def test_every_command_that_takes_an_actor_takes_all_of_its_options_alike():
    takers = {name: _actor_options(c) for name, c in _commands() if _actor_options(c)}
    assert {"preview", "up", "destroy", "refresh", "reclaim", "expire", "app submit", "gitops apply"} <= set(takers)
    for name, options in takers.items():
        assert options == {k: (v,) for k, v in ACTOR.items()}, name


@pytest.mark.parametrize("operation", ["preview", "destroy", "refresh"])
def test_engine_commands_accept_and_verify_the_actor(operation, monkeypatch, tmp_path):
    """``preview --as`` was a usage error while ``up --as`` was required; now a bad role is refused alike."""
    monkeypatch.setenv("GOVCLOUD_HOME", str(tmp_path))
    result = CliRunner().invoke(
        cli, [operation, "social-security", "--env", "test", "--as", "ops", "--role", "janitor"]
    )
    assert result.exit_code == 2 and "role 'janitor' unknown" in result.output, result.output
