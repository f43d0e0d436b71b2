# One task runner for people, pre-commit and CI.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The first interpreter on PATH that is Python 3.11 or newer.
PYTHON ?= $(shell for p in python3.11 python3.12 python3.13 python3; do \
	$$p -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
# `make run HOST=… PORT=…` wins; else GATEWAY_HOST / GATEWAY_PORT (environment or .env),
# else 127.0.0.1:8000.
HOST ?=
PORT ?=
PYTEST_ARGS ?=

.PHONY: help install install-dev run test check lint rules typecheck openapi bench soak soak-events lock image up down clean

help:
	@echo "make run        install and start the gateway on http://127.0.0.1:8000 (Swagger UI at /docs)"
	@echo "make test       install dev dependencies; run lint, typecheck and every test"
	@echo "make check      the fast loop: ruff, import layers, mypy, every test but e2e (< 1 min)"
	@echo "make lint       uv.lock up to date, ruff format check, ruff lint, import layers, hadolint, manifest"
	@echo "make typecheck  mypy --strict on gateway/, providers/ and simulators/"
	@echo "make openapi    regenerate openapi/openapi.json and the client generated from it"
	@echo "make bench      run the benchmarks in bench/"
	@echo "make soak       two replicas, Redis, faults, concurrency 50 for 60 s (SOAK_SECONDS)"
	@echo "make soak-events  sends with events and webhooks (a receiver failing 1 in 3), 60 s"
	@echo "make lock       refresh uv.lock after a change to pyproject.toml (UPGRADE=1: newest)"
	@echo "make image      build the container image with docker, podman or buildah"
	@echo "make up / down  Redis and two gateway replicas behind one port (deploy/compose.yaml)"

# uv, pinned, from PyPI into .uv/ (pip --target; through a venv's pip when $(PYTHON) has
# none); a uv of the same version on PATH is used as it is. It installs from uv.lock only
# (--frozen) and never downloads a Python (UV_PYTHON_DOWNLOADS): it takes $(PYTHON).
# Bytecode is compiled at install, as pip does: with PYTHONDONTWRITEBYTECODE set (many
# machines and images set it) every start would compile every module again (1.4 s to ready
# instead of 0.6 s, measured).
UV_VERSION := 0.13.9
UV ?= $(shell uv --version 2>/dev/null | grep -q '^uv $(UV_VERSION)\( \|$$\)' \
	&& echo uv || echo .uv/bin/uv)
UV_DEP := $(filter .uv/bin/uv,$(UV))
export UV_PYTHON_DOWNLOADS := never
SYNC = $(UV) sync --frozen --compile-bytecode --python "$(PYTHON)"

.uv/bin/uv:
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is needed on PATH" >&2; exit 1; }
	@if $(PYTHON) -m pip --version >/dev/null 2>&1; then pip="$(PYTHON) -m pip"; \
	else echo "no pip in $(PYTHON): one in a venv (.uv/pip) fetches uv"; \
		$(PYTHON) -m venv .uv/pip && pip=.uv/pip/bin/pip; fi; \
	echo "fetching uv $(UV_VERSION) into .uv (with $$pip)"; \
	$$pip install --quiet --disable-pip-version-check --no-warn-script-location \
		--root-user-action=ignore --target .uv uv==$(UV_VERSION)

# make run: the gateway's own dependencies only. --inexact keeps what make test added.
$(VENV)/.installed: pyproject.toml uv.lock | $(UV_DEP)
	$(SYNC) --no-dev --inexact
	@touch $@

# make test: with the dev group (tools, tests, the typed client from clients/python).
$(VENV)/.installed-dev: pyproject.toml uv.lock clients/python/pyproject.toml | $(UV_DEP)
	$(SYNC)
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

run: install
	$(BIN)/python -m gateway $(if $(HOST),--host $(HOST)) $(if $(PORT),--port $(PORT))

lint: install-dev
	$(UV) lock --check
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/hadolint Dockerfile
	$(BIN)/kubernetes-validate --strict --quiet deploy/kubernetes.yaml
	$(MAKE) --no-print-directory rules

# The alert rules and their unit tests (promtool, from Debian's prometheus package).
rules:
	@if command -v promtool >/dev/null 2>&1; then \
		promtool check rules deploy/prometheus-rules.yaml && \
		promtool test rules deploy/prometheus-rules.test.yaml; \
	else \
		echo "lint: promtool not found (Debian's prometheus package; .ci/run installs it): deploy/prometheus-rules.yaml not checked"; \
	fi

typecheck: install-dev
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# What to run before a commit: everything but the e2e tests (real servers) and the
# Dockerfile and manifest linters, the tests spread over the cores.
check: install-dev
	$(UV) lock --check
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python -m pytest -n auto --ignore=tests/e2e $(PYTEST_ARGS)

# The document, then the typed client generated from it (clients/python; its generated
# layer only: the hand-written modules beside it stay).
openapi: install-dev
	$(BIN)/python -m gateway --openapi > openapi/openapi.json
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/openapi-python-client generate \
		--path openapi/openapi.json --meta none --overwrite \
		--config clients/python/generator.yaml \
		--output-path clients/python/media_gateway_client/_api

bench: install-dev
	$(BIN)/python bench/run.py

soak: install-dev
	$(BIN)/python bench/soak.py

soak-events: install-dev
	$(BIN)/python bench/soak_events.py

IMAGE ?= media-gateway:latest
# Any Debian-based image with python3 and its venv module (CI passes a debootstrap stand-in).
PYTHON_IMAGE ?= python:3.12-slim
# The first engine that works: a docker client without a daemon does not count.
ENGINE ?= $(shell if docker info >/dev/null 2>&1; then echo docker; \
	else for e in podman buildah; do command -v $$e >/dev/null && { echo $$e; break; }; done; fi)

# uv.lock after a change to pyproject.toml (pins kept where they still fit);
# `make lock UPGRADE=1` takes the newest versions the ranges allow.
lock: | $(UV_DEP)
	$(UV) lock --python "$(PYTHON)" $(if $(UPGRADE),--upgrade)

image:
	@test -n "$(ENGINE)" || { echo "no docker, podman or buildah on PATH" >&2; exit 1; }
	@case "$(ENGINE)" in \
	docker) docker build --build-arg PYTHON_IMAGE=$(PYTHON_IMAGE) -t $(IMAGE) . ;; \
	podman) podman build --format docker --build-arg PYTHON_IMAGE=$(PYTHON_IMAGE) -t $(IMAGE) . ;; \
	buildah) buildah bud --format docker --build-arg PYTHON_IMAGE=$(PYTHON_IMAGE) -t $(IMAGE) . ;; \
	esac

COMPOSE ?= $(shell if docker info >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; \
	then echo "docker compose"; \
	elif test -x $(BIN)/podman-compose; then echo $(BIN)/podman-compose; \
	elif command -v podman-compose >/dev/null; then echo podman-compose; fi)

up:
	@test -n "$(COMPOSE)" || { echo "docker compose or podman-compose is needed (make install-dev \
	installs podman-compose into .venv)" >&2; exit 1; }
	$(COMPOSE) -f deploy/compose.yaml up -d --build

down:
	$(COMPOSE) -f deploy/compose.yaml down

clean:
	rm -rf $(VENV) .uv .mypy_cache .ruff_cache .pytest_cache
