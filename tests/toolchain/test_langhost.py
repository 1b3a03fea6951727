"""Our language host's ``RunPlugin`` for plugins written in Python, through the real CLI:
``pulumi plugin run --kind tool DIR ARGS`` starts a plugin directory (``PulumiPlugin.yaml``,
``runtime: python``) through the host, which streams its output and exit code back. (Policy packs,
the other caller, run through ``pulumi preview --policy-pack`` in ``tests/e2e/test_policy_pack.py``.)

Needs the engine of ``scripts/install-pulumi`` (``GOVCLOUD_ENGINE_DIR``, else this checkout's);
fails, never skips, without it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.adapters import engine
from orchestrator.errors import GovcloudError

pytestmark = pytest.mark.engine

MAIN = """\
import os, sys
print("args", sys.argv[1:])
print("cwd", os.getcwd())
print("python", sys.prefix)
print("oops", file=sys.stderr)
sys.exit(int(sys.argv[-1]))
"""


@pytest.fixture(scope="module")
def engine_env() -> dict[str, str]:
    environ = {"PULUMI_CONFIG_PASSPHRASE": "no stack here, nothing to encrypt"} | dict(os.environ)
    try:
        located = engine.locate(environ=environ)
    except GovcloudError as exc:
        pytest.fail(f"the Pulumi engine is not usable: {exc}", pytrace=False)
    return environ | located.env


def plugin_dir(tmp_path: Path, main: str | None) -> Path:
    directory = tmp_path / "tool"
    directory.mkdir()
    (directory / "PulumiPlugin.yaml").write_text(
        f"runtime:\n  name: python\n  options:\n    virtualenv: {Path(sys.prefix)}\n", encoding="utf-8"
    )
    if main is not None:
        (directory / "__main__.py").write_text(main, encoding="utf-8")
    return directory


def run(engine_env: dict[str, str], directory: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["pulumi", "plugin", "run", "--kind", "tool", str(directory), "--", *args],
        cwd=cwd,
        env=engine_env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_python_plugin_runs_with_its_arguments_output_and_exit_code(engine_env, tmp_path):
    directory = plugin_dir(tmp_path, MAIN)
    done = run(engine_env, directory, tmp_path, "one", "0")
    assert done.returncode == 0, done.stderr
    assert "args ['one', '0']" in done.stdout and f"cwd {tmp_path}" in done.stdout, done.stdout
    assert f"python {Path(sys.prefix)}" in done.stdout and "oops" in done.stderr  # the configured virtualenv
    failed = run(engine_env, directory, tmp_path, "7")
    assert (failed.returncode, "args ['7']" in failed.stdout) == (7, True), (failed.returncode, failed.stdout)


def test_a_directory_with_nothing_to_run_is_refused_in_one_sentence(engine_env, tmp_path):
    directory = plugin_dir(tmp_path, None)
    done = run(engine_env, directory, tmp_path)
    assert done.returncode != 0
    assert "is not runnable: it has neither __main__.py nor a buildable pyproject.toml" in done.stderr, done.stderr
