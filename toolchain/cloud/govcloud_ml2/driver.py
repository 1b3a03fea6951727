"""Bind every port: VIF type ovs, status ACTIVE (see the package docstring)."""

from neutron_lib import constants
from neutron_lib.api.definitions import portbindings
from neutron_lib.plugins.ml2 import api

VIF_DETAILS = {
    portbindings.CAP_PORT_FILTER: True,
    portbindings.OVS_HYBRID_PLUG: False,
}


class GovcloudMechanismDriver(api.MechanismDriver):
    """Binds any port on any segment type; nothing is plugged anywhere."""

    def initialize(self):
        pass

    @property
    def connectivity(self):
        return portbindings.CONNECTIVITY_L2

    def bind_port(self, context):
        for segment in context.segments_to_bind:
            context.set_binding(
                segment[api.ID],
                portbindings.VIF_TYPE_OVS,
                dict(VIF_DETAILS),
                status=constants.PORT_STATUS_ACTIVE,
            )
            return
