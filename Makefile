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
# The initial load of the demo runs on the day after the world ends: it stages all history.
DEMO_LOAD_DATE ?= 2026-01-01
INGEST_DAGS := ingest_registries ingest_courts ingest_tax ingest_transport ingest_food
DEMO_SEED ?= 7
DEMO_START ?= 2024-01-01
DEMO_END ?= 2025-12-31
PYTEST_ARGS ?=

.PHONY: setup demo test lint typecheck world ingest link airflow-db clean help

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

$(AIRFLOW_HOME)/airflow.db: $(BIN)/.synced
	$(BIN)/python -c "from credlink.airflow_db import migrate; migrate()" > /dev/null

airflow-db: setup $(AIRFLOW_HOME)/airflow.db

# Each ingest DAG, run once by Airflow (`airflow dags test`) as its initial load.
ingest: world airflow-db
	@mkdir -p $(AIRFLOW_HOME)/logs
	@for dag in $(INGEST_DAGS); do \
		log=$(AIRFLOW_HOME)/logs/demo-$$dag.log; \
		echo "running $$dag (initial load, log: $$log)"; \
		$(BIN)/airflow dags test $$dag $(DEMO_LOAD_DATE) -c '{"initial_load": true}' > $$log 2>&1 \
			|| { echo "FAILED: $$dag — see $$log"; tail -n 30 $$log; exit 1; }; \
	done
	$(BIN)/credlink staging

# Linkage, run once by Airflow after the initial loads, then its quality against the truth.
link: ingest
	@log=$(AIRFLOW_HOME)/logs/demo-link_credit_codes.log; \
	echo "running link_credit_codes (log: $$log)"; \
	$(BIN)/airflow dags test link_credit_codes $(DEMO_LOAD_DATE) > $$log 2>&1 \
		|| { echo "FAILED: link_credit_codes — see $$log"; tail -n 30 $$log; exit 1; }
	$(BIN)/credlink quality

demo: link

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/pytest $(PYTEST_ARGS)

clean:
	rm -rf $(ROOT)/data $(AIRFLOW_HOME)
