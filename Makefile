# ML Lab Hub: `make up` runs the platform, `make test` runs the whole test suite.
# Both set up what they need first (system packages with apt-get, Python in .venv, node
# packages with npm ci) and skip what is already set up.

SHELL := /bin/bash
VENV := .venv
PYTHON ?= python3
STAMP_PY := $(VENV)/.installed
STAMP_NODE := node_modules/.installed
export PATH := $(CURDIR)/$(VENV)/bin:$(CURDIR)/node_modules/.bin:$(PATH)

# System packages the tests use: a browser for the UI tests, podman for the Docker backend.
TEST_APT_PACKAGES := chromium podman runc debootstrap

.PHONY: up test test-fast setup system-packages services lint bench clean

up: setup  ## run ML Lab Hub on http://127.0.0.1:8000 (UP_ARGS="--port 9000" to change)
	mllab up $(UP_ARGS)

test: setup system-packages services  ## set up and run the whole test suite
	pytest $(PYTEST_ARGS)

test-fast: setup services  ## the quick subset: no hubs, browsers or containers
	pytest -m "not slow" $(PYTEST_ARGS)

setup: $(STAMP_PY) $(STAMP_NODE)

$(STAMP_PY): pyproject.toml
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV) || { \
		apt-get update -qq && apt-get install -y -qq python3-venv && $(PYTHON) -m venv $(VENV); }
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	@touch $@

$(STAMP_NODE): package.json package-lock.json
	@command -v npm >/dev/null || { apt-get update -qq && apt-get install -y -qq nodejs npm; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

system-packages:
	@missing=$$(for p in $(TEST_APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "Installing system packages: $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

services:  ## PostgreSQL for the tests (the machine's own server, started if it is stopped)
	@if ! command -v pg_isready >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; fi
	@pg_isready -q -h 127.0.0.1 || { \
		for v in $$(ls /etc/postgresql); do pg_ctlcluster --skip-systemctl-redirect $$v main start; done; \
		for i in $$(seq 30); do pg_isready -q -h 127.0.0.1 && break; sleep 1; done; }
	@pg_isready -h 127.0.0.1

lint: setup
	ruff check .

bench: setup  ## benchmarks: each prints ratios against a reference measured in the same run
	python bench/hub.py
	python bench/registry.py

clean:
	rm -rf $(VENV) node_modules .mllab
