"""Fault tolerance on the real Hadoop (issue 11): HDFS keeps a replica of each block on
another DataNode (after GFS) and MapReduce runs a failed task again.

The module starts its own MiniCluster of 3 DataNodes with replication 2 (its own run dir,
stopped at the end). The scenarios are benchmarks/faults.py's, which ``make faults`` prints;
each test fails unless the fault really happened, as the NameNode or the job's counters
report it, and the answer must equal the one of the same fit without the fault (1e-12: the
partials may be merged in another order).
"""

import numpy as np
import pytest

from benchmarks import faults
from distreg.result import theta_of
from hdfs_utils import minicluster
from hdfs_utils.env import RUN_DIR

from helpers import lstsq

pytestmark = pytest.mark.hadoop

FAULT_TEST_RUN_DIR = RUN_DIR / "hadoop-fault-tests"


@pytest.fixture(scope="module")
def cluster():
    with faults.hadoop_cluster(FAULT_TEST_RUN_DIR) as info:
        yield info


@pytest.fixture(scope="module")
def fault_input(cluster, tmp_path_factory):
    """(remote, copy, reference record, its counters): the input on HDFS twice (the corrupt
    replica scenario gets a copy of its own) and the fit of it without any fault."""
    local = faults.make_input(str(tmp_path_factory.mktemp("faults") / "d.csv"))
    remote = faults.put_input(cluster, local, "/faults/d.csv")
    copy = faults.put_input(cluster, local, "/faults/d-copy.csv")
    reference, counters = faults.fit_hadoop(remote)
    data = np.loadtxt(local, delimiter=",", skiprows=1)
    truth = lstsq(data[:, 0], data[:, 1:])
    assert np.max(np.abs(np.array(theta_of(reference)) - truth)) <= 1e-9 * np.max(np.abs(truth))
    return remote, copy, reference, counters


def test_datanodes_and_replication_options(tmp_path):
    props = minicluster.cluster_properties({n: 1 for n in minicluster.PORT_NAMES}, tmp_path,
                                           tmp_path, tmp_path, datanodes=3, replication=2)
    assert props["hdfs-site.xml"]["dfs.replication"] == "2"
    assert props["mapred-site.xml"]["mapreduce.client.submit.file.replication"] == "2"
    # a stopped DataNode is declared dead in 2 x 2 s + 10 x 1 s, not 10.5 minutes
    assert props["hdfs-site.xml"]["dfs.heartbeat.interval"] == "1"
    assert props["hdfs-site.xml"]["dfs.namenode.heartbeat.recheck-interval"] == "2000"
    default = minicluster.cluster_properties({n: 1 for n in minicluster.PORT_NAMES}, tmp_path,
                                             tmp_path, tmp_path)
    assert default["hdfs-site.xml"]["dfs.replication"] == "1"
    assert "dfs.heartbeat.interval" not in default["hdfs-site.xml"]
    with pytest.raises(minicluster.MiniClusterError, match="replication must be between 1"):
        minicluster.up(tmp_path / "never", datanodes=1, replication=2)
    assert not (tmp_path / "never").exists()


def test_input_is_three_blocks_on_two_of_three_datanodes(cluster, fault_input):
    remote, _, _, counters = fault_input
    blocks = faults.hdfs_faults.block_locations(cluster, remote)
    assert len(blocks) == 3 and all(len(replicas) == 2 for replicas in blocks)
    assert faults.job_counter(counters, "Launched map tasks") == 3
    # the fault switch is off unless asked for
    assert faults.job_counter(counters, "Failed map tasks") == 0
    assert faults.job_counter(counters, "Failed reduce tasks") == 0


def test_corrupt_replica_is_caught_by_its_checksum(cluster, fault_input):
    _, copy, reference, _ = fault_input
    seen = faults.corrupt_replica_scenario(cluster, copy, reference)
    assert seen["reported"], "no reader met a corrupt replica in %d fits" % len(seen["runs"])
    # the readers reported exactly replicas that were corrupted, and only those
    assert set(seen["reported"]) <= set(seen["corrupted"])
    assert all(run["rel_diff"] <= 1e-12 for run in seen["runs"]), seen["runs"]
    assert seen["record"]["n_rows"] == reference["n_rows"]


def test_failed_map_and_reduce_attempts_are_run_again(fault_input):
    """One job: attempt 0 of map task 0 and of the reduce task exit 1 (the test-only switch);
    the job's counters show each failure and the attempt that replaced it."""
    remote, _, reference, _ = fault_input
    seen = faults.task_failure_scenario(remote, reference, ("map", "reduce"))
    assert seen["map"] == dict(failed=1, launched=3 + 1)
    assert seen["reduce"] == dict(failed=1, launched=1 + 1)
    assert seen["rel_diff"] <= 1e-12
    assert seen["record"]["n_rows"] == reference["n_rows"]


def test_lost_datanode_is_declared_dead_and_its_replicas_copied(cluster, fault_input):
    remote, _, reference, _ = fault_input
    seen = faults.datanode_loss_scenario(cluster, remote, reference)
    assert seen["held"], "the stopped DataNode held no replica of the input"
    assert seen["dead_after"] == seen["dead_before"] + 1
    assert seen["live_after"] == 2
    victim = seen["victim"].xfer
    assert all(len(replicas) == 2 and victim not in replicas
               for replicas in seen["locations_after"])
    assert seen["rel_diff"] <= 1e-12
    assert seen["record"]["n_rows"] == reference["n_rows"]
