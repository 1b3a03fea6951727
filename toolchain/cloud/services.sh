# The services of the local cloud: how each starts, how to tell it answers, how it stops.
# Sourced after lib.sh by up.sh, down.sh and status.sh.

CLOUD_HOST=govcloud                      # Nova/Neutron/Cinder host name of the single node
PGSOCK=$STATE/pgsock                     # PostgreSQL listens on this Unix socket only
PG_BIN=/usr/lib/postgresql/15/bin
RABBIT_URL=rabbit://guest:guest@127.0.0.1:5672/

# Start order. down.sh stops the OpenStack services together, then RabbitMQ (Neutron's RPC worker
# hangs when RabbitMQ goes first), then epmd and PostgreSQL.
SERVICE_ORDER=(
  postgres epmd rabbitmq keystone placement glance neutron
  nova-api nova-conductor nova-scheduler nova-compute
  cinder-api cinder-scheduler cinder-volume
  swift-account swift-container swift-object swift-proxy
)
# Trove (opt-in): when asked for, or when it runs (so that down.sh stops it whatever is asked).
if [[ ${GOVCLOUD_CLOUD_TROVE:-} == 1 || -s $RUN/trove.pid ]]; then
  SERVICE_ORDER+=(trove)
fi

# name -> port on 127.0.0.1 (services without one are checked by their process only)
declare -A PORT=(
  [epmd]=4369 [rabbitmq]=5672 [keystone]=5000 [placement]=8778 [glance]=9292 [neutron]=9696
  [nova-api]=8774 [cinder-api]=8776 [swift-account]=6202 [swift-container]=6201
  [swift-object]=6200 [swift-proxy]=8080 [trove]=8779
)
# name -> path that must answer HTTP below 500
declare -A HTTP_PATH=(
  [keystone]=/v3 [placement]=/ [glance]=/versions [neutron]=/ [nova-api]=/ [cinder-api]=/
  [swift-account]=/healthcheck [swift-container]=/healthcheck [swift-object]=/healthcheck
  [swift-proxy]=/healthcheck [trove]=/
)

service_cmd() { # name -> CMD array
  local conf
  case $1 in
    postgres)
      CMD=(setpriv --reuid=postgres --regid=postgres --init-groups
           "$PG_BIN/postgres" -D "$STATE/pg/data" -k "$PGSOCK" -c listen_addresses=
           -c max_connections=300 -c shared_buffers=64MB
           # a test cloud: no durability after a machine crash, much faster schema migrations
           -c fsync=off -c synchronous_commit=off -c full_page_writes=off) ;;
    epmd) CMD=(epmd -address 127.0.0.1 -port 4369) ;;
    rabbitmq)
      CMD=(setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups
           env HOME=/var/lib/rabbitmq RABBITMQ_NODENAME=rabbit@localhost
           RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT=5672 RABBITMQ_DIST_PORT=25672
           ERL_EPMD_ADDRESS=127.0.0.1 ERL_EPMD_PORT=4369
           RABBITMQ_MNESIA_BASE="$STATE/rabbitmq/mnesia" RABBITMQ_LOG_BASE="$LOGS/rabbitmq"
           RABBITMQ_LOGS=- RABBITMQ_PID_FILE="$STATE/rabbitmq/rabbit.pid"
           RABBITMQ_ENABLED_PLUGINS_FILE="$STATE/rabbitmq/enabled_plugins"
           RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
           /usr/lib/rabbitmq/bin/rabbitmq-server) ;;
    keystone) CMD=(uwsgi --ini "$ETC/keystone/uwsgi.ini") ;;
    placement) CMD=(uwsgi --ini "$ETC/placement/uwsgi.ini") ;;
    glance) CMD=(glance-api --config-file "$ETC/glance/glance-api.conf") ;;
    neutron)
      CMD=(env PYTHONPATH="$LIB" neutron-server --config-file "$ETC/neutron/neutron.conf"
           --config-file "$ETC/neutron/ml2_conf.ini") ;;
    nova-api|nova-conductor|nova-scheduler) CMD=("$1" --config-file "$ETC/nova/nova.conf") ;;
    # Not Debian's nova-compute package (it pulls in libvirt and qemu): the fake driver runs
    # from python3-nova.
    nova-compute)
      CMD=("$PY" -c 'from nova.cmd.compute import main; main()' --config-file "$ETC/nova/nova.conf") ;;
    cinder-api|cinder-scheduler) CMD=("$1" --config-file "$ETC/cinder/cinder.conf") ;;
    cinder-volume) CMD=(env PYTHONPATH="$LIB" cinder-volume --config-file "$ETC/cinder/cinder.conf") ;;
    swift-account|swift-container|swift-object|swift-proxy)
      conf="$ETC/swift/${1#swift-}-server.conf"
      CMD=("$1-server" "$conf" --verbose) ;;
    trove)
      CMD=(env PYTHONPATH="$LIB" "$PY" -c 'import govcloud_trove as t; t.serve()'
           --config-file "$ETC/trove/trove.conf") ;;
    *) die "unknown service $1" ;;
  esac
}

