# ML Lab Hub: `make up` runs the platform, `make test` runs the whole test suite.
# Both set up what they need first (system packages with apt-get, Python in .venv, node
# packages with npm ci) and skip what is already set up.

SHELL := /bin/bash
VENV := .venv
PYTHON ?= python3
STAMP_PY := $(VENV)/.installed
STAMP_PYC := $(VENV)/.compiled
# Tools of the set-up and of local workspaces (the rules below): uv, code-server.
TOOLS := .tools
UV := $(TOOLS)/uv/bin/uv
STAMP_NODE := node_modules/.installed
# noVNC's modules for the desktop's page (see the rule below).
NOVNC := extensions/desktop/static/novnc
# @noble/hashes' sha256 modules for the hub pages' uploads (see the rule below).
NOBLE := services/pages/static/vendor/noble-hashes
# The JupyterLab extension: its source, its build output and the venv's link to it (rules below).
LABEXT_SRC := extensions/labextension
LABEXT := extensions/lab/labextension
LABEXT_DEV := $(VENV)/share/jupyter/labextensions/@mllab/jupyterlab
STAMP_LABEXT_NODE := $(LABEXT_SRC)/node_modules/.installed
export PATH := $(CURDIR)/$(VENV)/bin:$(CURDIR)/node_modules/.bin:$(PATH)

# System packages the tests use: a browser for the UI tests, podman for the Docker backend.
# openssh-server/-client: sshd in local workspaces and the ssh/scp of the SSH tests.
# tigervnc-standalone-server/-tools with xterm as the session: the desktop of local workspaces.
# libkrb5-dev and build-essential: what `make tools` builds code-server with (installed here, so
# that `make test` runs apt-get once, before its other parts run side by side).
TEST_APT_PACKAGES := chromium podman runc debootstrap openssh-server openssh-client \
	tigervnc-standalone-server tigervnc-tools xterm libkrb5-dev build-essential

.PHONY: up test test-fast setup setup-parts system-packages services tools lint bench images clean

up: setup  ## run ML Lab Hub on http://127.0.0.1:8000 (UP_ARGS="--port 9000" to change)
	mllab up $(UP_ARGS)

# The suite runs on PYTEST_WORKERS pytest-xdist workers, a module each at a time (module-scoped
# hubs are started once); most of a test's time is waiting for processes it started, so more
# workers than cores pays.
PYTEST_WORKERS ?= 4
PYTEST_XDIST = -n $(PYTEST_WORKERS) --dist loadscope

# apt-get first (one at a time), then the other parts side by side.
test: system-packages  ## set up and run the whole test suite
	@$(MAKE) --no-print-directory -j4 setup services tools SETUP_PARTS="$(SETUP_PARTS)"
	npm test --prefix $(LABEXT_SRC)
	pytest $(PYTEST_XDIST) $(PYTEST_ARGS)

test-fast: setup services  ## the quick subset: no hubs, browsers or containers
	npm test --prefix $(LABEXT_SRC)
	pytest -m "not slow" $(PYTEST_ARGS)

# Set-up's parts run in parallel (the venv while npm installs; inside `make test`'s own parallel
# make, in its job slots); npm is checked first, as apt-get
# takes one at a time and the venv's part may want it too (python3-venv). What runs many Python
# processes sets up the venv's bytecode too (the rule below).
SETUP_PARTS := $(STAMP_PY) $(STAMP_NODE) $(NOVNC)/core/rfb.js $(NOBLE)/sha2.js $(LABEXT)/package.json $(LABEXT_DEV)
test test-fast bench: SETUP_PARTS += $(STAMP_PYC)
setup:
	@command -v npm >/dev/null || { apt-get update -qq && apt-get install -y -qq nodejs npm; }
	@$(MAKE) --no-print-directory $(if $(findstring jobserver,$(MAKEFLAGS)),,-j4) setup-parts SETUP_PARTS="$(SETUP_PARTS)"

setup-parts: $(SETUP_PARTS)
	@:

