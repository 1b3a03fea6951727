"""govcloud tick and crash safety: steps that fail are reported and the rest go on; two ticks on
one PostgreSQL ledger send each notice exactly once; a delivery killed midway loses nothing."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import sqlalchemy as sa
import yaml

from orchestrator.adapters.ledger import Ledger
from orchestrator.adapters.noticetexts import digest
from orchestrator.adapters.outbox import Outbox, utcnow
from orchestrator.core import notices as nt
from orchestrator.errors import ExternalError
from orchestrator.services import tick
from orchestrator.services.lifecycle import Lifecycle
from orchestrator.services.notices import Notices
from orchestrator.settings_notices import NoticeSettings
from tests.lifecycle.conftest import EXAMPLES, SOCIAL, at, variant

from . import servers
from .test_delivery import decision

ROOT = Path(__file__).resolve().parents[2]


def settings_for(receiver, **extra) -> dict:
    robots = servers.robots(receiver)
    robots["second"] = dict(robots["hook"], url=f"{receiver.base}/webhook/second")
    return {
        "office": ["robot:hook"],
        "provider": ["robot:second"],
        "units": {"rsj": ["robot:second"]},
        "contacts": False,
        "robots": robots,
        "backoffSeconds": 0.01,
        "claimSeconds": 5,
        **extra,
    }


def test_each_step_runs_and_each_failure_is_reported(tmp_path):
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'ledger.db'}")
    calls = []

    def step(name, outcome):
        def run():
            calls.append(name)
            if isinstance(outcome, Exception):
                raise outcome
            return outcome

        return run

    steps = {
        "deadlines": step("deadlines", {"found": 0, "queued": 0}),
        "expire": step("expire", ExternalError("no Pulumi engine")),
        "capacity": step("capacity", KeyError("vcpu")),
        "drift": step("drift", {"checked": 0}),
        "cloud-drift": step("cloud-drift", {"checked": 1, "drifted": 1, "failed": 0, "queued": 1}),
        "backups": step("backups", {"taken": 3, "missed": [], "failed": 0}),
        "deliver": step("deliver", {"sent": 1, "failed": 2}),
    }
    report = tick.run(ledger, steps, skip=frozenset({"drift"}))
    assert calls == ["deadlines", "expire", "capacity", "cloud-drift", "backups", "deliver"]
    assert report.failed == ["expire", "capacity", "deliver"]
    by = {s.name: s for s in report.steps}
    assert by["expire"].error == "no Pulumi engine" and by["capacity"].error == "KeyError: 'vcpu'"
    assert by["drift"].skipped and by["deliver"].error == "2 failed"
    assert ledger.lease(tick.LEASE) is None  # given back

    assert ledger.acquire(tick.LEASE, "other-host:1", dt.timedelta(minutes=30))
    calls.clear()
    held = tick.run(ledger, steps)
    assert (held.ran, held.held_by, calls, held.failed) == (False, "other-host:1", [], [])
    ledger.close()


class _NoLease:
    """Leases that every tick gets: both ticks run every step, the outbox's claims alone keep them apart."""

    def acquire(self, *args) -> bool:
        return True

    def release(self, *args) -> None:
        pass


def _tick(url: str, settings: dict, env: dict, barrier, results, lease: bool) -> None:
    os.environ.update(env)
    ledger = Ledger.open(url)
    try:
        steps = tick.default_steps(
            ledger, NoticeSettings.model_validate(settings), at("2026-02-14T09:00"), actor=lambda: None, cloud=None
        )
        barrier.wait(timeout=60)
        report = tick.run(ledger if lease else _NoLease(), steps, skip=frozenset({"expire", "capacity", "drift"}))
        results.put((report.ran, report.failed))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        results.put(("error", repr(exc)))
    finally:
        ledger.close()


