# govcloud: the commands a newcomer and CI run. `make help` lists them.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: help setup demo test engine-test integration benchmarks clean cloud-up cloud-down cloud-status cloud-smoke

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP) ## create .venv and install govcloud with its dev tools

demo: $(STAMP) ## the main job on the embedded defaults: validate and plan the example manifests offline
	$(BIN)/govcloud validate examples/manifests
	$(BIN)/govcloud plan examples/manifests

test: $(STAMP) ## unit and mock-runtime tests (no cloud, no Pulumi engine needed)
	scripts/test-deps
	$(BIN)/python -m pytest -q -n 2 -m "not cloud and not e2e and not engine"

engine-test: $(STAMP) ## tests that drive the Pulumi engine, no cloud (scripts/install-pulumi first; they fail without it)
	$(BIN)/python -m pytest -q -m "engine and not cloud"

integration: $(STAMP) ## tests against the local OpenStack (make cloud-up first; they fail without it)
	OS_CLIENT_CONFIG_FILE=$(CURDIR)/clouds.yaml $(BIN)/python -m pytest -q -m cloud

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
