"""distreg's Spark engines read an hdfs:// input through Spark's own Hadoop client."""

import numpy as np
import pytest

from helpers import make_linear, theta, write_csv
from distreg.fit import FitOptions, fit
from distreg.numpy_engine import NumpyEngine
from hdfs_utils import hdfs
from distreg.engine import make_engine

pytestmark = pytest.mark.hadoop


def test_spark_rdd_and_mllib_fit_an_hdfs_file(hadoop_cluster, hdfs_dir, tmp_path):
    y, X = make_linear(20_000, 6, seed=61)
    local = write_csv(tmp_path / "d.csv", y, X)
    remote = f"{hdfs_dir}/d.csv"
    hdfs.put(local, remote)
    reference = theta(fit(NumpyEngine(local), FitOptions(method="qr")))
    for name, method, tol in (("spark-rdd", "qr", 1e-9), ("spark-mllib", "normal", 1e-9)):
        engine = make_engine(name, f"hdfs://{remote}", master="local[2]")
        try:
            record = fit(engine, FitOptions(method=method))
        finally:
            engine.close()
        assert record["n_rows"] == 20_000
        got = np.array(theta(record))
        assert np.max(np.abs(got - reference)) / np.max(np.abs(reference)) <= tol, name
