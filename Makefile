# distreg: `make demo` and `make test` set up everything they need on a fresh machine.

PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
DISTREG := $(VENV)/bin/distreg
PYTEST_ARGS ?=
DEMO_ROWS ?= 200000
DEMO_FEATURES ?= 10
DEMO_HELDOUT ?= 50000
MVN ?= mvn
# The project's own Hadoop home (jars from Maven Central + the bin/hadoop launcher).
LOCAL_HADOOP_HOME := .hadoop
HADOOP_POM := configs/hadoop/pom.xml

.DEFAULT_GOAL := help

.PHONY: help setup demo test bench thesis scaling docs faults clean hadoop hadoop-up hadoop-down \
	hadoop-status spark-cluster-up spark-cluster-down

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

# The same rows as data/demo.csv (same seed), as Parquet: one row group per 100,000 rows.
data/demo.parquet: | $(VENV)/.installed
	$(DISTREG) generate --rows $(DEMO_ROWS) --features $(DEMO_FEATURES) --seed 1 --format parquet --out $@

# A table as users have them: the numeric features, a text column region (4 levels, each its
# own effect) and integer frequency weights w, as Parquet.
data/demo-table.parquet: | $(VENV)/.installed
	$(DISTREG) generate --rows $(DEMO_ROWS) --features 5 --categorical 4 --weights --seed 4 --format parquet --out $@

data/demo-logistic.csv: | $(VENV)/.installed
	$(DISTREG) generate --model logistic --rows $(DEMO_ROWS) --features $(DEMO_FEATURES) --seed 2 --out $@

data/demo-poisson.csv: | $(VENV)/.installed
	$(DISTREG) generate --model poisson --rows $(DEMO_ROWS) --features $(DEMO_FEATURES) --seed 3 --out $@

# Held-out rows of the demo models: a larger draw of the same generator (same seed, so the same
# coefficients) whose last DEMO_HELDOUT rows are kept; they are new draws, not rows of the
# training file.
data/demo-heldout.csv: | $(VENV)/.installed
	$(DISTREG) generate --rows $$(($(DEMO_ROWS) + $(DEMO_HELDOUT))) --features $(DEMO_FEATURES) --seed 1 --out data/.demo-more.csv
	(head -n 1 data/.demo-more.csv && tail -n $(DEMO_HELDOUT) data/.demo-more.csv) > $@
	rm -f data/.demo-more.csv data/.demo-more.csv.truth.json

data/demo-logistic-heldout.csv: | $(VENV)/.installed
	$(DISTREG) generate --model logistic --rows $$(($(DEMO_ROWS) + $(DEMO_HELDOUT))) --features $(DEMO_FEATURES) --seed 2 --out data/.demo-more-logistic.csv
	(head -n 1 data/.demo-more-logistic.csv && tail -n $(DEMO_HELDOUT) data/.demo-more-logistic.csv) > $@
	rm -f data/.demo-more-logistic.csv data/.demo-more-logistic.csv.truth.json

