#!/usr/bin/env bash
# mount | umount: what the services in the chroot need (proc, sys, a private /dev, the state
# directory at its own path). The /dev is a fresh tmpfs with a few device nodes, never a bind of
# the host's /dev, so that an `rm -rf .cache` with the cloud up cannot remove the host's devices.
source "$(dirname "$0")/lib.sh"

[[ $MODE == chroot ]] || exit 0

do_mount() {
  [[ -d $ROOT/proc ]] || die "no chroot at $ROOT (run toolchain/cloud/install.sh)"
  is_mounted "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
  is_mounted "$ROOT/sys" || mount -t sysfs -o ro sysfs "$ROOT/sys"
  if ! is_mounted "$ROOT/dev"; then
    mount -t tmpfs -o mode=755,size=64m,nosuid govcloud-dev "$ROOT/dev"
    local spec name
    for spec in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
      IFS=: read -r name major minor <<<"$spec"
      mknod -m 666 "$ROOT/dev/$name" c "$major" "$minor"
    done
    mkdir -p "$ROOT/dev/pts" "$ROOT/dev/shm"
    mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$ROOT/dev/pts"
    ln -s pts/ptmx "$ROOT/dev/ptmx"
    mount -t tmpfs -o mode=1777,nosuid,nodev shm "$ROOT/dev/shm"
    ln -s /proc/self/fd "$ROOT/dev/fd"
    ln -s /proc/self/fd/0 "$ROOT/dev/stdin"
    ln -s /proc/self/fd/1 "$ROOT/dev/stdout"
    ln -s /proc/self/fd/2 "$ROOT/dev/stderr"
  fi
  # Names resolve from the host's /etc/hosts plus its own name; the services need no DNS, and
  # a lookup fails at once instead of leaving the machine (install.sh lends apt the host's DNS).
  { cat /etc/hosts; echo "127.0.0.1 $(hostname)"; } >"$ROOT/etc/hosts"
  echo "nameserver 127.0.0.1" >"$ROOT/etc/resolv.conf"
  mkdir -p "$STATE" "$ROOT$STATE"
  is_mounted "$ROOT$STATE" || mount --bind "$STATE" "$ROOT$STATE"
}

do_umount() {
  [[ -n $ROOT ]] || return 0
  local m
  for m in "$ROOT$STATE" "$ROOT/dev/shm" "$ROOT/dev/pts" "$ROOT/dev" "$ROOT/sys" "$ROOT/proc"; do
    if is_mounted "$m"; then
      umount "$m" 2>/dev/null || { log "$m busy, detaching it lazily"; umount -l "$m"; }
    fi
  done
}

case ${1:-} in
  mount) do_mount ;;
  umount) do_umount ;;
  *) die "usage: $0 mount|umount" ;;
esac
