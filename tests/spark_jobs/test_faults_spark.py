"""Fault tolerance on real Spark (issue 11): a lost partition is recomputed from its lineage,
a failed task runs again.

The scenarios are benchmarks/faults.py's, which ``make faults`` prints; each test fails unless
the fault really happened (the driver's and the master's own reports, the engine's count of
failed tasks and recomputed partitions), and the answer must equal the one of the same fit
without the fault (1e-12).
"""

import os

import pytest
from spark_helpers import spark_fit

from benchmarks import faults
from spark_jobs import cluster as cluster_mod

pytestmark = pytest.mark.spark_cluster


@pytest.fixture(scope="module")
def fault_data(tmp_path_factory, spark):
    """(path, the fit without a fault on local[2], as in this process)."""
    path = faults.make_spark_input(str(tmp_path_factory.mktemp("faults") / "l.csv"))
    reference = spark_fit(spark, path, method="gd", model="logistic", tol=1e-13)
    assert reference["converged"] and reference["iterations"] >= 8
    assert reference["timings"]["failed_tasks"] == 0
    assert reference["timings"]["recomputed_partitions"] == 0
    return path, reference


@pytest.fixture(scope="module")
def own_cluster(tmp_path_factory):
    """A standalone cluster of this module's own: its test kills a worker."""
    state_dir = str(tmp_path_factory.mktemp("spark-fault-cluster"))
    try:
        yield cluster_mod.start(state_dir, workers=2, cores=1, memory="1g")
    finally:
        cluster_mod.stop(state_dir)


def _gone(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ", 1)[1].startswith("Z")
    except OSError:
        return True


def test_task_failing_once_runs_again_on_local(fault_data, tmp_path):
    path, reference = fault_data
    seen = faults.task_retry_scenario(path, reference, str(tmp_path))
    assert "DISTREG_FAULT=spark:1: attempt 0 of partition 1 fails on purpose" in seen["log"]
    assert seen["record"]["timings"]["failed_tasks"] == 1
    assert any(line.startswith("distreg: spark-rdd pass 1: 1 task attempt(s) failed")
               for line in faults.recovery_lines(seen["log"]))
    assert seen["rel_diff"] <= 1e-12
    assert seen["record"]["iterations"] == reference["iterations"]


def test_worker_killed_mid_fit_partitions_recomputed(own_cluster, fault_data, tmp_path):
    path, reference = fault_data
    assert cluster_mod.alive_workers(own_cluster["web_url"]) == 2
    seen = faults.worker_kill_scenario(own_cluster, path, reference, str(tmp_path))
    assert all(_gone(pid) for pid in seen["killed"])
    # the driver saw its executor go, the master its worker
    assert seen["removed"], "the driver never listed the executor as removed"
    assert sorted(seen["workers"]) == ["ALIVE", "DEAD"]
    # what it held was rebuilt from the input
    timings = seen["record"]["timings"]
    assert timings["recomputed_partitions"] >= 1, seen["log"][-3000:]
    assert faults.recovery_lines(seen["log"])
    assert seen["rel_diff"] <= 1e-12
    assert seen["record"]["iterations"] == reference["iterations"]
    assert seen["record"]["n_rows"] == reference["n_rows"]