# The wheel installs the workspace's Jupyter server configs and JupyterLab's admin defaults
# (pyproject's data-files); an editable install does not, so they are copied into the venv here.
SERVER_CONFIGS := $(wildcard extensions/jupyter-config/*.json extensions/*/jupyter-config/*.json)
LAB_OVERRIDES := $(wildcard extensions/jupyter-config/lab-overrides/*.json)

# The venv and its packages. uv (PyPI's `uv`, put in .tools/uv by the system Python's pip, or by
# the venv's where the system Python has none) makes and fills it in seconds; where uv cannot be
# installed, python3 -m venv and pip do it. uv reads no pip.conf, so pip's configuration is handed
# to it (PIP_CONFIG_AS_UV_ARGS). pip itself goes into the venv either way: make images and the
# tests run it.
$(STAMP_PY): pyproject.toml $(SERVER_CONFIGS) $(LAB_OVERRIDES)
	@test -x $(UV) || ! $(SYSTEM_PYTHON) -m pip --version >/dev/null 2>&1 || \
		$(SYSTEM_PYTHON) -m pip install -q --disable-pip-version-check --no-deps --target $(TOOLS)/uv uv || echo "uv could not be installed; pip installs"
	@test -x $(VENV)/bin/python || test -x $(UV) || $(SYSTEM_PYTHON) -m venv $(VENV) || { \
		apt-get update -qq && apt-get install -y -qq python3-venv && $(SYSTEM_PYTHON) -m venv $(VENV); }
	@test -x $(UV) || $(SYSTEM_PYTHON) -m pip --version >/dev/null 2>&1 || ! test -x $(VENV)/bin/pip || \
		$(VENV)/bin/pip install -q --disable-pip-version-check --no-deps --target $(TOOLS)/uv uv || echo "uv could not be installed; pip installs"
	@if test -x $(UV); then \
		args=$$($(PIP_CONFIG_AS_UV_ARGS)); \
		test -x $(VENV)/bin/python || (set -x && $(UV) venv -q --python $(PYTHON) $(VENV)) && \
		(set -x && $(UV) pip install -q --python $(VENV)/bin/python $$args -e '.[test]' pip); \
	else \
		(set -x && $(VENV)/bin/pip install -q --upgrade pip && $(VENV)/bin/pip install -q -e '.[test]'); \
	fi
	@mkdir -p $(VENV)/etc/jupyter/jupyter_server_config.d
	cp $(SERVER_CONFIGS) $(VENV)/etc/jupyter/jupyter_server_config.d/
	@mkdir -p $(VENV)/share/jupyter/lab/settings/overrides.d
	cp $(LAB_OVERRIDES) $(VENV)/share/jupyter/lab/settings/overrides.d/
	@touch $@

# python3 as found without the venv (which make's PATH puts first).
SYSTEM_PYTHON = PATH="$(subst $(CURDIR)/$(VENV)/bin:,,$(PATH))" $(PYTHON)

# pip's configuration as uv's arguments: the package locations, constraints and CA bundle that
# `pip config list` shows (pip.conf files and PIP_* variables). As in pip, a PIP_* variable wins
# over [install], which wins over [global]; and pip takes the best version from all locations
# together, hence --index-strategy unsafe-best-match (uv's default stops at the first index).
PIP_CONFIG_AS_UV_ARGS = { $(SYSTEM_PYTHON) -m pip config list || $(VENV)/bin/python -m pip config list; } 2>/dev/null | \
	sed -n "s/^\(global\|install\|:env:\)\.\([a-z-]*\)='\(.*\)'$$/\1 \2 \3/p" | awk ' \
	{ r = $$1 == ":env:" ? 3 : $$1 == "install" ? 2 : 1; \
	  if (r > rank[$$2]) { rank[$$2] = r; v[$$2] = $$0; sub(/^[^ ]+ [^ ]+ */, "", v[$$2]) } } \
	END { flag["index-url"] = "--index-url"; flag["extra-index-url"] = "--extra-index-url"; \
	  flag["find-links"] = "--find-links"; flag["constraint"] = "--constraint"; \
	  flag["trusted-host"] = "--allow-insecure-host"; flag["cert"] = "--cert"; \
	  printf "--index-strategy unsafe-best-match"; \
	  for (k in v) { n = split(v[k], a, " "); \
	    if (k in flag) for (i = 1; i <= n; i++) printf " %s %s", flag[k], a[i]; \
	    else if (k == "no-index" && v[k] ~ /^(1|[Tt]rue|yes|on)$$/) printf " --no-index" } }'

# The venv's bytecode, for what starts many Python processes (tests, benchmarks): uv installs
# none (pip compiles at install), and where PYTHONDONTWRITEBYTECODE is set no process writes it.
# `make up` does without: compiling all of it takes longer than the one start it would save.
# What does not compile is left as it is, as pip does.
$(STAMP_PYC): $(STAMP_PY)
	$(VENV)/bin/python -m compileall -q -j0 $(VENV)/lib >/dev/null || true
	@touch $@

$(STAMP_NODE): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# noVNC (npm @novnc/novnc, MPL-2.0) for the desktop's page: its ES modules as they are, core/
# and the part of vendor/ that core imports (pako), copied into the desktop extension, where
# an editable install serves them and pyproject's package-data puts them in the wheel. A build
# output: ignored by git, made again when the lock changes.
$(NOVNC)/core/rfb.js: $(STAMP_NODE)
	rm -rf $(NOVNC)
	mkdir -p $(NOVNC)/vendor
	cp -R node_modules/@novnc/novnc/core $(NOVNC)/core
	cp -R node_modules/@novnc/novnc/vendor/pako $(NOVNC)/vendor/pako
	cp node_modules/@novnc/novnc/LICENSE.txt node_modules/@novnc/novnc/package.json $(NOVNC)/
	@touch $@