# Every engine that runs on this machine alone, side by side: one table per model. The closed
# forms agree to 1e-9 relative; the iterative logistic fits to 1e-6 (their stopping rules).
# (mrjob-hadoop needs `make hadoop-up`: see the README.)
demo: setup data/demo.csv data/demo.parquet data/demo-table.parquet data/demo-logistic.csv data/demo-poisson.csv data/demo-heldout.csv data/demo-logistic-heldout.csv ## fit the demo data (200k x 10) on every local engine, linear, logistic and Poisson, compare; the same rows as Parquet; a Parquet table with weights and a categorical column; update a fit with new rows; cross-validate ridge and lasso penalties; predict and evaluate on held-out rows
	@mkdir -p results
	@echo '== linear regression, $(DEMO_ROWS) x $(DEMO_FEATURES): numpy, mrjob-local, spark-rdd, spark-mllib'
	$(DISTREG) fit data/demo.csv --engine numpy --method qr --out results/numpy-qr.json
	$(DISTREG) fit data/demo.csv --engine mrjob-local --method normal --quiet --out results/mrjob-local-normal.json
	$(DISTREG) fit data/demo.csv --engine mrjob-local --method qr --quiet --out results/mrjob-local-qr.json
	$(DISTREG) fit data/demo.csv --engine spark-rdd --method normal --quiet --out results/spark-rdd-normal.json
	$(DISTREG) fit data/demo.csv --engine spark-rdd --method qr --quiet --out results/spark-rdd-qr.json
	$(DISTREG) fit data/demo.csv --engine spark-mllib --method normal --quiet --out results/spark-mllib-normal.json
	$(DISTREG) compare results/numpy-qr.json results/mrjob-local-normal.json results/mrjob-local-qr.json \
	    results/spark-rdd-normal.json results/spark-rdd-qr.json results/spark-mllib-normal.json --rtol 1e-9
	@echo '== logistic regression, $(DEMO_ROWS) x $(DEMO_FEATURES): numpy, mrjob-local, spark-rdd, spark-mllib'
	$(DISTREG) fit data/demo-logistic.csv --model logistic --engine numpy --method newton --out results/logistic-numpy-newton.json
	$(DISTREG) fit data/demo-logistic.csv --model logistic --engine mrjob-local --method newton --quiet --out results/logistic-mrjob-local-newton.json
	$(DISTREG) fit data/demo-logistic.csv --model logistic --engine spark-rdd --method newton --quiet --out results/logistic-spark-rdd-newton.json
	$(DISTREG) fit data/demo-logistic.csv --model logistic --engine spark-rdd --method lbfgs --quiet --out results/logistic-spark-rdd-lbfgs.json
	$(DISTREG) fit data/demo-logistic.csv --model logistic --engine spark-mllib --method lbfgs --quiet --out results/logistic-spark-mllib-lbfgs.json
	$(DISTREG) compare results/logistic-numpy-newton.json results/logistic-mrjob-local-newton.json \
	    results/logistic-spark-rdd-newton.json results/logistic-spark-rdd-lbfgs.json \
	    results/logistic-spark-mllib-lbfgs.json --rtol 1e-6
	@echo '== Poisson regression (counts, log link), $(DEMO_ROWS) x $(DEMO_FEATURES): numpy, mrjob-local, spark-rdd, spark-mllib'
	$(DISTREG) fit data/demo-poisson.csv --model poisson --engine numpy --method newton --out results/poisson-numpy-newton.json
	$(DISTREG) fit data/demo-poisson.csv --model poisson --engine mrjob-local --method newton --quiet --out results/poisson-mrjob-local-newton.json
	$(DISTREG) fit data/demo-poisson.csv --model poisson --engine spark-rdd --method lbfgs --quiet --out results/poisson-spark-rdd-lbfgs.json
	$(DISTREG) fit data/demo-poisson.csv --model poisson --engine spark-mllib --method newton --quiet --out results/poisson-spark-mllib-newton.json
	$(DISTREG) compare results/poisson-numpy-newton.json results/poisson-mrjob-local-newton.json \
	    results/poisson-spark-rdd-lbfgs.json results/poisson-spark-mllib-newton.json --rtol 1e-9
	@echo '== the same rows as Parquet (row groups as splits): numpy, mrjob-local, spark-rdd against the CSV fit'
	$(DISTREG) fit data/demo.parquet --engine numpy --method qr --quiet --out results/parquet-numpy-qr.json
	$(DISTREG) fit data/demo.parquet --engine mrjob-local --method qr --quiet --out results/parquet-mrjob-local-qr.json
	$(DISTREG) fit data/demo.parquet --engine spark-rdd --method qr --quiet --out results/parquet-spark-rdd-qr.json
	$(DISTREG) compare results/numpy-qr.json results/parquet-numpy-qr.json results/parquet-mrjob-local-qr.json \
	    results/parquet-spark-rdd-qr.json --rtol 1e-12
	@echo '== a Parquet table: text column region (categorical by its type) and --weight-col w, on every local engine'
	$(DISTREG) fit data/demo-table.parquet --engine numpy --method qr --weight-col w --out results/table-numpy-qr.json
	$(DISTREG) fit data/demo-table.parquet --engine mrjob-local --method normal --weight-col w --quiet --out results/table-mrjob-local.json
	$(DISTREG) fit data/demo-table.parquet --engine spark-rdd --method qr --weight-col w --quiet --out results/table-spark-rdd.json
	$(DISTREG) fit data/demo-table.parquet --engine spark-mllib --method normal --weight-col w --quiet --out results/table-spark-mllib.json
	$(DISTREG) compare results/table-numpy-qr.json results/table-mrjob-local.json results/table-spark-rdd.json \
	    results/table-spark-mllib.json --rtol 1e-9
	@echo '== sufficient statistics: a fit kept with --keep-stats, updated with $(DEMO_HELDOUT) new rows (reads only them)'
	$(DISTREG) fit data/demo.csv --engine numpy --method qr --keep-stats --quiet --out results/stats-qr.json
	$(DISTREG) update results/stats-qr.json data/demo-heldout.csv --engine mrjob-local --out results/updated-qr.json
	@echo '== cross-validation from one pass: 5 folds x 8 ridge penalties, refitted at the best; the lasso path (100 penalties)'
	$(DISTREG) cv data/demo.csv --engine mrjob-local --folds 5 --ridge 0,0.1,1,10,100,1000,1e4,1e5 --out results/cv-ridge.json
	$(DISTREG) cv data/demo.csv --engine numpy --folds 5 --l1 path --out results/cv-lasso.json > results/cv-lasso.txt
	@awk 'NR <= 4 || /^\*/ || /^best/ { print } NR == 5 { print "  ... (100 penalties: the best starred)" }' results/cv-lasso.txt
	@echo '== held-out rows ($(DEMO_HELDOUT)): predict and evaluate the models fitted above, on other engines'
	$(DISTREG) predict results/numpy-qr.json data/demo-heldout.csv --engine mrjob-local --out results/heldout.pred
	$(DISTREG) evaluate results/spark-rdd-qr.json data/demo-heldout.csv --engine numpy --out results/heldout-metrics.json
	$(DISTREG) evaluate results/logistic-mrjob-local-newton.json data/demo-logistic-heldout.csv --engine spark-rdd --out results/heldout-logistic-metrics.json

