#!/usr/bin/env bash
# Start the local Keycloak (the unified authentication platform of the local test environment):
# download and build once, start, wait until ready, configure realms, clients and users, write
# .cache/keycloak/keycloak.env. A second run while it answers, configured, only says so.
source "$(dirname "$0")/lib.sh"

T0=$SECONDS
elapsed() { echo "$((SECONDS - T0)) s"; }
config_sum() { cat "$KC_SCRIPTS/keycloak.py" "$KC_SCRIPTS/lib.sh" | sha1sum | cut -d' ' -f1; }

if ready && [[ -s $ENV_FILE && $(cat "$CONFIGURED" 2>/dev/null) == "$(config_sum)" ]]; then
  log "Keycloak is already up at $URL (nothing to do); connection in $ENV_FILE"
  exit 0
fi
mkdir -p "$KC_CACHE"
JAVA_HOME=$(find_java_home); export JAVA_HOME

# --- download (Maven, checksum from the repository), unpack, build: once -----------------------
if [[ ! -x $DIST/bin/kc.sh ]]; then
  if [[ ! -s $TARBALL.sha1 ]] || ! echo "$(<"$TARBALL.sha1")  $TARBALL" | sha1sum -c --quiet 2>/dev/null; then
    log "downloading $ARTIFACT"
    mvn -B -q -C -Dmaven.repo.local="$M2" dependency:get -Dartifact="$ARTIFACT" -Dtransitive=false \
      >"$KC_CACHE/download.log" 2>&1 || die "download failed, see $KC_CACHE/download.log"
  fi
  [[ -s $TARBALL.sha1 ]] || die "no checksum came with $TARBALL"
  echo "$(<"$TARBALL.sha1")  $TARBALL" | sha1sum -c --quiet || die "checksum mismatch: $TARBALL"
  rm -rf "$DIST.tmp"; mkdir -p "$DIST.tmp"
  tar -xzf "$TARBALL" -C "$DIST.tmp" --strip-components=1
  mv "$DIST.tmp" "$DIST"
  log "Keycloak $VERSION downloaded and unpacked after $(elapsed)"
fi
if [[ $(cat "$DIST/.govcloud-build" 2>/dev/null) != "${BUILD_OPTS[*]}" ]]; then
  log "building (kc.sh build ${BUILD_OPTS[*]}) with Java $(java_major "$JAVA_HOME/bin/java")"
  "$DIST/bin/kc.sh" build "${BUILD_OPTS[@]}" >"$KC_CACHE/build.log" 2>&1 \
    || die "build failed, see $KC_CACHE/build.log"
  echo "${BUILD_OPTS[*]}" >"$DIST/.govcloud-build"
  log "built after $(elapsed)"
fi

# --- secrets: the bootstrap admin only counts when the database is made, so they go together ----
if [[ ! -s $ADMIN_PASSWORD_FILE ]]; then
  keycloak_pid >/dev/null && die "Keycloak runs but $ADMIN_PASSWORD_FILE is gone:" \
    "toolchain/keycloak/down.sh --purge, then up again"
  rm -rf "$DIST/data" "$CONFIGURED"
fi
for f in "$ADMIN_PASSWORD_FILE" "$KC_CACHE/users-password"; do
  [[ -s $f ]] || (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$f")
done

# --- start ---------------------------------------------------------------------------------------
if ! keycloak_pid >/dev/null; then
  for p in "$PORT" "$MANAGEMENT_PORT"; do
    port_open "$p" && die "port $p on $HOST is taken by another process" \
      "(another Keycloak? GOVCLOUD_KEYCLOAK_PORT picks other ports)"
  done
  # setsid: kc.sh leads its own process group (it forwards signals to java), which down.sh signals.
  KC_BOOTSTRAP_ADMIN_USERNAME=admin KC_BOOTSTRAP_ADMIN_PASSWORD=$(<"$ADMIN_PASSWORD_FILE") \
    setsid "$DIST/bin/kc.sh" start --optimized "${RUN_OPTS[@]}" </dev/null >>"$LOG" 2>&1 &
  pid=$!
  start=$(proc_start_time "$pid") || die "Keycloak exited at once, see $LOG"
  echo "$pid $start" >"$PIDFILE"
  log "started (pid $pid, Java $(java_major "$JAVA_HOME/bin/java"), log $LOG)"
fi
deadline=$((SECONDS + ${GOVCLOUD_KEYCLOAK_TIMEOUT:-300}))
until ready; do
  keycloak_pid >/dev/null || { tail -n 20 "$LOG" >&2; die "Keycloak is not running, see $LOG"; }
  ((SECONDS < deadline)) || die "Keycloak not ready within ${GOVCLOUD_KEYCLOAK_TIMEOUT:-300} s, see $LOG"
  sleep 1
done
log "ready after $(elapsed)"

# --- realms, clients, users; the connection file (again only when the set-up changed) ----------
if [[ ! -s $ENV_FILE || $(cat "$CONFIGURED" 2>/dev/null) != "$(config_sum)" ]]; then
  python3 "$KC_SCRIPTS/keycloak.py" configure "$URL" "$KC_CACHE" || die "configuration failed"
  config_sum >"$CONFIGURED"
fi
log "Keycloak is up at $URL after $(elapsed); connection in $ENV_FILE"
