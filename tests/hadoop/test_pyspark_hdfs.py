"""pyspark (its bundled Hadoop 3.5 client) reads the MiniCluster's HDFS."""

import os
import subprocess
import sys

import pytest

from hdfs_utils import hdfs

pytestmark = pytest.mark.hadoop

# Run in a process of its own: `hdfs:///` resolves through the HADOOP_CONF_DIR a SparkContext
# starts with, and a process has one SparkContext (the Spark tests' shared session may be up
# already, started without this cluster). The session is this script's own; it stops it.
COUNT_ROWS = """
import sys
from pyspark.sql import SparkSession
full_uri, default_fs_uri = sys.argv[1:]
spark = (SparkSession.builder.master("local[2]").appName("distreg-hdfs-test")
         .config("spark.ui.enabled", "false").getOrCreate())
try:
    print(spark.sparkContext.textFile(default_fs_uri).count())
    print(spark.read.csv(full_uri, header=True).count())
finally:
    spark.stop()
"""


def test_pyspark_counts_the_rows_of_an_hdfs_file(hadoop_cluster, hdfs_dir, tmp_path):
    rows = 12_345
    local = tmp_path / "data.csv"
    local.write_text("y,x\n" + "".join(f"{i * 0.5},{i}\n" for i in range(rows)))
    remote = f"{hdfs_dir}/data.csv"
    hdfs.put(local, remote)

    # hadoop_cluster's environment (HADOOP_CONF_DIR: hdfs:/// names this cluster), and
    # Spark bound to loopback (else it takes the machine's outward address when the hostname
    # maps to loopback).
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"}
    done = subprocess.run([sys.executable, "-c", COUNT_ROWS, f"{hadoop_cluster.namenode}{remote}",
                           f"hdfs://{remote}"], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == [str(rows + 1), str(rows)]
