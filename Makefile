# govcloud: the commands a newcomer and CI run. `make help` lists them.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: help setup demo test integration e2e engine benchmarks clean cloud-up cloud-down cloud-status cloud-smoke

help:
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP) ## create .venv and install govcloud with its dev tools

demo: $(STAMP) ## the main job on the embedded defaults: validate and plan the example manifests offline
	$(BIN)/govcloud validate examples/manifests
	$(BIN)/govcloud plan examples/manifests

test: $(STAMP) ## unit and mock-runtime tests (no cloud needed)
	scripts/test-deps
	$(BIN)/python -m pytest -q -n 2 -m "not cloud and not e2e"

integration: $(STAMP) ## tests against the local OpenStack (make cloud-up first; they fail without it)
	OS_CLIENT_CONFIG_FILE=$(CURDIR)/clouds.yaml $(BIN)/python -m pytest -q -m cloud

e2e: $(STAMP) engine ## end to end: govcloud and plain Pulumi on the local cloud (starts it, with Trove; cloud-down stops it)
	GOVCLOUD_CLOUD_TROVE=1 scripts/cloud/up.sh
	OS_CLIENT_CONFIG_FILE=$(CURDIR)/clouds.yaml $(BIN)/python -m pytest -q -x -m e2e tests/e2e

engine: ## build the Pulumi CLI and plugins from Go modules into .cache/pulumi (docs/engine.md)
	scripts/install-pulumi

cloud-up: ## start a local OpenStack (Debian packages in a chroot under .cache/cloud); writes clouds.yaml
	scripts/cloud/up.sh

cloud-down: ## stop it (state kept; scripts/cloud/down.sh --purge removes it)
	scripts/cloud/down.sh

cloud-status: ## which local OpenStack services answer
	scripts/cloud/status.sh

cloud-smoke: ## openstacksdk against the local cloud: project, network, server, volume, container
	scripts/cloud/smoke.sh

benchmarks: $(STAMP) ## speed and memory benchmarks (see benchmarks/README.md)
	$(BIN)/python benchmarks/cli_startup.py

clean: ## remove the virtualenv and local state (not the cloud)
	rm -rf $(VENV) .govcloud
