"""The one file reader (orchestrator/files.py) and every door that reads through it: a FIFO,
a device, a directory, a missing file, an oversized or growing file, symbolic links out of a
manifest tree, dangling and looping links, unreadable entries. Never a hang, never a traceback."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator import files
from orchestrator.core.validation import validate_file
from orchestrator.errors import UsageError
from orchestrator.services.manifests import manifest_files
from tests.conftest import EXAMPLES, ROOT

ENTRY = "import sys; sys.argv[0] = 'govcloud'; from orchestrator.cli import main; main()"
SECRET = "root_password: hunter2-s3cret\n"


@contextlib.contextmanager
def no_hang(seconds: int = 10):
    """Fail, instead of hanging the suite, when the code under test blocks (a FIFO's open)."""

    def expired(*_):
        raise AssertionError(f"blocked for more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def govcloud(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", ENTRY, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """``m/`` with one valid manifest; a secret file beside it, outside the tree."""
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "citizen-portal.yaml").write_bytes((EXAMPLES / "citizen-portal.yaml").read_bytes())
    (tmp_path / "secret.txt").write_text(SECRET)
    return tmp_path


def refusal(call, *args, **kwargs) -> files.FileRefused:
    with no_hang(), pytest.raises(files.FileRefused) as caught:
        call(*args, **kwargs)
    return caught.value


def test_only_regular_files_are_read_and_never_block(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    cases = {fifo: "FIFO", Path("/dev/zero"): "character device", tmp_path: "directory"}
    for path, kind in cases.items():
        error = refusal(files.read_bytes, path, what="manifest")
        assert error.rule == "file-kind" and kind in str(error) and str(path) in str(error)
        assert isinstance(error, UsageError) and error.exit_code == 2
    missing = refusal(files.read_bytes, tmp_path / "nope.yaml", what="manifest")
    assert missing.rule == "file-readable" and "no such manifest" in str(missing)


def test_the_size_is_checked_before_and_while_reading(tmp_path, monkeypatch):
    big = tmp_path / "big.yaml"
    big.write_bytes(b"a" * 2000)
    assert refusal(files.read_bytes, big, limit=1000).rule == "file-size"
    assert files.read_bytes(big, limit=2000) == b"a" * 2000

    real_fstat = os.fstat  # a file that grows after fstat: the bound holds while reading

    def shrunk(fd):
        info = real_fstat(fd)
        return os.stat_result((*info[:6], 10, *info[7:]))

    monkeypatch.setattr(os, "fstat", shrunk)
    error = refusal(files.read_bytes, big, limit=1000)
    assert error.rule == "file-size" and "over 1000 bytes" in str(error)


def test_an_unreadable_file_is_refused_by_name(tmp_path, monkeypatch):
    target = tmp_path / "locked.yaml"
    target.write_text("x: 1\n")
    real_open = os.open

    def denied(path, *args, **kwargs):
        if str(path) == str(target):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", denied)  # tests run as root, who reads anything
    error = refusal(files.read_bytes, target)
    assert error.rule == "file-readable" and "permission denied" in str(error)
    assert validate_file(target).problems[0].rule == "file-readable"


def test_names_are_escaped_in_every_refusal(tmp_path):
    odd = tmp_path / "a\nfake: line\x1b[31m.yaml"
    error = refusal(files.read_bytes, odd)
    assert "\n" not in str(error) and "\x1b" not in str(error)
    assert '\\nfake: line\\x1b[31m.yaml"' in str(error)
    assert files.shown("单位/a b.yaml") == "单位/a b.yaml"
    assert files.shown(os.fsdecode(b"x\xff.yaml")) == '"x\\xff.yaml"'


def test_a_directory_walk_refuses_links_that_leave_it(tree):
    m = tree / "m"
    (m / "x.yaml").symlink_to(tree / "secret.txt")
    error = refusal(manifest_files, [m])
    assert error.rule == "symlink-outside" and "x.yaml" in str(error) and "hunter2" not in str(error)

    (m / "x.yaml").unlink()
    (m / "sub").mkdir()
    (m / "sub" / "alias.yaml").symlink_to(m / "citizen-portal.yaml")  # inside the tree: read
    (m / "linked.yaml").symlink_to(m / "sub")  # a linked directory: not descended twice
    assert manifest_files([m]) == [m / "citizen-portal.yaml", m / "sub" / "alias.yaml"]


def test_dangling_looping_and_unreadable_entries_are_refused_not_skipped(tree, monkeypatch):
    m = tree / "m"
    (m / "gone.yaml").symlink_to(m / "nothing.yaml")
    (m / "loop.yaml").symlink_to(m / "loop.yaml")
    error = refusal(manifest_files, [m])
    assert "2 entries refused" in str(error)
    assert "gone.yaml" in str(error) and "dangling" in str(error)
    assert "loop.yaml" in str(error) and "loop of symbolic links" in str(error)
    (m / "gone.yaml").unlink()
    (m / "loop.yaml").unlink()

    (m / "closed").mkdir()
    real_scandir = os.scandir

    def denied(path="."):
        if Path(path) == m / "closed":
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", denied)
    error = refusal(manifest_files, [m])
    assert "closed" in str(error) and "permission denied" in str(error)


def test_cli_doors_refuse_fifos_devices_directories_and_missing_files(tree):
    fifo = tree / "pipe.yaml"
    os.mkfifo(fifo)
    m = tree / "m"
    policy_fifo = tree / "policy.yaml"
    os.mkfifo(policy_fifo)
    calendar_fifo = tree / "calendar.yaml"
    os.mkfifo(calendar_fifo)
    home = {"GOVCLOUD_HOME": str(tree / "home"), "GOVCLOUD_DATABASE_URL": f"sqlite:///{tree / 'ledger.db'}"}
    unit = ("--as", "zhaogang", "--role", "unit", "--unit", "zwb")
    cases = [
        (("validate", str(fifo)), 1, "FIFO"),
        (("validate", "/dev/zero"), 1, "character device"),
        (("digest", str(fifo)), 1, "FIFO"),
        (("app", "submit", str(fifo), *unit), 2, "FIFO"),
        (("app", "submit", str(m), *unit), 2, "is a directory"),
        (("app", "submit", str(tree / "missing.yaml"), *unit), 2, "no such manifest"),
        (("quota", "check", str(m / "citizen-portal.yaml"), "--policy", str(policy_fifo)), 2, "FIFO"),
        (("app", "submit", str(fifo), "--id-token-file", str(fifo)), 2, "FIFO"),
    ]
    for args, code, words in cases:
        done = govcloud(*args, env=home)
        assert (done.returncode, "Traceback" in done.stderr) == (code, False), (args, done.stderr)
        assert words in done.stdout + done.stderr, (args, done.stdout, done.stderr)
        named = next(a for a in reversed(args) if a.startswith("/"))
        assert named in done.stdout + done.stderr, args
    calendar = govcloud("deadlines", env={**home, "GOVCLOUD_CALENDAR_FILE": str(calendar_fifo)})
    assert calendar.returncode == 2 and "FIFO" in calendar.stderr and "Traceback" not in calendar.stderr
    config = govcloud(
        "app", "accept", "permit", "--as", "zhang", "--role", "egov-office", env={**home, "GOVCLOUD_CONFIG": str(fifo)}
    )
    assert config.returncode == 2 and "FIFO" in config.stderr and "Traceback" not in config.stderr


def test_validate_never_echoes_a_foreign_file_through_a_link(tree):
    (tree / "m" / "x.yaml").symlink_to(tree / "secret.txt")
    done = govcloud("validate", str(tree / "m"), "--output", "json")
    assert done.returncode == 2 and "symlink-outside" in done.stderr
    assert "hunter2" not in done.stdout + done.stderr and "root_password" not in done.stdout + done.stderr
    (tree / "m" / "x.yaml").unlink()
    assert [f["valid"] for f in json.loads(govcloud("validate", str(tree / "m"), "-o", "json").stdout)["files"]] == [
        True
    ]


def test_a_foreign_file_shows_field_names_only_never_its_lines(tmp_path, run_cli):
    foreign = tmp_path / "x\x1b[2J.yaml"
    foreign.write_text(
        'apiVersion: govcloud/v1\nkind: Application\nadmin password=s3cret line: x\nroot_password: y\n"\\e[31mred": 1\n'
    )
    result = run_cli("validate", str(foreign))
    assert result.exit_code == 1
    assert "s3cret" not in result.stdout and "\x1b" not in result.stdout
    assert "<key of 26 characters>: unknown field" in result.stdout
    assert "root_password: unknown field" in result.stdout  # a field name is shown
    assert '"' + str(tmp_path) + '/x\\x1b[2J.yaml"' in result.stdout
