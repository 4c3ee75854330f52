"""--cov HC0..HC3 on spark-rdd (the sandwich pass on the cached blocks) against statsmodels,
and spark-mllib's clear refusal (issue 23 item 4; numpy and mrjob: tests/test_robust.py)."""

import numpy as np
import pytest
import statsmodels.api as sm
from spark_helpers import spark_fit

from helpers import clustered_data, write_clustered, write_csv
from distreg.errors import DistregError


@pytest.fixture(scope='module')
def hetero(tmp_path_factory):
    rng = np.random.default_rng(32)
    n = 4000
    X = rng.normal(size=(n, 3))
    y = 1 + X @ [0.5, 2.0, -1.0] + rng.normal(size=n) * np.exp(X[:, 1])
    return write_csv(tmp_path_factory.mktemp('robust') / 'h.csv', y, X), X, y


@pytest.mark.parametrize('method', ['normal', 'qr'])
@pytest.mark.parametrize('cov_type', ['HC0', 'HC1', 'HC2', 'HC3'])
def test_spark_rdd_robust_standard_errors_match_statsmodels(spark, hetero, method, cov_type):
    path, X, y = hetero
    record = spark_fit(spark, path, method=method, cov=cov_type)
    ref = sm.OLS(y, np.column_stack([np.ones(len(y)), X])).fit(cov_type=cov_type)
    assert record['stats']['cov_type'] == cov_type
    np.testing.assert_allclose(record['stats']['std_errors'], ref.bse, rtol=1e-9)
    np.testing.assert_allclose(record['stats']['p_values'], ref.pvalues, rtol=1e-9, atol=1e-300)


def test_spark_mllib_says_to_use_spark_rdd(spark, hetero):
    with pytest.raises(DistregError, match='--cov HC1 is not on spark-mllib: use spark-rdd'):
        spark_fit(spark, hetero[0], engine='spark-mllib', method='normal', cov='HC1')


@pytest.mark.parametrize('fmt', ['csv', 'parquet'])
@pytest.mark.parametrize('method', ['normal', 'qr'])
def test_spark_rdd_clustered_errors_match_statsmodels(spark, tmp_path, fmt, method):
    """--cov cluster:firm: the cluster ids are cached with the blocks (and their stored
    copies) and the scores merged by id across partitions."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    y, X, g = clustered_data(3000, 35, 97)
    if fmt == 'csv':
        path = write_clustered(tmp_path / 'c.csv', y, X, g)
    else:
        path = str(tmp_path / 'c.parquet')
        pq.write_table(pa.table({'y': y, 'x1': X[:, 0], 'firm': pa.array(g, pa.int64()),
                                 'x2': X[:, 1], 'x3': X[:, 2]}), path, row_group_size=500)
    record = spark_fit(spark, path, method=method, cov='cluster:firm')
    ref = sm.OLS(y, np.column_stack([np.ones(len(y)), X])).fit(
        cov_type='cluster', cov_kwds={'groups': g})
    assert record['stats']['cov_type'] == 'cluster:firm'
    assert record['stats']['n_clusters'] == 35
    np.testing.assert_allclose(record['stats']['std_errors'], ref.bse, rtol=1e-9)
    np.testing.assert_allclose(record['stats']['p_values'], ref.pvalues, rtol=1e-9, atol=1e-300)


def test_spark_mllib_clustered_says_to_use_spark_rdd(spark, hetero):
    with pytest.raises(DistregError, match='--cov cluster:x1 is not on spark-mllib: use '
                                           'spark-rdd'):
        spark_fit(spark, hetero[0], engine='spark-mllib', method='normal', cov='cluster:x1')
