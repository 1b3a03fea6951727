"""The console entry point: exit codes and output as a normal exit gives them, without the teardown."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import EXAMPLES, INVALID, ROOT

ENTRY = "import sys; sys.argv[0] = 'govcloud'; from orchestrator.cli import main; main()"


def govcloud(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", ENTRY, *args], cwd=ROOT, capture_output=True, text=True, check=False, timeout=120
    )


def test_exit_codes_and_piped_output_survive_the_fast_exit():
    paths = sorted(str(p) for p in INVALID.glob("*.yaml"))
    refused = govcloud("validate", *paths, "--output", "json")
    assert refused.returncode == 1, refused.stderr
    assert [f["valid"] for f in json.loads(refused.stdout)["files"]] == [False] * len(paths)  # all of it
    valid = govcloud("digest", str(EXAMPLES / "social-security.yaml"))
    assert valid.returncode == 0 and valid.stdout.startswith("sha256:"), valid.stderr
    usage = govcloud("validate", "--no-such-option")
    assert usage.returncode == 2 and "No such option" in usage.stderr


def test_exit_handlers_still_run():
    program = (
        "import atexit, sys; sys.argv = ['govcloud', '--version']; "
        "atexit.register(lambda: print('handler ran', file=sys.stderr)); "
        "from orchestrator.cli import main; main()"
    )
    done = subprocess.run([sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "govcloud" in done.stdout and "handler ran" in done.stderr