# Two pytest-xdist workers (the machine's two cores); TEST_WORKERS=0 runs the suite in one
# process. The session MiniCluster's tests stay on one worker (tests/conftest.py).
TEST_WORKERS ?= 2
test: setup hadoop ## run the whole test suite (real engines; the Hadoop tests start their own MiniCluster)
	$(PY) -m pytest tests -n $(TEST_WORKERS) --no-loadscope-reorder $(PYTEST_ARGS)

bench: setup ## speed targets: ratios measured side by side in one run
	$(PY) benchmarks/bench_mrjob.py
	$(PY) benchmarks/bench_cv.py
	$(PY) benchmarks/bench_spark.py
	$(PY) benchmarks/bench_parquet.py

# `make thesis ROWS=200000 ITERS=5` for a quick run (also FEATURES=, HADOOP_ITERS=).
thesis: setup hadoop ## iterative logistic regression on MapReduce vs Spark: results/thesis.{json,md,png}
	$(PY) benchmarks/thesis.py $(if $(ROWS),--rows $(ROWS)) $(if $(FEATURES),--features $(FEATURES)) \
	    $(if $(ITERS),--iters $(ITERS)) $(if $(HADOOP_ITERS),--hadoop-iters $(HADOOP_ITERS))

# `make scaling ROWS=100000,300000 FEATURES=10,50 FIXED_ROWS=100000` for a quick run.
scaling: setup ## how the summation form's cost grows with rows, features, workers: results/scaling.{json,png}
	$(PY) benchmarks/scaling.py $(if $(ROWS),--rows $(ROWS)) $(if $(FEATURES),--features $(FEATURES)) \
	    $(if $(FIXED_ROWS),--fixed-rows $(FIXED_ROWS)) $(if $(REPEATS),--repeats $(REPEATS))

# The results pages (docs/*.md, *.png) and the README's generated blocks, from docs/*.json;
# RESULTS=1 first publishes the last runs' results/{thesis,scaling,bench}.json to docs/.
docs: setup ## regenerate docs/*.md and the README's options and results from docs/*.json (RESULTS=1: take results/*.json first)
	$(PY) -m benchmarks.docs $(if $(RESULTS),--take-results)

# Each scenario injects a real fault into a real fit, prints the evidence the system gives of it
# and how the answer compares with the fit without the fault. Starts (and stops) a MiniCluster
# of 3 DataNodes in .run/hadoop-faults and a 2-worker Spark cluster of its own.
faults: setup hadoop ## fault tolerance shown: corrupt and lost HDFS replicas, failed map/reduce tasks, a failed Spark task, a Spark worker killed mid-fit
	$(PY) benchmarks/faults.py

hadoop: $(LOCAL_HADOOP_HOME)/.installed ## resolve Apache Hadoop 3.5.0 from Maven Central into .hadoop/ (bin/hadoop)

# Jars of an older pom would linger on the classpath, hence the clean share/ before copying.
$(LOCAL_HADOOP_HOME)/.installed: $(HADOOP_POM) configs/hadoop/hadoop configs/hadoop/cds-core-site.xml \
		$(wildcard configs/hadoop/conf/*)
	rm -rf $(LOCAL_HADOOP_HOME)/share
	$(MVN) --batch-mode --quiet -f $(HADOOP_POM) generate-resources -Dhadoop.home=$(abspath $(LOCAL_HADOOP_HOME))
	install -D -m 755 configs/hadoop/hadoop $(LOCAL_HADOOP_HOME)/bin/hadoop
	install -D -m 644 -t $(LOCAL_HADOOP_HOME)/etc/hadoop configs/hadoop/conf/*
	$(LOCAL_HADOOP_HOME)/bin/hadoop version | head -1
	@# the launcher puts the conf dir after the jars: no jar may carry its own *-site.xml
	$(PYTHON) -c 'import glob, sys, zipfile; bad = [j for j in glob.glob(sys.argv[1] + "/*.jar") \
	  if any(n.endswith("-site.xml") and "/" not in n for n in zipfile.ZipFile(j).namelist())]; \
	  sys.exit("these jars hold a *-site.xml that would shadow HADOOP_CONF_DIR: %s" % bad if bad else 0)' \
	  $(LOCAL_HADOOP_HOME)/share/hadoop/lib
	@# the clients' class data archive (see configs/hadoop/hadoop): one HDFS client run that
	@# loads the HDFS client's classes and exits (no NameNode at 127.0.0.1:1, no retries)
	conf=$$(mktemp -d) && cp configs/hadoop/cds-core-site.xml $$conf/core-site.xml && \
	  HADOOP_CDS_DUMP=1 HADOOP_CONF_DIR=$$conf $(LOCAL_HADOOP_HOME)/bin/hadoop fs -ls / >/dev/null 2>&1; \
	  rm -rf $$conf; test -s $(LOCAL_HADOOP_HOME)/share/hadoop/client.jsa
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
