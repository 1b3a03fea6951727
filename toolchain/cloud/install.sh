#!/usr/bin/env bash
# Installs Debian's OpenStack packages: into a debootstrap chroot under .cache/cloud/root (default,
# the host's system is left alone), or onto the host itself (GOVCLOUD_CLOUD_HOST=1). Only missing
# packages are installed, so a second run with nothing new to install returns at once.
source "$(dirname "$0")/lib.sh"

want_packages() {
  printf '%s\n' "${PACKAGES[@]}"
  [[ ${GOVCLOUD_CLOUD_TROVE:-} == 1 ]] && printf '%s\n' "${TROVE_PACKAGES[@]}"
  return 0
}

# libeatmydata turns fsync into a no-op: dpkg syncs its database several times for each of the
# ~590 packages, ~12 ms each on this disk. Only for installing: nothing is lost but a half-made
# chroot if the machine dies meanwhile, and that is made again.
EATMYDATA=/usr/lib/x86_64-linux-gnu/libeatmydata.so.1

apt_install() { # runs apt-get in the target; services are never started by package scripts
  local preload=()
  [[ $MODE == chroot ]] && preload=(LD_PRELOAD=$EATMYDATA)
  inroot env "${preload[@]}" DEBIAN_FRONTEND=noninteractive apt-get -q -o Dpkg::Use-Pty=0 "$@"
}

# Only what is missing is installed, so adding Trove later costs just its packages.
missing_packages() {
  local installed
  installed=$(inroot dpkg-query -W -f='${Package} ${db:Status-Status}\n' $(want_packages) 2>/dev/null \
    | awk '$2 == "installed" {print $1}')
  comm -23 <(want_packages | sort) <(sort <<<"$installed")
}

fetch_tools() { # debootstrap and libeatmydata unpacked under .cache, not installed on the host
  local tools=$CACHE/tools
  [[ -x $tools/usr/sbin/debootstrap && -f $tools/$EATMYDATA ]] && return 0
  mkdir -p "$tools/dl"
  if ! (cd "$tools/dl" && apt-get download -q debootstrap libeatmydata1 >/dev/null 2>&1); then
    log "apt-get update (host package lists are needed to fetch debootstrap)"
    apt-get update -q >/dev/null 2>&1 || log "apt-get update reported errors; trying anyway"
    (cd "$tools/dl" && apt-get download -q debootstrap libeatmydata1 >/dev/null 2>&1)
  fi
  local deb
  for deb in "$tools"/dl/*.deb; do dpkg -x "$deb" "$tools"; done
}

make_root() {
  [[ -f $ROOT/.govcloud-debootstrap ]] && return 0
  "$CLOUD_DIR/mounts.sh" umount
  rm -rf --one-file-system "$ROOT"
  fetch_tools
  log "debootstrap $SUITE (minbase) into $ROOT"
  local t0=$SECONDS
  # Two stages, so that the second (dpkg inside the new root) runs with libeatmydata.
  DEBOOTSTRAP_DIR=$CACHE/tools/usr/share/debootstrap \
    "$CACHE/tools/usr/sbin/debootstrap" --foreign --variant=minbase --components=main \
    "$SUITE" "$ROOT" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 \
    || die "debootstrap failed, see $CACHE/debootstrap.log"
  cp -a "$CACHE/tools/usr/lib/x86_64-linux-gnu/." "$ROOT/usr/lib/x86_64-linux-gnu/"
  LD_PRELOAD=$EATMYDATA chroot "$ROOT" /debootstrap/debootstrap --second-stage \
    >>"$CACHE/debootstrap.log" 2>&1 || die "debootstrap failed, see $CACHE/debootstrap.log"
  log "debootstrap done in $((SECONDS - t0)) s"

  cat >"$ROOT/etc/apt/sources.list" <<SRC
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SECURITY_MIRROR $SUITE-security main
SRC
  # No documentation, no service starts from package scripts, fast unpacking.
  printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
  chmod 755 "$ROOT/usr/sbin/policy-rc.d"
  echo force-unsafe-io >"$ROOT/etc/dpkg/dpkg.cfg.d/govcloud-unsafe-io"
  printf 'path-exclude=/usr/share/%s/*\n' doc man info locale >"$ROOT/etc/dpkg/dpkg.cfg.d/govcloud-nodoc"
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
    >"$ROOT/etc/apt/apt.conf.d/90govcloud"
  # Debian byte-compiles each package's modules, tests included (~18,000), one package at a time:
  # install_chroot_packages compiles all but the tests at once on every core instead (~12,000).
  chroot "$ROOT" dpkg-divert --quiet --local --rename --add /usr/bin/py3compile
  printf '#!/bin/sh\nexit 0\n' >"$ROOT/usr/bin/py3compile"
  chmod 755 "$ROOT/usr/bin/py3compile"
  # The cluster is ours, made with initdb under .cache/cloud/state; the package need not make one.
  mkdir -p "$ROOT/etc/postgresql-common"
  echo 'create_main_cluster = false' >"$ROOT/etc/postgresql-common/createcluster.conf"
  touch "$ROOT/.govcloud-debootstrap"
}

install_host_packages() {
  local missing
  missing=$(missing_packages)
  [[ -z $missing ]] && return 0
  log "installing on the host: $(echo $missing | wc -w) packages (host mode)"
  local added_policy=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; added_policy=1
  fi
  apt_install update >/dev/null 2>&1 || log "apt-get update reported errors; trying anyway"
  apt_install install -y --no-install-recommends $missing >"$CACHE/apt.log" 2>&1 \
    || { [[ $added_policy == 1 ]] && rm -f /usr/sbin/policy-rc.d; die "apt-get install failed, see $CACHE/apt.log"; }
  [[ $added_policy == 1 ]] && rm -f /usr/sbin/policy-rc.d
  return 0
}

install_chroot_packages() {
  make_root
  "$CLOUD_DIR/mounts.sh" mount
  local missing
  missing=$(missing_packages)
  [[ -z $missing ]] && return 0
  cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
  log "installing into the chroot: $(echo $missing | wc -w) packages and their dependencies"
  local t0=$SECONDS
  apt_install update >"$CACHE/apt.log" 2>&1 || die "apt-get update failed, see $CACHE/apt.log"
  apt_install install -y $missing >>"$CACHE/apt.log" 2>&1 \
    || die "apt-get install failed, see $CACHE/apt.log"
  apt_install clean
  # Without this, the first start compiles what each service imports, the shared modules once in
  # every one of ~17 processes starting side by side.
  inroot "$PY" -m compileall -q -j 0 -x '/tests/' /usr/lib/python3/dist-packages >/dev/null 2>&1 || true
  echo "nameserver 127.0.0.1" >"$ROOT/etc/resolv.conf"
  log "packages installed and compiled in $((SECONDS - t0)) s ($(grep -c '^Setting up' "$CACHE/apt.log") set up)"
}

mkdir -p "$CACHE"
if [[ $MODE == host ]]; then
  install_host_packages
else
  install_chroot_packages
fi