# @noble/hashes (npm, MIT): the ES modules of its sha256, which the hub pages import to hash a
# file in slices before uploading it (WebCrypto cannot hash incrementally). A build output
# like noVNC's: ignored by git, in the wheel through pyproject's package-data.
$(NOBLE)/sha2.js: $(STAMP_NODE)
	rm -rf $(NOBLE)
	mkdir -p $(NOBLE)
	cp node_modules/@noble/hashes/{sha2,_md,_u64,utils}.js node_modules/@noble/hashes/{LICENSE,package.json} $(NOBLE)/
	@touch $@

# The JupyterLab extension @mllab/jupyterlab: TypeScript in extensions/labextension (with its own
# package-lock.json), built by JupyterLab's builder (jupyter-builder, Rspack) into the Python
# package's extensions/lab/labextension: a build output, ignored by git, put in the wheel's
# share/jupyter/labextensions by pyproject's data-files. The editable install sees it through a
# link in the venv, as `jupyter labextension develop` makes.
$(STAMP_LABEXT_NODE): $(LABEXT_SRC)/package.json $(LABEXT_SRC)/package-lock.json
	npm ci --prefix $(LABEXT_SRC) --no-audit --no-fund --loglevel=error
	@touch $@

$(LABEXT)/package.json: $(STAMP_LABEXT_NODE) $(LABEXT_SRC)/tsconfig.json $(LABEXT_SRC)/install.json \
		$(shell find $(LABEXT_SRC)/src $(LABEXT_SRC)/style -type f) | $(STAMP_PY)
	npm run build:lib --prefix $(LABEXT_SRC)
	jupyter-builder build $(LABEXT_SRC)
	cp $(LABEXT_SRC)/install.json $(LABEXT)/
	@touch $@

$(LABEXT_DEV): | $(LABEXT)/package.json
	@mkdir -p $(@D)
	ln -sfn $(CURDIR)/$(LABEXT) $@

system-packages:
	@missing=$$(for p in $(TEST_APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done; \
		command -v npm >/dev/null || echo nodejs npm); \
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

# Workspace tools for the local backend (the workspace image has its own): code-server from
# npm under Node 24 (the npm package node@24) into .tools/, with .tools/bin/code-server as
# its launcher; the local spawner puts .tools/bin on the workspaces' PATH. TensorBoard is a
# Python dependency. Debian's libkrb5-dev builds code-server's kerberos module.
STAMP_TOOLS := $(TOOLS)/.installed-code-server

tools: $(STAMP_TOOLS)  ## install the workspace tools for the local backend (code-server) into .tools/

$(STAMP_TOOLS):
	@dpkg -s libkrb5-dev >/dev/null 2>&1 || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libkrb5-dev build-essential >/dev/null; }
	npm install --prefix $(TOOLS)/node24 --no-audit --no-fund --loglevel=error node@24
	PATH="$(CURDIR)/$(TOOLS)/node24/node_modules/node/bin:$$PATH" \
		npm install --prefix $(TOOLS)/code-server --no-audit --no-fund --loglevel=error code-server
	@mkdir -p $(TOOLS)/bin
	@printf '%s\n' '#!/bin/sh' '# code-server under the Node 24 of make tools' \
		'tools=$$(cd "$$(dirname "$$0")/.." && pwd)' \
		'exec "$$tools/node24/node_modules/node/bin/node" "$$tools/code-server/node_modules/code-server/out/node/entry.js" "$$@"' \
		> $(TOOLS)/bin/code-server
	@chmod +x $(TOOLS)/bin/code-server
	$(TOOLS)/bin/code-server --version
	@touch $@

lint: setup
	ruff check .

# The images config/compose.yaml runs, built from this checkout: this project's wheel in each
# recipe's wheels/, then `$(DOCKER) build -t mllab/<name>:latest images/<name>`.
DOCKER ?= docker
IMAGES := hub workspace model-server

images: setup  ## build the hub, workspace and model-server images (DOCKER=podman to use podman)
	rm -rf $(foreach i,$(IMAGES),images/$(i)/wheels/*.whl)
	for i in $(IMAGES); do $(VENV)/bin/pip wheel -q --no-deps -w images/$$i/wheels . || exit 1; done
	for i in $(IMAGES); do $(DOCKER) build $(DOCKER_BUILD_ARGS) -t mllab/$$i:latest images/$$i || exit 1; done

bench: setup services  ## benchmarks: each figure beside a reference measured in the same run, or marked absolute
	python bench/hub.py
	python bench/registry.py
	python bench/load.py
	python bench/deployments.py

clean:
	rm -rf $(VENV) node_modules .mllab $(TOOLS) $(NOVNC) $(NOBLE) $(LABEXT) $(LABEXT_SRC)/node_modules $(LABEXT_SRC)/lib
