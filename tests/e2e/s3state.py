"""The stacks' state in the local cloud's object storage through its S3 API (issue 22).

A bucket of its own, EC2-style credentials of the admin for it (``openstack ec2 credentials
create``), a private credentials file and a passphrase file outside the repository, and a
``govcloud.yaml`` whose ``state`` section names them, as docs/operations.md sets a team up.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


def private(path: Path, text: str) -> Path:
    path.touch(mode=0o600)
    path.write_text(text, encoding="utf-8")
    return path


@contextmanager
def s3_state(admin: Any, home: Path, *, auth_config: str) -> Iterator[Path]:
    """A bucket and the configuration file that points govcloud at it; both removed after.

    ``admin`` must be a connection of its own: once a connection has resolved its object-store
    endpoint, openstacksdk hands the same account URL to every ``connect_as_project`` made from
    it, and the plan checks' container listings of other projects get 403."""
    # the object store's own address, unless the cloud serves S3 elsewhere (Ceph RGW on its own port)
    endpoint = urlsplit(os.environ.get("GOVCLOUD_TEST_S3_ENDPOINT") or admin.object_store.get_endpoint())
    bucket = f"govcloud-state-{secrets.token_hex(4)}"
    access, secret = secrets.token_hex(16), secrets.token_hex(20)
    created = admin.identity.post(
        "/credentials",
        json={
            "credential": {
                "type": "ec2",
                "user_id": admin.current_user_id,
                "project_id": admin.current_project_id,
                "blob": json.dumps({"access": access, "secret": secret}),
            }
        },
    )
    created.raise_for_status()
    credential = created.json()["credential"]["id"]
    admin.object_store.create_container(bucket)
    try:
        credentials = private(
            home / "s3-credentials", f"[govcloud]\naws_access_key_id = {access}\naws_secret_access_key = {secret}\n"
        )
        passphrase = private(home / "state-passphrase", secrets.token_urlsafe(24) + "\n")
        backend = f"s3://{bucket}?endpoint={endpoint.scheme}://{endpoint.netloc}&s3ForcePathStyle=true&region=RegionOne"
        config = home / "govcloud.yaml"
        config.write_text(
            f'{auth_config}\nstate:\n  backend: "{backend}"\n  passphraseFile: {passphrase}\n'
            f"  credentialsFile: {credentials}\n  profile: govcloud\n",
            encoding="utf-8",
        )
        yield config
    finally:
        for obj in list(admin.object_store.objects(bucket)):
            admin.object_store.delete_object(obj, container=bucket, ignore_missing=True)
        admin.object_store.delete_container(bucket, ignore_missing=True)
        admin.identity.delete(f"/credentials/{credential}")
