"""Trove for the local cloud (opt-in, GOVCLOUD_CLOUD_TROVE=1): Debian's Trove 18 with only the guest
agent faked. Instances get a real Nova server (fake compute driver), a real Cinder volume and a real
Neutron port; the database engine inside them is Trove's own test fake.

    python3 -c 'import govcloud_trove as t; t.serve()' --config-file trove.conf
        the API and the task manager in one process, so that the fake guests' state (databases,
        users, grants, root) lives in one place
    python3 -c 'import govcloud_trove as t; t.manage()' --config-file trove.conf db_sync ...
        trove-manage, which calls inspect.getargspec, gone in Python 3.11

The shim over trove/tests/fakes/guestagent.py, which is older than Trove 18:
- Trove 18 calls the guest with keyword arguments the fake does not know (``prepare(ds_version=)``,
  ``stop_db(do_not_start_on_reboot=)``): unknown keywords are dropped, for every method. Without
  that, a flavor resize died in ``stop_db`` before Trove's own clean-up and the instance stayed in
  RESIZE for good.
- Methods the fake lacks do nothing.
- The guest reports its status every few seconds, as a real guest agent's heartbeat does through
  the conductor: a resize sets the status to PAUSED and waits until the guest, back after the
  server's resize, reports anything else (SHUTDOWN: the database was stopped for the resize).

Backups: the fake's own create_backup() records a location no object store holds
(http://localhost/path/to/backup), so Trove refused every restore ("Backup file ... was not found
in the object storage"). Here a backup is a real object in the project's Trove container
(backup_swift_container) holding the fake engine's databases and users as JSON, with Swift's ETag
as the checksum; prepare() from a backup reads it back, so a restored instance lists the
databases of the one backed up.
"""

import functools
import inspect
import json
import logging
import sys

LOG = logging.getLogger("govcloud_trove")
#: Seconds between two heartbeats of a fake guest (a real guest's report interval is longer).
HEARTBEAT = 3


def _dropping_unknown_keywords(method):
    known = inspect.signature(method).parameters
    if any(p.kind is p.VAR_KEYWORD for p in known.values()):
        return method

    @functools.wraps(method)
    def call(*args, **kwargs):
        dropped = sorted(set(kwargs) - set(known))
        if dropped:
            LOG.debug("fake guest %s(): dropping %s", method.__name__, dropped)
        return method(*args, **{k: v for k, v in kwargs.items() if k in known})

    return call


@functools.cache
def _fake_guest_class():
    from trove.tests.fakes import guestagent

    fake = guestagent.FakeGuest
    tolerant = type(
        "TolerantFakeGuest",
        (fake,),
        {
            name: _dropping_unknown_keywords(method)
            for name, method in vars(fake).items()
            if inspect.isfunction(method) and not name.startswith("_")
        },
    )

    class Guest(tolerant):
        status = None
        """What this guest reports (``HEALTHY``, ``SHUTDOWN``); None until it is prepared."""

        def prepare(self, *args, **kwargs):
            if kwargs.get("backup_info"):
                self._restore(kwargs["backup_info"])
            super().prepare(*args, **kwargs)  # the fake reports HEALTHY after 3.5 s
            self.status = "HEALTHY"
            self.beat(first=True)

        def _set_task_status(self, new_status="HEALTHY"):
            self.status = new_status
            super()._set_task_status(new_status)

        def beat(self, first=False):
            """Report the status, as a real guest's heartbeat does, until the instance is gone."""
            import eventlet
            from trove.common import exception
            from trove.instance import service_status as srvstatus
            from trove.instance.models import InstanceServiceStatus

            if not first:
                try:
                    row = InstanceServiceStatus.find_by(instance_id=self.id)
                except exception.ModelNotFoundError:
                    return
                current = row.get_status()
                if current == srvstatus.ServiceStatuses.DELETED:
                    return
                wanted = getattr(srvstatus.ServiceStatuses, self.status)
                if current not in (wanted, srvstatus.ServiceStatuses.RESTART_REQUIRED):
                    row.set_status(wanted)
                    row.save()
            eventlet.spawn_after(5 if first else HEARTBEAT, self.beat)

        def create_backup(self, backup_info):
            import eventlet

            body = json.dumps(
                {"databases": list(self.dbs.values()), "users": list(self.users.values())}, sort_keys=True
            ).encode()
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
    of the latest call (its token reaches the project's object storage). A guest made for an
    instance that runs already (after a restart of this process) reports it healthy."""
    guestagent, guest = _fake_guest_class()
    if id not in guestagent.DB:
        made = guestagent.DB[id] = guest(id)
        _adopt(made)
    guestagent.DB[id].context = context
    return guestagent.DB[id]


def _adopt(guest):
    from trove.common import exception
    from trove.instance import service_status as srvstatus
    from trove.instance.models import InstanceServiceStatus

    try:
        current = InstanceServiceStatus.find_by(instance_id=guest.id).get_status()
    except exception.ModelNotFoundError:
        return
    if current in (srvstatus.ServiceStatuses.HEALTHY, srvstatus.ServiceStatuses.RUNNING):
        guest.status = "HEALTHY"
        guest.beat(first=True)


def serve():
    from trove.cmd.common import initialize

    conf = initialize()
    from oslo_service import service as os_service
    from trove.common import base_wsgi, cfg, notification, pastedeploy
    from trove.common.rpc import service as rpc_service
    from trove.instance import models as inst_models
    from trove.taskmanager import api as task_api

    notification.DBaaSAPINotification.register_notify_callback(inst_models.persist_instance_fault)
    cfg.set_api_config_defaults()
    app = pastedeploy.paste_deploy_app(conf.find_file(conf.api_paste_config), "trove", {})
    api = base_wsgi.Service(app, conf.bind_port, host=conf.bind_host, backlog=128, threads=1000)
    taskmanager = rpc_service.RpcService(
        key=None,
        manager=conf.taskmanager_manager,
        topic=conf.taskmanager_queue,
        binary="trove-taskmanager",
        rpc_api_version=task_api.API.API_LATEST_VERSION,
    )
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
