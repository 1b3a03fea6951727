# govcloud developer targets. The local OpenStack is described in docs/testing.md.

.PHONY: cloud-up cloud-down cloud-status cloud-smoke

## Start a local OpenStack (Debian packages in a chroot under .cache/cloud) and write clouds.yaml
cloud-up:
	scripts/cloud/up.sh

## Stop it (state is kept; scripts/cloud/down.sh --purge removes it)
cloud-down:
	scripts/cloud/down.sh

cloud-status:
	scripts/cloud/status.sh

## openstacksdk 4.x against the local cloud (venv under /tmp)
cloud-smoke:
	scripts/cloud/smoke.sh
