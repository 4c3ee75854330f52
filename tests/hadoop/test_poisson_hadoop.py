"""Poisson regression (--model poisson) on YARN: Newton (IRLS), one Hadoop streaming job per
pass on the MiniCluster, with frequency weights and an offset, against statsmodels' GLM fitted
in the test (as tests/test_poisson.py on the other engines); then evaluate on YARN against the
mean Poisson deviance computed here."""

import pytest

from test_poisson import check_against, expected_scores, poisson_data, reference, write_poisson
from distreg import scoring
from distreg.fit import FitOptions, fit
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
