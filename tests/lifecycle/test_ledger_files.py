"""The ledger's own files and schema: a first run killed at any write leaves a ledger the next
command uses (SQLite and PostgreSQL), and a read-only SQLite ledger can still be read."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

import orchestrator.cli.lifecycle  # registers the commands
import orchestrator.cli.report  # noqa: F401
from orchestrator.adapters.ledger import Ledger
from orchestrator.cli import cli
from orchestrator.services.lifecycle import Lifecycle

from .conftest import EXAMPLES, SOCIAL, at


def _first_run_killed_at(url: str, step: int) -> bool:
    """Open a new ledger in a forked child that SIGKILLs itself before its ``step``-th database
    statement or commit; True when it was killed (False: the run had fewer steps and finished)."""
    pid = os.fork()
    if pid == 0:  # the child: no pytest teardown, no exit handlers
        try:
            seen = [0]

            def maybe_die(*_args, **_kw) -> None:
                seen[0] += 1
                if seen[0] == step:
                    os.kill(os.getpid(), signal.SIGKILL)

            sa.event.listen(sa.Engine, "before_cursor_execute", maybe_die)
            sa.event.listen(sa.Engine, "commit", maybe_die)
            Ledger.open(url)
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    return os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL


def _empty_postgres(postgres_url: str) -> str:
    """A database of this test worker's own for first runs, emptied: its ``public`` schema dropped
    and made again (a killed client's session is gone by then; no other session is ever ended)."""
    base = sa.make_url(postgres_url)
    name = f"{base.database}_firstrun"
    admin = sa.create_engine(
        base.set(drivername="postgresql+psycopg", database="postgres"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        if not conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first():
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = base.set(database=name)
    engine = sa.create_engine(url.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()
    return url.render_as_string(hide_password=False)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_first_run_killed_at_any_write_leaves_a_usable_ledger(backend, tmp_path, request):
    """kill -9 before every statement and commit of the very first schema creation; each time the
    next command (submit, then history) works on what was left."""

    def fresh(step: int) -> str:
        if backend == "sqlite":
            return f"sqlite:///{tmp_path / f'ledger-{step}.db'}"
        return _empty_postgres(request.getfixturevalue("postgres_url"))

    killed = 0
    for step in range(1, 200):
        target = fresh(step)
        if not _first_run_killed_at(target, step):
            break
        killed += 1
        ledger = Ledger.open(target)
        try:
            service = Lifecycle(ledger)
            service.submit(EXAMPLES / "social-security.yaml", SOCIAL, at("2026-02-12T10:00"))
            assert [e.type for e in service.history("social-security")] == ["submitted"], step
            assert service.check_projection() == [], step
        finally:
            ledger.close()
    assert killed >= 8, f"a first run should have many steps to be killed at, saw {killed}"


def _ledger_with_history(home: Path) -> str:
    url = f"sqlite:///{home / 'ledger.db'}"
    ledger = Ledger.open(url)
    service = Lifecycle(ledger)
    service.submit(EXAMPLES / "social-security.yaml", SOCIAL, at("2026-02-12T10:00"))
    ledger.close()  # the last connection checkpoints the WAL and removes -wal and -shm
    return url


@contextlib.contextmanager
def _read_only(*paths: Path):
    """Make ``paths`` unwritable even for root (``chattr +i``; as another user, ``chmod a-w``)."""
    root = os.geteuid() == 0
    if root and shutil.which("chattr") is None:
        pytest.fail("running as root, a read-only file needs chattr (e2fsprogs)", pytrace=False)
    modes = {p: p.stat().st_mode for p in paths}
    for p in paths:
        subprocess.run(["chattr", "+i", str(p)], check=True) if root else p.chmod(modes[p] & ~0o222)
    try:
        yield
    finally:
        for p in paths:
            subprocess.run(["chattr", "-i", str(p)], check=True) if root else p.chmod(modes[p])


@pytest.mark.parametrize("what", ["file", "file and directory"])
def test_a_read_only_sqlite_ledger_is_read_and_refuses_to_record(what, tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    url = _ledger_with_history(home)
    monkeypatch.setenv("GOVCLOUD_DATABASE_URL", url)
    runner = CliRunner()
    paths = [home / "ledger.db"] + ([home] if what == "file and directory" else [])
    with _read_only(*paths):
        for args, shows in (
            (["app", "status", "social-security"], "submitted"),
            (["app", "history", "social-security"], "#1 submitted"),
            (["deadlines", "--at", "2026-02-13"], "accept-or-reject"),
            (["app", "status"], "social-security"),
            (["report", "assessment", "--year", "2026", "-o", "json"], '"unit": "rsj"'),
        ):
            result = runner.invoke(cli, args)
            assert result.exit_code == 0 and shows in result.stdout, (args, result.output)
        refused = runner.invoke(
            cli,
            [
                "app",
                "accept",
                "social-security",
                "--as",
                "z",
                "--role",
                "egov-office",
                "--unit",
                "egov",
                "--at",
                "2026-02-13",
            ],
        )
        assert refused.exit_code == 3 and "the ledger is read-only here" in refused.output, refused.output
    assert sorted(p.name for p in home.iterdir() if p.name.startswith("ledger.db")) in (
        ["ledger.db"],
        ["ledger.db", "ledger.db-shm", "ledger.db-wal"],
    )


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_two_first_runs_at_once_both_open_the_ledger(backend, tmp_path, request):
    """Two commands on a ledger that does not exist yet: one migrates, the other waits and finds
    the schema made (no "table events already exists")."""
    import multiprocessing

    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'ledger.db'}"
    else:
        url = _empty_postgres(request.getfixturevalue("postgres_url"))
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(2), ctx.Queue()

    def first_run() -> None:
        barrier.wait(timeout=60)
        try:
            Ledger.open(url).close()
            results.put("ok")
        except Exception as exc:  # noqa: BLE001 - reported to the parent
            results.put(f"{type(exc).__name__}: {exc}")

    workers = [ctx.Process(target=first_run) for _ in range(2)]
    for w in workers:
        w.start()
    outcomes = [results.get(timeout=120) for _ in workers]
    for w in workers:
        w.join(timeout=60)
    assert outcomes == ["ok", "ok"]
