# minik: two commands matter. `make up` installs everything and starts a local cluster;
# `make test` installs everything and runs the whole suite (.ci/run calls it).
# Nothing here relies on a hand-installed tool: system packages come from apt, Python ones into .venv.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Debian 12 packages the cluster needs: etcd, the kernel tools the runtime, CNI and proxy drive,
# a static busybox for container images, and venv support for the system Python.
APT_PACKAGES := etcd-server iptables iproute2 busybox-static python3-venv conntrack skopeo docker-registry runc docker-compose openssl
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
LINKS := /usr/local/bin/minik /usr/local/bin/minictl
# Stamps live inside .venv, so `make clean` (or deleting .venv) forces a fresh check.
APT_STAMP := $(VENV)/.minik-apt
PIP_STAMP := $(VENV)/.minik-pip
UP_ARGS ?=

.PHONY: help deps up down test lint bench clean

help:
	@echo "make up      install everything and start a local cluster (minik up $(UP_ARGS))"
	@echo "make down    stop the local cluster and delete its state"
	@echo "make test    install everything, lint, type-check and run the whole test suite"
	@echo "make lint    ruff + mypy"
	@echo "make bench   run the benchmarks (python -m bench)"
	@echo "make deps    install system packages and the virtualenv only"
	@echo "make clean   remove the virtualenv, caches and the /usr/local/bin links"

deps: $(APT_STAMP) $(PIP_STAMP)

# apt-get update only when a package is actually missing; stop Debian's own etcd service if the
# install started one, because it would hold the ports `minik up` uses.
$(APT_STAMP): Makefile
	@missing=""; \
	for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq; \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	  if [ -d /run/systemd/system ]; then \
	    $(SUDO) systemctl disable --now etcd.service docker-registry.service >/dev/null 2>&1 || true; \
	  fi; \
	fi
	@mkdir -p $(VENV)
	@touch $@

$(BIN)/python: | $(APT_STAMP)
	$(PYTHON) -m venv $(VENV)

$(PIP_STAMP): pyproject.toml $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $@

up: deps
	$(SUDO) ln -sfn $(CURDIR)/$(BIN)/minik /usr/local/bin/minik
	$(SUDO) ln -sfn $(CURDIR)/$(BIN)/minictl /usr/local/bin/minictl
	$(BIN)/minik up $(UP_ARGS)

down:
	@if [ -x $(BIN)/minik ]; then $(BIN)/minik down; \
	elif command -v minik >/dev/null; then minik down; \
	else echo "minik is not installed: nothing to stop"; fi

lint: deps
	$(BIN)/ruff check minik tests bench deploy
	$(BIN)/mypy

# MINIK_STRICT=1 turns a skipped `etcd` or `root` test into a failure (see tests/conftest.py).
test: lint
	MINIK_STRICT=1 $(BIN)/pytest -ra

bench: deps
	$(BIN)/python -m bench

clean:
	@for l in $(LINKS); do \
	  if [ -L "$$l" ] && [[ "$$(readlink "$$l")" == "$(CURDIR)/"* ]]; then $(SUDO) rm -f "$$l"; fi; \
	done
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
