# One task runner for people, pre-commit and CI.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The first interpreter on PATH that is Python 3.11 or newer.
PYTHON ?= $(shell for p in python3.11 python3.12 python3.13 python3; do \
	$$p -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: help install install-dev run test lint typecheck openapi bench soak clean

help:
	@echo "make run        install and start the gateway on http://$(HOST):$(PORT) (Swagger UI at /docs)"
	@echo "make test       install dev dependencies; run lint, typecheck and every test"
	@echo "make lint       ruff format check, ruff lint, hadolint"
	@echo "make typecheck  mypy --strict on gateway/ and providers/"
	@echo "make openapi    regenerate openapi/openapi.json"
	@echo "make bench      run the benchmarks in bench/"
	@echo "make soak       two replicas, Redis, faults, concurrency 50 for 60 s (SOAK_SECONDS)"

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is needed on PATH" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

run: install
	$(BIN)/python -m gateway --host $(HOST) --port $(PORT)

lint: install-dev
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/hadolint Dockerfile

typecheck: install-dev
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/python -m pytest $(PYTEST_ARGS)

openapi: install
	$(BIN)/python -m gateway --openapi > openapi/openapi.json

bench: install-dev
	$(BIN)/python bench/run.py

soak: install-dev
	$(BIN)/python bench/soak.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
