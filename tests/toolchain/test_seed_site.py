"""``toolchain/cloud/seed.py``'s backup-site entry: added to the clouds.yaml in use as a copy of the
cloud's entry scoped to the project ``govcloud-site``, once, the file's text and mode kept."""

from __future__ import annotations

import importlib.util
import os
import stat
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CLOUDS = """# Written by `make cloud-up` for the local OpenStack (toolchain/cloud); not committed.
clouds:
  govcloud-local:
    auth:
      auth_url: http://127.0.0.1:5000/v3
      username: admin
      password: s3cret
      project_name: admin
    region_name: RegionOne
"""


@pytest.fixture(scope="module")
def seed():
    if "govcloud_seed" not in sys.modules:
        spec = importlib.util.spec_from_file_location("govcloud_seed", REPO / "toolchain" / "cloud" / "seed.py")
        assert spec is not None and spec.loader is not None
        sys.modules["govcloud_seed"] = module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules["govcloud_seed"]


def test_the_site_entry_is_the_clouds_entry_scoped_to_its_own_project_added_once(seed, tmp_path):
    path = tmp_path / "clouds.yaml"
    path.write_text(CLOUDS, encoding="utf-8")
    os.chmod(path, 0o600)
    assert seed.add_site_entry(path, "govcloud-local")
    clouds = yaml.safe_load(path.read_text(encoding="utf-8"))["clouds"]
    site = clouds["govcloud-site"]
    assert site["auth"] == clouds["govcloud-local"]["auth"] | {"project_name": "govcloud-site"}
    assert site["region_name"] == "RegionOne" and clouds["govcloud-local"]["auth"]["project_name"] == "admin"
    assert path.read_text(encoding="utf-8").startswith(CLOUDS)  # the comment and the entry as they were
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    before = path.read_text(encoding="utf-8")
    assert not seed.add_site_entry(path, "govcloud-local") and path.read_text(encoding="utf-8") == before


def test_no_entry_to_copy_is_a_clear_exit_and_the_file_is_untouched(seed, tmp_path):
    path = tmp_path / "clouds.yaml"
    path.write_text(CLOUDS, encoding="utf-8")
    with pytest.raises(SystemExit, match="no entry elsewhere to make the backup site's entry govcloud-site from"):
        seed.add_site_entry(path, "elsewhere")
    assert path.read_text(encoding="utf-8") == CLOUDS
