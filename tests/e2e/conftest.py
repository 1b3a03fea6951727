"""End to end: govcloud and plain Pulumi on the local OpenStack and Keycloak (``make e2e``).

Needs ``make cloud-up`` (OpenStack, Keycloak, Trove with ``GOVCLOUD_CLOUD_TROVE=1``) and
``scripts/install-pulumi``. Every fixture fails, never skips, when something is missing: in CI a
cloud that did not start is an error.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from orchestrator.adapters import engine
from orchestrator.errors import GovcloudError
from tests import keycloak_env
from tests.e2e.s3state import s3_state

REPO = Path(__file__).resolve().parents[2]
CLOUD = os.environ.get("GOVCLOUD_TEST_CLOUD", "govcloud-local")
#: The example the stories provision, and the actors who step it through the lifecycle.
EXAMPLE = REPO / "examples" / "manifests" / "social-security.yaml"
UNIT = "rsj"
DAY = dt.timedelta(days=1)
UNIT_ACTOR = ("--as", "zhaogang", "--role", "unit", "--unit", UNIT)
CLERK = ("--as", "zhang", "--role", "egov-office", "--unit", "egov")
CHIEF = ("--as", "chen", "--role", "egov-office", "--unit", "egov")
OPS = ("--as", "ops", "--role", "provider")
PROVIDER_OPS_GROUP = "govcloud-provider-ops"


@pytest.fixture(scope="session")
def admin() -> Any:
    """The local cloud's admin connection; the session fails when the cloud does not answer."""
    import openstack

    try:
        conn = openstack.connect(cloud=CLOUD)
        conn.identity.get_token()
    except Exception as exc:  # noqa: BLE001 — any failure here means: no cloud
        pytest.fail(f"the local OpenStack {CLOUD!r} does not answer ({exc}); run make cloud-up")
    return conn


