# Shared settings and helpers for the local OpenStack (sourced by the other scripts).
# Every path a service sees is absolute and the same inside the chroot and on the host: the
# state directory is bind-mounted into the chroot at its own path.
set -euo pipefail

CLOUD_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$CLOUD_DIR/../.." && pwd)
CACHE=${GOVCLOUD_CLOUD_CACHE:-$REPO/.cache/cloud}
STATE=$CACHE/state            # databases, logs, pid files, swift data, generated configs
LOGS=$STATE/log
RUN=$STATE/run                # pid files and the PostgreSQL socket
ETC=$STATE/etc
LIB=$STATE/lib                # our python code (ML2 driver, bootstrap), copied at each start
PY=/usr/bin/python3           # Debian's python: the OpenStack modules live there, not in pyenv's

# Where the packages live: a debootstrap chroot (default, in CI too: one tested path, and the
# host's system is left alone) or, when asked with GOVCLOUD_CLOUD_HOST=1, the host itself.
if [[ ${GOVCLOUD_CLOUD_HOST:-} == 1 ]]; then
  MODE=host; ROOT=""
else
  MODE=chroot; ROOT=$CACHE/root
fi

SUITE=bookworm
MIRROR=${GOVCLOUD_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${GOVCLOUD_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}

# Everything the cloud needs from Debian (OpenStack "Zed"). Not nova-compute: it pulls in libvirt
# and qemu; the compute service runs from python3-nova with the fake driver.
PACKAGES=(
  keystone placement-api neutron-api neutron-common
  nova-api nova-conductor nova-scheduler nova-common
  glance-api cinder-api cinder-scheduler cinder-volume
  swift swift-proxy swift-account swift-container swift-object
  python3-keystonemiddleware python3-openstacksdk python3-psycopg2
  rabbitmq-server postgresql uwsgi-core uwsgi-plugin-python3
)
TROVE_PACKAGES=(trove-api trove-conductor trove-taskmanager python3-troveclient python3-proboscis)

log() { printf '[cloud %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Run a command where the packages are (inside the chroot, or on the host), with a clean
# environment: no pyenv python or other PATH entries of the caller.
IN_ROOT=(); [[ $MODE == chroot ]] && IN_ROOT=(chroot "$ROOT")
CLEAN_ENV=(/usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8)
inroot() { "${IN_ROOT[@]}" "${CLEAN_ENV[@]}" "$@"; }

is_mounted() { mountpoint -q "$1" 2>/dev/null; }
