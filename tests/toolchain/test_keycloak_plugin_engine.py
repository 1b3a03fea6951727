"""The Keycloak plugin under the real Pulumi engine: govcloud's KeycloakClient component (provider,
OIDC client, client roles) in a throwaway project, ``pulumi up``, a changed redirect URI (an
update in place), an out-of-band deletion that ``pulumi refresh`` notices, ``pulumi destroy``.

Needs the engine of ``scripts/install-pulumi`` (with the Keycloak launcher of this checkout); the
tests fail, not skip, without it. They run against the fake admin API (marker ``engine``: ``make
engine-test``) and against the local Keycloak of ``make cloud-up`` (marker ``cloud`` too, ``make
integration``), whose ``keycloak.env`` is ``$GOVCLOUD_TEST_KEYCLOAK_ENV`` or
``.cache/keycloak/keycloak.env``. Each command's time is printed (``pytest -s``)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from orchestrator.adapters.platform import KeycloakAdmin, PlatformError
from tests import keycloak_env
from toolchain.keycloak_plugin import VERSION

from ..conftest import ROOT
from .fakekeycloak import ADMIN_ID, ADMIN_SECRET, serve

pytestmark = pytest.mark.engine

PROGRAM = """\
import pulumi

from orchestrator.core.manifest import AuthRole
from stacks.components.auth import ClientSpec
from stacks.components.auth.keycloak import KeycloakClient

config = pulumi.Config("test")
spec = ClientSpec(
    client_id=config.require("clientId"), name="市民门户 (test)", realm=config.require("realm"), protocol="oidc",
    redirect_uris=tuple(config.require_object("redirectUris")),
    roles=(AuthRole(name="reviewer", description="Reviews applications"), AuthRole(name="clerk")),
    labels={"govcloud:unit": "zwb", "govcloud:app": "citizen-portal", "govcloud:env": "test"},
)
registration = KeycloakClient("citizen-portal-test", spec)
pulumi.export("client", registration.client.id)
pulumi.export("clientSecret", registration.client_secret)
pulumi.export("roles", {name: role.id for name, role in registration.roles.items()})
"""


@dataclass(frozen=True)
class Target:
    """A Keycloak to register in: its admin API, and the realm the test's client goes to."""

    url: str
    client_id: str
    client_secret: str
    admin_realm: str
    realm: str

    def admin(self) -> KeycloakAdmin:
        return KeycloakAdmin(
            url=self.url, client_id=self.client_id, client_secret=self.client_secret, realm=self.admin_realm
        )


