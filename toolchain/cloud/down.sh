#!/usr/bin/env bash
# make cloud-down: stop every service by its pid file (the OpenStack services first, then RabbitMQ,
# then PostgreSQL), wait for each to exit, then unmount the chroot's file systems.
# State (databases, images, swift data) stays, so the next cloud-up is a warm start;
# `down.sh --purge` removes it too (the installed chroot stays).
source "$(dirname "$0")/lib.sh"
source "$CLOUD_DIR/services.sh"

T0=$SECONDS
openstack=()
for name in "${SERVICE_ORDER[@]}"; do
  case $name in postgres|epmd|rabbitmq) ;; *) openstack+=("$name") ;; esac
done
stop_services 60 "${openstack[@]}"
stop_services 30 rabbitmq
stop_services 30 epmd postgres

if [[ $MODE == chroot && -d $ROOT ]]; then
  # Anything still running inside our chroot was started by these scripts (a helper a service
  # spawned); it would keep the mounts busy.
  root_real=$(readlink -f "$ROOT")
  for p in /proc/[0-9]*; do
    [[ $(readlink "$p/root" 2>/dev/null) == "$root_real" ]] || continue
    log "stopping leftover process ${p#/proc/} ($(tr '\0' ' ' <"$p/cmdline" | cut -c1-80))"
    kill -s TERM "${p#/proc/}" 2>/dev/null || true
  done
  sleep 0.2
  "$CLOUD_DIR/mounts.sh" umount
fi
log "the local cloud is stopped ($((SECONDS - T0)) s)"

if [[ ${1:-} == --purge ]]; then
  rm -rf --one-file-system "$STATE"
  rm -f "$REPO/clouds.yaml"
  log "state removed ($STATE)"
fi
