"""distreg's Spark engines read an hdfs:// input through Spark's own Hadoop client, and agree
with numpy's lstsq and the textbook inference computed in the test (1e-9 relative)."""

import pytest

from helpers import assert_linear_stats, make_linear, ols_reference, rel_diff, theta, write_csv
from distreg.engine import make_engine
from distreg.fit import FitOptions, fit
from hdfs_utils import hdfs

pytestmark = pytest.mark.hadoop


def test_spark_rdd_and_mllib_fit_an_hdfs_file(hadoop_cluster, hdfs_dir, tmp_path):
    y, X = make_linear(20_000, 6, seed=61)
    local = write_csv(tmp_path / "d.csv", y, X)
    remote = f"{hdfs_dir}/d.csv"
    hdfs.put(local, remote)
    reference = ols_reference(X, y)
    for name, method in (("spark-rdd", "qr"), ("spark-mllib", "normal")):
        # the NameNode's own address: a Spark session may be up already, started without
        # this cluster's HADOOP_CONF_DIR (hdfs:/// would name another file system there)
        engine = make_engine(name, f"{hadoop_cluster.namenode}{remote}", master="local[2]")
        try:
            record = fit(engine, FitOptions(method=method))
        finally:
            engine.close()
        assert record["n_rows"] == 20_000 and record["engine"] == name
        assert rel_diff(theta(record), reference["theta"]) <= 1e-9, name
        assert_linear_stats(record, reference)
