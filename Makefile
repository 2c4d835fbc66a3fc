# The two commands a newcomer runs on a fresh Debian machine:
#   make demo   installs what is needed, loads the demo project, serves http://127.0.0.1:5000
#   make test   installs the test dependencies (real engines included) and runs the whole suite
# Both are safe to run again; installed pieces are reused.

SHELL := /bin/bash
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
APT := $(shell command -v apt-get 2>/dev/null)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export HARNESS_SANDBOX_DIR ?= $(CURDIR)/.cache/sandbox
export DEBIAN_FRONTEND := noninteractive

.PHONY: demo test lint system-base system-test sandbox-host browser postgres redis axe clean

demo: $(BIN)/.installed system-base
	$(BIN)/harness sandbox build --offline
	$(BIN)/harness demo

test: $(BIN)/.installed-dev system-test axe
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest

lint: $(BIN)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/mypy

# Python's venv (a separate package on Debian), bubblewrap for the sandbox, its
# seccomp filter's libseccomp bindings (python3-seccomp) and mmdebstrap to build
# the sandbox's root filesystem from this host's apt sources.
system-base:
	@missing=""; \
	$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || missing="$$missing python3-venv"; \
	command -v bwrap >/dev/null || missing="$$missing bubblewrap"; \
	command -v mmdebstrap >/dev/null || missing="$$missing mmdebstrap"; \
	/usr/bin/python3 -c 'import seccomp' 2>/dev/null || missing="$$missing python3-seccomp"; \
	if [ -n "$$missing" ]; then \
	  test -n "$(APT)" || { echo "need apt-get to install:$$missing" >&2; exit 1; }; \
	  echo "installing$$missing"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

$(BIN)/.installed: pyproject.toml | system-base
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	touch $@

$(BIN)/.installed-dev: pyproject.toml $(BIN)/.installed
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

# Everything the tests use for real: Docker engine + sandbox image, bubblewrap, a browser,
# PostgreSQL's server binaries and Redis (the tests start throwaway instances of their own,
# in temp dirs on Unix sockets; the packages' own services are not used).
system-test: system-base sandbox-host browser postgres redis

redis:
	@if ! command -v redis-server >/dev/null; then \
	  test -n "$(APT)" || { echo "need apt-get to install redis-server" >&2; exit 1; }; \
	  echo "installing redis-server"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq redis-server </dev/null >/dev/null; \
	fi

sandbox-host: $(BIN)/.installed
	bash sandboxes/host-setup.sh

browser:
	@if ! test -x /usr/bin/chromium; then \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium >/dev/null; \
	fi
	@/usr/bin/chromium --version

# axe-core's script, injected by the browser tests into the pages they scan for
# accessibility violations (loaded from this file: the pages never fetch it).
AXE_JS := .cache/axe/node_modules/axe-core/axe.min.js
axe: $(AXE_JS)
$(AXE_JS):
	@command -v npm >/dev/null || { test -n "$(APT)" && $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq npm >/dev/null; }
	npm install --prefix .cache/axe --no-audit --no-fund --no-save axe-core@4
	@test -f $@

postgres:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null; then \
	  test -n "$(APT)" || { echo "need apt-get to install postgresql" >&2; exit 1; }; \
	  echo "installing postgresql"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq postgresql </dev/null >/dev/null; \
	fi

clean:
	rm -rf $(VENV) .cache instance
