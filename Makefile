# distreg: `make demo` and `make test` set up everything they need on a fresh machine.

PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PYTEST_ARGS ?=

.DEFAULT_GOAL := help

.PHONY: help setup demo test bench clean spark-cluster-up spark-cluster-down

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-20s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

setup: $(VENV)/.installed ## create .venv with the pinned requirements and the project (editable)

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet -r requirements.txt
	$(PIP) install --quiet --no-deps -e .
	touch $@

spark-cluster-up: setup ## start a Spark standalone cluster (1 master, 2 workers) on 127.0.0.1; state in .spark/
	$(PY) -m spark_jobs.cluster up --workers 2 --cores 1 --memory 2g

spark-cluster-down: ## stop the Spark standalone cluster of spark-cluster-up (by process id)
	@if [ -x $(PY) ]; then $(PY) -m spark_jobs.cluster down; fi

clean: ## remove generated data, results and caches (keeps .venv)
	rm -rf data results .pytest_cache build *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