@pytest.fixture(scope="module")
def engine_env() -> dict[str, str]:
    """The environment ``eval "$(scripts/install-pulumi --print-env)"`` gives a shell."""
    printed = subprocess.run(
        ["bash", "-c", 'eval "$(scripts/install-pulumi --print-env)" && env -0'],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    env = dict(line.split("=", 1) for line in printed.split("\0") if "=" in line)
    home = Path(env["PULUMI_HOME"])
    launcher = home / "plugins" / f"resource-keycloak-v{VERSION}" / "pulumi-resource-keycloak"
    bin_dir = home.parent / "bin"
    if not (bin_dir / "pulumi").is_file() or not launcher.is_file():
        pytest.fail(
            f"the Pulumi engine or its keycloak plugin {VERSION} is not installed in {bin_dir.parent}: "
            "run scripts/install-pulumi",
            pytrace=False,
        )
    if f"'{ROOT}'" not in launcher.read_text():
        pytest.fail(
            f"{launcher} is not this checkout's stand-in (another checkout's, or upstream's): run "
            "scripts/install-pulumi here (--force replaces upstream's)",
            pytrace=False,
        )
    return env | {"PYTHONPATH": str(ROOT)}


def pulumi(project: Path, env: dict[str, str], *args: str) -> str:
    """Run the built CLI in ``project``; fail with its output when it fails; print its time."""
    started = time.monotonic()
    done = subprocess.run(["pulumi", *args], cwd=project, env=env, capture_output=True, text=True, timeout=600)
    print(f"pulumi {' '.join(args[:2])}: {time.monotonic() - started:.1f} s")
    if done.returncode != 0:
        pytest.fail(f"pulumi {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}", pytrace=False)
    return done.stdout


def lifecycle(tmp_path: Path, engine_env: dict[str, str], target: Target) -> None:
    """up, change a redirect URI (update, not replace), refresh after an out-of-band deletion, destroy."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "Pulumi.yaml").write_text(
        f"name: keycloak-plugin-test\nruntime:\n  name: python\n  options:\n    virtualenv: {sys.prefix}\n"
    )
    (project / "__main__.py").write_text(PROGRAM)
    env = engine_env | {"PULUMI_BACKEND_URL": f"file://{tmp_path / 'state'}", "PULUMI_CONFIG_PASSPHRASE": "test"}
    (tmp_path / "state").mkdir()
    client_id = f"zwb-kcplugin-{uuid.uuid4().hex[:8]}-test"
    run = lambda *args: pulumi(project, env, *args)  # noqa: E731
    changes = lambda: json.loads(run("stack", "history", "--json"))[0]["resourceChanges"]  # noqa: E731  (the last run's)
    run("stack", "init", "test")
    for key, value in {
        "keycloak:url": target.url,
        "keycloak:realm": target.admin_realm,
        "keycloak:clientId": target.client_id,
        "test:clientId": client_id,
        "test:realm": target.realm,
        "test:redirectUris": '["https://portal.test.gov/callback"]',
    }.items():
        run("config", "set", key, value)
    run("config", "set", "--secret", "keycloak:clientSecret", target.client_secret)
    admin = target.admin()
    try:
        run("up", "--yes")
        outputs = json.loads(run("stack", "output", "--json", "--show-secrets"))
        client = admin.get_client(target.realm, outputs["client"])
        assert client["clientId"] == client_id and client["redirectUris"] == ["https://portal.test.gov/callback"]
        assert client["attributes"]["govcloud:app"] == "citizen-portal" and client["standardFlowEnabled"] is True
        assert outputs["clientSecret"] == admin.get_client_secret(target.realm, outputs["client"])
        assert json.loads(run("stack", "output", "--json"))["clientSecret"] == "[secret]"
        assert outputs["clientSecret"] not in run("stack", "export"), "the secret is encrypted in the state"
        roles = {name: admin.get_role(target.realm, id) for name, id in outputs["roles"].items()}
        assert {n: (r["description"], r["containerId"]) for n, r in roles.items()} == {
            "reviewer": ("Reviews applications", outputs["client"]),
            "clerk": ("", outputs["client"]),
        }

        run("config", "set", "test:redirectUris", '["https://portal.test.gov/cb2"]')
        steps = json.loads(run("preview", "--json"))["steps"]
        assert {s["urn"].rsplit("::", 1)[-1]: s["op"] for s in steps if s["op"] != "same"} == {client_id: "update"}
        run("up", "--yes")
        assert admin.get_client(target.realm, outputs["client"])["redirectUris"] == ["https://portal.test.gov/cb2"]
        assert changes() == {"update": 1, "same": 5}

        admin.delete_role(target.realm, outputs["roles"]["clerk"])
        run("refresh", "--yes")
        assert changes() == {"delete": 1, "same": 5}, "refresh finds only the deleted role changed"
        assert not any("-role-clerk" in r["urn"] for r in json.loads(run("stack", "export"))["deployment"]["resources"])
        run("up", "--yes")
        assert changes() == {"create": 1, "same": 5}
        recreated = json.loads(run("stack", "output", "--json"))["roles"]["clerk"]
        assert recreated != outputs["roles"]["clerk"] and admin.get_role(target.realm, recreated)["name"] == "clerk"

        run("destroy", "--yes")
        assert admin.find_client(target.realm, client_id) is None
        with pytest.raises(PlatformError, match="404"):
            admin.get_role(target.realm, outputs["roles"]["reviewer"])
        run("stack", "rm", "--yes")
    finally:  # a failed run leaves nothing behind in a real Keycloak; an unreachable one is the test's failure
        with contextlib.suppress(PlatformError):
            leftover = admin.find_client(target.realm, client_id)
            if leftover:
                admin.delete_client(target.realm, leftover["id"])


@pytest.fixture
def fake_target() -> Iterator[Target]:
    with serve() as fake:
        yield Target(fake.url, ADMIN_ID, ADMIN_SECRET, "master", "government")


def test_up_update_refresh_destroy_against_the_fake_admin_api(tmp_path, engine_env, fake_target) -> None:
    lifecycle(tmp_path, engine_env, fake_target)


@pytest.mark.cloud
def test_up_update_refresh_destroy_against_the_local_keycloak(tmp_path, engine_env) -> None:
    env = keycloak_env.load()
    target = Target(
        env["KEYCLOAK_URL"],
        env["KEYCLOAK_CLIENT_ID"],
        env["KEYCLOAK_CLIENT_SECRET"],
        env.get("KEYCLOAK_REALM") or "master",
        env.get("KEYCLOAK_AUTH_TEST_REALM") or "government-test",
    )
    lifecycle(tmp_path, engine_env, target)
