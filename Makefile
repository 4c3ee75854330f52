# distreg: `make demo` and `make test` set up everything they need on a fresh machine.

PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
DISTREG := $(VENV)/bin/distreg
PYTEST_ARGS ?=
DEMO_ROWS ?= 200000
DEMO_FEATURES ?= 10

.DEFAULT_GOAL := help

.PHONY: help setup demo test bench clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-20s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

setup: $(VENV)/.installed ## create .venv with the pinned requirements and the project (editable)

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet -r requirements.txt
	$(PIP) install --quiet --no-deps -e .
	touch $@

data/demo.csv: | $(VENV)/.installed
	$(DISTREG) generate --rows $(DEMO_ROWS) --features $(DEMO_FEATURES) --seed 1 --out $@

demo: setup data/demo.csv ## fit the demo data (200k x 10) on every local engine and compare
	@mkdir -p results
	$(DISTREG) fit data/demo.csv --engine numpy --method qr --out results/numpy-qr.json
	$(DISTREG) fit data/demo.csv --engine mrjob-local --method normal --quiet --out results/mrjob-local-normal.json
	$(DISTREG) fit data/demo.csv --engine mrjob-local --method qr --quiet --out results/mrjob-local-qr.json
	$(DISTREG) compare results/numpy-qr.json results/mrjob-local-normal.json results/mrjob-local-qr.json --rtol 1e-9

test: setup ## run the whole test suite (real engines; see README for the groups)
	$(PY) -m pytest tests $(PYTEST_ARGS)

bench: setup ## speed targets: ratios measured side by side in one run
	$(PY) benchmarks/bench_mrjob.py

clean: ## remove generated data, results and caches (keeps .venv)
	rm -rf data results .pytest_cache build *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
