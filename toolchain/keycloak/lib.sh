# Shared settings and helpers for the local Keycloak (sourced by up.sh, down.sh and status.sh).
# Everything lives under .cache/keycloak (git-ignored); docs/testing.md describes the files.
set -euo pipefail

KC_SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$KC_SCRIPTS/../.." && pwd)
KC_CACHE=${GOVCLOUD_KEYCLOAK_CACHE:-$REPO/.cache/keycloak}

VERSION=26.7.3
ARTIFACT=org.keycloak:keycloak-quarkus-dist:$VERSION:tar.gz
M2=$KC_CACHE/m2                          # Maven's local repository: the download and its .sha1
TARBALL=$M2/org/keycloak/keycloak-quarkus-dist/$VERSION/keycloak-quarkus-dist-$VERSION.tar.gz
DIST=$KC_CACHE/keycloak-$VERSION         # the unpacked server; its data/h2 is the dev-file database

HOST=127.0.0.1
PORT=${GOVCLOUD_KEYCLOAK_PORT:-8180}                 # HTTP: admin API, realms, tokens
MANAGEMENT_PORT=$((PORT + 1000))                      # /health/ready
URL=http://$HOST:$PORT

PIDFILE=$KC_CACHE/keycloak.pid           # "pid start-time" of kc.sh, leader of its process group
LOG=$KC_CACHE/keycloak.log
ADMIN_PASSWORD_FILE=$KC_CACHE/admin-password
ENV_FILE=$KC_CACHE/keycloak.env          # what other tools read (KEYCLOAK_URL, ...)
CONFIGURED=$KC_CACHE/configured          # checksum of the configuration last applied

# Build-time options, baked in by `kc.sh build` so that `start --optimized` skips the build.
BUILD_OPTS=(--db=dev-file --health-enabled=true)
RUN_OPTS=(
  --http-enabled=true --http-host="$HOST" --http-port="$PORT"
  --http-management-port="$MANAGEMENT_PORT"
  --hostname="$URL"                      # a fixed issuer, whatever name a client uses
  --cache=local                          # one node: no cluster transport, no JGroups port
  --log-level=INFO,io.smallrye.health:WARN
)

# C1 only, no C2: building and starting take half the CPU (start ~15 CPU-seconds instead of 25-28,
# build 21 instead of 44); a test server never runs long enough for C2's code to pay off.
export JAVA_OPTS_APPEND="-XX:TieredStopAtLevel=1${JAVA_OPTS_APPEND:+ $JAVA_OPTS_APPEND}"

log() { printf '[keycloak %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

java_major() { # java binary -> its major version, e.g. 25
  "$1" -version 2>&1 | sed -n '1s/.*version "\([0-9]*\).*/\1/p'
}

find_java_home() { # Keycloak 26 needs Java 21 or later; Java 25 is the one this machine kind has
  local home major
  for home in "${GOVCLOUD_KEYCLOAK_JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-amd64 \
              "${JAVA_HOME:-}" /usr/lib/jvm/*; do
    [[ -n $home && -x $home/bin/java ]] || continue
    major=$(java_major "$home/bin/java")
    [[ $major =~ ^[0-9]+$ ]] && ((major >= 21)) && { echo "$home"; return 0; }
  done
  # Java 17 starts Keycloak 26 (tried), though Keycloak no longer supports it: better than no
  # platform at all on a machine without a newer Java.
  home=$(dirname "$(dirname "$(readlink -f "$(command -v java 2>/dev/null || echo /nonexistent)")")")
  if [[ -x $home/bin/java ]] && major=$(java_major "$home/bin/java") && [[ $major =~ ^[0-9]+$ ]] && ((major >= 17)); then
    echo "[keycloak] warning: no Java 21 or later; using Java $major at $home (unsupported by Keycloak $VERSION)" >&2
    echo "$home"; return 0
  fi
  die "no Java 17 or later found (set GOVCLOUD_KEYCLOAK_JAVA_HOME); Keycloak $VERSION needs Java 21"
}

proc_start_time() { # pid -> start time in clock ticks (field 22 of /proc/pid/stat)
  local stat
  stat=$(<"/proc/$1/stat") 2>/dev/null || return 1
  stat=${stat##*) }
  set -- $stat
  [[ $1 != Z ]] || return 1
  echo "${20}"
}

keycloak_pid() { # pid of our running Keycloak, or failure (a reused pid is never taken for ours)
  local pid start
  [[ -s $PIDFILE ]] || return 1
  read -r pid start <"$PIDFILE"
  [[ -n $pid && $(proc_start_time "$pid" 2>/dev/null) == "$start" ]] || return 1
  echo "$pid"
}

ready() { # our Keycloak runs and says it is ready
  keycloak_pid >/dev/null && python3 "$KC_SCRIPTS/keycloak.py" ready "http://$HOST:$MANAGEMENT_PORT"
}

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

group_rss_mb() { # pgid -> resident memory of the process group, MB
  ps -e -o pgid=,rss= | awk -v g="$1" '$1 == g {kb += $2} END {printf "%d", kb / 1024}'
}

group_alive() { # pgid -> some non-zombie process of the group is still there
  ps -e -o pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ {found = 1} END {exit !found}'
}