def test_two_ticks_on_postgresql_send_every_notice_exactly_once(postgres_url, receiver, tmp_path):
    ledger = Ledger.open(postgres_url)
    settings = settings_for(receiver)
    service = Lifecycle(ledger, directory=NoticeSettings.model_validate(settings).directory())
    ctx = multiprocessing.get_context("fork")
    env = servers.environment(receiver)
    digest([], "zh")  # templates compiled once, before the forks
    for round_ in range(20):
        with ledger.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "TRUNCATE events, applications, leases, notices, notice_attempts, drift_findings, "
                    "drift_runs, backup_records"
                )
            )
        for i in range(3):  # each: a request now (office), a deadline ahead at the scan (office)
            path = variant(tmp_path, f"s{i}", ("id: social-security", f"id: social-{i}"))
            service.submit(path, SOCIAL, at("2026-02-12T10:00"))
        Outbox(ledger.engine).enqueue([nt.Addressed(decision(f"app-{i}"), "robot:second") for i in range(4)])
        receiver.requests.clear()
        barrier, results = ctx.Barrier(2), ctx.Queue()
        lease = round_ % 2 == 0  # odd rounds: no lease, both deliver at once
        workers = [
            ctx.Process(target=_tick, args=(postgres_url, settings, env, barrier, results, lease)) for _ in range(2)
        ]
        for w in workers:
            w.start()
        outcomes = [results.get(timeout=60) for _ in workers]
        for w in workers:
            w.join(timeout=30)
        assert all(o[0] in (True, False) and o[1] == [] for o in outcomes), outcomes
        assert lease or [o[0] for o in outcomes] == [True, True]
        received = Counter(n["fingerprint"] for r in receiver.requests for n in r.json["notices"])
        with ledger.engine.connect() as conn:
            queued = set(conn.execute(sa.text("SELECT fingerprint FROM notices")).scalars())
        assert len(queued) == 3 + 3 + 4, round_
        assert set(received) == queued and set(received.values()) == {1}, (round_, outcomes, received)
    ledger.close()


