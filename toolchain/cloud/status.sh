#!/usr/bin/env bash
# make cloud-status: each service's process, whether it answers, and its memory.
source "$(dirname "$0")/lib.sh"
source "$CLOUD_DIR/services.sh"

group_rss_mb() { # pgid -> resident memory of the whole process group, MB
  ps -e -o pgid=,rss= | awk -v g="$1" '$1 == g {kb += $2} END {printf "%d", kb / 1024}'
}

printf '%-17s %-8s %-8s %6s\n' SERVICE PID STATE RSS_MB
total=0; down=0
for name in "${SERVICE_ORDER[@]}"; do
  if pid=$(service_pid "$name"); then
    rss=$(group_rss_mb "$pid"); total=$((total + rss))
    if service_answers "$name"; then state=up; else state=starting; down=1; fi
  else
    pid=-; rss=0; state=down; down=1
  fi
  printf '%-17s %-8s %-8s %6s\n' "$name" "$pid" "$state" "$rss"
done
printf '%-17s %-8s %-8s %6s\n' total "" "" "$total"
echo "mode: $MODE${ROOT:+ ($ROOT)}; state: $STATE"
exit $down
