#!/usr/bin/env bash
# make cloud-smoke: run smoke.py with openstacksdk 4.x from a venv under /tmp (made once).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
venv=${GOVCLOUD_SMOKE_VENV:-/tmp/govcloud-smoke-venv}
if [[ ! -x $venv/bin/python ]] || ! "$venv/bin/python" -c 'import openstack' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q 'openstacksdk>=4,<5'
fi
export OS_CLIENT_CONFIG_FILE=${OS_CLIENT_CONFIG_FILE:-$here/../../clouds.yaml} OS_CLOUD=${OS_CLOUD:-govcloud-local}
exec "$venv/bin/python" "$here/smoke.py"
