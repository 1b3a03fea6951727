"""A tiny ML2 mechanism driver for the local test cloud.

There are no Neutron agents in the local cloud (no Open vSwitch, no dataplane), so the stock
mechanism drivers never bind a port and every server boot fails. This driver binds each port to
its first segment with VIF type ``ovs`` and status ACTIVE, which is all Nova's fake compute driver
needs. Registered as ``govcloud`` under the ``neutron.ml2.mechanism_drivers`` entry point by the
``govcloud_ml2-*.egg-info`` directory that the cloud scripts place beside this package.
"""
