# govcloud: the commands a newcomer and CI run. `make help` lists them.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: help setup demo test benchmarks clean

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

test: $(STAMP) ## unit and mock-runtime tests (no cloud needed)
	scripts/test-deps
	$(BIN)/python -m pytest -q -n 2 -m "not cloud and not e2e"

benchmarks: $(STAMP) ## speed and memory benchmarks (see benchmarks/README.md)
	$(BIN)/python benchmarks/cli_startup.py

clean: ## remove the virtualenv and local state (not the cloud)
	rm -rf $(VENV) .govcloud