def test_a_delivery_killed_midway_loses_nothing_and_resends_at_most_once(tmp_path, receiver):
    """Killed while a robot holds its message: the notices it had sent stay sent, the one in flight
    (attempt unfinished) is sent again once after the claim expires, the rest are sent once."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    settings = settings_for(receiver)
    config = tmp_path / "govcloud.yaml"
    config.write_text(yaml.safe_dump({"auth": "local", "notices": settings}), encoding="utf-8")
    ledger = Ledger.open(url)
    outbox = Outbox(ledger.engine)
    recipients = ["robot:wecom", "robot:feishu", "robot:hook", "robot:second"]  # sent in this order
    outbox.enqueue([nt.Addressed(decision(f"app-{i}"), r) for r in recipients for i in range(2)])
    receiver.script("/feishu/hook-1", ("hang", 30))
    env = dict(os.environ, GOVCLOUD_CONFIG=str(config), GOVCLOUD_DATABASE_URL=url)
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "govcloud"), "notify"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not any(path == "/feishu/hook-1" for path, _ in receiver.arrived):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    counts = outbox.counts()
    assert counts == {"pending": 0, "sending": 6, "sent": 2, "failed": 0}, counts  # claimed, one robot done
    (in_flight,) = {
        a["outcome"] for q in outbox.listing("sending") if q.recipient == "robot:feishu" for a in outbox.attempts(q.id)
    }
    assert in_flight is None  # started, never finished: unknown whether it arrived

    notices = Notices(ledger, NoticeSettings.model_validate(settings))
    assert notices.deliver(utcnow()).messages == []  # the dead run's claim still holds
    rerun = notices.deliver(utcnow() + dt.timedelta(seconds=6))
    assert sorted(m.recipient for m in rerun.messages) == recipients[1:] and rerun.failed == 0
    assert outbox.counts() == {"pending": 0, "sending": 0, "sent": 8, "failed": 0}
    arrivals = Counter(path.split("/")[1] + ("2" if path.endswith("second") else "") for path, _ in receiver.arrived)
    assert arrivals == {"wecom": 1, "feishu": 2, "webhook": 1, "webhook2": 1}  # at most once more: the one in flight
    assert notices.deliver(utcnow() + dt.timedelta(minutes=5)).messages == []
    ledger.close()


def test_govcloud_tick_end_to_end(tmp_path, receiver):
    """The command: scan, the cloud steps failing without a cloud (reported), delivery still done."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    settings = settings_for(receiver)
    config = tmp_path / "govcloud.yaml"
    config.write_text(yaml.safe_dump({"auth": "local", "notices": settings}), encoding="utf-8")
    env = dict(
        os.environ,
        GOVCLOUD_CONFIG=str(config),
        GOVCLOUD_DATABASE_URL=url,
        OS_CLIENT_CONFIG_FILE=str(tmp_path / "no-clouds.yaml"),
        OS_CLOUD="nowhere",
    )
    env.pop("GOVCLOUD_ACTOR", None)
    govcloud = str(Path(sys.executable).parent / "govcloud")
    submit = subprocess.run(
        [
            govcloud,
            "app",
            "submit",
            str(EXAMPLES / "social-security.yaml"),
            "--as",
            "zhaogang",
            "--role",
            "unit",
            "--unit",
            "rsj",
            "--at",
            "2026-02-12T10:00",
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert submit.returncode == 0, submit.stderr
    done = subprocess.run(
        [govcloud, "tick", "--at", "2026-02-25T09:00", "-o", "json"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 3, done.stderr
    report = json.loads(done.stdout)
    by = {s["name"]: s for s in report["steps"]}
    assert report["failed"] == ["expire", "capacity", "drift"]
    assert "say who acts" in by["expire"]["error"]
    assert by["deadlines"]["detail"] == {"found": 1, "queued": 2}  # missed: the office and the unit's robot
    assert by["deliver"]["ok"] and by["deliver"]["detail"]["sent"] == 2
    office = [n["kind"] for r in receiver.at("/webhook/audit") for n in r.json["notices"]]
    assert office == ["request", "deadline-missed"]  # the submission's request and the missed deadline, one digest
    status = subprocess.run(
        [govcloud, "notify", "status", "-o", "json"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert json.loads(status.stdout)["counts"] == {"pending": 0, "sending": 0, "sent": 3, "failed": 0}


def test_scheduler_examples_run_govcloud_tick_every_10_minutes():
    schedulers = ROOT / "examples" / "schedulers"
    cron = yaml.safe_load((schedulers / "kubernetes-cronjob.yaml").read_text(encoding="utf-8"))
    assert cron["kind"] == "CronJob" and cron["spec"]["schedule"] == "*/10 * * * *"
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    (container,) = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["args"][:2] == ["govcloud", "tick"]
    gitlab = yaml.safe_load((schedulers / "gitlab-ci.yml").read_text(encoding="utf-8"))
    job = gitlab["govcloud-tick"]
    assert (
        job["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "schedule"'}]
        and "*/10 * * * *" in (schedulers / "gitlab-ci.yml").read_text()
    )
    assert any(line.startswith("govcloud tick") for line in job["script"])
    timer = (schedulers / "govcloud-tick.timer").read_text(encoding="utf-8")
    service = (schedulers / "govcloud-tick.service").read_text(encoding="utf-8")
    assert "OnCalendar=*:0/10" in timer and "Unit=govcloud-tick.service" in timer
    assert "ExecStart=/opt/govcloud/.venv/bin/govcloud tick" in service and "EnvironmentFile=" in service
    for text in (timer, service, yaml.safe_dump(cron), yaml.safe_dump(gitlab)):
        assert "PASSWORD=" not in text.replace("GOVCLOUD_SMTP_PASSWORD=...", "")  # no secret in the examples


def test_a_tick_that_loses_its_lease_stops(tmp_path):
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'ledger.db'}")
    calls = []

    def overrun():  # this step outlasted the lease and another tick took it over
        calls.append("deadlines")
        with ledger.engine.begin() as conn:
            conn.execute(
                sa.text("UPDATE leases SET holder = 'other:2', expires = :e"),
                {"e": utcnow() + dt.timedelta(minutes=10)},
            )
        return {}

    steps = {name: (lambda name=name: calls.append(name) or {}) for name in tick.STEPS} | {"deadlines": overrun}
    report = tick.run(ledger, steps)
    assert calls == ["deadlines"] and report.failed == ["expire"]
    assert "lease was lost" in report.steps[-1].error
    assert ledger.lease(tick.LEASE)[0] == "other:2"  # not released: it is not ours
    ledger.close()
