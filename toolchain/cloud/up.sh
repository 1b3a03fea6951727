#!/usr/bin/env bash
# make cloud-up: install (once), configure, start every service, register and populate (once),
# write clouds.yaml. A second run while everything answers only says so.
source "$(dirname "$0")/lib.sh"
source "$CLOUD_DIR/services.sh"

T0=$SECONDS
elapsed() { echo "$((SECONDS - T0)) s"; }

if all_up; then
  log "the local cloud is already up (nothing to do)"
  print_usage
  exit 0
fi

"$CLOUD_DIR/install.sh"
log "packages ready after $(elapsed)"
"$CLOUD_DIR/mounts.sh" mount

# --- state and configuration -------------------------------------------------------------------
mkdir -p "$LOGS" "$RUN" "$ETC" "$LIB" "$STATE/done"
chmod 755 "$STATE" "$ETC"
for d in keystone/fernet-keys keystone/credential-keys nova/instances nova/lock neutron/lock \
         glance/images glance/staging glance/tasks glance/lock cinder/lock swift/node/d1 \
         swift/recon; do
  mkdir -p "$STATE/$d"
done
[[ -s $STATE/service-password ]] || (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$STATE/service-password")
[[ -s $STATE/admin-password ]] || (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$STATE/admin-password")
SERVICE_PASSWORD=$(<"$STATE/service-password")
ADMIN_PASSWORD=$(<"$STATE/admin-password")

render() { # template -> target, replacing @NAME@ placeholders
  local text
  text=$(<"$CLOUD_DIR/templates/$1")
  text=${text//@STATE@/$STATE}
  text=${text//@ETC@/$ETC}
  text=${text//@PGSOCK@/$PGSOCK}
  text=${text//@RABBIT@/$RABBIT_URL}
  text=${text//@HOST@/$CLOUD_HOST}
  text=${text//@PW@/$SERVICE_PASSWORD}
  mkdir -p "$(dirname "$ETC/$2")"
  (umask 077; printf '%s\n' "$text" >"$ETC/$2")
}
render keystone.conf keystone/keystone.conf
render keystone-uwsgi.ini keystone/uwsgi.ini
render placement.conf placement/placement.conf
render placement-uwsgi.ini placement/uwsgi.ini
render neutron.conf neutron/neutron.conf
render ml2_conf.ini neutron/ml2_conf.ini
render nova.conf nova/nova.conf
render glance-api.conf glance/glance-api.conf
render cinder.conf cinder/cinder.conf
for s in proxy account container object; do render "swift-$s-server.conf" "swift/$s-server.conf"; done
TROVE=${GOVCLOUD_CLOUD_TROVE:-0}
if [[ $TROVE == 1 ]]; then
  render trove.conf trove/trove.conf
  mkdir -p "$STATE/trove/lock"
fi

# Our python: the ML2 driver (found by neutron-server through PYTHONPATH=$LIB) and cloudctl.py.
rm -rf "$LIB/govcloud_ml2"
cp -r "$CLOUD_DIR/govcloud_ml2" "$LIB/"
cp "$CLOUD_DIR/cloudctl.py" "$CLOUD_DIR/govcloud_trove.py" "$CLOUD_DIR/govcloud_cinder.py" "$LIB/"
mkdir -p "$LIB/govcloud_ml2-0.1.0.egg-info"
printf 'Metadata-Version: 2.1\nName: govcloud-ml2\nVersion: 0.1.0\n' >"$LIB/govcloud_ml2-0.1.0.egg-info/PKG-INFO"
printf '[neutron.ml2.mechanism_drivers]\ngovcloud = govcloud_ml2.driver:GovcloudMechanismDriver\n' \
  >"$LIB/govcloud_ml2-0.1.0.egg-info/entry_points.txt"

check_ports_free

# --- PostgreSQL and RabbitMQ -------------------------------------------------------------------
if [[ ! -f $STATE/pg/data/PG_VERSION ]]; then
  rm -rf "$STATE/pg"; mkdir -p "$STATE/pg/data" "$PGSOCK"
  inroot chown -R postgres:postgres "$STATE/pg" "$PGSOCK"
  inroot runuser -u postgres -- "$PG_BIN/initdb" -D "$STATE/pg/data" -U postgres -A trust \
    -E UTF8 --no-locale --no-sync >"$LOGS/initdb.log" 2>&1 || die "initdb failed, see $LOGS/initdb.log"
fi
mkdir -p "$PGSOCK" "$STATE/rabbitmq" "$LOGS/rabbitmq"
inroot chown postgres:postgres "$PGSOCK"
inroot chown -R rabbitmq:rabbitmq "$STATE/rabbitmq" "$LOGS/rabbitmq"
start_service postgres
start_service epmd
start_service rabbitmq
wait_ready postgres 30
log "PostgreSQL ready after $(elapsed)"

if [[ ! -f $STATE/done/databases ]]; then
  {
    for role in keystone placement nova neutron glance cinder; do echo "CREATE ROLE $role LOGIN;"; done
    for db in keystone placement neutron glance cinder; do echo "CREATE DATABASE $db OWNER $db;"; done
    for db in nova_api nova nova_cell0; do echo "CREATE DATABASE $db OWNER nova;"; done
  } | inroot runuser -u postgres -- psql -h "$PGSOCK" -U postgres -q -v ON_ERROR_STOP=1 >"$LOGS/createdb.log" 2>&1 \
    || die "creating databases failed, see $LOGS/createdb.log"
  touch "$STATE/done/databases"
fi

# --- each service: database schema once, then start; in parallel ------------------------------
once() { # step-name command... : run a set-up step unless it is already done
  local step=$1; shift
  [[ -f $STATE/done/$step ]] && return 0
  "$@" >>"$LOGS/setup-$step.log" 2>&1 || { log "$step failed, see $LOGS/setup-$step.log"; return 1; }
  touch "$STATE/done/$step"
}

fernet_keys() { # directory: what keystone-manage fernet_setup/credential_setup make, without
  # a python start each: a staged key 0 and a primary key 1, urlsafe base64 of 32 random bytes
  local dir=$1 i
  mkdir -p "$dir"; chmod 700 "$dir"
  for i in 0 1; do
    (umask 077; head -c 32 /dev/urandom | base64 | tr '+/' '-_' >"$dir/$i")
  done
}

keystone_branch() {
  local km=(inroot keystone-manage --config-file "$ETC/keystone/keystone.conf")
  once keystone-db "${km[@]}" db_sync
  once keystone-fernet fernet_keys "$STATE/keystone/fernet-keys"
  once keystone-credential fernet_keys "$STATE/keystone/credential-keys"
  once keystone-bootstrap "${km[@]}" bootstrap --bootstrap-password "$ADMIN_PASSWORD" \
    --bootstrap-username admin --bootstrap-project-name admin --bootstrap-role-name admin \
    --bootstrap-region-id RegionOne --bootstrap-admin-url http://127.0.0.1:5000/v3/ \
    --bootstrap-internal-url http://127.0.0.1:5000/v3/ --bootstrap-public-url http://127.0.0.1:5000/v3/
  start_service keystone
  # Keystone's threads once hung for good on its first concurrent requests (an eventlet semaphore:
  # "greenlet.error: cannot switch to a different thread" in keystone.log): started again once.
  (wait_ready keystone 60) || {
    log "keystone does not answer; starting it again"
    stop_services 30 keystone
    start_service keystone
    wait_ready keystone 60
  }
  once catalog cloudctl register
  [[ $TROVE == 1 ]] && once catalog-trove cloudctl register trove
  return 0
}

placement_branch() {
  once placement-db inroot placement-manage --config-file "$ETC/placement/placement.conf" db sync
  start_service placement
}

nova_branch() {
  local nm=(inroot nova-manage --config-file "$ETC/nova/nova.conf")
  once nova-api-db "${nm[@]}" api_db sync
  once nova-cell0 "${nm[@]}" cell_v2 map_cell0 \
    --database_connection "postgresql+psycopg2://nova@/nova_cell0?host=$PGSOCK"
  once nova-cell1 "${nm[@]}" cell_v2 create_cell --name cell1
  once nova-db "${nm[@]}" db sync
  # The cell mappings hold the database socket's absolute path: follow a checkout that moved.
  sql nova_api "UPDATE cell_mappings SET database_connection =
    regexp_replace(database_connection, 'host=.*$', 'host=$PGSOCK') WHERE database_connection NOT LIKE '%host=$PGSOCK'" >/dev/null
  start_service nova-api
  start_service nova-conductor
  # The scheduler exits when the catalog has no placement endpoint yet; the compute service
  # reports its resources to placement at start (the next try is a minute later).
  wait_file "$STATE/done/catalog" 300
  start_service nova-scheduler
  wait_ready placement 120
  start_service nova-compute
}

neutron_branch() {
  once neutron-db inroot neutron-db-manage --config-file "$ETC/neutron/neutron.conf" \
    --config-file "$ETC/neutron/ml2_conf.ini" upgrade heads
  start_service neutron
}

glance_branch() {
  once glance-db inroot glance-manage --config-file "$ETC/glance/glance-api.conf" db_sync
  # Image locations are absolute file:// paths, like the cell mappings (nova_branch).
  sql glance "UPDATE image_locations SET value = regexp_replace(value, '^file://.*/glance/images/',
    'file://$STATE/glance/images/') WHERE value NOT LIKE 'file://$STATE/glance/images/%'" >/dev/null
  start_service glance
}

cinder_branch() {
  once cinder-db inroot cinder-manage --config-file "$ETC/cinder/cinder.conf" db sync
  start_service cinder-api
  start_service cinder-scheduler
  start_service cinder-volume
}

swift_branch() {
  once swift-rings inroot "$PY" "$LIB/cloudctl.py" rings "$ETC/swift"
  start_service swift-account
  start_service swift-container
  start_service swift-object
  start_service swift-proxy
}

trove_manage() {
  inroot env PYTHONPATH="$LIB" "$PY" -c 'import govcloud_trove as t; t.manage()' \
    --config-file "$ETC/trove/trove.conf" "$@"
}

trove_datastore() { # datastore mysql, versions 5.7 (default) and 8.0 (the manifests ask for it),
  # on the cirros-tiny image (nothing boots it); trove-manage updates what exists, so it can re-run
  local image
  image=$(sql glance "SELECT id FROM images WHERE name = 'cirros-tiny' AND NOT deleted")
  [[ -n $image ]] || { echo "no image cirros-tiny"; return 1; }
  trove_manage datastore_update mysql "" &&
    trove_manage datastore_version_update mysql 5.7 mysql "$image" "" 1 &&
    trove_manage datastore_version_update mysql 8.0 mysql "$image" "" 1 &&
    trove_manage datastore_update mysql 5.7
}

trove_start() {
  once trove-db trove_manage db_sync || die "trove db_sync failed"
  once trove-datastores trove_datastore || die "trove datastore registration failed"
  start_service trove
  wait_ready trove 120
}

cloudctl() {
  inroot env OS_PASSWORD="$ADMIN_PASSWORD" GOVCLOUD_SERVICE_PASSWORD="$SERVICE_PASSWORD" \
    "$PY" "$LIB/cloudctl.py" "$@"
}

# Services need not wait for RabbitMQ: they retry until it answers, and starting them ~10 s
# earlier overlaps their imports with RabbitMQ's start.
branches=()
for b in keystone placement nova neutron glance cinder swift; do
  "${b}_branch" &
  branches+=("$b:$!")
done
failed=()
for entry in "${branches[@]}"; do
  wait "${entry#*:}" || failed+=("${entry%%:*}")
done
[[ ${#failed[@]} -eq 0 ]] || die "failed: ${failed[*]} (logs in $LOGS)"
log "all services started after $(elapsed); waiting for their APIs"

for name in "${SERVICE_ORDER[@]}"; do
  [[ $name == trove ]] || wait_ready "$name" 120
done
log "all APIs answer after $(elapsed)"

once populate cloudctl populate || die "populate failed, see $LOGS/setup-populate.log"
[[ $TROVE == 1 ]] && trove_start
wait_capacity 120

write_clouds_yaml "$ADMIN_PASSWORD"
log "the local cloud is up after $(elapsed)"
print_usage
