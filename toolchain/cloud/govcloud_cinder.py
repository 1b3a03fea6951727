"""Cinder's fake volume driver for the local cloud, with the one verb it lacks.

``cinder.tests.fake_driver.FakeLoggingVolumeDriver`` (Debian's python3-cinder, Zed) inherits
``extend_volume`` from the LVM driver, which calls ``extend_volume`` on a fake volume group that
has no such method: every extend failed in cinder-volume (``AttributeError: 'FakeBrickLVM' object
has no attribute 'extend_volume'``) and left the volume ``error_extending``, for a data volume
grown by ``govcloud up`` and for a Trove instance's volume alike. The fake stores no data, so
growing a volume is only the size Cinder records (and, for an attached volume, the event Cinder
sends to Nova, whose fake driver takes it).
"""

from cinder.tests import fake_driver
from cinder.volume import volume_utils


class FakeVolumeDriver(fake_driver.FakeLoggingVolumeDriver):
    @volume_utils.trace_method
    def extend_volume(self, volume, new_size):
        """Nothing to grow: Cinder records the new size."""