# A pid file holds "pid start-time", so a pid reused after a reboot is never taken for ours.
proc_start_time() { # pid -> start time in clock ticks (field 22 of /proc/pid/stat)
  local stat
  stat=$(<"/proc/$1/stat") 2>/dev/null || return 1
  stat=${stat##*) }
  set -- $stat
  [[ $1 != Z ]] || return 1   # a zombie is dead
  echo "${20}"
}

service_pid() { # name -> pid of our live process, or failure
  local f=$RUN/$1.pid pid start
  [[ -s $f ]] || return 1
  read -r pid start <"$f"
  [[ -n $pid && $(proc_start_time "$pid" 2>/dev/null) == "$start" ]] || return 1
  echo "$pid"
}

pid_alive() { service_pid "$1" >/dev/null; }

port_open() { # port -> something listens on 127.0.0.1:port
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

http_status() { # port path -> HTTP status code (bash only, so the host needs no curl)
  timeout 5 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$0" || exit 1
    printf "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" "$1" >&3
    read -r _ code _ <&3 && echo "$code"' "$1" "$2" 2>/dev/null
}

service_answers() { # name -> the service does its job as far as we can see from outside
  local name=$1 code
  pid_alive "$name" || return 1
  case $name in
    postgres) inroot "$PG_BIN/pg_isready" -q -h "$PGSOCK" ;;
    *)
      [[ -z ${PORT[$name]:-} ]] && return 0
      if [[ -n ${HTTP_PATH[$name]:-} ]]; then
        code=$(http_status "${PORT[$name]}" "${HTTP_PATH[$name]}") || return 1
        [[ $code =~ ^[1-4][0-9][0-9]$ ]]
      else
        port_open "${PORT[$name]}"
      fi ;;
  esac
}

start_service() {
  local name=$1 pid start
  pid_alive "$name" && return 0
  service_cmd "$name"
  # setsid: each service leads its own process group, which down.sh signals as a whole. It keeps
  # none of our other descriptors: a lock held by the caller (`flock /tmp/govcloud-cloud.lock
  # ...` around a restart) would otherwise stay held for the service's whole life.
  (
    for fd in /proc/$BASHPID/fd/*; do
      fd=${fd##*/}
      (( fd > 2 )) && eval "exec $fd>&-"
    done
    exec setsid "${IN_ROOT[@]}" "${CLEAN_ENV[@]}" "${CMD[@]}" </dev/null >>"$LOGS/$name.log" 2>&1
  ) &
  pid=$!
  start=$(proc_start_time "$pid") || die "$name exited at once, see $LOGS/$name.log"
  echo "$pid $start" >"$RUN/$name.pid"
}

wait_ready() { # name timeout-seconds
  local name=$1 deadline=$((SECONDS + $2))
  until service_answers "$name"; do
    if ! pid_alive "$name"; then
      tail -n 20 "$LOGS/$name.log" >&2 || true
      die "$name is not running, see $LOGS/$name.log"
    fi
    ((SECONDS < deadline)) || die "$name did not answer within $2 s, see $LOGS/$name.log"
    sleep 0.5
  done
}

wait_file() { # path timeout-seconds
  local deadline=$((SECONDS + $2))
  until [[ -e $1 ]]; do
    ((SECONDS < deadline)) || die "timed out waiting for $1"
    sleep 0.5
  done
}

group_alive() { # pgid -> some non-zombie process of the group is still there
  ps -e -o pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ {found = 1} END {exit !found}'
}

