"""--l1 on Spark (issue 23 item 3): spark-rdd runs the core's coordinate descent on its Gram
(scikit-learn to 1e-10, as tests/test_elastic_net.py); spark-mllib maps the objective to
LinearRegression(regParam, elasticNetParam) and its OWL-QN answer is compared with the core's
where the objectives coincide, to MLlib's own convergence (its tol 1e-12 on the objective)."""

import numpy as np
import pytest
from sklearn.linear_model import ElasticNet
from spark_helpers import spark_fit

from helpers import write_csv
from distreg.result import theta_of


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    rng = np.random.default_rng(34)
    n = 3000
    X = rng.normal(size=(n, 5)) * [1, 2, 0.5, 1, 3]
    y = 1 + X @ [2.0, 0, -1.0, 0, 0.05] + rng.normal(size=n)
    return write_csv(tmp_path_factory.mktemp('enet') / 'e.csv', y, X), X, y


@pytest.mark.parametrize('l1, ridge', [(200.0, 0.0), (100.0, 50.0)])
def test_spark_rdd_and_mllib_elastic_net(spark, data, l1, ridge):
    path, X, y = data
    n = len(y)
    m = ElasticNet(alpha=(l1 + ridge) / n, l1_ratio=l1 / (l1 + ridge), tol=1e-14,
                   max_iter=10 ** 6).fit(X, y)
    want = np.concatenate([[m.intercept_], m.coef_])
    rdd = np.array(theta_of(spark_fit(spark, path, method='normal', l1=l1, ridge=ridge)))
    assert np.max(np.abs(rdd - want)) / np.max(np.abs(want)) <= 1e-10
    mllib = np.array(theta_of(spark_fit(spark, path, engine='spark-mllib', method='normal',
                                        l1=l1, ridge=ridge, tol=1e-12, max_iter=1000)))
    # OWL-QN stops on its objective's relative change: coefficients to about its square root
    assert np.max(np.abs(mllib - want)) / np.max(np.abs(want)) <= 1e-5  # tol: OWL-QN's stop
    assert list(mllib[1:] == 0) == list(want[1:] == 0)
