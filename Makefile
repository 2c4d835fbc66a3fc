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

.PHONY: demo test lint system-base system-test sandbox-host browser clean

demo: $(BIN)/.installed system-base
	$(BIN)/harness demo

test: $(BIN)/.installed-dev system-test
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest

lint: $(BIN)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/mypy

# Python itself: Debian ships venv and pip as separate packages.
system-base:
	@if ! $(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || ! command -v bwrap >/dev/null; then \
	  test -n "$(APT)" || { echo "need apt-get to install python3-venv and bubblewrap" >&2; exit 1; }; \
	  $(SUDO) apt-get update -qq; \
	  $(SUDO) apt-get install -y -qq python3-venv python3-pip bubblewrap python3-pytest >/dev/null; \
	fi

$(BIN)/.installed: pyproject.toml | system-base
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	touch $@

$(BIN)/.installed-dev: pyproject.toml $(BIN)/.installed
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

# Everything the tests use for real: Docker engine + sandbox image, bubblewrap, a browser.
system-test: system-base sandbox-host browser

sandbox-host: $(BIN)/.installed
	bash sandboxes/host-setup.sh

browser:
	@if ! test -x /usr/bin/chromium; then \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium >/dev/null; \
	fi
	@/usr/bin/chromium --version

clean:
	rm -rf $(VENV) .cache instance
