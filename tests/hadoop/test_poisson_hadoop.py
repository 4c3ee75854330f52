"""Poisson regression (--model poisson) on YARN: Newton (IRLS), one Hadoop streaming job per
pass on the MiniCluster, with frequency weights and an offset, against statsmodels' GLM fitted
in the test (as tests/test_poisson.py on the other engines); then evaluate on YARN against the
mean Poisson deviance computed here."""

import pytest

from test_poisson import (check_against, expected_scores, poisson_data, reference,
                          write_poisson, write_poisson_parquet)
from distreg import scoring
from distreg.fit import FitOptions, fit
from distreg.numpy_engine import NumpyEngine
from jobs.engine import MRJobEngine

pytestmark = pytest.mark.hadoop


def test_poisson_newton_and_evaluate_on_yarn(hadoop_cluster, tmp_path):
    y, X, offset, w = poisson_data(5000, 81)
    path = write_poisson(tmp_path / "p.csv", y, X, offset, w)
    engine = MRJobEngine(path, "mrjob-hadoop", extra_args=["--jobconf", "mapreduce.job.maps=2"])
    try:
        rec = fit(engine, FitOptions(method="newton", model="poisson", weight_col="w",
                                     offset_col="lexp"))
        maps = {g.strip(): c for g, c in engine.counters[0].items()}["Job Counters"]
        assert maps["Launched map tasks"] >= 2
    finally:
        engine.close()
    assert rec["engine"] == "mrjob-hadoop" and rec["converged"]
    check_against(rec, reference(y, X, offset, w))
    engine = MRJobEngine(path, "mrjob-hadoop")
    try:
        m = scoring.evaluate(engine, scoring.Model(rec))
    finally:
        engine.close()
    _, mean_dev, rmse = expected_scores(rec, X, offset, y)
    assert m["mean_poisson_deviance"] == pytest.approx(mean_dev, rel=1e-12)
    assert m["rmse"] == pytest.approx(rmse, rel=1e-12)


def test_parquet_offset_read_by_yarn_tasks(hadoop_cluster, tmp_path):
    """A Poisson model with an offset, fitted on numpy from a Parquet file, evaluated on YARN
    from the same file uploaded to HDFS (3 row groups over 2 map tasks): each task reads the
    offset column of its row groups (without it every mean would be off by exp(offset))."""
    import numpy as np
    y, X, offset, w = poisson_data(3000, 82)
    offset32 = offset.astype(np.float32).astype(np.float64)
    path = write_poisson_parquet(tmp_path / "p.parquet", y, X, offset, w, row_group_size=1000)
    rec = fit(NumpyEngine(path), FitOptions(method="newton", model="poisson", weight_col="w",
                                            offset_col="lexp"))
    engine = MRJobEngine(path, "mrjob-hadoop", extra_args=["--jobconf", "mapreduce.job.maps=2"])
    try:
        m = scoring.evaluate(engine, scoring.Model(rec))
    finally:
        engine.close()
    _, mean_dev, rmse = expected_scores(rec, X, offset32, y)
    assert m["n"] == len(y)
    assert m["mean_poisson_deviance"] == pytest.approx(mean_dev, rel=1e-12)
    assert m["rmse"] == pytest.approx(rmse, rel=1e-12)
