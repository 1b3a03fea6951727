"""A newcomer's path: ``make cloud-up`` seeds what the example manifests need (toolchain/cloud/seed.py).

Runs the seeding as ``make cloud-up`` does, then checks from a project made just now (as a new
application's project sees the cloud) that every catalogue item each example manifest needs is
there: flavors, images, volume types and Trove datastores visible to it, and the Keystone groups
its grants name. The shared cloud is not purged; the project is deleted afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from typing import Any

import pytest

from .conftest import CLOUD, PROVIDER_OPS_GROUP, REPO, seeding

pytestmark = pytest.mark.cloud
EXAMPLES = REPO / "examples" / "manifests"


@pytest.fixture
def fresh_project(admin: Any) -> Any:
    """A project made now, with the admin user a member of it; deleted afterwards."""
    project = admin.identity.create_project(name=f"seedcheck-{uuid.uuid4().hex[:8]}", domain_id="default")
    role = admin.identity.find_role("member")
    admin.identity.assign_project_role_to_user(project, admin.current_user_id, role)
    try:
        yield admin.connect_as_project(project)
    finally:
        admin.identity.delete_project(project, ignore_missing=True)


def test_seeding_as_cloud_up_runs_it_leaves_every_example_runnable(admin, fresh_project):
    env = {"OS_CLOUD": CLOUD, "GOVCLOUD_PROVIDER_OPS_GROUP": PROVIDER_OPS_GROUP}

    done = subprocess.run(
        [sys.executable, str(REPO / "toolchain" / "cloud" / "seed.py")],
        cwd=REPO,
        env=os.environ | env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    again = subprocess.run(
        [sys.executable, str(REPO / "toolchain" / "cloud" / "seed.py"), "--check"],
        cwd=REPO,
        env=os.environ | env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert again.returncode == 0 and again.stderr == "", again.stderr

    seed = seeding()
    for manifest in sorted(EXAMPLES.glob("*.yaml")):
        needed = seed.needs([manifest], PROVIDER_OPS_GROUP)
        assert needed.flavors and needed.images and needed.groups, manifest.name
        assert seed.missing(admin, needed) == [], manifest.name
        for name in needed.flavors:  # and as a project made now sees them
            assert fresh_project.compute.find_flavor(name, ignore_missing=True) is not None, name
        for name in needed.images:
            assert fresh_project.image.find_image(name, ignore_missing=True) is not None, name
        for name in needed.volume_types:
            assert fresh_project.block_storage.find_type(name, ignore_missing=True) is not None, name
        groups = {g.name for g in admin.identity.groups(domain_id="default")}
        assert set(needed.groups) <= groups, manifest.name
        for engine, version in needed.datastores:
            assert (engine, version) in seed.datastores(fresh_project), (engine, version)


def test_check_names_what_a_manifest_needs_and_the_cloud_lacks(admin, tmp_path):
    text = (EXAMPLES / "permit-prototype.yaml").read_text(encoding="utf-8")
    odd = tmp_path / "odd.yaml"
    odd.write_text(
        text.replace("flavor: g.1c2g", "flavor: g.3c7g").replace("image: debian-12", "image: no-such-os"),
        encoding="utf-8",
    )
    seed = seeding()
    assert seed.missing(admin, seed.needs([odd])) == [
        "flavor g.3c7g (needed by odd.yaml)",
        "image no-such-os (needed by odd.yaml)",
    ]
