"""Poisson regression (--model poisson) on spark-rdd and spark-mllib (GeneralizedLinearRegression
family poisson, the offset as its offsetCol), against statsmodels' GLM fitted in the test,
as tests/test_poisson.py does for numpy and mrjob."""

from contextlib import closing

import numpy as np
import pytest

from spark_helpers import spark_fit
from test_poisson import (check_against, expected_scores, poisson_data, reference,
                          write_poisson, write_poisson_parquet)
from distreg import scoring
from distreg.engine import make_engine
from distreg.errors import BadInputError, DistregError


@pytest.fixture(scope='module')
def full(tmp_path_factory):
    y, X, offset, w = poisson_data(2000, 71)
    path = write_poisson(tmp_path_factory.mktemp('spark-poisson') / 'p.csv', y, X, offset, w)
    return path, y, X, offset, w, reference(y, X, offset, w)


@pytest.mark.parametrize('engine,method', [('spark-rdd', 'newton'), ('spark-rdd', 'lbfgs'),
                                           ('spark-rdd', 'gd'), ('spark-mllib', 'newton')])
def test_weights_and_offset_match_statsmodels(spark, full, engine, method):
    path, y, X, offset, w, ref = full
    got = spark_fit(spark, path, engine=engine, method=method, model='poisson',
                    weight_col='w', offset_col='lexp')
    check_against(got, ref)
    assert got['sum_weights'] == w.sum() and got['n_rows'] == len(y)
    assert got['design']['offset_col'] == 'lexp'


@pytest.mark.parametrize('engine', ['spark-rdd', 'spark-mllib'])
def test_parquet_offset(spark, full, tmp_path, engine):
    """--offset-col read from Parquet (4 row groups; the offset stored as float32): the
    statsmodels fit of the same values, and predict reads it from the Parquet rows too."""
    _, y, X, offset, w, _ = full
    offset32 = offset.astype(np.float32).astype(np.float64)
    path = write_poisson_parquet(tmp_path / 'p.parquet', y, X, offset, w, row_group_size=500)
    got = spark_fit(spark, path, engine=engine, method='newton', model='poisson',
                    weight_col='w', offset_col='lexp')
    check_against(got, reference(y, X, offset32, w))
    assert got['design']['offset_col'] == 'lexp' and got['n_rows'] == len(y)
    mu, _, _ = expected_scores(got, X, offset32, y)
    out = str(tmp_path / 'p.txt')
    with closing(make_engine(engine, path, spark=spark)) as e:
        scoring.predict(e, scoring.Model(got), out)
    np.testing.assert_allclose([float(v) for v in open(out).read().split()], mu, rtol=1e-13)


def test_mllib_with_a_categorical_column(spark, tmp_path):
    """A Parquet text column (categorical by its type) on spark-mllib Poisson: MLlib fits the
    core's one-hot columns, and the record's deviance and the rest come from a pass of the
    core at MLlib's answer, which needs the levels too (it failed without them). Against
    statsmodels' GLM on pandas.get_dummies' matrix (first level dropped)."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq
    y, X, _, _ = poisson_data(1500, 73)
    region = np.random.default_rng(74).choice(['east', 'north', 'west'], len(y))
    y = np.random.default_rng(75).poisson(
        np.exp(0.2 + X[:, 0] * 0.3 + (region == 'north') * 0.4 - (region == 'west') * 0.3))
    path = str(tmp_path / 'regions.parquet')
    pq.write_table(pa.table({'y': y.astype(np.int64), 'x1': X[:, 0], 'region': region}), path)
    dummies = pd.get_dummies(region, drop_first=True).to_numpy(dtype=float)
    ref = reference(y.astype(float), np.column_stack([X[:, 0], dummies]))
    got = spark_fit(spark, path, engine='spark-mllib', method='newton', model='poisson')
    check_against(got, ref)
    assert got['design']['levels'] == [['region', ['east', 'north', 'west']]]


def test_mllib_without_weights_or_offset(spark, tmp_path):
    y, X, _, _ = poisson_data(1500, 72)
    path = write_poisson(tmp_path / 'plain.csv', y, X)
    got = spark_fit(spark, path, engine='spark-mllib', method='newton', model='poisson')
    check_against(got, reference(y, X))


@pytest.mark.parametrize('engine', ['spark-rdd', 'spark-mllib'])
def test_predict_and_evaluate(spark, full, tmp_path, engine):
    path, y, X, offset, w, _ = full
    record = spark_fit(spark, path, method='newton', model='poisson', weight_col='w',
                       offset_col='lexp')
    model = scoring.Model(record)
    mu, mean_dev, rmse = expected_scores(record, X, offset, y)
    out = str(tmp_path / 'p.txt')
    with closing(make_engine(engine, path, spark=spark)) as e:
        scoring.predict(e, model, out)
    got = np.array([float(v) for v in open(out).read().split()])
    np.testing.assert_allclose(got, mu, rtol=1e-13)
    with closing(make_engine(engine, path, spark=spark)) as e:
        m = scoring.evaluate(e, model)
    np.testing.assert_allclose(m['mean_poisson_deviance'], mean_dev, rtol=1e-12)
    np.testing.assert_allclose(m['rmse'], rmse, rtol=1e-12)


@pytest.mark.parametrize('engine', ['spark-rdd', 'spark-mllib'])
def test_bad_label(spark, tmp_path, engine):
    path = tmp_path / 'bad.csv'
    path.write_text('y,x1\n1,0.5\n2.5,0.1\n3,-0.3\n0,2\n2,1\n')
    with pytest.raises(BadInputError, match='line 3.*not an integer'):
        spark_fit(spark, str(path), engine=engine, method='newton', model='poisson')


def test_mllib_refuses_what_it_has_not(spark, full):
    with pytest.raises(DistregError, match='no --method lbfgs for --model poisson'):
        spark_fit(spark, full[0], engine='spark-mllib', method='lbfgs', model='poisson')
    with pytest.raises(DistregError, match='cannot apply --ridge'):
        spark_fit(spark, full[0], engine='spark-mllib', method='newton', model='poisson',
                  ridge=1.0)


def test_offset_block_files_lost_are_rebuilt(spark, full):
    """The executors keep X, y, the weights and the offsets as four files per partition;
    files that vanish are read again from the input, offsets included."""
    import glob
    import os
    from pyspark import SparkFiles
    from distreg.fit import FitOptions
    from spark_jobs.engine import RDDEngine
    pattern = os.path.join(SparkFiles.getRootDirectory(), 'distreg-blocks', '*.npy')
    engine = RDDEngine(full[0], spark=spark)
    try:
        engine.prepare(FitOptions(method='newton', model='poisson', weight_col='w',
                                  offset_col='lexp'))
        files = set(glob.glob(pattern))
        assert len(files) == 4 * engine.n_partitions
        params = {'theta': [0.3, 0.4, -0.3, 0.15], 'model': 'poisson'}
        before = engine.aggregate('hessian', params)
        for f in files:
            os.remove(f)
        after = engine.aggregate('hessian', params)
        for key in ('loss', 'grad', 'hess', 'exp_offset_sum', 'y_offset_sum'):
            np.testing.assert_array_equal(after[key], before[key], err_msg=key)
        assert set(glob.glob(pattern)) == files
    finally:
        engine.close()
    assert not set(glob.glob(pattern)) & files