stop_services() { # timeout-seconds name...: signal all of them at once, wait until all exited
  local timeout=$1 name pid sig deadline entry pids=()
  shift
  for name in "$@"; do
    pid=$(service_pid "$name") || { rm -f "$RUN/$name.pid"; continue; }
    log "stopping $name"
    sig=TERM; [[ $name == postgres ]] && sig=INT    # PostgreSQL's fast shutdown
    kill -s "$sig" -- "-$pid" 2>/dev/null || true
    pids+=("$name:$pid")
  done
  deadline=$((SECONDS + timeout))
  for entry in "${pids[@]}"; do
    name=${entry%%:*}; pid=${entry#*:}
    while group_alive "$pid"; do
      if ((SECONDS >= deadline)); then
        log "$name did not stop within $timeout s: killing it"
        kill -s KILL -- "-$pid" 2>/dev/null || true
        sleep 0.5
        break
      fi
      sleep 0.2
    done
    rm -f "$RUN/$name.pid"
  done
}

all_up() {
  local name
  [[ -f $REPO/clouds.yaml && -f $STATE/done/populate ]] || return 1
  for name in "${SERVICE_ORDER[@]}"; do
    service_answers "$name" || return 1
  done
}

check_ports_free() { # a port taken by someone else's process would make a service fail oddly
  local name
  for name in "${!PORT[@]}"; do
    if ! pid_alive "$name" && port_open "${PORT[$name]}"; then
      die "port ${PORT[$name]} ($name) is taken by another process on 127.0.0.1"
    fi
  done
}

write_clouds_yaml() { # admin-password
  (umask 077; cat >"$REPO/clouds.yaml" <<YAML
# Written by \`make cloud-up\` for the local OpenStack (toolchain/cloud); not committed.
clouds:
  govcloud-local:
    auth:
      auth_url: http://127.0.0.1:5000/v3
      username: admin
      password: $1
      project_name: admin
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    interface: public
    identity_api_version: 3
YAML
  )
}

print_usage() {
  cat >&2 <<TXT

Local OpenStack "govcloud-local" (Keystone http://127.0.0.1:5000/v3, region RegionOne, user admin
in project admin). Credentials: $REPO/clouds.yaml
  export OS_CLIENT_CONFIG_FILE=$REPO/clouds.yaml OS_CLOUD=govcloud-local
  python -c 'import openstack; print(openstack.connect().list_flavors())'
Logs: $LOGS   Status: make cloud-status   Stop: make cloud-down
TXT
}

sql() { # database query -> the result, unaligned (psql over the Unix socket is ~20 ms a query)
  inroot "$PG_BIN/psql" -h "$PGSOCK" -U postgres -d "$1" -tAq -c "$2" 2>/dev/null
}

has_rows() { # database query -> the count it returns is above zero
  local n
  n=$(sql "$1" "$2") || n=0
  ((${n:-0} > 0))
}

wait_capacity() { # timeout-seconds: until a server can be booted and a volume made
  # Each service must have reported since it was (re)started: an older heartbeat is stale.
  local deadline=$((SECONDS + $1)) missing since_compute since_volume
  since_compute=$(date -u -r "$RUN/nova-compute.pid" '+%F %T')
  since_volume=$(date -u -r "$RUN/cinder-volume.pid" '+%F %T')
  while :; do
    missing=()
    has_rows nova "SELECT count(*) FROM services WHERE \"binary\" = 'nova-compute'
      AND deleted = 0 AND updated_at >= '$since_compute'" || missing+=(nova-compute)
    has_rows nova_api "SELECT count(*) FROM host_mappings WHERE host = '$CLOUD_HOST'" \
      || missing+=("compute host mapping")
    has_rows placement "SELECT count(*) FROM inventories" || missing+=("placement inventory")
    has_rows cinder "SELECT count(*) FROM services WHERE \"binary\" = 'cinder-volume'
      AND NOT deleted AND updated_at >= '$since_volume'" || missing+=(cinder-volume)
    [[ ${#missing[@]} -eq 0 ]] && return 0
    ((SECONDS < deadline)) || die "not ready within $1 s: ${missing[*]} (logs in $LOGS)"
    sleep 1
  done
}
