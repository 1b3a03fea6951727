#!/usr/bin/env bash
# Whether the local Keycloak runs and is ready, its memory and URL; exit 1 unless ready.
source "$(dirname "$0")/lib.sh"

if pid=$(keycloak_pid); then
  rss=$(group_rss_mb "$pid")
  if ready; then state=up; else state=starting; fi
else
  pid=-; rss=0; state=down
fi
printf '%-17s %-8s %-8s %6s\n' SERVICE PID STATE RSS_MB
printf '%-17s %-8s %-8s %6s\n' keycloak "$pid" "$state" "$rss"
echo "Keycloak $VERSION at $URL; connection: $ENV_FILE"
[[ $state == up ]]
