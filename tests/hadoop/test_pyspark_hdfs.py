"""pyspark (its bundled Hadoop 3.5 client) reads the MiniCluster's HDFS."""

import os

import pytest

from hdfs_utils import hdfs

pytestmark = pytest.mark.hadoop


def test_pyspark_counts_the_rows_of_an_hdfs_file(hadoop_cluster, hdfs_dir, tmp_path):
    rows = 12_345
    local = tmp_path / "data.csv"
    local.write_text("y,x\n" + "".join(f"{i * 0.5},{i}\n" for i in range(rows)))
    remote = f"{hdfs_dir}/data.csv"
    hdfs.put(local, remote)

    # Spark would bind to the machine's outward address when the hostname maps to loopback.
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    from pyspark.sql import SparkSession
    spark = (SparkSession.builder.master("local[2]").appName("distreg-hdfs-test")
             .config("spark.ui.enabled", "false").getOrCreate())
    try:
        # hdfs:/// resolves through HADOOP_CONF_DIR's fs.defaultFS; the full URI needs nothing.
        assert spark.sparkContext.textFile(f"hdfs://{remote}").count() == rows + 1
        frame = spark.read.csv(f"{hadoop_cluster.namenode}{remote}", header=True)
        assert frame.count() == rows
    finally:
        spark.stop()
