# credlink — the two commands of the README:
#   make demo   set up everything and run the main job
#   make test   set up everything and run the tests (lint, format, types, pytest)
# Only Python 3.11+ and make are needed: uv is installed into .tools/ when it is missing.

SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.8
ROOT := $(CURDIR)
UV := $(shell command -v uv 2>/dev/null || echo $(ROOT)/.tools/bin/uv)
VENV := $(ROOT)/.venv
BIN := $(VENV)/bin

export CREDLINK_ROOT := $(ROOT)
export AIRFLOW_HOME ?= $(ROOT)/.airflow
export AIRFLOW_CONFIG := $(ROOT)/airflow.cfg
export PATH := $(BIN):$(PATH)
export UV_PYTHON_DOWNLOADS := never

DEMO_PERSONS ?= 20000
DEMO_SEED ?= 7
DEMO_START ?= 2024-01-01
DEMO_END ?= 2025-12-31
PYTEST_ARGS ?=

.PHONY: setup demo test lint typecheck world clean help

help:
	@echo "make demo   - set up and run the main job (generate the demo world)"
	@echo "make test   - set up and run lint, format check, type check and tests"
	@echo "make clean  - remove generated data and the Airflow home"

$(ROOT)/.tools/bin/uv:
	$(PYTHON) -m venv $(ROOT)/.tools
	$(ROOT)/.tools/bin/pip install --quiet "uv==$(UV_VERSION)"

$(BIN)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen
	@touch $@

$(AIRFLOW_HOME)/env.sh: $(BIN)/.synced credlink/airflow_home.py
	$(BIN)/credlink init

setup: $(BIN)/.synced $(AIRFLOW_HOME)/env.sh

world: setup
	$(BIN)/credlink world --persons $(DEMO_PERSONS) --seed $(DEMO_SEED) \
		--start $(DEMO_START) --end $(DEMO_END) --out $(ROOT)/data/world

demo: world

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/pytest $(PYTEST_ARGS)

clean:
	rm -rf $(ROOT)/data $(AIRFLOW_HOME)
