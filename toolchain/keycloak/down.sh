#!/usr/bin/env bash
# Stop the local Keycloak by its pid file (TERM to its process group, KILL after 30 s).
# The database stays, so the next start is warm; `down.sh --purge` also deletes it and the
# secrets (the download and the built server stay).
source "$(dirname "$0")/lib.sh"

if pid=$(keycloak_pid); then
  log "stopping Keycloak (pid $pid)"
  kill -s TERM -- "-$pid" 2>/dev/null || true
  deadline=$((SECONDS + 30))
  while group_alive "$pid"; do
    if ((SECONDS >= deadline)); then
      log "Keycloak did not stop within 30 s: killing it"
      kill -s KILL -- "-$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  log "Keycloak stopped"
fi
rm -f "$PIDFILE"

if [[ ${1:-} == --purge ]]; then
  rm -rf "$DIST/data" "$ADMIN_PASSWORD_FILE" "$KC_CACHE/users-password" "$ENV_FILE" "$CONFIGURED"
  log "database and secrets removed"
fi
