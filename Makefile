# govcloud: the commands a newcomer and CI run. `make help` lists them.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: help setup demo lint format test engine-test integration e2e e2e-data-safety engine benchmarks clean cloud-up cloud-down cloud-status cloud-smoke

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

# All three run even when one fails, so one pass shows every finding; the target fails if any did.
lint: $(STAMP) ## ruff format --check, ruff check, mypy (strict on orchestrator/core); config in pyproject.toml
	@status=0; \
	$(BIN)/ruff format --check . || status=1; \
	$(BIN)/ruff check . || status=1; \
	$(BIN)/mypy || status=1; \
	exit $$status

# The fixes come first (one can leave code the formatter changes) and do not stop the target: long
# lines are the formatter's to settle. What neither settles is listed at the end, and fails the target.
format: $(STAMP) ## rewrite the tree as make lint wants it: ruff check --fix (safe fixes only), then ruff format
	$(BIN)/ruff check --fix --exit-zero --quiet .
	$(BIN)/ruff format .
	$(BIN)/ruff check .

test: $(STAMP) ## unit and mock-runtime tests (no cloud, no Pulumi engine needed)
	scripts/test-deps
	$(BIN)/python -m pytest -q -n 2 -m "not cloud and not e2e and not engine"

engine-test: $(STAMP) ## tests that drive the Pulumi engine, no cloud (scripts/install-pulumi first; they fail without it)
	$(BIN)/python -m pytest -q -m "engine and not cloud"

integration: $(STAMP) ## tests against the local OpenStack and Keycloak (make cloud-up first; they fail without them)
	OS_CLIENT_CONFIG_FILE=$(CURDIR)/clouds.yaml $(BIN)/python -m pytest -q -m "cloud and not engine"

e2e: $(STAMP) engine ## end to end: govcloud and plain Pulumi on the local cloud (starts it, with Trove; cloud-down stops it)
	GOVCLOUD_CLOUD_TROVE=1 $(MAKE) --no-print-directory cloud-up
	OS_CLIENT_CONFIG_FILE=$(CURDIR)/clouds.yaml $(BIN)/python -m pytest -q -x -m "(e2e or (engine and cloud)) and not data_safety"

e2e-data-safety: $(STAMP) engine ## the data-safety story on the local cloud (issue 25; ~8 min, after e2e in .ci/run)
	GOVCLOUD_CLOUD_TROVE=1 $(MAKE) --no-print-directory cloud-up
	OS_CLIENT_CONFIG_FILE=$(CURDIR)/clouds.yaml $(BIN)/python -m pytest -q -x -m data_safety

engine: ## build the Pulumi CLI and plugins from Go modules into .cache/pulumi (docs/engine.md)
	scripts/install-pulumi

# The local test environment is the OpenStack and the authentication platform (Keycloak); both
# start (and stop) side by side, and the target fails if either fails.
both = $(1) & other=$$!; $(2); one=$$?; wait $$other && exit $$one

cloud-up: $(STAMP) ## start a local OpenStack (chroot under .cache/cloud, writes clouds.yaml) and Keycloak, then seed what examples/manifests need
	$(call both,toolchain/keycloak/up.sh,toolchain/cloud/up.sh)
	OS_CLIENT_CONFIG_FILE=$(CURDIR)/clouds.yaml $(BIN)/python toolchain/cloud/seed.py

cloud-down: ## stop both (state kept; toolchain/cloud/down.sh --purge, toolchain/keycloak/down.sh --purge remove it)
	$(call both,toolchain/keycloak/down.sh,toolchain/cloud/down.sh)

cloud-status: ## which local OpenStack services and whether Keycloak answer
	toolchain/cloud/status.sh; one=$$?; toolchain/keycloak/status.sh && exit $$one

cloud-smoke: ## openstacksdk against the local cloud: project, network, server, volume, container
	toolchain/cloud/smoke.sh

benchmarks: $(STAMP) ## speed and memory benchmarks (see benchmarks/README.md)
	$(BIN)/python benchmarks/cli_startup.py

clean: ## remove the virtualenv and local state (not the cloud)
	rm -rf $(VENV) .govcloud
