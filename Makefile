# distreg: `make demo` and `make test` set up everything they need on a fresh machine.

PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
DISTREG := $(VENV)/bin/distreg
PYTEST_ARGS ?=
DEMO_ROWS ?= 200000
DEMO_FEATURES ?= 10
MVN ?= mvn
# The project's own Hadoop home (jars from Maven Central + the bin/hadoop launcher).
LOCAL_HADOOP_HOME := .hadoop
HADOOP_POM := configs/hadoop/pom.xml

.DEFAULT_GOAL := help

.PHONY: help setup demo test bench clean hadoop hadoop-up hadoop-down hadoop-status \
	spark-cluster-up spark-cluster-down

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-20s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

setup: $(VENV)/.installed ## create .venv with the pinned requirements and the project (editable)

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet -r requirements.txt
	$(PIP) install --quiet --no-deps --no-build-isolation -e .
	touch $@

data/demo.csv: | $(VENV)/.installed
	$(DISTREG) generate --rows $(DEMO_ROWS) --features $(DEMO_FEATURES) --seed 1 --out $@

demo: setup data/demo.csv ## fit the demo data (200k x 10) on every local engine and compare
	@mkdir -p results
	$(DISTREG) fit data/demo.csv --engine numpy --method qr --out results/numpy-qr.json
	$(DISTREG) fit data/demo.csv --engine mrjob-local --method normal --quiet --out results/mrjob-local-normal.json
	$(DISTREG) fit data/demo.csv --engine mrjob-local --method qr --quiet --out results/mrjob-local-qr.json
	$(DISTREG) compare results/numpy-qr.json results/mrjob-local-normal.json results/mrjob-local-qr.json --rtol 1e-9

test: setup hadoop ## run the whole test suite (real engines; the Hadoop tests start their own MiniCluster)
	$(PY) -m pytest tests $(PYTEST_ARGS)

bench: setup ## speed targets: ratios measured side by side in one run
	$(PY) benchmarks/bench_mrjob.py
	$(PY) benchmarks/bench_spark.py

hadoop: $(LOCAL_HADOOP_HOME)/.installed ## resolve Apache Hadoop 3.5.0 from Maven Central into .hadoop/ (bin/hadoop)

# Jars of an older pom would linger on the classpath, hence the clean share/ before copying.
$(LOCAL_HADOOP_HOME)/.installed: $(HADOOP_POM) configs/hadoop/hadoop $(wildcard configs/hadoop/conf/*)
	rm -rf $(LOCAL_HADOOP_HOME)/share
	$(MVN) --batch-mode --quiet -f $(HADOOP_POM) generate-resources -Dhadoop.home=$(abspath $(LOCAL_HADOOP_HOME))
	install -D -m 755 configs/hadoop/hadoop $(LOCAL_HADOOP_HOME)/bin/hadoop
	install -D -m 644 -t $(LOCAL_HADOOP_HOME)/etc/hadoop configs/hadoop/conf/*
	$(LOCAL_HADOOP_HOME)/bin/hadoop version | head -1
	touch $@

hadoop-up: setup hadoop ## start the Hadoop MiniCluster (HDFS + YARN on 127.0.0.1) in the background
	$(PY) -m hdfs_utils.minicluster up

hadoop-down: ## stop the MiniCluster started by hadoop-up
	$(PY) -m hdfs_utils.minicluster down

hadoop-status: ## say whether the MiniCluster runs, its addresses and HADOOP_CONF_DIR
	$(PY) -m hdfs_utils.minicluster status

spark-cluster-up: setup ## start a Spark standalone cluster (1 master, 2 workers) on 127.0.0.1; state in .spark/
	$(PY) -m spark_jobs.cluster up --workers 2 --cores 1 --memory 2g

spark-cluster-down: ## stop the Spark standalone cluster of spark-cluster-up (by process id)
	@if [ -x $(PY) ]; then $(PY) -m spark_jobs.cluster down; fi

clean: ## remove generated data, results and caches (keeps .venv and .hadoop)
	rm -rf data results .pytest_cache build *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