def tree() -> list[str]:
    """The repository's status, untracked and ignored files included (caches left out)."""
    done = subprocess.run(
        [
            "git",
            "status",
            "--porcelain=v1",
            "--ignored=matching",
            "--untracked-files=all",
            "--",
            ".",
            *(f":(exclude){p}" for p in (".cache", ".venv", ".pytest_cache", "**/__pycache__", "*.egg-info")),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return sorted(done.stdout.splitlines())


@pytest.fixture(scope="session", autouse=True)
def repository_unchanged() -> Iterator[None]:
    """The tests clean up what they write into the repository: the engine keeps each stack's
    config (an encrypted client secret, a manifest path under a temporary directory) in
    ``Pulumi.<stack>.yaml`` beside ``Pulumi.yaml``; those of the stacks made here are removed.
    Then the repository must be exactly as the session found it."""
    before, configs = tree(), set(REPO.glob("Pulumi.*.yaml"))
    yield
    for path in set(REPO.glob("Pulumi.*.yaml")) - configs:
        path.unlink()
    after = tree()
    assert after == before, "the end-to-end tests changed the repository:\n  " + "\n  ".join(
        sorted(set(after) ^ set(before))
    )


def seeding() -> Any:
    """``toolchain/cloud/seed.py``, the one place the local cloud's catalogue is seeded (``make cloud-up``)."""
    import importlib.util

    if "govcloud_seed" not in sys.modules:
        spec = importlib.util.spec_from_file_location("govcloud_seed", REPO / "toolchain" / "cloud" / "seed.py")
        assert spec and spec.loader
        sys.modules["govcloud_seed"] = module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules["govcloud_seed"]


@pytest.fixture(scope="session")
def catalogue(admin: Any) -> None:
    """What the example manifests need of the cloud, seeded as ``make cloud-up`` seeds it
    (idempotent: a cloud-up cloud has it already); the session fails when something is missing."""
    seed = seeding()
    needed = seed.needs([REPO / "examples" / "manifests"], PROVIDER_OPS_GROUP)
    seed.seed(admin, needed)
    assert seed.missing(admin, needed) == []


@pytest.fixture(scope="session")
def keycloak() -> dict[str, str]:
    """The local Keycloak's connection (written by ``make cloud-up``)."""
    values = keycloak_env.load()
    from orchestrator.adapters.platform import KeycloakAdmin

    try:
        KeycloakAdmin.from_environ(values).clients("master", "govcloud-")
    except GovcloudError as exc:
        pytest.fail(f"the local Keycloak at {values.get('KEYCLOAK_URL')} does not answer ({exc}); run make cloud-up")
    return values


@dataclass
class Govcloud:
    """Runs the ``govcloud`` CLI as a user would, in one prepared environment."""

    env: dict[str, str]
    log: list[str] = field(default_factory=list)
    cwd: Path = REPO
    """The checkout it runs in (a second clone runs its own code: ``PYTHONPATH`` names it)."""

    def __call__(self, *args: str, expect: int = 0) -> subprocess.CompletedProcess:
        done = self.run(*args)
        self.log.append(f"$ govcloud {shlex.join(args)}  -> {done.returncode}")
        assert done.returncode == expect, (
            f"govcloud {shlex.join(args)} exited {done.returncode}, expected {expect}\n"
            f"--- stdout\n{done.stdout[-4000:]}\n--- stderr\n{done.stderr[-6000:]}"
        )
        return done

    def run(self, *args: str) -> subprocess.CompletedProcess:
        """The CLI without judging its exit code (clean-up after a failure)."""
        return subprocess.run(
            self._command(args), cwd=self.cwd, env=self.env, capture_output=True, text=True, timeout=1800
        )

    def start(self, *args: str, new_session: bool = False) -> subprocess.Popen:
        """The CLI started, not waited for (two at once; one to be killed with its process group)."""
        return subprocess.Popen(
            self._command(args),
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=new_session,
        )

    def _command(self, args: tuple[str, ...]) -> list[str]:
        if self.cwd != REPO:  # the clone's own code, not the one installed from this checkout
            return [sys.executable, "-c", "from orchestrator.cli import main; main()", *args]
        return [str(Path(sys.executable).with_name("govcloud")), *args]

    def json(self, *args: str, expect: int = 0) -> Any:
        return json.loads(self(*args, "--output", "json", expect=expect).stdout)

    def pulumi(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """Plain ``pulumi`` in the repository root, as a provider runs it by hand."""
        done = subprocess.run(
            ["pulumi", *args], cwd=REPO, env=env or self.env, capture_output=True, text=True, timeout=1800
        )
        assert done.returncode == 0, (
            f"pulumi {shlex.join(args)} exited {done.returncode}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
        )
        return done


@pytest.fixture(scope="session")
def govcloud(
    tmp_path_factory: pytest.TempPathFactory, admin: Any, catalogue: None, keycloak: dict[str, str]
) -> Iterator[Govcloud]:
    """The CLI with a fresh ledger, the stacks' state in the cloud's object storage (S3 API, a
    bucket of its own), the local cloud and Keycloak."""
    home = tmp_path_factory.mktemp("govcloud-home")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GOVCLOUD_", "PULUMI_", "KEYCLOAK_", "AWS_")) or k == "GOVCLOUD_ENGINE_DIR"
    }
    import openstack

    with s3_state(
        openstack.connect(cloud=CLOUD), home, auth_config=(REPO / "govcloud.yaml").read_text(encoding="utf-8")
    ) as config:
        yield _govcloud(env, home, config, keycloak)


def _govcloud(env: dict[str, str], home: Path, config: Path, keycloak: dict[str, str]) -> Govcloud:
    env = env | {
        "GOVCLOUD_HOME": str(home),
        "GOVCLOUD_CONFIG": str(config),
        "OS_CLIENT_CONFIG_FILE": os.environ.get("OS_CLIENT_CONFIG_FILE", str(REPO / "clouds.yaml")),
        "OS_CLOUD": CLOUD,
        "GOVCLOUD_EXTERNAL_NETWORK": "public",
        "GOVCLOUD_AUTH_REALM": "government",
        "GOVCLOUD_PROVIDER_OPS_GROUP": PROVIDER_OPS_GROUP,
    }
    env |= {k: v for k, v in keycloak.items() if k.startswith("KEYCLOAK_")}
    if os.environ.get("GOVCLOUD_ENGINE_DIR"):  # an engine built elsewhere (another checkout's .cache/pulumi)
        env["GOVCLOUD_ENGINE_DIR"] = os.environ["GOVCLOUD_ENGINE_DIR"]
    try:
        located = engine.locate(environ=env)
    except GovcloudError as exc:
        pytest.fail(f"the Pulumi engine is not usable: {exc}")
    env |= located.env  # plain pulumi finds the same backend, passphrase file and credentials
    return Govcloud(env)


def beijing(delta: dt.timedelta) -> str:
    """A stated time ``delta`` from now, for ``--at`` (with its offset, so no zone is assumed)."""
    return (dt.datetime.now(dt.UTC) + delta).isoformat(timespec="seconds")


@pytest.fixture(scope="session")
def engine_checkout() -> Path:
    """The checkout whose ``scripts/install-pulumi`` built the engine the tests use
    (``GOVCLOUD_ENGINE_DIR`` is its ``.cache/pulumi``; this checkout without it)."""
    engine_dir = Path(os.environ.get("GOVCLOUD_ENGINE_DIR") or REPO / ".cache" / "pulumi").resolve()
    checkout = engine_dir.parent.parent
    if engine_dir.parent.name != ".cache" or not (checkout / "scripts" / "install-pulumi").is_file():
        pytest.fail(f"GOVCLOUD_ENGINE_DIR={engine_dir} is not the .cache/pulumi of a govcloud checkout")
    return checkout


def sweep(admin: Any, platform: Any, unit: str, app: str) -> None:
    """Remove what is left of ``app`` after its stacks were destroyed (or failed to be): the
    environments' projects (destroy keeps them, docs/reclaim.md) with their contents, and the
    application's clients in Keycloak."""
    from orchestrator.core import naming
    from orchestrator.core.manifest import Environment

    for env in Environment:
        project = admin.identity.find_project(naming.project_name(unit, app, env), domain_id="default")
        if project is not None:
            admin.connect_as_project(project).project_cleanup(dry_run=False, wait_timeout=120)
            for group in admin.network.security_groups(project_id=project.id):
                admin.network.delete_security_group(group, ignore_missing=True)
            admin.identity.delete_project(project, ignore_missing=True)
    for realm in ("government", "government-test"):
        for client in platform.clients(realm, f"{unit}-{app}-"):
            platform.delete_client(realm, client.id)


def remove_projects(names: list[str]) -> list[str]:
    """Remove projects ``names`` with everything they hold, as reclamation sweeps a project
    (``Cloud.remove_project``: Trove instances, servers, volumes, ports, groups, then the project),
    all at once, each with a connection of its own; what could not be removed, one line each.

    The cheap sure teardown of a story that provisioned through the engine: a ``pulumi destroy``
    there proves nothing and costs an engine run per stack; the stacks' state goes with the
    session's bucket (``tests/e2e/s3state.py``)."""
    from concurrent.futures import ThreadPoolExecutor

    from orchestrator.adapters.cloud import Cloud

    def remove(name: str) -> str:
        try:
            return "" if Cloud.connect(CLOUD).remove_project(name) else f"project {name}: still there"
        except GovcloudError as exc:
            return f"project {name}: {exc}"

    with ThreadPoolExecutor(max_workers=max(1, len(names))) as pool:
        return [problem for problem in pool.map(remove, names) if problem]
