"""Trove for the local cloud (opt-in, GOVCLOUD_CLOUD_TROVE=1): Debian's Trove 18 with only the guest
agent faked. Instances get a real Nova server (fake compute driver), a real Cinder volume and a real
Neutron port; the database engine inside them is Trove's own test fake.

    python3 -c 'import govcloud_trove as t; t.serve()' --config-file trove.conf
        the API and the task manager in one process, so that the fake guests' state (databases,
        users, grants, root) lives in one place
    python3 -c 'import govcloud_trove as t; t.manage()' --config-file trove.conf db_sync ...
        trove-manage, which calls inspect.getargspec, gone in Python 3.11

The shim over trove/tests/fakes/guestagent.py: Trove 18 calls prepare() with keyword arguments the
fake does not know (ds_version=...), and methods the fake lacks; unknown keywords are dropped and
missing methods do nothing.

Backups: the fake's own create_backup() records a location no object store holds
(http://localhost/path/to/backup), so Trove refused every restore ("Backup file ... was not found
in the object storage"). Here a backup is a real object in the project's Trove container
(backup_swift_container) holding the fake engine's databases and users as JSON, with Swift's ETag
as the checksum; prepare() from a backup reads it back, so a restored instance lists the
databases of the one backed up.
"""

import inspect
import json
import logging
import sys

LOG = logging.getLogger("govcloud_trove")


def _fake_guest_class():
    from trove.tests.fakes import guestagent

    class Guest(guestagent.FakeGuest):
        def prepare(self, *args, **kwargs):
            known = inspect.signature(guestagent.FakeGuest.prepare).parameters
            dropped = sorted(set(kwargs) - set(known))
            if dropped:
                LOG.debug("fake guest prepare(): dropping %s", dropped)
            if kwargs.get("backup_info"):
                self._restore(kwargs["backup_info"])
            return super().prepare(*args, **{k: v for k, v in kwargs.items() if k in known})

        def create_backup(self, backup_info):
            import eventlet

            body = json.dumps({"databases": list(self.dbs.values()), "users": list(self.users.values())},
                              sort_keys=True).encode()
            eventlet.spawn_after(1, _store_backup, self.context, backup_info["id"], body)

        def _restore(self, backup_info):
            from trove.common import clients

            container, name = backup_info["location"].rstrip("/").split("/")[-2:]
            _, body = clients.create_swift_client(self.context).get_object(container, name)
            data = json.loads(body)
            self.create_database(data["databases"])
            self.create_user([u for u in data["users"] if u["_name"] != "os_admin"])

        def __getattr__(self, name):  # only for attributes the fake does not have
            if name.startswith("_"):
                raise AttributeError(name)

            def nothing(*args, **kwargs):
                LOG.debug("fake guest %s(): nothing to do", name)

            return nothing

    return guestagent, Guest


def _store_backup(context, backup_id, body):
    """The backup's object in the project's Trove container; the backup COMPLETED with its
    location, ETag and size, or FAILED when Swift refuses."""
    from trove.backup.models import Backup
    from trove.backup.state import BackupState
    from trove.common import cfg, clients

    backup = Backup.get_by_id(context=None, backup_id=backup_id)
    try:
        swift = clients.create_swift_client(context)
        container, name = cfg.CONF.backup_swift_container, f"{backup_id}.json"
        swift.put_container(container)
        backup.checksum = swift.put_object(container, name, body)
        backup.location = f"{swift.url}/{container}/{name}"
        backup.size = len(body) / 2**30
        backup.state = BackupState.COMPLETED
    except Exception:  # the fake guest's failure, as a real guest reports one
        LOG.exception("fake guest: storing backup %s failed", backup_id)
        backup.state = BackupState.FAILED
    backup.save()


def create_guest_client(context, id, manager=None):
    """remote_guest_client: one fake guest per instance id, kept in this process, with the context
    of the latest call (its token reaches the project's object storage)."""
    guestagent, guest = _fake_guest_class()
    if id not in guestagent.DB:
        guestagent.DB[id] = guest(id)
    guestagent.DB[id].context = context
    return guestagent.DB[id]


def serve():
    from trove.cmd.common import initialize

    conf = initialize()
    from oslo_service import service as os_service

    from trove.common import base_wsgi, cfg, notification, pastedeploy
    from trove.common.rpc import service as rpc_service
    from trove.instance import models as inst_models
    from trove.taskmanager import api as task_api

    notification.DBaaSAPINotification.register_notify_callback(
        inst_models.persist_instance_fault)
    cfg.set_api_config_defaults()
    app = pastedeploy.paste_deploy_app(conf.find_file(conf.api_paste_config), "trove", {})
    api = base_wsgi.Service(app, conf.bind_port, host=conf.bind_host, backlog=128, threads=1000)
    taskmanager = rpc_service.RpcService(
        key=None, manager=conf.taskmanager_manager, topic=conf.taskmanager_queue,
        binary="trove-taskmanager", rpc_api_version=task_api.API.API_LATEST_VERSION)
    launcher = os_service.ServiceLauncher(conf, restart_method="mutate")
    launcher.launch_service(api)
    launcher.launch_service(taskmanager)
    launcher.wait()


def manage():
    if not hasattr(inspect, "getargspec"):
        inspect.getargspec = inspect.getfullargspec
    from trove.cmd.manage import main

    sys.argv[0] = "trove-manage"
    sys.exit(main())
